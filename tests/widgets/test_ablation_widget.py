"""NeuronAblation without a browser: clicks toggle channels, bars follow, ranking, pin, reset, model untouched."""
import threading

import numpy as np
import pytest
import torch
from torch import nn

import nnlens_widgets as nl
from nnlens_widgets.core import ModelSnapshot, ablate, ablation_effects, class_probabilities, hook_count
from nnlens_widgets.render import channel_grid, channel_maps
from tests.models import TinyNet, image
from tests.widgets.freeing import assert_freed, closed


@pytest.fixture(scope="module")
def digits():
    return nl.zoo.digits_cnn(), nl.zoo.digits_data()


def click_tile(w, channel):
    x, y, tw, th = w.tile_rect(channel)
    w.views["grid"].canvas.handle_event({"event": "click", "x": x + tw / 2, "y": y + th / 2})
    assert w.wait(30)


def probs_with(model, x, replacement, layer):
    with ablate(model, layer, replacement), torch.no_grad():
        return model(x[None]).softmax(1)[0].numpy()


def rows(w):
    """[(label, probability now)] as the probability view lists them."""
    import re

    body = w.views["probabilities"].body.value
    return [(lab, float(p)) for lab, p in re.findall(r"class='nnl-prob-row' data-label='([^']*)' data-p='([^']*)'", body)]


def test_grid_is_the_channel_grid_and_clicks_toggle(digits):
    m, d = digits
    x = d.x_test[0]
    before_model = ModelSnapshot.of(m)
    assert nl.NeuronAblation(m, x).layer == "pool2"  # default: the deepest layer with spatial maps
    w = nl.NeuronAblation(m, x, layer="relu3", labels=nl.zoo.DIGIT_CLASSES)
    assert w.layer == "relu3" and w.channels == 64
    maps = channel_maps(nl.core.ActivationCache(m, x)["relu3"].numpy())
    expected = channel_grid(maps, "channel", "viridis", 0, None, 420, enlarge=False)
    assert np.array_equal(w.frame, expected.rgba) and w.views["grid"].scale == expected.factor
    p0, a0 = w.probabilities
    np.testing.assert_array_equal(p0, a0)
    np.testing.assert_allclose(p0, class_probabilities(m, x[None])[0].numpy())
    assert w.target == int(np.argmax(p0))

    click_tile(w, 17)
    assert w.off == [17] and w.channel == 17
    np.testing.assert_allclose(w.probabilities[1], probs_with(m, x, {17: 0.0}, "relu3"), atol=1e-6)
    shown = dict(rows(w))
    assert shown[w.labels[w.target]] == pytest.approx(w.probabilities[1][w.target], abs=1e-6)
    marks = w.views["grid"].canvas.marks
    assert [mk["color"] for mk in marks] == ["#000000", "#ffffff", "#ff3b30"]  # the off frame, the selection on top
    left, _, width, _ = w.tile_rect(17)
    assert marks[0]["x"] > left and marks[0]["x"] + marks[0]["w"] < left + width  # inside the tile
    assert marks[2]["x"] < left and marks[2]["x"] + marks[2]["w"] > left + width  # around it
    assert w.controls["top_n"].value == 3
    click_tile(w, 25)
    click_tile(w, 17)  # second click switches it back on
    assert w.off == [25]
    np.testing.assert_allclose(w.probabilities[1], probs_with(m, x, {25: 0.0}, "relu3"), atol=1e-6)
    assert ModelSnapshot.of(m).differences(before_model) == {} and hook_count(m) == 0


def test_flat_tiles_are_explained_in_the_caption(digits):
    m, d = digits
    w = nl.NeuronAblation(m, d.x_test[0], layer="relu3")
    maps = channel_maps(nl.core.ActivationCache(m, d.x_test[0])["relu3"].numpy())
    flat = sum(np.ptp(c) == 0 for c in maps)
    assert flat > 0
    caption = w.views["grid"].caption.value
    assert f"{flat} flat tile(s) in the colormap&#x27;s middle colour" in caption
    assert "switched off" in caption and "selected" in caption
    assert "tile min" in w.views["grid"].legend.value


def test_probability_rows_have_class_names_and_an_axis(digits):
    m, d = digits
    names = [f"digit {i}" for i in range(10)]
    w = nl.NeuronAblation(m, d.x_test[0], layer="relu3", labels=names, top_k=3)
    body = w.views["probabilities"].body.value
    assert len(rows(w)) == 3 and all(label.startswith("digit ") for label, _ in rows(w))
    assert ">0<" in body and ">50%<" in body and ">100%<" in body and "before" in body
    top = int(np.argmax(w.probabilities[0]))
    assert rows(w)[0] == (names[top], pytest.approx(float(w.probabilities[1][top]), abs=1e-6))
    w.top_k = 12  # more than there are classes: every class
    assert w.top_k == 10 and len(rows(w)) == 10


def test_ranking_is_a_labelled_chart_and_switch_off_top_applies_it(digits):
    m, d = digits
    x = d.x_test[3]
    before_model = ModelSnapshot.of(m)
    w = nl.NeuronAblation(m, x, layer="relu3", labels=[f"<i>{i}</i>" for i in range(10)])
    w.rank()
    assert w.wait(60) and w.error is None
    expected = ablation_effects(m, x, "relu3", w.target)
    assert w.effects.ranking() == expected.ranking()
    body = w.views["ranking"].body.value
    name = f"&lt;i&gt;{w.target}&lt;/i&gt;"
    assert f"change in the logit of {name}" in body and "<i>" not in body
    assert body.count("class='nnl-ranked-bar'") == 10
    for c in expected.ranking(10):
        assert f">channel {c}<" in body
    assert not w.controls["switch_off_top"].disabled
    w.controls["top_n"].value = 4
    w.controls["switch_off_top"].click()
    assert w.wait(30)
    assert w.off == sorted(expected.ranking(4))
    p, a = w.probabilities
    assert a[w.target] < p[w.target]
    np.testing.assert_allclose(a, probs_with(m, x, {c: 0.0 for c in w.off}, "relu3"), atol=1e-6)
    w.controls["reset"].click()
    assert w.wait(30) and w.off == [] and not w.pinned
    np.testing.assert_array_equal(*w.probabilities)
    w.target = (w.target + 1) % 10  # another class: the ranking no longer applies
    assert w.effects is None and w.controls["switch_off_top"].disabled
    assert ModelSnapshot.of(m).differences(before_model) == {} and hook_count(m) == 0


def test_a_click_while_ranking_does_not_stop_the_ranking(digits):
    m, d = digits
    w = nl.NeuronAblation(m, d.x_test[0], layer="relu3")
    w.rank()
    w.toggle(5)
    assert w.wait(60) and w.error is None
    assert w.effects is not None and w.off == [5]
    np.testing.assert_allclose(w.probabilities[1], probs_with(m, d.x_test[0], {5: 0.0}, "relu3"), atol=1e-6)


def test_pin_value(digits):
    m, d = digits
    x = d.x_test[3]
    w = nl.NeuronAblation(m, x, layer="relu3")
    w.channel = 9
    w.pin_value = 6.0
    w.pinned = True
    assert w.wait(30) and w.replacement == {9: 6.0}
    np.testing.assert_allclose(w.probabilities[1], probs_with(m, x, {9: 6.0}, "relu3"), atol=1e-6)
    w.pin_value = 250.0  # beyond the slider's range: the range grows, the value is kept
    assert w.wait(30) and w.replacement == {9: 250.0} and w.controls["pin_value"].value == 250.0
    w.controls["pin_value"].value = -1.5  # the slider drives the trait
    assert w.wait(30) and w.replacement == {9: -1.5}
    np.testing.assert_allclose(w.probabilities[1], probs_with(m, x, {9: -1.5}, "relu3"), atol=1e-6)


def test_layer_change_and_stopping_a_ranking(digits):
    m, d = digits
    w = nl.NeuronAblation(m, d.x_test[1], layer="relu1")
    assert w.channels == 16
    w.toggle(3)
    assert w.wait(30)
    w.layer = "relu2"
    assert w.wait(30)
    assert w.channels == 32 and w.off == [] and w.effects is None
    np.testing.assert_array_equal(*w.probabilities)
    w.rank()
    w.stop()
    assert w.wait(30)
    assert hook_count(m) == 0


@pytest.mark.parametrize("trait, bad, message", [
    ("channel", 64, r"channel in 0..63 for layer 'relu3'"),
    ("channel", -1, r"channel in 0..63"),
    ("off", [3, 70], r"channel in 0..63"),
    ("target", 10, r"target class in 0..9"),
    ("target", -1, r"target class in 0..9"),
    ("top_k", 0, r"top_k in 1..any"),
    ("top_k", -3, r"top_k in 1..any"),
    ("pin_value", float("nan"), "finite pin_value"),
    ("pin_value", float("inf"), "finite pin_value"),
    ("cmap", "nope", "unknown colormap"),
    ("layer", "relu9", "closest names"),
    ("layer", "", "closest names|does not run"),
])
def test_every_trait_is_range_checked_and_a_bad_value_is_not_kept(digits, trait, bad, message):
    m, d = digits
    w = nl.NeuronAblation(m, d.x_test[0], layer="relu3")
    w.toggle(2)
    assert w.wait(30)
    names = ("layer", "channel", "off", "target", "top_k", "pin_value", "cmap", "pinned")
    before = {t: getattr(w, t) for t in names}
    with pytest.raises((ValueError, KeyError), match=message):
        setattr(w, trait, bad)
    assert {t: getattr(w, t) for t in names} == before
    assert w.error is None and w.status == ""


def test_bad_arguments_are_clear_and_the_widget_stays_usable(digits):
    m, d = digits
    with pytest.raises(KeyError, match="relu3"):
        nl.NeuronAblation(m, d.x_test[0], layer="relu9")
    with pytest.raises(ValueError, match="expected 10 labels"):
        nl.NeuronAblation(m, d.x_test[0], labels=["a", "b", "c"])
    with pytest.raises(ValueError, match="expected 1 input channel"):
        nl.NeuronAblation(m, torch.rand(3, 32, 32))
    with pytest.raises(TypeError, match="torch.nn.Module"):
        nl.NeuronAblation("model", d.x_test[0])
    with pytest.raises(ValueError, match="top_k in 1..any"):
        nl.NeuronAblation(m, d.x_test[0], top_k=0)
    with pytest.raises(ValueError, match="grid_px in 16..4096"):
        nl.NeuronAblation(m, d.x_test[0], grid_px=-3)
    w = nl.NeuronAblation(m, d.x_test[0], layer="relu3")
    with pytest.raises(ValueError, match=r"channel in 0..63"):
        w.toggle(64)
    with pytest.raises(ValueError, match="rank the channels first"):
        w.switch_off_top(3)
    w.controls["switch_off_top"].disabled = False
    w.controls["switch_off_top"].click()  # through the button: shown in the widget, not raised
    assert "rank the channels first" in w.error and "rank the channels first" in w.status
    w.toggle(2)
    assert w.wait(30) and w.off == [2] and w.error is None and w.status == ""


@pytest.mark.parametrize("labels", [range(10), np.arange(10), (i for i in range(10)), [float(i) for i in range(10)]])
def test_any_labels_are_accepted_as_their_str(digits, labels):
    m, d = digits
    w = nl.NeuronAblation(m, d.x_test[0], layer="relu3", labels=labels)
    expected = [str(v) for v in (range(10) if not isinstance(labels, list) else labels)]
    assert w.labels == expected
    w.rank()
    assert w.wait(60) and w.error is None
    assert f"logit of {expected[w.target]}" in w.views["ranking"].body.value.replace("<b>", "").replace("</b>", "")


def test_layer_names_with_markup_are_shown_not_run():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.blocks = nn.ModuleDict({"<b>c</b>": nn.Conv2d(3, 4, 3, padding=1)})
            self.fc = nn.Linear(4, 3)

        def forward(self, x):
            return self.fc(self.blocks["<b>c</b>"](x).mean((2, 3)))

    w = nl.NeuronAblation(Net(), image(), layer="blocks.<b>c</b>", labels=["<script>x</script>", "b", "c"])
    w.toggle(1)
    assert w.wait(30)
    html = w.views["grid"].static_html() + w.views["selection"].body.value + w.views["probabilities"].static_html()
    assert "<b>c</b>" not in html and "blocks.&lt;b&gt;c&lt;/b&gt;" in html
    assert "<script>" not in html and "&lt;script&gt;x&lt;/script&gt;" in html


def test_model_with_batchnorm_in_train_mode_is_left_as_found_after_every_action():
    model = TinyNet().train()
    before = ModelSnapshot.of(model)
    w = nl.NeuronAblation(model, image(), layer="conv2")
    actions = [lambda: w.toggle(1), lambda: setattr(w, "pin_value", 2.0), lambda: setattr(w, "pinned", True),
               w.rank, w.reset, w.refresh, lambda: setattr(w, "input", image(seed=2)),
               lambda: setattr(w, "layer", "relu2")]
    for act in actions:
        act()
        assert w.wait(30) and w.error is None
        assert ModelSnapshot.of(model).differences(before) == {} and hook_count(model) == 0


def test_refresh_recomputes_after_the_weights_changed():
    model = TinyNet().eval()
    w = nl.NeuronAblation(model, image(), layer="conv2")
    w.toggle(2)
    assert w.wait(30)
    old = w.probabilities[0]
    with torch.no_grad():
        model.fc.bias[0] += 5.0
    np.testing.assert_array_equal(w.probabilities[0], old)
    w.refresh()
    assert w.wait(30) and w.off == [2]
    np.testing.assert_allclose(w.probabilities[0], class_probabilities(model, w.input)[0].numpy())
    assert w.probabilities[0][0] > old[0]
    np.testing.assert_allclose(w.probabilities[1], class_probabilities(nl.core.Ablated(model, "conv2", {2: 0.0}),
                                                                       w.input)[0].numpy())


def test_a_new_input_keeps_the_switches():
    model = TinyNet().eval()
    w = nl.NeuronAblation(model, image(seed=0), layer="conv2")
    w.toggle(4)
    assert w.wait(30)
    frame = w.frame.copy()
    w.input = image(seed=5)
    assert w.wait(30) and w.off == [4] and not np.array_equal(w.frame, frame)
    np.testing.assert_allclose(w.probabilities[1], class_probabilities(nl.core.Ablated(model, "conv2", {4: 0.0}),
                                                                       image(seed=5)[None])[0].numpy())


def test_static_picture_shows_charts(digits, tmp_path):
    m, d = digits
    w = nl.NeuronAblation(m, d.x_test[0], layer="relu3")
    w.toggle(17)
    w.rank()
    assert w.wait(60)
    w.save_png(tmp_path / "w.png")
    w.save_html(tmp_path / "w.html")
    page = (tmp_path / "w.html").read_text()
    assert "nnl-ranked-bars" in page and "nnl-prob-row" in page and "nnl-legend-bar" in page


def test_close_frees_the_widget_and_its_threads(digits):
    m, d = digits
    threads = set(threading.enumerate())
    w = nl.NeuronAblation(m, d.x_test[0], layer="relu3")
    w.toggle(3)
    w.rank()
    assert w.wait(60)
    ref = closed(w)
    del w
    assert_freed(ref, threads)

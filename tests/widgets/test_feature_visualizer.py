"""FeatureVisualizer without a browser: streaming, pace, stop, cache, honest measures, examples, errors."""
from __future__ import annotations

import threading
import time

import numpy as np
import pytest
import torch
from torch import nn

import nnlens_widgets as nl
from nnlens_widgets.core import ModelSnapshot, featurevis as fv, hook_count, probe, top_examples
from nnlens_widgets.render import fmt
from tests.models import TupleNet
from tests.widgets.freeing import assert_freed, closed


def poll(predicate, timeout=30.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not met")
        time.sleep(0.01)


@pytest.fixture(scope="module")
def digits():
    return nl.zoo.digits_cnn(), nl.zoo.digits_data().x_test[:120]


def caption(w, view):
    return w.views[view].caption.value


def test_streams_frames_then_caches_the_channel(digits):
    model, x = digits
    before = ModelSnapshot.of(model)
    w = nl.FeatureVisualizer(model, layer="relu3", data=x, steps=24, every=4, seconds=0, autorun=False)
    assert w.wait(60) and w.error is None  # the data scan ran, no optimisation
    assert w.runs == 0 and w.frames_streamed == 0 and "press Run" in caption(w, "image")
    blank = w.frame.copy()
    w.refresh()
    assert w.wait(60) and w.error is None
    assert w.runs == 1 and w.frames_streamed >= 6  # step 1, 4, 8, ..., 20 while running
    assert not np.array_equal(w.frame, blank)
    state = w.result()
    assert state is not None and state.step == 24 and state.images.shape == (1, 1, 32, 32)
    assert "step 24/24 (done)" in caption(w, "image")
    w.channel = 1
    w.refresh()
    assert w.wait(60) and w.runs == 2
    frame_1 = w.frame.copy()
    w.channel = 0  # back: from the cache at once, no new run and nothing left in the background
    assert w.wait(0) and w.runs == 2 and not w.running
    assert "cached" in caption(w, "image") and not np.array_equal(w.frame, frame_1)
    assert ModelSnapshot.of(model).differences(before) == {}
    assert all(p.grad is None for p in model.parameters()) and hook_count(model) == 0


def test_the_image_and_the_examples_state_the_same_measures(digits):
    model, x = digits
    w = nl.FeatureVisualizer(model, layer="relu3", data=x, channel=7, steps=16, seconds=0)
    assert w.wait(60) and w.error is None
    # measured independently, on the picture as shown and on the data images the scan picked
    with probe(model, "relu3") as acts, torch.no_grad():
        model(w.result().images)
    mean, peak = float(acts["relu3"][0, 7].mean()), float(acts["relu3"][0, 7].max())
    measures = w.measures
    assert measures["image"]["mean"][0] == pytest.approx(mean, rel=1e-5)
    assert measures["image"]["peak"][0] == pytest.approx(peak, rel=1e-5)
    idx = top_examples(model, x, "relu3", units=[7], k=9).top(unit=7)[0]
    with probe(model, "relu3") as acts, torch.no_grad():
        model(x[idx])
    assert np.allclose(measures["examples"]["peak"], acts["relu3"][:, 7].amax((1, 2)).numpy(), rtol=1e-5)
    assert np.allclose(measures["examples"]["mean"], acts["relu3"][:, 7].mean((1, 2)).numpy(), rtol=1e-5)
    image, examples = caption(w, "image"), caption(w, "examples")
    assert f"<b>mean activation {fmt(mean)}</b> (maximised)" in image and f"peak activation {fmt(peak)}" in image
    ex = measures["examples"]
    assert f"peak activation {fmt(ex['peak'][0])} (#1) … {fmt(ex['peak'][-1])} (#9)" in examples
    assert f"mean activation {fmt(ex['mean'].min())} to {fmt(ex['mean'].max())}" in examples
    w.objective = "neuron"  # another objective: its own value is stated on both sides too
    assert w.wait(60) and w.error is None
    assert set(w.measures["image"]) == set(w.measures["examples"]) == {"mean", "peak", "neuron"}
    assert "<b>centre neuron" in caption(w, "image") and "centre neuron" in caption(w, "examples")


def test_defaults_give_a_recognisable_image_at_a_pace_a_person_can_watch(digits):
    model, x = digits
    with probe(model, "relu3") as acts, torch.no_grad():
        model(x)
    best_example = float(acts["relu3"][:, 3].mean((1, 2)).max())
    w = nl.FeatureVisualizer(model, layer="relu3", channel=3, input_size=32, autorun=False)
    assert (w.steps, w.seconds) == (256, 4.0)
    started = time.monotonic()
    w.refresh()
    assert w.wait(120) and w.error is None
    took = time.monotonic() - started
    images = w.result().images
    assert took >= 4.0 and w.frames_streamed >= 30  # spread over the pace, streamed every 8 steps
    assert w.measures["image"]["mean"][0] > 2 * best_example  # far above any real digit
    assert float(images.std()) > 0.3  # strong contrast, not a grey blob


def test_defaults_give_a_recognisable_image_on_the_shapes_model():
    model, x = nl.zoo.shapes_cnn(), nl.zoo.shapes_data(n_train=0).x_test[:200]
    with probe(model, "relu3") as acts, torch.no_grad():
        model(x)
    best_example = float(acts["relu3"][:, 3].mean((1, 2)).max())
    w = nl.FeatureVisualizer(model, layer="relu3", channel=3, input_size=64, seconds=0)
    assert w.wait(180) and w.error is None
    assert w.result().images.shape == (1, 3, 64, 64)
    assert w.measures["image"]["mean"][0] > 2 * best_example
    assert float(w.result().images.std()) > 0.25


def test_stop_ends_a_paced_run_at_once_and_leaves_nothing_behind(digits):
    model, _ = digits
    before = ModelSnapshot.of(model)
    w = nl.FeatureVisualizer(model, layer="relu3", steps=64, every=2, seconds=60, input_size=32, autorun=False)
    w.refresh()
    poll(lambda: w.frames_streamed >= 2)
    stopped = time.monotonic()
    w.stop()
    assert w.wait(5) and time.monotonic() - stopped < 2  # the pace's wait ends with the stop
    streamed = w.frames_streamed
    assert w.result() is None and not w.running
    assert w.wait(0.5) and w.frames_streamed == streamed  # nothing drawn after the stop
    assert hook_count(model) == 0 and ModelSnapshot.of(model).differences(before) == {}
    assert all(p.grad is None for p in model.parameters())


def test_autorun_follows_the_channel_and_new_settings_restart(digits):
    model, _ = digits
    w = nl.FeatureVisualizer(model, layer="conv2", steps=8, input_size=32, seconds=0)
    assert w.wait(60) and w.runs == 1 and w.result() is not None
    w.channel = 5
    assert w.wait(60) and w.runs == 2 and w.result().step == 8
    w.steps = 12
    assert w.wait(60) and w.runs == 3 and w.result().steps == 12
    w.batch = 2
    assert w.wait(60) and w.result().images.shape[0] == 2 and "batch of 2" in w.views["image"].title
    w.param = "pixel"
    assert w.wait(60) and w.runs == 5 and w.error is None
    w.seconds = 1.0  # the pace changes no picture: no new run
    assert w.wait(0) and w.runs == 5


def test_top_examples_are_shown_with_their_regions(digits):
    model, x = digits
    w = nl.FeatureVisualizer(model, layer="relu3", data=x, autorun=False, k=9)
    assert w.wait(60)
    w.channel = 7
    assert w.wait(60)
    expected = top_examples(model, x, "relu3", units=[7], k=9)
    assert w.top_examples().top(unit=7)[0].tolist() == expected.top(unit=7)[0].tolist()
    marks = w.examples_marks
    assert len(marks) == 9
    h, wd = w.examples_frame.shape[:2]
    for m in marks:
        assert 0 <= m["x"] and m["x"] + m["w"] <= wd and 0 <= m["y"] and m["y"] + m["h"] <= h and m["w"] > 0
    # the best example's tile is that data image, pixel for pixel (grey repeated in R, G, B)
    best = x[expected.top(unit=7)[0][0], 0].numpy()
    tile = w.examples_frame[1:33, 1:33, 0]
    assert np.abs(tile.astype(float) / 255 - best).max() <= 0.5 / 255 + 1e-6
    assert "ranked by the peak activation<br>of channel 7 in relu3" in caption(w, "examples")


def test_precomputed_top_examples_are_shown_without_a_scan(digits, tmp_path, monkeypatch):
    model, x = digits
    scan = top_examples(model, x, "relu3", units=[7, 9], k=5)
    scan.save(tmp_path / "relu3.pt")
    loaded = nl.core.load_top_examples(tmp_path / "relu3.pt")

    def no_scan(*_a, **_k):
        raise AssertionError("a precomputed layer was scanned again")

    monkeypatch.setattr("nnlens_widgets.widgets.feature_visualizer.top_examples.top_examples", no_scan)
    w = nl.FeatureVisualizer(model, layer="relu3", data=x, autorun=False, top_examples=loaded)
    w.channel = 9
    assert w.wait(60) and w.error is None
    assert w.top_examples() is loaded and w.k == 5 and len(w.examples_marks) == 5
    assert "top 5 of 120 data images" == w.views["examples"].title
    w.channel = 3  # not among the scanned channels: said so, no examples of another channel left
    assert w.wait(60) and "not among the channels scanned" in caption(w, "examples") and w.examples_marks == []
    assert "examples" not in w.measures and w.error is None
    with pytest.raises(ValueError, match="pass that data set as data="):
        nl.FeatureVisualizer(model, layer="relu3", input_size=32, autorun=False, top_examples=loaded)
    with pytest.raises(ValueError, match="data has 10 images"):
        nl.FeatureVisualizer(model, layer="relu3", data=x[:10], autorun=False, top_examples=loaded)
    with pytest.raises(ValueError, match="expected top_examples as TopExamples"):
        nl.FeatureVisualizer(model, layer="relu3", data=x, autorun=False, top_examples=["relu3"])


def test_objective_choices_come_from_the_registry(digits):
    model, _ = digits

    @fv.register_objective("corner", "corner neuron", reads="channel")
    def corner(layer, n):
        return fv.neuron(layer, n, y=0, x=0)

    try:
        w = nl.FeatureVisualizer(model, layer="relu3", input_size=32, autorun=False)
        options = dict((v, k) for k, v in w.controls["objective"].options)
        assert options == {"channel": "channel mean", "peak": "channel peak", "neuron": "centre neuron",
                           "corner": "corner neuron"}
        w.objective = "corner"
        with pytest.raises(ValueError, match="expected an objective in"):
            w.objective = "class_logit"  # reads no channel: not a choice here
        assert w.objective == "corner" and w.controls["objective"].value == "corner"
    finally:
        fv.OBJECTIVES.remove("corner")


def test_layer_change_and_bad_values(digits):
    model, x = digits
    w = nl.FeatureVisualizer(model, layer="relu3", data=x, autorun=False)
    assert w.wait(60)
    w.channel = 40
    w.layer = "relu1"
    assert w.wait(60) and w.channels == 16 and w.controls["channel"].max == 15 and w.channel == 15
    assert w.top_examples().layer == "relu1"
    for name, value, message in [("channel", 16, r"channel in 0..15"), ("lr", 0, r"learning rate in 1e-05..10.0"),
                                 ("steps", 0, r"steps in 1..100000"), ("batch", 9, r"batch in 1..8"),
                                 ("seconds", float("nan"), "finite seconds"), ("param", "wavelet", "param in"),
                                 ("transforms", "blur", "transforms in")]:
        kept = getattr(w, name)
        with pytest.raises(ValueError, match=message):
            setattr(w, name, value)
        assert getattr(w, name) == kept and w.controls[name].value == kept
    w.controls["steps"].value = 10**6  # the control clips what is typed: trait and control agree
    assert w.steps == w.controls["steps"].value == 100000
    with pytest.raises(KeyError, match="relu3"):
        w.layer = "relu_3"
    with pytest.raises(ValueError, match="no channels to visualise"):
        nl.FeatureVisualizer(TupleNet(), layer="pair", input_size=12, autorun=False)
    with pytest.raises(ValueError, match="data images are shaped"):
        nl.FeatureVisualizer(model, layer="relu3", data=x, input_size=16, autorun=False)
    with pytest.raises(ValueError, match="non-empty"):
        nl.FeatureVisualizer(model, layer="relu3", data=x[:0], autorun=False)
    with pytest.raises(ValueError, match="every in 1..100000"):
        nl.FeatureVisualizer(model, layer="relu3", input_size=32, every=0)
    with pytest.raises(TypeError, match="torch.nn.Module"):
        nl.FeatureVisualizer("model")
    with pytest.raises(TypeError):
        nl.FeatureVisualizer(model, "relu3")  # options are keyword-only
    assert w.error is None
    w.channel = 3
    w.steps = 8
    w.refresh()
    assert w.wait(60) and w.result() is not None


class Named(nn.Module):
    def __init__(self):
        super().__init__()
        self.add_module("<b>conv</b>", nn.Conv2d(1, 4, 3, padding=1))
        self.head = nn.Linear(4, 2)

    def forward(self, x):
        return self.head(getattr(self, "<b>conv</b>")(x).mean((2, 3)))


def test_layer_names_are_escaped_in_the_info_lines():
    w = nl.FeatureVisualizer(Named(), layer="<b>conv</b>", data=torch.rand(12, 1, 8, 8), steps=4, seconds=0)
    assert w.wait(60) and w.error is None
    for view in ("image", "examples"):
        assert "&lt;b&gt;conv&lt;/b&gt;" in caption(w, view) and "<b>conv</b>" not in caption(w, view)


def test_close_frees_the_widget_and_its_worker(digits, tmp_path):
    model, x = digits
    threads = set(threading.enumerate())
    w = nl.FeatureVisualizer(model, layer="relu3", data=x[:30], steps=8, seconds=0)
    assert w.wait(60)
    w.save_png(tmp_path / "fv.png")
    w.save_html(tmp_path / "fv.html")
    page = (tmp_path / "fv.html").read_text()
    assert "optimised image" in page and "mean activation" in page and "data:image/png;base64," in page
    ref = closed(w)
    del w
    assert_freed(ref, threads)

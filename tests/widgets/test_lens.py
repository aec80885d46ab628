import copy
import gc
import json
import threading
import weakref

import numpy as np
import pytest
import torch

import nnlens_widgets as nl
from nnlens_widgets.core import ModelSnapshot, hook_count
from nnlens_widgets.render.attribution_maps import map_rgba, saturation_value
from tests.models import TinyNet, image

LABELS = ["cat", "dog", "<b>bird</b>", "fish", "frog"]


class ThreadCountingNet(TinyNet):
    """TinyNet that records which thread ran each forward pass (its looks share the record)."""

    def __init__(self):
        super().__init__()
        self._threads = []

    def forward(self, x):
        self._threads.append(threading.get_ident())
        return super().forward(x)

    def passes_on(self, ident) -> int:
        return sum(t == ident for t in self._threads)


def data(n=24, seed=1):
    return torch.rand(n, 3, 12, 12, generator=torch.Generator().manual_seed(seed))


def make(model=None, **kwargs):
    options = dict(data=data(), labels=LABELS, layer="relu2", vis_steps=4, trust_steps=4)
    options.update(kwargs)
    lens = nl.Lens(model if model is not None else TinyNet(), image(), **options)
    assert lens.wait(60), "background work did not finish"
    return lens


def content(lens):
    """What each panel shows: a picture's pixels and title, or a chart's HTML."""
    out = {}
    for name, view in lens.views.items():
        if hasattr(view, "body"):
            out[name] = view.body.value
        else:
            out[name] = (None if view.frame is None else view.frame.tobytes(), view.title)
    return out


def changed(before, after):
    return {name for name in before if before[name] != after[name]}


def click_tile(view, index):
    x, y, w, h = view.tile_rect(index)
    view.canvas.handle_event({"event": "click", "x": x + w / 2, "y": y + h / 2})


def test_panels_show_the_unit_the_target_and_the_examples():
    lens = make()
    assert lens.error is None
    assert set(lens.views) == {"input", "classes", "channels", "activation", "unit_gradient", "feature_vis",
                               "examples", "ablation", "attribution", "occlusion", "warnings"}
    assert lens.layers == ["conv1", "relu1", "conv2", "bn", "relu2", "pool"]  # fc has no channel maps
    assert lens.target == int(np.argmax(lens.probabilities))
    classes = lens.views["classes"].body.value
    assert "&lt;b&gt;bird&lt;/b&gt;" in classes and "<b>bird" not in classes
    assert classes.count("nnl-prob-row") == 5
    assert lens.views["ablation"].body.value.count("nnl-bar-before") == 5  # before vs after, each class
    assert "random map" in lens.views["attribution"].caption.value  # the trust badge
    assert lens.views["examples"].frame is not None and lens.scanned.count == 24
    assert lens.views["channels"].layout_.count == 6
    for name in ("activation", "unit_gradient", "attribution", "channels"):
        assert lens.views[name].legend.value, f"{name} has no colour bar"
    assert [v for _, v in lens.controls["method"].options] == list(nl.core.METHODS)
    twin, captured = copy.deepcopy(lens.model).eval(), {}
    twin.relu2.register_forward_hook(lambda _m, _i, out: captured.__setitem__("a", out))
    with torch.no_grad():
        twin(image()[None])
    assert lens.channel == int(captured["a"][0].mean((1, 2)).argmax())  # the unit firing most by default
    assert lens.controls["channel"].value == lens.channel
    assert nl.Lens(TinyNet(), image(), layer="conv2", channel=4).channel == 4


def test_every_trait_change_reaches_every_panel_that_depends_on_it():
    lens = make()
    unit = {"activation", "unit_gradient", "feature_vis", "examples", "ablation"}
    steps = [
        (lambda: setattr(lens, "channel", (lens.channel + 1) % 6), unit),
        (lambda: setattr(lens, "layer", "conv2"), unit | {"channels"}),
        (lambda: setattr(lens, "target", (lens.target + 1) % 5), {"classes", "attribution", "ablation"}),
        (lambda: setattr(lens, "method", "input_x_gradient"), {"attribution"}),
        (lambda: setattr(lens, "vis_seed", 7), {"feature_vis"}),
        (lambda: setattr(lens, "input", image(seed=5)),
         {"input", "classes", "channels", "activation", "unit_gradient", "ablation", "attribution"}),
    ]
    for action, expected in steps:
        before = content(lens)
        action()
        assert lens.wait(60) and lens.error is None
        # the warnings follow whatever they speak of (tests/widgets/test_view_warnings.py)
        assert changed(before, content(lens)) - {"warnings"} == expected


def test_channel_change_runs_no_forward_pass_for_the_cached_panels():
    model = ThreadCountingNet()
    lens = make(model)
    kernel = threading.get_ident()
    passes, cached = model.passes_on(kernel), lens.forward_passes
    before = content(lens)
    new = (lens.channel + 1) % 6
    lens.channel = new  # drawn at once, before any background work could finish
    assert model.passes_on(kernel) == passes and lens.forward_passes == cached
    assert {"activation"} <= changed(before, content(lens))
    rect = lens.views["channels"].tile_rect(new)
    assert lens.views["channels"].canvas.marks[0]["x"] == rect[0] - 0.5
    assert lens.wait(60)
    assert model.passes_on(kernel) == passes and lens.forward_passes == cached  # the rest ran on workers
    assert len(model._threads) > passes


@pytest.mark.parametrize("mode", ["eval", "train"])
def test_model_is_unchanged_and_hook_free_after_every_action(mode):
    model = TinyNet()
    getattr(model, mode)()
    snap = ModelSnapshot.of(model)
    lens = make(model)
    actions = [
        lambda: setattr(lens, "channel", (lens.channel + 1) % 6),
        lambda: setattr(lens, "layer", "conv1"),
        lambda: setattr(lens, "target", 1),
        lambda: setattr(lens, "method", "grad_cam"),
        lambda: setattr(lens, "method", "integrated_gradients"),
        lambda: lens.occlude(),
        lambda: setattr(lens, "input", image(seed=3)),
        lambda: click_tile(lens.views["examples"], 0),
        lambda: click_tile(lens.views["channels"], 1),
    ]
    for action in actions:
        action()
        assert lens.wait(60) and lens.error is None
        assert snap.differences(ModelSnapshot.of(model)) == {}
        assert hook_count(model) == 0


def test_occlusion_runs_beside_the_other_panels_on_other_threads():
    digits, model = nl.zoo.digits_data().x_test, nl.zoo.digits_cnn()
    lens = nl.Lens(model, digits[0], layer="relu3", vis_steps=16, trust_steps=4)
    before = lens.views["occlusion"].frame
    lens.occlude()
    for i in range(3):  # new inputs on the kernel thread while the occlusion map is being computed
        lens.input = digits[i + 1]
    assert lens.wait(120) and lens.error is None
    assert before is None
    fresh = nl.Lens(model, digits[3], layer="relu3", target=lens.target, vis_steps=16, trust_steps=4)
    fresh.occlude()
    assert fresh.wait(120)
    assert np.array_equal(lens.views["occlusion"].frame, fresh.views["occlusion"].frame)  # the last input's map


def test_target_stays_on_a_new_input_and_the_dropdown_follows_it():
    lens = make()
    target = int(np.argsort(lens.probabilities)[0])  # the least likely class: not among the top choices
    lens.target = target
    assert lens.controls["target"].value == target
    seen = []
    lens.observe(lambda change: seen.append(change["new"]), "target")
    lens.input = image(seed=4)
    assert lens.target == target and lens.controls["target"].value == target and seen == []
    other = [v for _, v in lens.controls["target"].options if v != target][0]
    lens.controls["target"].value = other  # picked in the dropdown
    assert lens.target == other and seen == [other]
    assert lens.wait(60) and lens.error is None


def test_tile_click_picks_the_unit_and_example_click_makes_it_the_input():
    lens = make()
    click_tile(lens.views["channels"], 5)
    assert lens.channel == 5 and lens.controls["channel"].value == 5
    assert lens.wait(60)
    index = int(lens.scanned.top(5)[0][0])
    click_tile(lens.views["examples"], 0)
    assert torch.equal(lens.input[0], data()[index])
    assert lens.wait(60) and lens.error is None


def test_unit_gradient_and_ablation_match_plain_torch():
    model = TinyNet().eval()
    lens = make(model, layer="relu2")
    lens.channel = 3
    assert lens.wait(60)
    twin = copy.deepcopy(model).eval()
    x = image()[None].requires_grad_(True)
    captured = {}
    handle = twin.relu2.register_forward_hook(lambda _m, _i, out: captured.__setitem__("a", out))
    twin(x)
    captured["a"][0, 3].mean().backward()
    handle.remove()
    ref = x.grad[0].abs().sum(0).numpy()
    assert np.array_equal(lens.views["unit_gradient"].frame, map_rgba(ref, "absolute", saturation_value(ref, 99)))

    def zero_channel(_m, _i, out):
        out = out.clone()
        out[:, 3] = 0
        return out

    twin.relu2.register_forward_hook(zero_channel)
    with torch.no_grad():
        after = twin(image()[None]).softmax(1)[0].numpy()
    rows = lens.views["ablation"].body.value  # top_k = 5: every class has a row
    for c in range(5):
        assert f"data-p='{after[c]:.6f}'" in rows
        assert f"data-p='{lens.probabilities[c]:.6f}'" in rows  # the grey "before" bar


def test_state_round_trip_gives_identical_frames_and_html_carries_it(tmp_path):
    model = TinyNet().eval()
    lens = make(model)
    lens.channel, lens.target, lens.method, lens.vis_seed = 2, 3, "smoothgrad", 5
    lens.occlude()
    assert lens.wait(60)
    state = lens.state()
    assert json.loads(json.dumps(state)) == state  # plain data
    assert state["method_params"]["smoothgrad"] == {"samples": 25, "noise": 0.15}
    assert set(state["versions"]) == {"torch", "nnlens_widgets"}
    again = nl.Lens.from_state(model, image(), state, data=data(), labels=LABELS)
    assert again.wait(60)
    assert again.state() == state
    assert content(again) == content(lens)
    lens.save_html(tmp_path / "lens.html")
    page = (tmp_path / "lens.html").read_text()
    start = page.index("class='nnl-state'>") + len("class='nnl-state'>")
    assert json.loads(page[start:page.index("</script>", start)]) == state


def test_from_state_refuses_other_weights_or_input_naming_what_differs():
    model = TinyNet().eval()
    state = make(model).state()
    other = TinyNet().eval()
    with torch.no_grad():
        other.fc.bias += 1
    with pytest.raises(ValueError, match="the model's weights") as e:
        nl.Lens.from_state(other, image(), state)
    assert "the input" not in str(e.value)
    with pytest.raises(ValueError, match="the input"):
        nl.Lens.from_state(model, image(seed=9), state)
    with pytest.raises(ValueError, match="lacks layer"):
        nl.Lens.from_state(model, image(), {k: v for k, v in state.items() if k != "layer"})


def test_bad_values_are_clear_errors_and_not_kept():
    lens = make()
    kept = (lens.channel, lens.layer, lens.method)
    with pytest.raises(ValueError, match=r"channel in 0\.\.5 for layer 'relu2'"):
        lens.channel = 6
    with pytest.raises(KeyError, match="closest"):
        lens.layer = "conv9"
    with pytest.raises(ValueError, match="channel maps"):
        lens.layer = "fc"
    with pytest.raises(ValueError, match=r"target class in 0\.\.4"):
        lens.target = 5
    with pytest.raises(ValueError, match="expected a method in"):
        lens.method = "magic"
    assert (lens.channel, lens.layer, lens.method) == kept
    with pytest.raises(ValueError, match="expected 3 input channel"):
        lens.input = torch.rand(1, 12, 12)
    with pytest.raises(KeyError):
        nl.Lens(TinyNet(), image(), layer="nope")
    with pytest.raises(ValueError, match="vis_steps"):
        nl.Lens(TinyNet(), image(), vis_steps=0)
    with pytest.raises(TypeError):
        nl.Lens(lambda x: x, image())
    lens.channel = 1
    assert lens.wait(60) and lens.error is None


class GatedImages(torch.utils.data.Dataset):
    """Images that a worker thread can only read once ``opened`` is set (the kernel thread always can)."""

    def __init__(self):
        self.images, self.opened = data(), threading.Event()

    def __len__(self):
        return len(self.images)

    def __getitem__(self, i):
        if threading.current_thread() is not threading.main_thread():
            self.opened.wait(30)
        return self.images[i]


def test_a_stopped_scan_starts_again_with_the_next_unit():
    gated = GatedImages()
    lens = nl.Lens(TinyNet(), image(), data=gated, layer="relu2", vis_steps=4, trust_steps=4)
    lens.stop()  # the scan is waiting for its first batch: stopped before it read anything
    gated.opened.set()
    assert lens.wait(60) and lens.scanned is None
    assert "scanning the data" in lens.views["examples"].caption.value
    lens.channel = (lens.channel + 1) % 6
    assert lens.wait(60) and lens.error is None
    assert lens.scanned.count == len(gated) and lens.views["examples"].frame is not None


def test_without_data_the_examples_panel_says_why():
    lens = make(data=None)
    assert lens.scanned is None and lens.views["examples"].frame is None
    assert "no data set given" in lens.views["examples"].caption.value


def test_link_joins_the_lens_and_another_widget_by_trait_names():
    model = TinyNet().eval()
    lens = make(model)
    grid = nl.ActivationGrid(model, image(), layer="conv1")
    nl.link(lens, grid, "layer", "channel")
    assert grid.layer == "relu2"
    grid.channel = 4
    assert lens.channel == 4
    assert lens.wait(60) and lens.error is None


def test_close_frees_the_widget_and_its_workers():
    def nnlens_threads():
        return [t for t in threading.enumerate() if t.name == "nnlens-work"]

    before = set(nnlens_threads())
    lens = make()
    lens.channel = 1  # leave work in flight
    ref = weakref.ref(lens)
    lens.close()
    del lens
    gc.collect()
    assert ref() is None
    assert [t for t in nnlens_threads() if t not in before] == []

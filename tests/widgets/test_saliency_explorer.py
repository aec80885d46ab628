import copy
import gc
import threading
import time
import weakref
from typing import NamedTuple

import ipywidgets
import numpy as np
import pytest
import torch

import nnlens_widgets as nl
from nnlens_widgets.core import METHODS, ModelSnapshot, hook_count, to_batch
from nnlens_widgets.core.attribution import register_method
from nnlens_widgets.core.registry import Param
from nnlens_widgets.render import image_rgba
from nnlens_widgets.render.attribution_maps import grey_photo, map_rgba, overlay_rgba, side_by_side
from tests.core.attribution_models import single_thread  # noqa: F401 (fixture)
from tests.models import TinyNet, image

FAST = ["gradient", "guided_backprop", "grad_cam", "integrated_gradients"]
LABELS = ["circle", "square", "triangle", "star", "cross"]


@pytest.fixture
def model():
    torch.manual_seed(0)
    m = TinyNet()
    m.train()  # the widget must look in eval mode and leave this flag alone
    return m


def x16():
    return image(h=16, w=16)


def _explorer(model, methods=FAST, **kw):
    w = nl.SaliencyExplorer(model, x16(), methods=methods, **kw)
    assert w.wait(60)
    assert w.error is None
    return w


def expected_picture(m, photo, sign="absolute", opacity=0.8, percentile=99.0, gap=1):
    values = m[0].abs().sum(0).numpy() if sign == "absolute" else m[0].sum(0).numpy()
    shown = {"absolute": values, "both": values, "positive": np.clip(values, 0, None),
             "negative": np.clip(-values, 0, None)}[sign]
    vmax = float(np.percentile(np.abs(shown), percentile))
    return side_by_side(map_rgba(values, sign, vmax), overlay_rgba(photo, values, sign, vmax, opacity), gap)


def workers():
    return {t for t in threading.enumerate() if t.name == "nnlens-work"}


def test_maps_match_the_core_methods_and_are_drawn_beside_their_overlays(model):
    snap = ModelSnapshot.of(model)
    w = _explorer(model, labels=LABELS)
    x = x16()
    t = w.target
    assert t == int(copy.deepcopy(model).eval()(x[None]).argmax()) and model.training
    expected = {
        "gradient": nl.core.gradient(model, x, t),
        "guided_backprop": nl.core.guided_backprop(model, x, t),
        "grad_cam": nl.core.grad_cam(model, x, t).upsampled,
        "integrated_gradients": nl.core.integrated_gradients(model, x, t, steps=32),
    }
    for name, ref in expected.items():
        torch.testing.assert_close(w.maps[name], ref)
    photo = image_rgba(x.numpy())
    pic = w.frames["gradient"]
    assert np.array_equal(pic, expected_picture(expected["gradient"], photo))
    assert pic.shape == (16, 33, 4) and w.views["gradient"].scale == 10  # own resolution, enlarged on screen
    assert w.frame.shape == (16, 4 * 33, 4)
    assert [o[1] for o in w.controls["target"].options][0] == t
    assert w.controls["target"].options[0][0].startswith(LABELS[t])
    assert snap.differences(ModelSnapshot.of(model)) == {} and hook_count(model) == 0


def test_colour_saturates_at_the_percentile_and_the_legend_says_so(model):
    w = _explorer(model, methods=["gradient"])
    values = w.maps["gradient"][0].abs().sum(0).numpy()
    view = w.views["gradient"]
    legend = view.legend.value
    p99 = float(np.percentile(values, 99))
    assert "|attribution|, colour saturates at the 99th percentile" in legend
    assert f">{nl.render.fmt(p99)}<" in legend and ">0<" in legend
    saturated = values >= p99
    assert saturated.sum() >= 2  # the brightest pixels all reach the end of the colormap
    assert (w.frames["gradient"][:, :16][saturated][:, :3] == nl.render.lut("inferno")[255][:3]).all()
    w.clip_percentile = 100
    assert "saturates at the largest value" in view.legend.value
    assert f">{nl.render.fmt(values.max())}<" in view.legend.value
    w.sign = "both"
    assert "attribution (red +, blue" in view.legend.value and ">0<" in view.legend.value
    w.vmax = 2.5
    assert "one fixed scale for every map (saturates at 2.5)" in view.legend.value
    assert w.controls["scale"].value == "shared" and w.controls["vmax"].value == 2.5


def test_overlay_is_the_map_over_a_grey_photo(model):
    def right_half(model, x, target=None):
        m = torch.zeros(1, 1, 16, 16)
        m[..., 8:] = 1.0
        return m

    w = _explorer(model, methods=[("Right half", right_half)])
    w.opacity = 1.0
    grey = grey_photo(image_rgba(x16().numpy()))
    overlay = w.frames["Right half"][:, 17:]
    assert np.array_equal(overlay[:, :8], grey[:, :8])  # no map: the grey photo, none of its hues
    low, top = nl.render.lut("inferno")[0], nl.render.lut("inferno")[255]
    assert (overlay[:, 8:] == top).all()  # full strength and opacity: the colour bar's end colour, unmixed
    alone = w.frames["Right half"][:, :16]  # the map alone: exactly the colour bar's colours
    assert (alone[:, 8:] == top).all() and (alone[:, :8] == low).all()
    w.opacity = 0.0
    assert np.array_equal(w.frames["Right half"][:, 17:], grey)


def test_display_controls_redraw_without_running_the_model(model):
    w = _explorer(model)
    calls = model.forward_calls
    before = w.frames["gradient"].copy()
    w.opacity = 0.1
    after = w.frames["gradient"]
    assert np.array_equal(after[:, :16], before[:, :16])  # the map alone is unchanged
    assert not np.array_equal(after[:, 17:], before[:, 17:])
    w.sign = "both"
    both = w.frames["grad_cam"].copy()
    w.sign = "negative"  # Grad-CAM is non-negative: nothing left to show
    assert not np.array_equal(both, w.frames["grad_cam"])
    assert "no negative values" in w.views["grad_cam"].caption.value
    w.sign = "absolute"
    w.clip_percentile = 90
    w.vmax = 1e6  # one fixed scale far above every value: the maps go dark
    assert (w.frames["integrated_gradients"][:, :16, :3] <= 5).all()
    assert model.forward_calls == calls
    assert w.wait(5)


def test_method_parameters_come_from_the_specs_and_rerun_only_their_method(model):
    w = _explorer(model)
    steps = w.controls["params.integrated_gradients.steps"]
    spec = {p.name: p for p in METHODS["integrated_gradients"].params}["steps"]
    assert (steps.min, steps.max, steps.value, steps.description) == (spec.low, spec.high, spec.default, spec.title)
    baseline = w.controls["params.integrated_gradients.baseline"]
    assert [v for _, v in baseline.options] == list(spec_choices("integrated_gradients", "baseline"))
    grad = w.maps["gradient"]
    w.set_param("integrated_gradients", "steps", 5)
    assert steps.value == 5
    assert w.wait(60) and w.error is None
    assert w.maps["gradient"] is grad  # cached: not recomputed
    torch.testing.assert_close(w.maps["integrated_gradients"],
                               nl.core.integrated_gradients(model, x16(), w.target, steps=5))
    baseline.value = "blur"  # the control sets the parameter
    assert w.params["integrated_gradients"] == {"steps": 5, "baseline": "blur"}
    assert w.wait(60)
    torch.testing.assert_close(w.maps["integrated_gradients"],
                               nl.core.integrated_gradients(model, x16(), w.target, steps=5, baseline="blur"))
    before = w.params
    for bad, message in [({"integrated_gradients": {"steps": 1}}, r"steps in 2\.\.300"),
                         ({"integrated_gradients": {"steps": 2.5}}, "whole number"),
                         ({"integrated_gradients": {"speed": 3}}, "unknown parameter 'speed'"),
                         ({"magic": {}}, "unknown method 'magic'")]:
        with pytest.raises(ValueError, match=message):
            w.params = bad
        assert w.params == before


def spec_choices(method, name):
    return {p.name: p for p in METHODS[method].params}[name].choices


@pytest.fixture
def toy_method():
    """A method registered by this test only, with one parameter."""

    def toy_gain(model, x, target=None, gain=1.0, preprocess=None):
        return gain * to_batch(x, model, preprocess)

    register_method("toy_gain", "Toy gain", params=(Param("gain", "toy gain", 1.0, 0.5, 4.0, 0.5,
                                                           description="how much to scale the input"),))(toy_gain)
    try:
        yield "toy_gain"
    finally:
        METHODS.remove("toy_gain")


def test_a_registered_method_appears_with_a_working_control(model, toy_method):
    w = _explorer(model, methods=["gradient"])
    box = w.controls["methods.toy_gain"]
    assert box.description == "Toy gain" and box.value is False
    gain = w.controls["params.toy_gain.gain"]
    assert isinstance(gain, ipywidgets.FloatSlider)
    assert (gain.min, gain.max, gain.step, gain.value) == (0.5, 4.0, 0.5, 1.0)
    box.value = True  # picked in the widget
    assert w.methods == ["gradient", "toy_gain"]
    assert w.wait(30) and w.error is None
    torch.testing.assert_close(w.maps["toy_gain"], x16()[None])
    assert w.views["toy_gain"].title == "Toy gain"
    gain.value = 2.5  # moving the control recomputes that map with the new value
    assert w.params["toy_gain"] == {"gain": 2.5}
    assert w.wait(30) and w.error is None
    torch.testing.assert_close(w.maps["toy_gain"], 2.5 * x16()[None])


def test_methods_are_picked_in_the_widget_and_unpicked_cards_hide(model):
    w = _explorer(model, methods=["gradient"])
    assert w.offered[:len(METHODS)] == list(METHODS)
    w.controls["methods.deconvnet"].value = True
    assert w.methods == ["gradient", "deconvnet"] and w.wait(30)
    torch.testing.assert_close(w.maps["deconvnet"], nl.core.deconvnet(model, x16(), w.target))
    w.controls["methods.gradient"].value = False
    assert w.methods == ["deconvnet"] and "gradient" not in w.views and "gradient" not in w.frames
    w.methods = ["gradient", "deconvnet"]  # from code: the boxes follow
    assert w.controls["methods.gradient"].value is True
    with pytest.raises(ValueError, match="unknown method 'magic'"):
        w.methods = ["magic"]


def test_title_function_pairs_work_and_their_titles_are_escaped(model):
    def doubled(model, x, target=None):
        return 2 * nl.core.gradient(model, x, target)

    w = _explorer(model, methods=["gradient", ("<b>Doubled</b>", doubled)], labels=["<i>c</i>", "b", "c", "d", "e"])
    torch.testing.assert_close(w.maps["<b>Doubled</b>"], 2 * w.maps["gradient"])
    assert w.controls["methods.<b>Doubled</b>"].value is True
    page = "".join(v.static_html() for v in w.views.values())
    assert "<b>Doubled</b>" not in page and "&lt;b&gt;Doubled&lt;/b&gt;" in page
    assert "<i>c" not in page
    with pytest.raises(ValueError, match="already registered"):
        nl.SaliencyExplorer(model, x16(), methods=[("gradient", doubled)])


def test_channel_target_and_the_newest_change_wins(model):
    w = _explorer(model, methods=["gradient", "deconvnet", "grad_cam"])
    w.target_mode = "channel"
    assert w.controls["target"].layout.display == "none" and w.controls["layer"].layout.display == "flex"
    w.layer = "conv2"
    for c in range(6):  # rapid changes: only the newest target may end up drawn
        w.channel = c
    assert w.wait(60) and w.error is None
    assert w.explained == nl.core.UnitTarget("conv2", 5)
    torch.testing.assert_close(w.maps["gradient"], nl.core.gradient(model, x16(), ("conv2", 5)))
    torch.testing.assert_close(w.maps["deconvnet"], nl.core.deconvnet(model, x16(), ("conv2", 5)))
    # a CAM explaining a channel looks at the channel's own layer (the last one does not depend on it)
    torch.testing.assert_close(w.maps["grad_cam"], nl.core.grad_cam(model, x16(), ("conv2", 5), layer="conv2").upsampled)
    w.layer = "conv1"  # 4 channels: the channel follows
    assert w.channel == 3 and w.controls["channel"].max == 3
    assert w.wait(60) and hook_count(model) == 0


class Stable(NamedTuple):
    weights: torch.Tensor
    stability: float


def test_trust_report_explains_its_numbers_and_draws_labelled_curves(model):
    def stable(model, x, target=None):
        return Stable(nl.core.gradient(model, x, target), 0.875)

    w = _explorer(model, methods=["gradient", "grad_cam", ("Stable", stable)], labels=LABELS)
    trust = w.views["gradient trust"]
    assert trust.body.value == "" and trust.layout.display == "none"
    assert "stability: 0.875" in w.views["Stable"].caption.value
    w.trust_report()
    assert w.wait(120) and w.error is None
    rep = w.reports["gradient"]
    direct = nl.core.metrics.deletion_curve(model, x16(), w.maps["gradient"], w.target, steps=32)
    assert rep.deletion.auc == pytest.approx(direct.auc)
    body = trust.body.value
    assert f"deletion AUC {nl.render.fmt(rep.deletion.auc)}" in body and "lower is better" in body
    assert "insertion AUC" in body and "higher is better" in body and "Spearman" in body
    assert "<svg" in body and "fraction of pixels removed / inserted" in body
    assert f"P({LABELS[w.target]})" in body and ">deletion<" in body and ">insertion<" in body
    assert ">0.5<" in body and ">1<" in body  # tick values
    assert "stability: 0.875" in w.views["Stable trust"].body.value
    w.target = (w.target + 1) % 5  # a new target has no report yet
    assert w.views["gradient trust"].body.value == ""
    assert w.wait(60) and model.training


class SlowNet(TinyNet):
    """Slow enough per pass that a long IG run can be stopped midway."""

    def forward(self, x):
        time.sleep(0.1)
        return super().forward(x)


def test_a_long_method_can_be_stopped_and_views_stay_responsive():
    torch.manual_seed(0)
    model = SlowNet().eval()
    w = nl.SaliencyExplorer(model, x16(), methods=["gradient", "integrated_gradients"])
    assert w.wait(60)
    w.set_param("integrated_gradients", "steps", 300)  # 300 steps in batches: several slow passes
    assert w.busy
    before = w.frames["gradient"].copy()
    w.opacity = 0.05  # a display change while IG runs draws at once
    assert not np.array_equal(before, w.frames["gradient"])
    w.stop()
    assert w.wait(30)
    assert "integrated_gradients" not in w.maps  # stopped: no stale or partial map drawn
    assert "stopped before this map was computed" in w.views["integrated_gradients"].caption.value
    w.params = {"integrated_gradients": {"steps": 8, "baseline": "blur"}}
    w.controls["refresh"].click()
    assert w.wait(60) and w.error is None
    torch.testing.assert_close(w.maps["integrated_gradients"], nl.core.integrated_gradients(
        model, x16(), w.target, steps=8, baseline="blur"))
    assert hook_count(model) == 0


def test_a_failing_method_is_shown_in_its_card_and_the_others_still_draw(model):
    def broken(model, x, target=None):
        raise RuntimeError("kaboom")

    w = nl.SaliencyExplorer(model, x16(), methods=["gradient", ("Broken", broken)])
    assert w.wait(30)
    assert "kaboom" in w.error and "Broken failed" in w.status
    assert "kaboom" in w.views["Broken"].caption.value and "gradient" in w.maps
    w.methods = ["gradient"]
    w.refresh()
    assert w.wait(30) and w.error is None and w.status == ""


def test_bad_arguments_and_values_are_clear_errors(model):
    for kwargs, error, message in [
        (dict(methods=["gradient", "magic"]), ValueError, "known: gradient"),
        (dict(methods=["gradient"], labels=["a"]), ValueError, "expected 5 labels"),
        (dict(methods=["gradient"], top_k=0), ValueError, r"top_k in 1\.\."),
        (dict(methods=["gradient"], pane_px=4), ValueError, r"pane_px in 16\.\.2048"),
        (dict(methods=["gradient"], target=9), ValueError, r"target class in 0\.\.4"),
        (dict(methods=["gradient"], layer="fc"), ValueError, "spatial map"),
        (dict(methods=["gradient"], layer="conf1"), KeyError, "conv1"),
    ]:
        with pytest.raises(error, match=message):
            nl.SaliencyExplorer(model, x16(), autorun=False, **kwargs)
    with pytest.raises(ValueError, match="expected 3 input channel"):
        nl.SaliencyExplorer(model, torch.rand(2, 8, 8), methods=["gradient"])
    with pytest.raises(TypeError, match="torch.nn.Module"):
        nl.SaliencyExplorer(lambda z: z, x16())
    w = _explorer(model, methods=["gradient"])
    for trait, value, message in [("channel", 9, r"channel in 0\.\.5"), ("layer", "fc", "spatial map"),
                                  ("opacity", float("nan"), "finite opacity"), ("vmax", -1.0, "positive vmax"),
                                  ("clip_percentile", 20, r"clip_percentile in 50"), ("target", 5, r"0\.\.4")]:
        before = getattr(w, trait)
        with pytest.raises(ValueError, match=message):
            setattr(w, trait, value)
        assert getattr(w, trait) == before
    w.opacity = 5
    assert w.opacity == 1.0 and w.controls["opacity"].value == 1.0
    w.controls["vmax"].value = -3.0  # typed into the box: shown as an error, the box goes back
    assert w.vmax is None
    w.vmax = 0.5
    w.controls["vmax"].value = -3.0
    assert w.vmax == 0.5 and w.controls["vmax"].value == 0.5 and "positive vmax" in w.error
    other = (w.target + 1) % 5
    w.target = other  # still usable; a later success clears the error
    assert w.wait(30) and w.error is None and w.status == "" and "gradient" in w.maps
    small = nl.SaliencyExplorer(model, x16(), methods=["gradient"], top_k=2)
    low = int(np.argsort(small.probabilities)[0])  # not among the top 2: added to the picker
    small.target = low
    assert small.controls["target"].value == low and len(small.controls["target"].options) == 3
    assert small.wait(30) and small.error is None


def test_a_frozen_parameter_model_works_with_every_method(model):
    for p in model.parameters():
        p.requires_grad_(False)
    snap = ModelSnapshot.of(model)
    w = nl.SaliencyExplorer(model, x16(), methods=None, autorun=False)
    w.params = {"lime": {"samples": 40}, "smoothgrad": {"samples": 4}, "integrated_gradients": {"steps": 4}}
    w.refresh()
    assert w.wait(120) and w.error is None
    assert sorted(w.maps) == sorted(METHODS)
    assert all(torch.isfinite(m).all() for m in w.maps.values())
    assert snap.differences(ModelSnapshot.of(model)) == {}


def test_a_thousand_rapid_changes_end_with_the_newest_picture_and_nothing_queued(model):
    w = _explorer(model, methods=["gradient", "grad_cam"])
    start = model.forward_calls
    for i in range(1000):
        w.target = i % 5
        w.opacity = (i % 10) / 10
    assert w.wait(60) and not w.busy and w.error is None
    assert w.target == 4 and w.opacity == 0.9
    ref = nl.core.gradient(model, x16(), 4)
    torch.testing.assert_close(w.maps["gradient"], ref)
    assert np.array_equal(w.frames["gradient"], expected_picture(ref, image_rgba(x16().numpy()), opacity=0.9))
    assert model.forward_calls - start < 2 * 1000  # stale work dropped, not run one after another


def test_the_model_is_unchanged_and_hook_free_after_every_action(model):
    snap = ModelSnapshot.of(model)

    def unchanged():
        assert snap.differences(ModelSnapshot.of(model)) == {} and hook_count(model) == 0

    w = nl.SaliencyExplorer(model, x16(), methods=["gradient", "grad_cam", "integrated_gradients"])
    for action in (lambda: w.wait(60), lambda: w.set_param("integrated_gradients", "steps", 4),
                   lambda: setattr(w, "target", 2), lambda: setattr(w, "target_mode", "channel"),
                   lambda: setattr(w, "channel", 3), lambda: setattr(w, "sign", "both"), w.trust_report,
                   w.stop, w.refresh, lambda: setattr(w, "input", image(h=16, w=16, seed=3)), w.close):
        action()
        w.wait(120)
        unchanged()


def test_close_frees_the_widget_and_ends_its_worker(model):
    before = workers()
    w = _explorer(model, methods=["gradient", "grad_cam"])
    w.trust_report()
    w.wait(60)
    ref = weakref.ref(w)
    w.close()
    del w
    gc.collect()
    assert ref() is None
    assert workers() <= before


def test_input_can_be_replaced(model):
    w = _explorer(model, methods=["gradient"])
    other = image(h=16, w=16, seed=4)
    w.input = other
    assert w.wait(30) and w.error is None
    torch.testing.assert_close(w.maps["gradient"], nl.core.gradient(model, other, w.target))
    assert np.array_equal(w.views["input"].frame, image_rgba(other.numpy()))


def test_static_exports_carry_the_pictures_and_legends(model, tmp_path):
    w = _explorer(model, methods=["gradient", "grad_cam"], labels=LABELS)
    w.save_html(tmp_path / "saliency.html")
    page = (tmp_path / "saliency.html").read_text()
    assert page.count("<img") == 3 and "colour saturates at the 99th percentile" in page
    w.save_png(tmp_path / "saliency.png")
    from PIL import Image

    assert np.asarray(Image.open(tmp_path / "saliency.png")).shape[1] > 300


def test_the_target_links_with_the_occlusion_explorer_by_name(model):
    w = _explorer(model, methods=["gradient"])
    occ = nl.OcclusionExplorer(model, x16(), autorun=False)
    nl.link(occ, w, "target")
    occ.target = (occ.target + 2) % 5
    assert w.target == occ.target and w.controls["target"].value == occ.target
    assert w.wait(30) and w.error is None
    torch.testing.assert_close(w.maps["gradient"], nl.core.gradient(model, x16(), occ.target))


def test_an_lrp_map_says_how_much_of_the_score_its_relevance_sums_to(model):
    w = _explorer(model, methods=["lrp", "gradient"])
    try:
        expected = nl.core.lrp(model, x16(), target=w.target).describe()
        assert expected.startswith("relevance sums to ")
        assert expected in w.views["lrp"].caption.value
        assert "relevance sums to" not in w.views["gradient"].caption.value
    finally:
        w.close()

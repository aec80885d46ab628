import numpy as np
import pytest
import torch

import nnlens_widgets as nl
from nnlens_widgets.core import ModelSnapshot, hook_count
from nnlens_widgets.render import blend, heatmap_rgba, upscale
from tests.core.attribution_models import single_thread  # noqa: F401 (fixture)
from tests.models import TinyNet, image

FAST = ["gradient", "guided_backprop", "grad_cam", "integrated_gradients"]


@pytest.fixture
def model():
    torch.manual_seed(0)
    m = TinyNet()
    m.train()  # the widget must look in eval mode and leave this flag alone
    return m


def _explorer(model, methods=FAST, **kw):
    w = nl.SaliencyExplorer(model, image(h=16, w=16), methods=methods, **kw)
    assert w.wait(60)
    assert w.error is None
    return w


def test_maps_match_core_methods_and_are_drawn_as_heat_map_and_overlay(model):
    snap = ModelSnapshot.of(model)
    w = _explorer(model, labels=list("abcde"))
    x = image(h=16, w=16)
    t = w.target
    assert t == int(model.eval()(x[None]).argmax()) and model.train()
    expected = {
        "gradient": nl.core.gradient(model, x, t),
        "guided_backprop": nl.core.guided_backprop(model, x, t),
        "grad_cam": nl.core.grad_cam(model, x, t).upsampled,
        "integrated_gradients": nl.core.integrated_gradients(model, x, t, steps=w.steps),
    }
    for name, ref in expected.items():
        torch.testing.assert_close(w.maps[name], ref)
    # the gradient picture: |map| summed over channels, coloured, beside its overlay
    f = w._factor
    heat = upscale(heatmap_rgba(expected["gradient"][0].abs().sum(0).numpy(), "absolute"), f)
    pic = w.frames["gradient"]
    size = 16 * f
    assert pic.shape == (size, 2 * size + 4, 4)
    assert np.array_equal(pic[:, :size], blend(np.full_like(heat, 255), heat, 1.0))
    assert np.array_equal(pic[:, size + 4:], blend(w._image, heat, 0.6))
    assert w.frame.shape == (size, 4 * (2 * size + 4), 4)
    assert [o[1] for o in w._class_dd.options][0] == t
    assert w._class_dd.options[0][0].startswith("abcde"[t])
    assert snap.differences(ModelSnapshot.of(model)) == {}
    assert hook_count(model) == 0


def test_display_controls_redraw_without_running_the_model(model):
    w = _explorer(model)
    calls = model.forward_calls
    before = w.frames["gradient"].copy()
    w.opacity = 0.1
    after = w.frames["gradient"]
    size = before.shape[0]
    assert np.array_equal(after[:, :size], before[:, :size])  # heat pane unchanged
    assert not np.array_equal(after[:, size + 4:], before[:, size + 4:])
    w.sign = "both"
    both = w.frames["grad_cam"].copy()
    w.sign = "negative"  # Grad-CAM is non-negative: nothing left to show
    assert not np.array_equal(both, w.frames["grad_cam"])
    assert (w.frames["grad_cam"][:, :size, :3] == 255).all()
    w.sign = "absolute"
    norm = w.frames["integrated_gradients"].copy()
    w.vmax = 1e6
    w.normalize = False  # a fixed vmax far above every value: pale maps
    pale = w.frames["integrated_gradients"]
    assert not np.array_equal(norm, pale) and (pale[:, :size, :3] >= 254).all()
    assert model.forward_calls == calls
    assert w.wait(5)


def test_method_parameter_reruns_only_that_method(model):
    w = _explorer(model)
    grad = w.maps["gradient"]
    w.steps = 5
    assert w.wait(60) and w.error is None
    assert w.maps["gradient"] is grad  # cached: not recomputed
    torch.testing.assert_close(w.maps["integrated_gradients"],
                               nl.core.integrated_gradients(model, image(h=16, w=16), w.target, steps=5))


def test_neuron_target_and_latest_wins(model):
    w = _explorer(model, methods=["gradient", "deconvnet"])
    w.target_mode = "neuron"
    w.layer = "conv2"
    for c in range(6):  # rapid changes: only the newest target may end up drawn
        w.channel = c
    assert w.wait(60) and w.error is None
    assert w.target == nl.core.UnitTarget("conv2", 5)
    x = image(h=16, w=16)
    torch.testing.assert_close(w.maps["gradient"], nl.core.gradient(model, x, ("conv2", 5)))
    torch.testing.assert_close(w.maps["deconvnet"], nl.core.deconvnet(model, x, ("conv2", 5)))
    assert hook_count(model) == 0


def test_trust_report_badges_and_curves(model):
    w = _explorer(model, methods=["gradient", "grad_cam"])
    assert all(b.value == "" for b in w._badges.values())
    w.run_trust_report()
    assert w.wait(120) and w.error is None
    rep = w.reports["gradient"]
    direct = nl.core.metrics.deletion_curve(model, image(h=16, w=16), w.maps["gradient"], w.target, steps=32)
    assert rep.deletion.auc == pytest.approx(direct.auc)
    assert f"{rep.deletion.auc:.3f}" in w._badges["gradient"].value
    assert "random-model" in w._badges["grad_cam"].value
    curve = w._curves["gradient"].frame
    assert curve is not None and w._curves["gradient"].layout.display == "block"
    lines = [(np.abs(curve[..., :3].astype(int) - c).sum(-1) == 0).any() for c in ((214, 39, 40), (31, 119, 180))]
    assert any(lines)  # the curves are drawn (here they coincide: the insertion line is on top)
    w.target_class = (w.target_class + 1) % 5  # a new target has no report yet
    assert w._badges["gradient"].value == ""
    assert w.wait(60)
    assert ModelSnapshot.of(model).training == ModelSnapshot.of(model).training and model.training


class SlowNet(TinyNet):
    """Slow enough per pass that a long IG run can be stopped midway."""

    def forward(self, x):
        import time

        time.sleep(0.1)
        return super().forward(x)


def test_long_method_can_be_stopped_and_views_stay_responsive():
    torch.manual_seed(0)
    model = SlowNet().eval()
    w = nl.SaliencyExplorer(model, image(h=16, w=16), methods=["gradient", "integrated_gradients"])
    assert w.wait(60)
    w.steps = 300  # 300 steps in batches of 64: several slow passes
    deadline = __import__("time").monotonic() + 30
    while w._progress_row.layout.display == "none" and __import__("time").monotonic() < deadline:
        __import__("time").sleep(0.005)  # polling for the run to start
    before = w.frames["gradient"].copy()
    w.opacity = 0.05  # a display change while IG runs draws at once
    assert not np.array_equal(before, w.frames["gradient"])
    w.stop()
    assert w.wait(30)
    assert "integrated_gradients" not in w.maps  # stopped: no stale or partial map drawn
    assert w._progress_row.layout.display == "none"
    w.steps = 8
    w.baseline = "blur"
    w._compute_button.click()
    assert w.wait(60) and w.error is None
    torch.testing.assert_close(w.maps["integrated_gradients"], nl.core.integrated_gradients(
        model, image(h=16, w=16), w.target, steps=8, baseline="blur"))
    assert hook_count(model) == 0


def test_bad_inputs(model):
    with pytest.raises(ValueError, match="known methods: gradient"):
        nl.SaliencyExplorer(model, image(), methods=["gradient", "magic"])
    with pytest.raises(ValueError, match="expected 5 labels"):
        nl.SaliencyExplorer(model, image(), methods=["gradient"], labels=["a"])
    with pytest.raises(ValueError, match="expected 3 input channel"):
        nl.SaliencyExplorer(model, torch.rand(2, 8, 8), methods=["gradient"])
    w = _explorer(model, methods=["gradient"])
    with pytest.raises(Exception, match=r"channel in 0\.\.3"):
        w.layer = "conv1"
        w.channel = 4
    with pytest.raises(Exception, match="spatial map"):
        w.layer = "fc"
    w.target_class = 1  # still usable
    assert w.wait(30) and w.error is None and w.target == 1
    small = nl.SaliencyExplorer(model, image(), methods=["gradient"], top_k=2)
    low = int(np.argsort(small._probs)[0])  # not among the top 2: added to the picker
    small.target_class = low
    assert small._class_dd.value == low and len(small._class_dd.options) == 3
    assert small.wait(30) and small.error is None

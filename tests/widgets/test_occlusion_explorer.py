import copy
import gc
import threading
import weakref

import numpy as np
import pytest
import torch
from captum.attr import Occlusion
from torch import nn

import nnlens_widgets as nl
from nnlens_widgets.core import BASELINES, ModelSnapshot, hook_count, occlusion
from nnlens_widgets.render import image_rgba
from nnlens_widgets.render.attribution_maps import grey_photo, overlay_rgba
from tests.models import TinyNet

LABELS = ["circle", "square", "triangle", "star", "cross"]


def move(ex, x, y):
    ex.views["map"].canvas.handle_event({"event": "move", "x": x, "y": y})


def click(ex, x, y):
    ex.views["map"].canvas.handle_event({"event": "click", "x": x, "y": y})


def leave(ex):
    ex.views["map"].canvas.handle_event({"event": "leave"})


@pytest.fixture
def model():
    torch.manual_seed(0)
    return TinyNet().train()  # the widget must look in eval mode and leave this flag alone


def image():
    return torch.rand(3, 24, 24, generator=torch.Generator().manual_seed(1))


def eval_probs(model, x):
    """The model's class probabilities, computed on an independent copy."""
    twin = copy.deepcopy(model).eval()
    with torch.no_grad():
        return twin(x[None]).softmax(1)[0]


def workers():
    return {t for t in threading.enumerate() if t.name == "nnlens-work"}


def test_map_matches_captum_and_the_frame_is_the_map_over_the_grey_image(model):
    snap = ModelSnapshot.of(model)
    ex = nl.OcclusionExplorer(model, image(), labels=LABELS, window=6, stride=3)
    assert ex.wait(30) and ex.error is None
    t = ex.target
    reference = Occlusion(lambda z: copy.deepcopy(model).eval()(z).softmax(1)).attribute(
        image()[None], sliding_window_shapes=(3, 6, 6), strides=(3, 3, 3), target=t, baselines=0.0)
    assert torch.allclose(ex.heatmap, reference[0].mean(0).float(), atol=1e-6)
    heat = ex.heatmap.numpy()
    expected = overlay_rgba(image_rgba(image().numpy()), heat, "both", float(np.abs(heat).max()), 0.8)
    assert np.array_equal(ex.frame, expected) and ex.frame.shape == (24, 24, 4)  # sent at its own size
    assert ex.views["map"].scale == 384 // 24
    ex.score = "logit"
    assert ex.wait(30)
    assert torch.allclose(ex.heatmap, occlusion(model, image(), t, 6, 3).mean(0), atol=1e-5)
    assert snap.differences(ModelSnapshot.of(model)) == {} and hook_count(model) == 0


def test_colour_bar_names_the_class_and_the_range_diverging_around_zero(model):
    ex = nl.OcclusionExplorer(model, image(), labels=LABELS, target=3, window=6, stride=3)
    assert ex.wait(30)
    view = ex.views["map"]
    top = float(ex.heatmap.abs().max())
    legend = view.legend.value
    assert "drop in P(star)" in legend and "RdBu" not in legend
    assert f">{nl.render.fmt(-top)}<" in legend and f">{nl.render.fmt(top)}<" in legend and ">0<" in legend
    assert "P(star)" in view.title and "opacity grows" in legend
    caption = view.caption.value
    assert "Window 6 px" in caption and "#888" not in caption and "#555" not in caption
    assert nl.render.legend.THEME["fg"] in caption  # the caption follows the theme
    ex.score = "logit"
    assert ex.wait(30)
    assert "drop in the logit of star" in view.legend.value


def test_where_the_map_is_zero_the_overlay_is_the_grey_photo(model):
    x = image()
    ex = nl.OcclusionExplorer(model, x, window=4, stride=12, opacity=1.0)  # columns 4..11 never covered
    assert ex.wait(30)
    heat = ex.heatmap.numpy()
    grey = grey_photo(image_rgba(x.numpy()))
    assert (heat[:, 4:12] == 0).all()
    assert np.array_equal(ex.frame[:, 4:12], grey[:, 4:12])
    strongest = np.unravel_index(np.abs(heat).argmax(), heat.shape)
    # at full strength and opacity the colour is the colormap's end colour, never mixed with the photo's hue
    end = nl.render.lut("RdBu_r")[255 if heat[strongest] > 0 else 0][:3]
    assert ex.frame[strongest][:3].tolist() == end.tolist()
    ex.opacity = 0.0
    assert np.array_equal(ex.frame, grey)


def test_changing_window_stride_target_baseline_recomputes(model):
    ex = nl.OcclusionExplorer(model, image(), window=6, stride=3, score="logit")
    assert ex.wait(30)
    first = ex.heatmap.clone()
    ex.stride = 2
    assert ex.wait(30)
    assert not torch.equal(ex.heatmap, first)
    ex.target = (ex.target + 1) % 5
    assert ex.wait(30)
    assert torch.allclose(ex.heatmap, occlusion(model, image(), ex.target, 6, 2).mean(0), atol=1e-6)
    with ex.hold_trait_notifications():
        ex.window = 4
        ex.baseline = "blur"
    assert ex.wait(30)
    assert torch.allclose(ex.heatmap, occlusion(model, image(), ex.target, 4, 2, baseline="blur").mean(0),
                          atol=1e-6)
    assert ex.controls["baseline"].options == tuple((s.title, n) for n, s in BASELINES.items())
    assert "blurred image" in ex.views["map"].caption.value


def test_mouse_move_shows_probabilities_of_the_covered_image_and_what_the_model_sees(model):
    x = image()
    ex = nl.OcclusionExplorer(model, x, labels=LABELS, window=8, stride=4, autorun=False)
    move(ex, 12, 12)
    assert ex.wait(10) and ex.error is None
    covered = x.clone()
    covered[:, 8:16, 8:16] = 0
    assert torch.allclose(ex.probabilities, eval_probs(model, covered), atol=1e-6)
    assert ex.patch == (8, 16, 8, 16)
    assert np.array_equal(ex.views["input"].frame, image_rgba(covered.numpy()))
    readout = ex.views["probabilities"].body.value
    assert "patch at x 8..15, y 8..15" in readout
    for name in LABELS:
        assert f"data-label='{name}'" in readout  # class names on the bars
    assert ">0<" in readout and ">100%<" in readout  # the bars' axis
    mark = ex.views["map"].canvas.marks[0]
    assert (mark["x"], mark["y"], mark["w"]) == (7.5, 7.5, 9)  # in picture pixels, around the patch
    leave(ex)
    assert ex.patch is None and "no patch" in ex.views["probabilities"].body.value
    assert np.array_equal(ex.views["input"].frame, image_rgba(x.numpy()))
    assert ex.wait(30) and ex.heatmap is not None  # leaving starts the map the patch had to wait for


class ImageCountingNet(TinyNet):
    """TinyNet that counts the images it is run on."""

    def __init__(self):
        super().__init__()
        self.images = [0]  # a list: shared with the private twins

    def forward(self, x):
        self.images[0] += x.shape[0]
        return super().forward(x)


def test_a_mouse_move_runs_the_model_on_the_covered_image_alone_and_follows_new_weights():
    model = ImageCountingNet().eval()
    x = image()
    ex = nl.OcclusionExplorer(model, x, labels=LABELS, window=8, stride=4, autorun=False)
    ex.place_patch(12, 12)  # the clean image's scores are computed here, once
    start = model.images[0]
    for i in range(10):
        ex.place_patch(8 + i, 12)
    assert model.images[0] - start == 10
    t = ex.target
    with torch.no_grad():
        model.fc.weight[t] *= 3  # new weights: the clean scores are computed again
    ex.place_patch(12, 12)
    covered = x.clone()
    covered[:, 8:16, 8:16] = 0
    assert ex.hover_values[1] == pytest.approx(float(eval_probs(model, x)[t] - eval_probs(model, covered)[t]),
                                               abs=1e-6)
    assert model.images[0] - start == 12
    ex.close()


def test_rapid_moves_do_not_queue_work_and_the_newest_position_wins(model):
    ex = nl.OcclusionExplorer(model, torch.rand(3, 48, 48), window=4, stride=1)  # 2025 windows
    start = model.forward_calls
    for i in range(300):
        move(ex, i % 40 + 1, 20)
    assert ex.wait(30)
    assert model.forward_calls - start < 300 / 5  # stale moves were dropped, not queued
    assert ex.patch == ex.patch_box(299 % 40 + 1, 20)
    assert ex.heatmap is None  # the map gave way to the patch
    leave(ex)
    assert ex.wait(60) and ex.heatmap is not None


def test_click_pins_the_patch_and_a_second_click_unpins_it(model):
    ex = nl.OcclusionExplorer(model, image(), window=6, stride=3, autorun=False)
    click(ex, 3, 3)
    assert ex.wait(10) and ex.pinned
    pinned = ex.probabilities.clone()
    move(ex, 20, 20)
    assert ex.wait(10)
    assert torch.equal(ex.probabilities, pinned) and "(pinned)" in ex.views["probabilities"].body.value
    assert ex.views["map"].canvas.marks[0]["color"] == "#ffcc00"
    ex.window = 4  # a pinned patch follows the new window at once
    assert ex.patch == ex.patch_box(3, 3) and ex.patch[1] - ex.patch[0] == 4
    click(ex, 3, 3)
    assert ex.wait(10) and not ex.pinned


def test_constructor_arguments_are_range_checked(model):
    for kwargs, message in [
        (dict(window=2.5), "window as a whole number"),
        (dict(window=0), r"window in 1\.\.24"),
        (dict(window=30), r"window in 1\.\.24"),
        (dict(stride=0), r"stride in 1\.\.24"),
        (dict(top_k=0), r"top_k in 1\.\."),
        (dict(display_px=8), r"display_px in 32\.\.4096"),
        (dict(target=7), r"target class in 0\.\.4"),
        (dict(labels=["a"]), "expected 5 labels"),
        (dict(baseline="fog"), "expected a baseline in"),
        (dict(opacity=float("nan")), "finite opacity"),
    ]:
        with pytest.raises(ValueError, match=message):
            nl.OcclusionExplorer(model, image(), autorun=False, **kwargs)
    with pytest.raises(ValueError, match="class scores"):
        nl.OcclusionExplorer(nn.Sequential(nn.Conv2d(3, 2, 3)), image())
    with pytest.raises(ValueError, match="3 input channel"):
        nl.OcclusionExplorer(model, torch.rand(1, 24, 24))
    with pytest.raises(TypeError, match="torch.nn.Module"):
        nl.OcclusionExplorer(lambda z: z, image())
    assert hook_count(model) == 0


def test_trait_values_are_validated_and_clipped_values_shown(model):
    ex = nl.OcclusionExplorer(model, image(), autorun=False)
    for trait, value, message in [("window", 30, r"window in 1\.\.24"), ("stride", 0, r"stride in 1\.\.24"),
                                  ("target", 7, r"target class in 0\.\.4"), ("baseline", "fog", "baseline in"),
                                  ("opacity", float("nan"), "finite opacity")]:
        before = getattr(ex, trait)
        with pytest.raises(ValueError, match=message):
            setattr(ex, trait, value)
        assert getattr(ex, trait) == before  # not kept
    ex.opacity = 5
    assert ex.opacity == 1.0 and ex.controls["opacity"].value == 1.0
    ex.opacity = -2
    assert ex.opacity == 0.0 and ex.controls["opacity"].value == 0.0
    assert not any(isinstance(c.value, float) and np.isnan(c.value)
                   for c in ex.controls.values() if hasattr(c, "value"))


def test_target_beyond_the_top_k_joins_the_picker(model):
    ex = nl.OcclusionExplorer(model, image(), labels=LABELS, top_k=2, autorun=False)
    low = int(ex.probabilities.argmin())
    ex.target = low
    options = ex.controls["target"].options
    assert len(options) == 3 and options[-1][1] == low and options[-1][0].startswith(LABELS[low])
    assert ex.controls["target"].value == low


def test_an_error_in_background_work_is_shown_and_a_later_success_clears_it(model):
    ex = nl.OcclusionExplorer(model, image(), window=6, stride=6, autorun=False)
    model.conv2.forward = lambda z: (_ for _ in ()).throw(RuntimeError("kaboom"))
    try:
        ex.refresh()
        assert ex.wait(30)
        assert "kaboom" in ex.error and "kaboom" in ex.status
    finally:
        del model.conv2.forward
    ex.refresh()
    assert ex.wait(30) and ex.error is None and ex.status == "" and ex.heatmap is not None


def test_a_thousand_rapid_changes_end_with_the_newest_map_drawn_and_nothing_queued(model):
    ex = nl.OcclusionExplorer(model, image(), window=6, stride=3, score="logit")
    start = model.forward_calls
    for i in range(1000):
        ex.target = i % 5
    assert ex.wait(60) and not ex.busy
    assert ex.target == 999 % 5
    calls = model.forward_calls
    expected = occlusion(model, image(), ex.target, 6, 3).mean(0)
    per_map = model.forward_calls - calls
    assert torch.allclose(ex.heatmap, expected, atol=1e-5)
    heat = ex.heatmap.numpy()
    assert np.array_equal(ex.frame, overlay_rgba(image_rgba(image().numpy()), heat, "both",
                                                 float(np.abs(heat).max()), 0.8))
    # stale maps were dropped, never run one after another: most of the 1000 never started or stopped early
    assert calls - start < 1000 * per_map / 2


def test_the_model_is_unchanged_and_hook_free_after_every_action(model):
    snap = ModelSnapshot.of(model)

    def unchanged():
        assert snap.differences(ModelSnapshot.of(model)) == {} and hook_count(model) == 0

    ex = nl.OcclusionExplorer(model, image(), window=6, stride=3)
    for action in (lambda: ex.wait(30), lambda: move(ex, 5, 5), lambda: click(ex, 9, 9),
                   lambda: click(ex, 9, 9), lambda: leave(ex), lambda: setattr(ex, "stride", 2),
                   lambda: setattr(ex, "baseline", "mean"), ex.refresh, ex.stop,
                   lambda: setattr(ex, "input", image() * 0.5), ex.close):
        action()
        ex.wait(30)
        unchanged()


def test_a_frozen_parameter_model_works(model):
    for p in model.parameters():
        p.requires_grad_(False)
    ex = nl.OcclusionExplorer(model, image(), window=6, stride=3)
    assert ex.wait(30) and ex.error is None and ex.heatmap is not None
    assert not any(p.requires_grad for p in model.parameters())


def test_close_frees_the_widget_and_ends_its_worker(model):
    before = workers()
    ex = nl.OcclusionExplorer(model, image(), window=6, stride=3)
    move(ex, 5, 5)
    ex.wait(30)
    ref = weakref.ref(ex)
    ex.close()
    del ex
    gc.collect()
    assert ref() is None
    assert workers() <= before


def test_input_can_be_replaced(model):
    ex = nl.OcclusionExplorer(model, image(), window=6, stride=3)
    assert ex.wait(30)
    other = torch.rand(3, 16, 16, generator=torch.Generator().manual_seed(5))
    ex.input = other
    assert ex.wait(30)
    assert ex.frame.shape == (16, 16, 4) and ex.controls["window"].max == 16
    assert torch.allclose(ex.heatmap, occlusion(model, other, lambda o: o.softmax(1)[:, ex.target], 6, 3)
                          .mean(0), atol=1e-6)
    with pytest.raises(ValueError, match="3 input channel"):
        ex.input = torch.rand(1, 16, 16)
    assert ex.frame.shape == (16, 16, 4)


def test_text_is_escaped_and_static_exports_show_the_legend(model, tmp_path):
    labels = ["<b>bold</b>", "b", "c", "d", "e"]
    ex = nl.OcclusionExplorer(model, image(), labels=labels, target=0, window=6, stride=3)
    assert ex.wait(30)
    html_bits = [ex.views["map"].static_html(), ex.views["input"].static_html(),
                 ex.views["probabilities"].static_html()]
    assert all("<b>bold" not in bit for bit in html_bits)
    assert "&lt;b&gt;bold&lt;/b&gt;" in ex.views["map"].legend.value
    ex.save_html(tmp_path / "occlusion.html")
    page = (tmp_path / "occlusion.html").read_text()
    assert "drop in P(&lt;b&gt;bold&lt;/b&gt;)" in page and "nnl-prob-table" in page
    ex.save_png(tmp_path / "occlusion.png")
    from PIL import Image

    png = np.asarray(Image.open(tmp_path / "occlusion.png"))
    assert png.shape[0] > 100 and png.shape[1] > 200

import numpy as np
import pytest
import torch
from torch import nn

import nnlens_widgets as nl
from nnlens_widgets.core import ModelSnapshot, hook_count, occlusion
from tests.models import TinyNet


def move(canvas, x, y):
    canvas._dispatch(canvas, {"event": "move", "x": x, "y": y}, [])


@pytest.fixture
def model():
    torch.manual_seed(0)
    return TinyNet().train()


def image():
    return torch.rand(3, 24, 24, generator=torch.Generator().manual_seed(1))


def test_map_is_computed_streamed_and_exact(model):
    snap = ModelSnapshot.of(model)
    ex = nl.OcclusionExplorer(model, image(), labels=list("abcde"), window=6, stride=3)
    assert ex.wait(30) and ex.error is None
    probability = lambda out: out.softmax(1)[:, ex.target]  # noqa: E731
    expected = occlusion(model, image(), probability, 6, 3).mean(0)
    assert torch.allclose(ex.heatmap, expected, atol=1e-6)
    ex.score = "logit"
    ex.wait(30)
    assert torch.allclose(ex.heatmap, occlusion(model, image(), ex.target, 6, 3).mean(0), atol=1e-5)
    assert ex.frame.shape == (24 * ex._factor, 24 * ex._factor, 4)
    assert snap.differences(ModelSnapshot.of(model)) == {} and hook_count(model) == 0


def test_changing_window_stride_target_recomputes(model):
    ex = nl.OcclusionExplorer(model, image(), window=6, stride=3)
    ex.score = "logit"
    ex.wait(30)
    first = ex.heatmap.clone()
    ex.stride = 2
    ex.wait(30)
    assert not torch.equal(ex.heatmap, first)
    ex.target = (ex.target + 1) % 5
    ex.wait(30)
    assert torch.allclose(ex.heatmap, occlusion(model, image(), ex.target, 6, 2).mean(0), atol=1e-6)
    ex.window = 4
    ex.baseline = "blurred image"
    ex.wait(30)
    assert torch.allclose(ex.heatmap, occlusion(model, image(), ex.target, 4, 2, baseline="blur").mean(0),
                          atol=1e-6)
    before = ex.frame.copy()
    ex.opacity = 0.0  # recolouring only: the frame shows the plain image
    assert not np.array_equal(ex.frame, before)
    assert np.array_equal(ex.frame, nl.render.upscale(nl.render.image_rgba(image().numpy()), ex._factor))


def test_mouse_move_updates_probabilities_of_the_occluded_image(model):
    ex = nl.OcclusionExplorer(model, image(), window=8, stride=4, compute=False)
    f = ex._factor
    move(ex._canvas, 12 * f, 12 * f)
    assert ex.wait(10)
    occluded = image().clone()
    occluded[:, 8:16, 8:16] = 0
    with torch.no_grad():
        model.eval()
        expected = model(occluded[None]).softmax(1)[0]
        model.train()
    assert torch.allclose(ex.probabilities, expected, atol=1e-6)
    assert "patch at x 8..15, y 8..15" in ex._readout.value
    assert ex._canvas.marks[0]["x"] == 8 * f
    ex._canvas._dispatch(ex._canvas, {"event": "leave"}, [])
    assert "no patch" in ex._readout.value


def test_rapid_moves_do_not_queue_work_and_cancel_the_map(model):
    ex = nl.OcclusionExplorer(model, torch.rand(3, 48, 48), window=4, stride=1)  # 2025 windows
    calls = []
    original = ex._probabilities
    ex._probabilities = lambda batch: calls.append(1) or original(batch)
    for i in range(300):
        move(ex._canvas, (i % 40) * ex._factor + 1, 20 * ex._factor)
    assert ex.wait(30)
    assert len(calls) < 300 / 5  # stale moves were dropped, not queued
    last = (299 % 40) * ex._factor + 1  # the newest position wins
    assert ex._patch_at == ex._patch_box(last / ex._factor, 20)[::2]
    assert ex.heatmap is None  # the map was cancelled by the patch
    ex.compute()
    assert ex.wait(60) and ex.heatmap is not None


def test_click_pins_the_patch(model):
    ex = nl.OcclusionExplorer(model, image(), window=6, stride=3, compute=False)
    f = ex._factor
    ex._canvas._dispatch(ex._canvas, {"event": "click", "x": 3 * f, "y": 3 * f}, [])
    ex.wait(10)
    pinned = ex.probabilities.clone()
    move(ex._canvas, 20 * f, 20 * f)
    ex.wait(10)
    assert torch.equal(ex.probabilities, pinned) and "(pinned)" in ex._readout.value


def test_bad_arguments_are_clear_errors(model):
    ex = nl.OcclusionExplorer(model, image(), compute=False)
    with pytest.raises(ValueError, match="window in 1..24"):
        ex.window = 30
    with pytest.raises(ValueError, match="stride in 1..24"):
        ex.stride = 0
    with pytest.raises(ValueError, match="target class in 0..4"):
        ex.target = 7
    with pytest.raises(ValueError, match="expected 5 labels"):
        nl.OcclusionExplorer(model, image(), labels=["a"])
    with pytest.raises(ValueError, match="class scores"):
        nl.OcclusionExplorer(nn.Sequential(nn.Conv2d(3, 2, 3)), image())
    with pytest.raises(ValueError, match="3 input channel"):
        nl.OcclusionExplorer(model, torch.rand(1, 24, 24))
    ex.stride = 4  # still usable
    assert ex.wait(30) and ex.heatmap is not None

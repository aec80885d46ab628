"""A layer change on a big network sends at most 300 KB; reduced tiles say so and the detail stays exact."""
import json

import ipywidgets as W
import numpy as np
import pytest
import torch

import nnlens_widgets as nl
from nnlens_widgets.core import ModelSnapshot
from nnlens_widgets.render import apply_cmap, channel_grid, channel_picture, scale_channels
from nnlens_widgets.render.reduced_grid import block_mean, display_grid

LIMIT = 300 * 1024


class SentBytes:
    """Bytes of every comm message the widgets send (JSON state plus binary buffers)."""

    def __init__(self):
        self.total = 0

    def record(self, msg, buffers=None) -> None:
        self.total += len(json.dumps(msg, default=str)) + sum(len(memoryview(b).cast("B")) for b in buffers or ())


@pytest.fixture
def sent(monkeypatch):
    seen = SentBytes()
    # every widget's messages go through Widget._send; the recorder is undone after the test
    monkeypatch.setattr(W.Widget, "_send", lambda _widget, msg, buffers=None: seen.record(msg, buffers))
    return seen


@pytest.fixture(scope="module")
def resnet():
    torchvision = pytest.importorskip("torchvision")
    return torchvision.models.resnet18(weights=None).eval()


def photo_224():
    g = torch.Generator().manual_seed(0)
    return torch.rand(3, 224, 224, generator=g)


def test_every_resnet18_layer_change_sends_at_most_300_kb(resnet, sent):
    snap = ModelSnapshot.of(resnet)
    grid = nl.ActivationGrid(resnet, photo_224(), layer="fc")
    sizes = {}
    for info in grid.layers:
        start = sent.total
        grid.layer = info.name
        assert grid.wait(120)
        sizes[info.name] = sent.total - start
    assert len(sizes) > 50 and min(sizes.values()) > 0
    too_big = {name: size for name, size in sizes.items() if size > LIMIT}
    assert not too_big, f"layer changes over 300 KB: {too_big}"
    assert sizes["conv1"] > 20 * 1024  # the picture itself travels (not an empty message)
    assert snap.differences(ModelSnapshot.of(resnet)) == {}
    grid.close()


def test_conv1_tiles_are_reduced_and_say_so_while_the_detail_is_exact(resnet):
    grid = nl.ActivationGrid(resnet, photo_224(), layer="conv1")
    title = grid.views["grid"].title
    assert "tiles shown at 56x56 of 112x112; the enlarged view is exact" in title
    maps = grid.activations.numpy()
    layout = grid.views["grid"].layout_
    assert (layout.tile_h, layout.tile_w) == (56, 56) and grid.frame.shape[1] <= 448 + layout.cols + 1
    # tile 5: each pixel the colour of the mean of a 2x2 block of channel 5's scaled values
    expected = apply_cmap(block_mean(scale_channels(maps)[5], 2))
    x, y, w, h = grid.tile_rect(5)
    np.testing.assert_array_equal(grid.frame[y:y + h, x:x + w], expected)
    # the enlarged channel is at full resolution, coloured as before
    grid.channel = 5
    np.testing.assert_array_equal(grid.detail_frame, channel_picture(maps, 5, enlarge=False))
    assert grid.detail_frame.shape[:2] == (112, 112)
    # clicking a reduced tile still picks its channel
    grid.views["grid"].canvas.handle_event({"event": "click", "x": x + w - 1, "y": y + h - 1})
    assert grid.channel == 5
    grid.layer = "layer1"  # 56x56 maps fit: exact tiles, no note
    assert grid.wait(60)
    assert "tiles shown" not in grid.views["grid"].title
    grid.close()


def test_display_grid_equals_channel_grid_when_the_maps_fit():
    rng = np.random.default_rng(0)
    maps = rng.normal(size=(16, 9, 7)).astype(np.float32)
    for norm in ("channel", "shared"):
        shown = display_grid(maps, norm, "magma", 0, None, 448)
        exact = channel_grid(maps, norm, "magma", 0, None, 448, enlarge=False)
        assert not shown.reduced and shown.note() == ""
        np.testing.assert_array_equal(shown.grid.rgba, exact.rgba)
        assert shown.grid.layout == exact.layout and shown.grid.factor == exact.factor


def test_shared_range_comes_from_the_full_resolution_maps():
    maps = np.zeros((4, 40, 40), np.float32)
    maps[2, 0, 0] = 10.0  # one spike: the shared range is 0..10 though block means never reach it
    shown = display_grid(maps, "shared", "gray", 0, None, 40)
    assert shown.reduced and shown.tile_shape == (20, 20)
    x, y, w, h = shown.grid.layout.rect(2)
    corner = shown.grid.rgba[y, x, 0]
    assert corner == round(255 * 10.0 / 4 / 10.0)  # the 2x2 block mean 2.5 of 0..10


def test_block_mean_pads_odd_edges_by_repetition():
    a = np.arange(9, dtype=np.float32).reshape(1, 3, 3)
    out = block_mean(a, 2)
    np.testing.assert_allclose(out[0], [[2.0, 3.5], [6.5, 8.0]])

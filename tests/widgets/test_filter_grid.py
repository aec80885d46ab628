import numpy as np
import pytest
import torch
import torchvision

import nnlens_widgets as nl
from nnlens_widgets.core import ModelSnapshot
from tests.models import TinyNet


def click(canvas, x, y):
    canvas._dispatch(canvas, {"event": "click", "x": x, "y": y}, [])


def test_rgb_first_layer_shows_colour_filters_with_zero_at_grey():
    model = TinyNet()
    with torch.no_grad():
        model.conv1.weight.zero_()
        model.conv1.weight[2, 0] = 1.0  # filter 2: pure red
    fg = nl.FilterGrid(model)
    assert fg.layer == "conv1" and fg.mode == "color"
    lay = fg._grid.layout
    y, x = lay.origin(2)
    assert fg.frame[y, x].tolist() == [255, 128, 128, 255]
    y0, x0 = lay.origin(0)
    assert fg.frame[y0, x0].tolist() == [128, 128, 128, 255]


def test_deeper_layer_uses_diverging_map_and_input_channel_slider():
    model = TinyNet()
    fg = nl.FilterGrid(model, "conv2")
    assert fg.mode == "channels" and fg._in_slider.max == 3
    w = model.conv2.weight.detach().numpy()[:, 1]
    fg.in_channel = 1
    expected = nl.render.channel_grid(w, "shared", "RdBu_r", target_px=512, symmetric=True)
    assert np.array_equal(fg.frame, expected.rgba)
    before = fg.frame.copy()
    fg.in_channel = 2
    assert not np.array_equal(fg.frame, before)
    with pytest.raises(ValueError, match="reads 4"):
        fg.mode = "color"


def test_click_selects_filter_and_enlarges_it():
    fg = nl.FilterGrid(TinyNet(), "conv2")
    x, y, w, h = fg._grid.layout.rect(5)
    detail = fg.detail_frame.copy()
    click(fg._grid_canvas, x + w / 2, y + h / 2)
    assert fg.filter == 5 and fg._filter_slider.value == 5
    assert not np.array_equal(fg.detail_frame, detail)
    assert "filter <b>5</b>" in fg._info.value


def test_layer_switch_bad_layers_and_model_unchanged():
    model = torchvision.models.resnet18(weights=None).train()
    snap = ModelSnapshot.of(model)
    fg = nl.FilterGrid(model)
    assert fg.layer == "conv1" and fg.weight.shape == (64, 3, 7, 7) and fg.mode == "color"
    fg.layer = "layer1.0.conv1"
    assert fg.mode == "channels" and fg._in_slider.max == 63
    with pytest.raises(ValueError, match="expected a Conv2d layer.*conv1"):
        fg.layer = "fc"
    with pytest.raises(KeyError, match="closest names"):
        fg.layer = "layer1.0.conv9"
    assert fg.layer == "layer1.0.conv1"
    fg.weight[:] = 0  # our copy, not the model's
    assert snap.differences(ModelSnapshot.of(model)) == {}
    with pytest.raises(ValueError, match="no Conv2d"):
        nl.FilterGrid(torch.nn.Sequential(torch.nn.Linear(2, 2)))


def test_refresh_reads_new_weights():
    model = TinyNet()
    fg = nl.FilterGrid(model, "conv2")
    before = fg.frame.copy()
    with torch.no_grad():
        model.conv2.weight.mul_(-1)
    assert np.array_equal(fg.frame, before)
    fg.refresh()
    assert not np.array_equal(fg.frame, before)

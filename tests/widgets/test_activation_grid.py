import struct

import numpy as np
import pytest
import torch
from torch import nn

import nnlens_widgets as nl
from nnlens_widgets.render.legend import fmt
from nnlens_widgets.core import ModelSnapshot, hook_count
from nnlens_widgets.widgets.frame_encoding import decode_frame
from tests.models import Broken, TinyNet, TupleNet, Wide, image


def click(canvas, x, y):
    canvas.handle_event({"event": "click", "x": x, "y": y})


@pytest.fixture(params=["eval", "train"])
def model(request):
    m = TinyNet()
    getattr(m, request.param)()
    return m


def test_layer_dropdown_lists_tensor_layers_with_shapes(model):
    grid = nl.ActivationGrid(model, image())
    labels = dict((v, k) for k, v in grid.controls["layer"].options)
    assert list(labels) == ["conv1", "relu1", "conv2", "bn", "relu2", "pool", "fc", "dropout"]
    assert "1x4x12x12" in labels["conv1"] and "Conv2d" in labels["conv1"]
    assert grid.layer == "conv1" and grid.channels == 4


def test_channel_change_redraws_detail_without_running_the_model(model):
    snap = ModelSnapshot.of(model)
    grid = nl.ActivationGrid(model, image(), layer="conv2")
    calls = model.forward_calls
    grid_before, detail_before = grid.frame.copy(), grid.detail_frame.copy()
    grid.channel = 3
    assert not np.array_equal(grid.detail_frame, detail_before)
    assert np.array_equal(grid.frame, grid_before)  # the selection is an overlay mark
    x, y, w, h = grid.tile_rect(3)
    assert grid.views["grid"].canvas.marks[0]["x"] == x - 0.5
    grid.normalization = "shared"
    assert not np.array_equal(grid.frame, grid_before)
    for layer in ("relu2", "fc", "conv1"):
        grid.layer = layer
        grid.wait()
    assert model.forward_calls == calls  # every layer came from the one cached pass
    assert grid.forward_passes == 1
    assert snap.differences(ModelSnapshot.of(model)) == {}
    assert hook_count(model) == 0


def test_detail_view_and_stats_show_the_selected_channel():
    model = TinyNet().eval()
    grid = nl.ActivationGrid(model, image(), layer="conv1")
    grid.channel = 2
    acts = grid.activations[2].numpy()
    assert f"min {nl.render.fmt(acts.min())}" in grid.views["stats"].body.value
    assert f"max {nl.render.fmt(acts.max())}" in grid.views["stats"].body.value
    expected = nl.render.channel_picture(acts[None], 0, "channel", "viridis", enlarge=False)
    assert np.array_equal(grid.detail_frame, expected)


def test_click_on_a_tile_selects_its_channel():
    grid = nl.ActivationGrid(TinyNet(), image(), layer="conv2")
    x, y, w, h = grid.tile_rect(4)
    click(grid.views["grid"].canvas, x + w / 2, y + h / 2)
    assert grid.channel == 4 and grid.controls["channel"].value == 4
    click(grid.views["grid"].canvas, -5, -5)  # outside every tile: nothing happens
    assert grid.channel == 4


def test_frame_travels_as_rgba_bytes_with_header():
    grid = nl.ActivationGrid(TinyNet(), image())
    raw = grid.views["grid"].canvas._frame
    w, h, _, encoding = struct.unpack("<IIII", raw[:16])
    assert (h, w) == grid.frame.shape[:2]
    assert np.array_equal(decode_frame(raw)[0], grid.frame)


def test_one_dimensional_layer_shows_cells_and_bars():
    grid = nl.ActivationGrid(TinyNet(), image(), layer="fc")
    assert grid.channels == 5
    grid.channel = 4
    assert grid.detail_frame is None  # no map to enlarge: every unit is a bar instead
    bars = grid.views["bars"].body.value
    assert bars.count("class='nnl-bar'") == 5 and "activation" in bars
    assert grid.tile_rect(4) is not None


def test_output_layer_bars_carry_the_class_names():
    grid = nl.ActivationGrid(TinyNet(), image(), layer="fc", labels=["cat", "<b>dog</b>", 2, 3, 4])
    bars = grid.views["bars"].body.value
    assert ">cat<" in bars and "&lt;b&gt;dog&lt;/b&gt;" in bars and "<b>dog" not in bars


def test_large_layer_is_paged_and_page_follows_channel():
    grid = nl.ActivationGrid(Wide(600), image(h=4, w=4), layer="conv", page_size=256)
    assert grid.controls["page"].max == 2 and grid.page == 0
    grid.channel = 530
    assert grid.page == 2 and grid.tile_rect(530) is not None and grid.tile_rect(0) is None
    x, y, w, h = grid.tile_rect(531)
    click(grid.views["grid"].canvas, x + 1, y + 1)
    assert grid.channel == 531
    grid.page = 1
    assert grid.channel == 256


def test_input_can_be_replaced():
    model = TinyNet().eval()
    grid = nl.ActivationGrid(model, image(seed=0), layer="conv1")
    before = grid.frame.copy()
    grid.input = image(seed=1).numpy().transpose(1, 2, 0)  # an HxWxC array works too
    assert grid.layer == "conv1"
    assert not np.array_equal(grid.frame, before)
    grid.input = image(seed=0)
    assert np.array_equal(grid.frame, before)


@pytest.mark.parametrize(
    "bad, error, message",
    [
        (torch.rand(1, 12, 12), ValueError, "expected 3 input channel"),
        (torch.rand(2, 2, 3, 12, 12), ValueError, "expected one input shaped"),
        (torch.full((3, 12, 12), float("inf")), ValueError, "finite"),
    ],
)
def test_bad_input_is_a_clear_error_and_widget_keeps_working(bad, error, message):
    model = TinyNet()
    snap = ModelSnapshot.of(model)
    grid = nl.ActivationGrid(model, image(), layer="conv1")
    before = grid.frame.copy()
    with pytest.raises(error, match=message):
        grid.input = bad
    assert np.array_equal(grid.frame, before)
    grid.channel = 1
    grid.layer = "conv2"
    assert grid.channels == 6
    assert snap.differences(ModelSnapshot.of(model)) == {}


def test_unknown_layer_and_tuple_layer_are_clear_errors():
    grid = nl.ActivationGrid(TupleNet(), image())
    assert "pair" not in [v for _, v in grid.controls["layer"].options]
    with pytest.raises(KeyError, match="closest names: 'conv'"):
        grid.layer = "conf"
    with pytest.raises(ValueError, match="outputs a tuple"):
        grid.layer = "pair"
    grid.layer = "head"
    assert grid.layer == "head" and grid.channels == 2
    with pytest.raises(ValueError, match="channel in 0..1"):
        grid.channel = 5
    with pytest.raises(KeyError):
        nl.ActivationGrid(TinyNet(), image(), layer="nope")


def test_model_that_raises_empty_model_and_non_model():
    broken = Broken()
    with pytest.raises(ValueError, match="deliberate failure"):
        nl.ActivationGrid(broken, image())
    assert hook_count(broken) == 0
    with pytest.raises(ValueError, match="no submodule that outputs a tensor"):
        nl.ActivationGrid(nn.Sequential(), image())
    with pytest.raises(TypeError, match="torch.nn.Module"):
        nl.ActivationGrid(lambda x: x, image())


def test_background_layer_load_error_is_shown_in_the_widget():
    model = TinyNet()
    grid = nl.ActivationGrid(model, image())
    budget = nl.core.memory.CACHES.budget
    nl.core.memory.CACHES.budget = 1  # the shared cache budget keeps only the layer shown
    try:
        grid.input = image(seed=3)
        model.conv2.forward = lambda x: (_ for _ in ()).throw(RuntimeError("kaboom"))
        grid.layer = "conv2"  # not cached: a background pass, which fails
        assert grid.wait(10)
        assert "kaboom" in grid.error and "kaboom" in grid.status
        del model.conv2.forward
    finally:
        nl.core.memory.CACHES.budget = budget
    grid.layer = "relu2"
    assert grid.wait(10) and grid.error is None and grid.channels == 6
    assert hook_count(model) == 0


def test_save_png_writes_exact_pixels_per_view_and_the_widget_with_legends(tmp_path):
    from PIL import Image

    grid = nl.ActivationGrid(TinyNet(), image())
    grid.views["grid"].save_png(tmp_path / "grid.png")
    assert np.array_equal(np.asarray(Image.open(tmp_path / "grid.png")), grid.frame)
    grid.save_png(tmp_path / "widget.png")
    whole = np.asarray(Image.open(tmp_path / "widget.png"))
    assert whole.shape[0] > grid.frame.shape[0] and whole.shape[1] > grid.frame.shape[1]


def test_torchvision_resnet_layer1_grid():
    import torchvision

    model = torchvision.models.resnet18(weights=None)
    snap = ModelSnapshot.of(model)
    grid = nl.ActivationGrid(model, torch.rand(3, 64, 64), layer="layer1")
    assert grid.channels == 64
    grid.layer = "layer4"
    grid.channel = 500
    assert grid.page == 1  # 512 channels, 256 per page
    assert snap.differences(ModelSnapshot.of(model)) == {}


def test_vit_block_shows_one_patch_grid_map_per_feature_and_the_class_token():
    from tests.core.vit_models import image as vit_image, tv_vit

    model, x = tv_vit(0), vit_image(0)
    snap = ModelSnapshot.of(model)
    block = "encoder.layers.encoder_layer_1"
    grid = nl.ActivationGrid(model, x, layer=block)
    assert grid.channels == 36 and grid._maps.shape == (36, 5, 5)  # 36 features on the 5x5 patch grid
    assert "1 + 5x5 tokens" in dict((v, k) for k, v in grid.controls["layer"].options)[block]
    grid.channel = 7
    tokens = grid.activations  # (1 + 25, 36): the class token first, then patches row by row
    np.testing.assert_allclose(grid._maps[7, 2, 3], float(tokens[1 + 2 * 5 + 3, 7]), rtol=1e-6)
    assert f"class token {fmt(float(tokens[0, 7]))}" in grid.views["stats"].body.value
    assert snap.differences(ModelSnapshot.of(model)) == {} and hook_count(model) == 0

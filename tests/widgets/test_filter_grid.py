"""FilterGrid without a browser: colours and scales, selection, validation, escaping, freeing."""

import numpy as np
import pytest
import torch
import torchvision
from torch import nn

import nnlens_widgets as nl
from nnlens_widgets.core import ModelSnapshot, hook_count
from nnlens_widgets.render import apply_cmap, fmt, scale01
from nnlens_widgets.render.filters import weight_reach
from tests.models import TinyNet


def click(view, x, y):
    view.canvas.handle_event({"event": "click", "x": x, "y": y})


def click_tile(view, index):
    x, y, w, h = view.tile_rect(index)
    click(view, x + w / 2, y + h / 2)


def pixel(grid, index, dy=0, dx=0):
    x, y, _, _ = grid.tile_rect(index)
    return grid.frame[y + dy, x + dx].tolist()


def test_rgb_first_layer_shows_colour_filters_with_zero_at_mid_grey():
    model = TinyNet()
    with torch.no_grad():
        model.conv1.weight.zero_()
        model.conv1.weight[2, 0] = 0.5  # filter 2: red, the layer's largest weight
        model.conv1.weight[1, 2] = -0.5  # filter 1: minus blue
        model.conv1.weight[3, 1, 0, 0] = 0.01  # 99% of |w| lie in 0..0.5
    fg = nl.FilterGrid(model)
    assert fg.layer == "conv1" and fg.mode == "color" and fg.channels == 4 and fg.reach == 0.5
    assert pixel(fg, 2) == [255, 128, 128, 255]
    assert pixel(fg, 1) == [128, 128, 0, 255]
    assert pixel(fg, 0) == [128, 128, 128, 255]
    grid = fg.views["grid"]
    assert "zero weight = mid grey" in grid.caption.value and "one scale for all filters" in grid.caption.value
    assert "-0.5 to 0.5" in grid.caption.value and "99% of the layer" in grid.caption.value
    assert ">-0.5<" in grid.legend.value and ">0.5<" in grid.legend.value and "mid grey" in grid.legend.value
    assert fg.tile_rect(3)[2:] == (3, 3) and fg.views["grid"].scale > 1  # one pixel per weight, enlarged on screen


def test_deeper_layer_is_diverging_on_one_scale_for_the_whole_layer():
    model = TinyNet()
    fg = nl.FilterGrid(model, layer="conv2", cmap="RdBu_r")
    assert fg.mode == "channels" and fg.controls["in_channel"].max == 3
    w = model.conv2.weight.detach().numpy()
    reach = float(np.quantile(np.abs(w.astype(np.float64)), 0.99))
    assert fg.reach == pytest.approx(reach) and reach < np.abs(w).max()  # a few weights saturate
    for k in (1, 2):
        fg.in_channel = k
        expected = apply_cmap(scale01(w[:, k], -reach, reach), "RdBu_r")
        for f in range(6):
            x, y, tw, th = fg.tile_rect(f)
            assert np.array_equal(fg.frame[y:y + th, x:x + tw], expected[f])
        legend = fg.views["grid"].legend.value
        assert f">{fmt(-reach)}<" in legend and f">{fmt(reach)}<" in legend and ">0<" in legend
        assert f"input channel {k}" in fg.views["grid"].title
    with pytest.raises(ValueError, match="reads 4"):
        fg.mode = "color"
    assert fg.mode == "channels"


def test_click_selects_a_filter_and_its_input_channels_pick_the_slice():
    model = TinyNet()
    fg = nl.FilterGrid(model, layer="conv2")
    click_tile(fg.views["grid"], 5)
    assert fg.channel == 5 and fg.controls["channel"].value == 5
    w = model.conv2.weight.detach().numpy()
    reach = weight_reach(w)
    assert np.array_equal(fg.detail_frame, apply_cmap(scale01(w[5, 0], -reach, reach), "RdBu_r"))
    assert "filter <b>5</b> of 6" in fg.views["stats"].body.value
    assert fmt(w[5].min()) in fg.views["stats"].body.value
    click_tile(fg.views["inputs"], 3)  # filter 5's weights on input channel 3
    assert fg.in_channel == 3 and fg.mode == "channels"
    assert np.array_equal(fg.detail_frame, apply_cmap(scale01(w[5, 3], -reach, reach), "RdBu_r"))
    marks = fg.views["inputs"].canvas.marks
    assert len(marks) == 1 and marks[0]["x"] == fg.views["inputs"].tile_rect(3)[0] - 0.5


def test_clicking_an_input_channel_of_a_colour_layer_switches_to_that_channel():
    fg = nl.FilterGrid(TinyNet())
    assert fg.mode == "color"
    click_tile(fg.views["inputs"], 1)
    assert fg.mode == "channels" and fg.in_channel == 1


@pytest.mark.parametrize("trait, bad, message", [
    ("channel", -1, r"filter \(output channel\) in 0..5"),
    ("channel", 6, r"in 0..5 for layer 'conv2'"),
    ("in_channel", -1, r"input channel in 0..3"),
    ("in_channel", 99, r"input channel in 0..3"),
    ("mode", "color", "needs a layer reading 3 channels"),
    ("cmap", "nope", "unknown colormap"),
    ("layer", "fc", "expected a Conv2d layer"),
    ("layer", "conv9", "closest names"),
])
def test_every_trait_is_range_checked_and_a_bad_value_is_not_kept(trait, bad, message):
    fg = nl.FilterGrid(TinyNet(), layer="conv2")
    fg.channel, fg.in_channel = 2, 1
    before = {t: getattr(fg, t) for t in ("layer", "channel", "in_channel", "mode", "cmap")}
    frame = fg.frame.copy()
    with pytest.raises((ValueError, KeyError), match=message):
        setattr(fg, trait, bad)
    assert {t: getattr(fg, t) for t in before} == before
    assert np.array_equal(fg.frame, frame) and fg.status == "" and fg.error is None


@pytest.mark.parametrize("kwargs, message", [
    (dict(grid_px=0), "grid_px in 16..4096"),
    (dict(detail_px=10 ** 6), "detail_px in 16..4096"),
    (dict(cmap="nope"), "unknown colormap"),
])
def test_constructor_arguments_are_checked(kwargs, message):
    with pytest.raises((ValueError, KeyError), match=message):
        nl.FilterGrid(TinyNet(), **kwargs)


@pytest.mark.filterwarnings("ignore:`torch.jit:FutureWarning")
def test_non_models_torchscript_and_models_without_conv_are_refused_clearly():
    with pytest.raises(TypeError, match="torch.nn.Module"):
        nl.FilterGrid("model")
    with pytest.raises(TypeError, match="TorchScript"):
        nl.FilterGrid(torch.jit.trace(TinyNet().eval(), torch.rand(1, 3, 8, 8)))
    with pytest.raises(ValueError, match="no Conv2d layer"):
        nl.FilterGrid(nn.Sequential(nn.Linear(2, 2)))


def test_layer_names_with_markup_are_shown_not_run():
    model = nn.Sequential()
    model.add_module("blocks", nn.ModuleDict({"<b>x</b>": nn.Conv2d(3, 2, 3), "<img src=q>": nn.Conv2d(2, 2, 1)}))
    fg = nl.FilterGrid(model)
    shown = [fg.views[n].static_html() for n in ("grid", "detail", "inputs", "stats")]
    assert all("<b>x</b>" not in s for s in shown)
    assert "blocks.&lt;b&gt;x&lt;/b&gt;" in fg.views["stats"].body.value
    assert "&lt;b&gt;x&lt;/b&gt;" in fg.views["grid"].static_html()
    fg.layer = "blocks.<img src=q>"
    assert "<img src=q>" not in fg.views["stats"].body.value and "&lt;img src=q&gt;" in fg.views["stats"].body.value
    assert "<img src=q>" not in fg.views["grid"].static_html()


def test_layer_switch_and_the_model_is_unchanged_after_every_action():
    model = torchvision.models.resnet18(weights=None).train()
    snap = ModelSnapshot.of(model)
    fg = nl.FilterGrid(model)
    assert fg.layer == "conv1" and fg.weight.shape == (64, 3, 7, 7) and fg.mode == "color"
    actions = [
        lambda: setattr(fg, "layer", "layer1.0.conv1"),
        lambda: setattr(fg, "channel", 63),
        lambda: setattr(fg, "in_channel", 40),
        lambda: click_tile(fg.views["grid"], 7),
        lambda: setattr(fg, "cmap", "PiYG"),
        fg.refresh,
        lambda: setattr(fg, "layer", "conv1"),
        lambda: setattr(fg, "mode", "channels"),
    ]
    for act in actions:
        act()
        assert snap.differences(ModelSnapshot.of(model)) == {} and hook_count(model) == 0
    assert fg.layer == "conv1" and fg.channel == 7 and fg.in_channel == 2  # clamped to the 3 inputs of conv1
    fg.weight[:] = 0  # our copy, not the model's
    assert snap.differences(ModelSnapshot.of(model)) == {}
    assert [o for _, o in fg.controls["layer"].options][:2] == ["conv1", "layer1.0.conv1"]
    assert fg.controls["mode"].style.button_width == "auto"  # "per input channel" is never cut


def test_refresh_reads_new_weights():
    model = TinyNet()
    fg = nl.FilterGrid(model, layer="conv2")
    before = fg.frame.copy()
    with torch.no_grad():
        model.conv2.weight.mul_(-1)
    assert np.array_equal(fg.frame, before)
    fg.refresh()
    assert not np.array_equal(fg.frame, before)


def test_static_picture_and_page_carry_the_colour_bars(tmp_path):
    fg = nl.FilterGrid(TinyNet(), layer="conv2")
    fg.save_png(tmp_path / "w.png")
    fg.save_html(tmp_path / "w.html")
    page = (tmp_path / "w.html").read_text()
    assert page.count("nnl-legend-bar") == 3 and "one scale for every filter" in page
    assert (tmp_path / "w.png").stat().st_size > 5000

import numpy as np
import pytest

from nnlens_widgets.render import lut
from nnlens_widgets.render.plane import (
    class_rgba,
    difference_rgba,
    draw_points,
    magnitude_rgba,
    neuron_grid,
    plane_rgba,
    rgb_from_signed,
)


def test_signed_colours_map_to_bytes():
    v = np.array([[[-1, 0, 1], [-2, 0.5, 2]]], dtype=np.float32)
    rgba = rgb_from_signed(v)
    assert rgba.shape == (1, 2, 4) and rgba.dtype == np.uint8
    assert rgba[0, 0].tolist() == [0, 128, 255, 255]
    assert rgba[0, 1].tolist() == [0, 191, 255, 255]  # clipped outside [-1, 1]
    assert np.array_equal(plane_rgba(v), rgba)


def test_classes_take_the_argmax_colour_and_fade_when_unsure():
    tab = lut("tab10")[np.linspace(0, 255, 10).astype(int)]
    v = np.zeros((1, 3, 3))
    v[0, 0] = [0, 20, 0]  # certain: class 1 at full colour
    v[0, 2] = [0, 0, 20.0]
    rgba = class_rgba(v)
    assert rgba[0, 0, :3].tolist() == tab[1, :3].tolist()
    assert rgba[0, 2, :3].tolist() == tab[2, :3].tolist()
    tie = rgba[0, 1, :3].astype(float)  # a three-way tie: mostly white
    assert np.all(tie >= 0.7 * 255)
    with pytest.raises(ValueError, match="rgb view needs 3 outputs"):
        plane_rgba(np.zeros((2, 2, 2)), "rgb")
    with pytest.raises(ValueError, match="output in 0..1"):
        plane_rgba(np.zeros((2, 2, 2)), "signed", 2)


def test_difference_is_grey_where_nothing_changed():
    a = np.zeros((2, 2, 3), np.float32)
    b = a.copy()
    b[0, 0] = [0.5, 0, -0.5]
    d = difference_rgba(b, a, gain=2.0)
    assert d[1, 1, :3].tolist() == [128, 128, 128]
    assert d[0, 0, :3].tolist() == [255, 128, 0]
    with pytest.raises(ValueError, match="differ in shape"):
        difference_rgba(a, np.zeros((3, 2, 3)))
    m = magnitude_rgba(np.array([[0.0, 2.0]]))
    assert np.array_equal(m[0, 0], lut("inferno")[0]) and np.array_equal(m[0, 1], lut("inferno")[255])
    assert np.array_equal(magnitude_rgba(np.zeros((2, 2)))[1, 1], lut("inferno")[0])


def test_neuron_grid_tiles_on_one_fixed_scale_and_maps_clicks_back():
    maps = np.stack([np.full((4, 4), v) for v in (-1.0, 0.0, 1.0, 0.5, -0.5)])
    rgba, layout = neuron_grid(maps, tile_px=8)
    assert layout.count == 5 and (layout.tile_h, layout.tile_w) == (8, 8)  # 4 px maps enlarged 2x
    for i, v in enumerate((-1.0, 0.0, 1.0, 0.5, -0.5)):
        x, y, w, h = layout.rect(i)
        assert layout.index_at(x + 3, y + 3) == i
        expected = lut("RdBu_r")[int(np.rint((0.5 + 0.5 * v) * 255))]
        assert np.all(rgba[y:y + h, x:x + w] == expected)
    with pytest.raises(ValueError, match=r"\(n, h, w\)"):
        neuron_grid(np.zeros((4, 4)))


def test_points_are_drawn_where_they_lie():
    base = np.full((11, 11, 4), 255, np.uint8)
    out = draw_points(base, np.array([[0.0, 0.0], [5.0, 5.0]]), np.array([3, 0]), (-1, 1, -1, 1), radius=1)
    tab = lut("tab10")[np.linspace(0, 255, 10).astype(int)]
    assert out[5, 5].tolist() == tab[3].tolist()  # the centre of the plane
    assert out[5, 7, :3].tolist() == [20, 20, 20]  # outline
    assert out[0, 0].tolist() == [255, 255, 255, 255]  # the point off the plane is skipped
    assert base[5, 5].tolist() == [255, 255, 255, 255]  # input untouched


def test_colour_bars_say_what_the_colours_mean():
    from nnlens_widgets.render.plane import difference_scale, neuron_range, painting_scale, plane_picture, rate_scale

    s = painting_scale()
    assert (s.low, s.high) == (-1.0, 1.0) and "R, G, B" in s.meaning
    d = difference_scale(4.0)
    assert (d.low, d.high) == (-0.25, 0.25) and "minus original" in d.meaning and "x4" in d.meaning
    assert difference_scale(2.0, outputs=1).cmap == "RdBu_r"
    assert rate_scale(0.5, "weight #3").high == 0.5
    maps = np.array([[[0.2, -3.0]]])
    assert neuron_range(["Tanh", "Tanh"], maps) == (1.0, "neuron activation (tanh, -1..1)")
    vmax, meaning = neuron_range(["ReLU"], maps)
    assert vmax == 3.0 and "relu" in meaning
    values = np.zeros((2, 2, 1))
    values[0, 0, 0] = -2.0
    rgba, scale, key = plane_picture(values)
    assert (scale.low, scale.high) == (-2.0, 2.0) and key == ""
    assert np.array_equal(rgba, plane_rgba(values))
    rgba, scale, key = plane_picture(np.zeros((2, 2, 4)), names=["a", "<b>", "c", "d"])
    assert scale is None and "&lt;b&gt;" in key and "<b>" not in key and key.count("background:rgb(") == 4

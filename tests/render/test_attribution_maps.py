import numpy as np
import pytest

from nnlens_widgets.render import lut
from nnlens_widgets.render.attribution_maps import (
    colour_layer, grey_photo, map_rgba, ordinal, overlay_rgba, saturation_value, shown_values, side_by_side,
)


def test_saturation_is_the_percentile_of_magnitudes_with_safe_fallbacks():
    rng = np.random.default_rng(0)
    v = rng.standard_cauchy((40, 40))  # heavy tails: a few huge values
    assert saturation_value(v, 99) == pytest.approx(np.percentile(np.abs(v), 99))
    assert saturation_value(v, 100) == pytest.approx(np.abs(v).max())
    sparse = np.zeros((10, 10))
    sparse[3, 4] = -2.0  # the 99th percentile is 0: fall back to the largest magnitude
    assert saturation_value(sparse, 90) == 2.0
    assert saturation_value(np.zeros((3, 3))) == 1.0
    assert saturation_value(np.array([[np.nan, 4.0]]), 100) == 4.0
    with pytest.raises(ValueError, match="percentile"):
        saturation_value(v, 0)


def test_signs_select_the_part_shown():
    v = np.array([[-2.0, 0.0, 3.0]])
    assert shown_values(v, "absolute").tolist() == [[2, 0, 3]]
    assert shown_values(v, "positive").tolist() == [[0, 0, 3]]
    assert shown_values(v, "negative").tolist() == [[2, 0, 0]]
    assert shown_values(v, "both").tolist() == [[-2, 0, 3]]
    with pytest.raises(ValueError, match="sign in"):
        shown_values(v, "up")
    with pytest.raises(ValueError, match="2-D"):
        shown_values(np.zeros(3), "both")


def test_colour_saturates_and_alpha_follows_magnitude():
    layer = colour_layer(np.array([[0.0, 0.5, 1.0, 7.0]]), "absolute", 1.0)
    table = lut("inferno")
    assert layer[0, 0, :3].tolist() == table[0, :3].tolist() and layer[0, 0, 3] == 0
    assert layer[0, 1, 3] == 128 and layer[0, 2, 3] == 255
    assert layer[0, 3].tolist() == layer[0, 2].tolist()  # beyond vmax: saturated, not wrapped
    both = colour_layer(np.array([[-1.0, 0.0, 1.0]]), "both", 1.0)
    diverging = lut("RdBu_r")
    assert both[0, 0, :3].tolist() == diverging[0, :3].tolist()
    assert both[0, 2, :3].tolist() == diverging[255, :3].tolist()
    assert both[0, 1, 3] == 0
    with pytest.raises(ValueError, match="positive, finite vmax"):
        colour_layer(np.zeros((2, 2)), "absolute", 0.0)


def test_the_map_alone_is_exactly_its_colour_bar():
    v = np.linspace(0, 1, 256, dtype=np.float32)[None]
    pic = map_rgba(v, "absolute", 1.0)
    assert np.array_equal(pic[0, :, :3], lut("inferno")[:, :3]) and (pic[..., 3] == 255).all()


def test_overlay_keeps_no_hue_of_the_photo():
    photo = np.zeros((2, 3, 4), np.uint8)
    photo[..., 1] = 200  # a green photo
    photo[..., 3] = 255
    grey = grey_photo(photo)
    assert (grey[..., 0] == grey[..., 1]).all() and (grey[..., 1] == grey[..., 2]).all()
    assert grey[..., :3].min() >= round(0.25 * 255) and grey[..., :3].max() <= round(0.75 * 255)
    values = np.array([[0.0, 0.5, 1.0], [0.0, 0.0, 1.0]])
    out = overlay_rgba(photo, values, "both", 1.0, opacity=1.0)
    assert np.array_equal(out[values == 0], grey[values == 0])  # no map: only grey
    assert out[0, 2, :3].tolist() == lut("RdBu_r")[255, :3].tolist()  # full strength: pure map colour
    assert np.array_equal(overlay_rgba(photo, values, "both", 1.0, opacity=0.0), grey)
    with pytest.raises(ValueError, match="differ in size"):
        overlay_rgba(photo, np.zeros((3, 3)), "both", 1.0)
    with pytest.raises(ValueError, match="opacity in 0..1"):
        overlay_rgba(photo, values, "both", 1.0, opacity=1.5)


def test_side_by_side_leaves_a_transparent_gap():
    a, b = np.full((2, 2, 4), 9, np.uint8), np.full((2, 3, 4), 7, np.uint8)
    pic = side_by_side(a, b, gap=2)
    assert pic.shape == (2, 7, 4) and (pic[:, 2:4] == 0).all() and (pic[:, 4:] == 7).all()
    with pytest.raises(ValueError, match="one height"):
        side_by_side(a, np.zeros((3, 2, 4), np.uint8))


def test_ordinals():
    assert [ordinal(v) for v in (1, 2, 3, 4, 11, 12, 13, 21, 92, 99, 99.5)] == [
        "1st", "2nd", "3rd", "4th", "11th", "12th", "13th", "21st", "92nd", "99th", "99.5th"]

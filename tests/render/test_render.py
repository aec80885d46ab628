import matplotlib
import numpy as np
import pytest

from nnlens_widgets import render as R


def test_lut_matches_matplotlib_and_apply_cmap_uses_it():
    table = R.lut("viridis")
    assert table.shape == (256, 4) and table.dtype == np.uint8
    expected = np.round(np.array(matplotlib.colormaps["viridis"](1.0)) * 255)
    assert table[255].tolist() == expected.tolist()
    px = R.apply_cmap(np.array([[0.0, 1.0], [0.5, 2.0]]), "viridis")
    assert px.shape == (2, 2, 4)
    assert px[0, 0].tolist() == table[0].tolist()
    assert px[0, 1].tolist() == table[255].tolist() == px[1, 1].tolist()  # clipped
    assert px[1, 0].tolist() == table[128].tolist()  # rint(127.5) = 128
    with pytest.raises(KeyError, match="unknown colormap"):
        R.lut("not-a-map")


def test_scaling_never_divides_by_zero():
    assert R.scale01(np.full((2, 2), 3.0), 3.0, 3.0).tolist() == [[0.5, 0.5], [0.5, 0.5]]
    x = np.stack([np.zeros((2, 2)), np.array([[0.0, 1.0], [2.0, 4.0]])])
    per = R.scale_channels(x, "channel")
    assert per[0].tolist() == [[0.5, 0.5], [0.5, 0.5]]
    assert per[1].tolist() == [[0.0, 0.25], [0.5, 1.0]]
    shared = R.scale_channels(x, "shared")
    assert shared[0].tolist() == [[0.0, 0.0], [0.0, 0.0]]
    sym = R.scale_channels(np.array([[[-2.0, 1.0]]]), "shared", symmetric=True)
    assert sym.tolist() == [[[0.0, 0.75]]]
    assert not np.isnan(R.scale_channels(np.zeros((3, 1, 1)), "shared", symmetric=True)).any()
    with pytest.raises(ValueError, match="normalisation"):
        R.scale_channels(x, "global")


def test_tile_layout_maps_pixels_to_tiles_and_back():
    lay = R.TileLayout.for_count(5, 4, 4, gap=1, cols=3)
    assert (lay.rows, lay.cols, lay.height, lay.width) == (2, 3, 11, 16)
    assert lay.origin(4) == (6, 6) and lay.rect(4) == (6, 6, 4, 4)
    assert lay.index_at(1, 1) == 0 and lay.index_at(7, 7) == 4 and lay.index_at(12, 7) is None
    for i in range(5):
        x, y, w, h = lay.rect(i)
        assert lay.index_at(x + w - 1, y + h - 1) == i


def test_tile_places_pictures_with_gaps_and_upscale_is_nearest():
    tiles = np.zeros((2, 2, 2, 4), np.uint8)
    tiles[1] = 200
    lay = R.TileLayout.for_count(2, 2, 2, gap=1, cols=2)
    out = R.tile(tiles, lay, background=(9, 9, 9, 255))
    assert out.shape == (4, 7, 4)
    assert out[0, 0].tolist() == [9, 9, 9, 255] and out[1, 4].tolist() == [200] * 4
    assert out[1, 1].tolist() == [0, 0, 0, 0]
    big = R.upscale(np.arange(4).reshape(2, 2), 3)
    assert big.shape == (6, 6) and big[2, 3] == 1 and big[3, 2] == 2


def test_channel_grid_pixels_match_colormap_of_normalised_values():
    maps = np.zeros((3, 2, 2), np.float32)
    maps[1] = [[0, 1], [2, 3]]
    maps[2] = 7.0  # constant channel -> mid colour, no NaN
    grid = R.channel_grid(maps, "channel", "gray", target_px=100)
    f = grid.factor
    y, x = grid.layout.origin(1)
    table = R.lut("gray")
    assert grid.rgba[y, x].tolist() == table[0].tolist()
    assert grid.rgba[y + f, x + f].tolist() == table[255].tolist()
    y2, x2 = grid.layout.origin(2)
    assert grid.rgba[y2, x2].tolist() == table[128].tolist()
    shared = R.channel_grid(maps, "shared", "gray", target_px=100)
    assert shared.rgba[y2, x2].tolist() == table[255].tolist()  # 7 is the layer's max


def test_channel_maps_shapes_and_picture_matches_grid():
    assert R.channel_maps(np.arange(5)).shape == (5, 1, 1)
    assert R.channel_maps(np.zeros((4, 9))).shape == (4, 1, 9)
    with pytest.raises(ValueError, match=r"\(C,\), \(C, L\) or \(C, H, W\)"):
        R.channel_maps(np.zeros((1, 2, 3, 4)))
    maps = np.random.default_rng(0).normal(size=(4, 5, 5)).astype(np.float32)
    for norm in ("channel", "shared"):
        grid = R.channel_grid(maps, norm, target_px=50)
        pic = R.channel_picture(maps, 2, norm, target_px=50)
        y, x = grid.layout.origin(2)
        assert grid.rgba[y, x].tolist() == pic[0, 0].tolist()


def test_rgb_grid():
    imgs = np.zeros((2, 1, 1, 3))
    imgs[1] = [1.0, 0.5, 0.0]
    g = R.rgb_grid(imgs, target_px=20)
    y, x = g.layout.origin(1)
    assert g.rgba[y, x].tolist() == [255, 128, 0, 255]


def test_image_rgba_accepts_chw_hwc_and_scales_foreign_ranges():
    chw = np.zeros((3, 2, 2), np.float32)
    chw[0, 0, 0] = 1.0
    assert R.image_rgba(chw)[0, 0].tolist() == [255, 0, 0, 255]
    norm = np.array([[[-2.0, 2.0]]])  # (1, 1, 2): normalised grey image
    assert R.image_rgba(norm)[0].tolist() == [[0, 0, 0, 255], [255, 255, 255, 255]]
    assert R.image_rgba(np.full((2, 2, 3), 7, np.uint8))[1, 1].tolist() == [7, 7, 7, 255]
    with pytest.raises(ValueError, match="1 or 3 channels"):
        R.image_rgba(np.zeros((2, 2, 4)))


def test_heatmap_signs_alpha_and_blend():
    v = np.array([[-1.0, 0.0, 0.5]])
    both = R.heatmap_rgba(v, "both")
    assert both[0, 0].tolist()[:3] == R.lut("RdBu_r")[0].tolist()[:3]
    assert both[0, :, 3].tolist() == [255, 0, 128]
    pos = R.heatmap_rgba(v, "positive")
    assert pos[0, :, 3].tolist() == [0, 0, 255]  # scaled to the largest positive value
    fixed = R.heatmap_rgba(v, "absolute", vmax=2.0)  # "no normalisation": a fixed scale
    assert fixed[0, :, 3].tolist() == [128, 0, 64]
    assert R.heatmap_rgba(np.zeros((2, 2)))[..., 3].max() == 0
    img = np.zeros((1, 3, 4), np.uint8)
    img[..., 3] = 255
    out = R.blend(img, both, opacity=1.0)
    assert out[0, 1].tolist() == [0, 0, 0, 255]  # zero heat: image shows through
    assert out[0, 0, :3].tolist() == both[0, 0, :3].tolist()
    half = R.blend(img, both, opacity=0.5)
    assert half[0, 0, :3].tolist() == np.rint(both[0, 0, :3] * 0.5).astype(int).tolist()


def test_a_probability_change_that_rounds_to_zero_has_no_minus_sign():
    from nnlens_widgets.render.charts import probability_rows_html

    html = probability_rows_html(["a", "b"], [0.5, 0.2], before=[0.50001, 0.1])
    assert "(+0.0 pts)" in html and "-0.0" not in html and "(+10.0 pts)" in html


def test_flat_tiles_are_counted_for_their_note():
    from nnlens_widgets.render import flat_tiles_note

    maps = np.stack([np.zeros((3, 3)), np.arange(9.0).reshape(3, 3), np.ones((3, 3))])
    assert flat_tiles_note(maps).startswith("2 flat tile(s)")
    assert flat_tiles_note(maps, 1, 2) == ""

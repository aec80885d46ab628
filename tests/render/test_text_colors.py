"""WCAG contrast maths, text ink, value colours, the filter pictures and the ranked bar chart."""
import numpy as np
import pytest

from nnlens_widgets.render.contrast import AA_TEXT, BLACK, WHITE, blend_over, contrast_ratio, ink_for, relative_luminance
from nnlens_widgets.render.bars import bar_chart_svg
from nnlens_widgets.render.filters import color_filters, filter_tiles, weight_reach
from nnlens_widgets.render.text_colors import colored_text_html, value_indices


def test_contrast_matches_published_wcag_values():
    assert contrast_ratio(BLACK, WHITE) == pytest.approx(21.0)
    assert contrast_ratio(WHITE, WHITE) == pytest.approx(1.0)
    assert contrast_ratio([119, 119, 119], WHITE) == pytest.approx(4.48, abs=0.01)  # #777 on white: just fails AA
    assert contrast_ratio([118, 118, 118], WHITE) == pytest.approx(4.54, abs=0.01)  # #767676: the lightest grey passing
    assert relative_luminance([255, 0, 0]) == pytest.approx(0.2126)
    assert relative_luminance([0, 255, 0]) == pytest.approx(0.7152)


def test_ink_is_whichever_of_black_and_white_contrasts_more_and_always_passes_aa():
    rng = np.random.default_rng(0)
    colours = np.concatenate([rng.integers(0, 256, (5000, 3)), np.stack([np.arange(256)] * 3, 1)])
    ink = ink_for(colours)
    assert set(map(tuple, ink.tolist())) <= {(0, 0, 0), (255, 255, 255)}
    mine = contrast_ratio(ink, colours)
    other = contrast_ratio(np.where(ink == 0, 255, 0), colours)
    assert (mine >= other).all() and mine.min() >= AA_TEXT
    assert ink_for([20, 20, 60]).tolist() == [255, 255, 255] and ink_for([250, 240, 200]).tolist() == [0, 0, 0]


def test_translucent_colours_are_blended_with_the_page():
    assert blend_over([255, 0, 0, 128], [255, 255, 255]).tolist() == [255, 127, 127]
    assert blend_over([255, 0, 0, 255], [0, 0, 0]).tolist() == [255, 0, 0]
    assert blend_over([10, 20, 30], [0, 0, 0]).tolist() == [10, 20, 30]


def test_value_indices_round_half_up_like_javascript():
    vmax = 1.0
    # t * 255 = k + 0.5 exactly rounds up, as Math.round does
    values = np.array([(2 * (k + 0.5) / 255 - 1) for k in (0, 10, 127, 200)], dtype=np.float64)
    t = (values.astype(np.float32).astype(np.float64) / vmax + 1) / 2 * 255
    expected = [int(np.floor(x + 0.5)) if x - np.floor(x) != 0.5 else int(np.floor(x)) + 1 for x in t]
    assert value_indices(values, vmax).tolist() == expected
    assert value_indices(np.array([-5.0, 0.0, 5.0, np.nan]), 1.0).tolist() == [0, 128, 255, 128]


def test_static_coloured_text_escapes_and_keeps_one_span_per_character():
    text = "<b>&\n'x'"
    page = colored_text_html(text, np.linspace(-1, 1, len(text)), 1.0, "RdBu_r")
    import re

    glyphs = re.findall(r"'>([^<]*)</span>", page)
    assert glyphs == ["&lt;", "b", "&gt;", "&amp;", " ", "&#x27;", "x", "&#x27;"]


def test_filters_share_one_scale_with_zero_at_mid_grey():
    w = np.zeros((2, 3, 2, 2), np.float32)
    w[0, 0, 0, 0], w[1, 2, 1, 1] = 0.4, -0.2
    assert weight_reach(np.r_[np.full(999, -0.1), 5.0]) == pytest.approx(0.1)  # one outlier saturates
    assert weight_reach(np.r_[np.zeros(999), 5.0]) == 5.0  # a zero percentile falls back to the largest
    rgba = color_filters(w, 0.4)
    assert rgba[0, 0, 0].tolist() == [255, 128, 128, 255]
    assert rgba[1, 1, 1].tolist() == [128, 128, 64, 255]
    assert rgba[1, 0, 0].tolist() == [128, 128, 128, 255]
    grid = filter_tiles(rgba, 64)
    assert grid.rgba.shape[:2] == (grid.layout.height, grid.layout.width) and grid.factor >= 1


def test_ranked_bars_have_names_values_ticks_and_an_axis_label():
    svg = bar_chart_svg([-2.5, 0.75], ["channel 3", "<b>odd</b>"], value_label="change in <logit>", horizontal=True)
    assert ">channel 3<" in svg and "&lt;b&gt;odd&lt;/b&gt;" in svg and "<b>" not in svg
    assert ">-2.5<" in svg and ">0.75<" in svg and "change in &lt;logit&gt;" in svg
    assert svg.count("class='nnl-ranked-bar'") == 2
    ticks = [t for t in ("-3", "-2", "-1", "0", "1") if f">{t}<" in svg]
    assert len(ticks) >= 3

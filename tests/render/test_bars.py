"""One bar renderer: upright bars, a ranking and a histogram, each on a labelled value axis."""
import re

import numpy as np
import pytest

from nnlens_widgets.render.bars import SERIES_COLORS, bar_chart_svg, histogram_svg


def _rects(svg, css):
    """(x, y, width, height, fill) of every bar of class ``css``."""
    found = re.findall(rf"<rect class='{css}' data-index='\d+' data-value='[^']*' x='([-\d.]+)' y='([-\d.]+)' "
                       r"width='([\d.]+)' height='([\d.]+)' fill='([^']+)'>", svg)
    return [(float(x), float(y), float(w), float(h), fill) for x, y, w, h, fill in found]


def test_upright_bars_rise_and_fall_from_zero_with_the_selected_one_marked():
    svg = bar_chart_svg([2.0, -1.0, 0.5], ["cat", "dog", "<x>"], value_label="activation", selected=1)
    bars = _rects(svg, "nnl-bar")
    assert len(bars) == 3
    (x0, y0, _, h0, c0), (_, y1, _, h1, c1), (_, y2, _, h2, _) = bars
    assert c0 == SERIES_COLORS[1] and c1 == SERIES_COLORS[0]  # the selected bar in the other colour
    assert y0 + h0 == pytest.approx(y1, abs=0.1)  # the positive bar ends where the negative one starts: zero
    assert h0 == pytest.approx(2 * h1, abs=0.2) and h2 == pytest.approx(h0 / 4, abs=0.2)
    assert ">cat<" in svg and "&lt;x&gt;" in svg and "<x>" not in svg
    assert ">activation<" in svg and ">-1<" in svg and ">2<" in svg  # axis label and tick values


def test_a_ranking_lays_bars_down_with_numbers_and_bold_selection():
    svg = bar_chart_svg([-2.5, 0.75, 1.0], ["a", "b", "c"], value_label="change", horizontal=True, selected=2)
    bars = _rects(svg, "nnl-ranked-bar")
    assert [b[4] for b in bars] == [SERIES_COLORS[0], SERIES_COLORS[1], SERIES_COLORS[1]]
    assert bars[0][0] + bars[0][2] == pytest.approx(bars[1][0], abs=0.1)  # both from zero
    assert bars[0][2] == pytest.approx(2.5 * bars[2][2], abs=0.3)
    assert svg.count("font-weight:bold;") == 2  # the selected row's name and number
    assert "class='nnl-ranked-bars'" in svg and ">0.75<" in svg
    with pytest.raises(ValueError, match="one label per value"):
        bar_chart_svg([1.0, 2.0], ["only one"], value_label="x")


def test_histogram_counts_match_numpy_and_bins_touch():
    values = np.random.default_rng(0).normal(size=500)
    svg = histogram_svg(values, bins=10, value_label="activation")
    counts, edges = np.histogram(values, bins=10)
    shown = [float(v) for v in re.findall(r"class='nnl-histogram-bin' data-index='\d+' data-value='([^']*)'", svg)]
    assert shown == [float(c) for c in counts if c > 0]
    bars = _rects(svg, "nnl-histogram-bin")
    tallest = max(bars, key=lambda b: b[3])
    assert tallest[3] / min(b[3] for b in bars) == pytest.approx(counts.max() / counts[counts > 0].min(), rel=0.05)
    assert all(a[0] + a[2] == pytest.approx(b[0], abs=0.15) for a, b in zip(bars, bars[1:]))  # adjacent bins
    assert ">activation<" in svg and ">count<" in svg and "aria-label='count of activation'" in svg
    ready = histogram_svg(counts=[1, 0, 3], edges=[0.0, 1.0, 2.0, 3.0], value_label="v", count_label="images")
    assert len(_rects(ready, "nnl-histogram-bin")) == 2 and ">images<" in ready  # the empty bin draws nothing
    with pytest.raises(ValueError, match="4 increasing edges"):
        histogram_svg(counts=[1, 0, 3], edges=[0.0, 1.0], value_label="v")

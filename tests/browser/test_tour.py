"""The tour notebook in real JupyterLab + Chromium: pixels, slider and clicks."""
from __future__ import annotations

import pytest

from tests.browser import harness

TOUR = "notebooks/00_tour.ipynb"
GRID = ".nnl-activation-grid"  # the first one in the tour is `grid` (digits model, conv2)
GRID_CANVAS = f"{GRID} .nnl-grid-canvas canvas.nnl-canvas"
DETAIL_CANVAS = f"{GRID} .nnl-detail-canvas canvas.nnl-canvas"
FILTER_CANVAS = ".nnl-filter-grid .nnl-grid-canvas canvas.nnl-canvas"


def distinct_colours(page, selector):
    return page.evaluate(
        """s => { const c = document.querySelector(s);
                  const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
                  const seen = new Set();
                  for (let i = 0; i < d.length; i += 4) seen.add((d[i] << 16) | (d[i+1] << 8) | d[i+2]);
                  return seen.size; }""",
        selector,
    )


@pytest.fixture(scope="module")
def tour(browser, lab, request):
    with harness.notebook_page(browser, lab, TOUR) as (page, kc):
        yield page, kc


def test_canvases_are_drawn_and_equal_the_widget_frames(tour, tmp_path):
    page, kc = tour
    try:
        for sel in (GRID_CANVAS, DETAIL_CANVAS, FILTER_CANVAS):
            harness.wait_until(lambda: harness.canvas_frame_id(page, sel) is not None, 30, f"{sel} never drawn")
            assert distinct_colours(page, sel) > 8, f"{sel} looks blank"
        h, w = harness.kernel_eval(kc, "grid.frame.shape[:2]")
        assert page.evaluate("s => [document.querySelector(s).height, document.querySelector(s).width]",
                             GRID_CANVAS) == [h, w]
        points = [(0, 0), (w // 3, h // 2), (w // 2, h // 3), (w - 2, h - 2), (w // 5, h // 7)]
        assert harness.canvas_matches_frame(page, kc, GRID_CANVAS, "grid.frame", points)
        dh, dw = harness.kernel_eval(kc, "grid.detail_frame.shape[:2]")
        assert harness.canvas_matches_frame(page, kc, DETAIL_CANVAS, "grid.detail_frame",
                                            [(0, 0), (dw // 2, dh // 3), (dw - 1, dh - 1)])
        # every pixel, whichever encoding each frame travelled in (palette, deflated or raw RGBA)
        for sel, frame in ((GRID_CANVAS, "grid"), (DETAIL_CANVAS, "grid.views['detail']"),
                           (FILTER_CANVAS, "filters.views['grid']")):
            sent = harness.kernel_eval(kc, f"','.join(map(str, {frame}.frame.ravel().tolist()))")
            assert harness.canvas_pixels(page, sel) == sent, f"{sel} differs from {frame}.frame"
        encodings = harness.kernel_eval(kc, "sorted({int.from_bytes(v.canvas._frame[12:16], 'little') "
                                            "for v in (grid.views['grid'], grid.views['detail'], filters.views['grid'])})")
        assert encodings == [2, 3]  # colour-mapped pictures travel as a palette, deflated when large
    except Exception:
        harness.screenshot_on_failure(page, tmp_path)
        raise


def test_channel_slider_key_changes_the_enlarged_view(tour, tmp_path):
    page, kc = tour
    try:
        harness.kernel_exec(kc, "grid.channel = 0")
        harness.wait_until(
            lambda: page.locator(f"{GRID} .nnl-channel-slider .widget-readout").first.inner_text().strip() == "0",
            10, "slider did not show 0",
        )
        before_id = harness.canvas_frame_id(page, DETAIL_CANVAS)
        before = harness.canvas_pixels(page, DETAIL_CANVAS)
        harness.press_slider_key(page, f"{GRID} .nnl-channel-slider", "ArrowRight")
        harness.wait_for_kernel_value(kc, "grid.channel", 1)
        harness.wait_until(lambda: harness.canvas_frame_id(page, DETAIL_CANVAS) != before_id, 10, "detail not redrawn")
        dh, dw = harness.kernel_eval(kc, "grid.detail_frame.shape[:2]")
        assert harness.canvas_matches_frame(page, kc, DETAIL_CANVAS, "grid.detail_frame",
                                            [(dw // 2, dh // 2), (dw // 8, dh - 2)])
        assert harness.canvas_pixels(page, DETAIL_CANVAS) != before
        assert "channel <b>1</b>" in harness.kernel_eval(kc, "grid.views['stats'].body.value")
    except Exception:
        harness.screenshot_on_failure(page, tmp_path)
        raise


def test_clicking_a_tile_selects_that_channel(tour, tmp_path):
    page, kc = tour
    try:
        x, y, w, h = harness.kernel_eval(kc, "grid.tile_rect(5)")
        harness.click_canvas(page, kc, GRID_CANVAS, "grid.frame", x + w / 2, y + h / 2)
        harness.wait_for_kernel_value(kc, "grid.channel", 5)
        harness.wait_until(
            lambda: page.locator(f"{GRID} .nnl-channel-slider .widget-readout").first.inner_text().strip() == "5",
            10, "slider readout did not follow the click",
        )
        # the readout can arrive before the redrawn detail view: wait for the last frame sent
        harness.wait_until(lambda: harness.canvas_frame_id(page, DETAIL_CANVAS) == str(harness.kernel_eval(
            kc, "grid.views['detail'].canvas.frame_id")), 10, "detail view of channel 5 not shown")
        dh, dw = harness.kernel_eval(kc, "grid.detail_frame.shape[:2]")
        assert harness.canvas_matches_frame(page, kc, DETAIL_CANVAS, "grid.detail_frame", [(dw // 2, dh // 2)])
    except Exception:
        harness.screenshot_on_failure(page, tmp_path)
        raise


def test_a_picture_of_more_than_256_colours_with_see_through_stripes_is_drawn_exactly(tour, tmp_path):
    """The two-byte palette (a full colour map, the gaps and a hatched tile) decodes to the exact pixels."""
    page, kc = tour
    try:
        harness.kernel_exec(kc, "import numpy as _np\n"
                                "from nnlens_widgets.render.constant_tiles import hatch as _hatch\n"
                                "_rng = _np.random.default_rng(3)\n"
                                "_lut = _rng.integers(0, 256, (300, 4), dtype=_np.uint8); _lut[:, 3] = 255\n"
                                "_wide = _lut[_rng.integers(0, 300, (150, 160))]; _wide[:40, :40] = _hatch(40, 40)\n"
                                "_kept, _canvas = grid.views['grid'].frame.copy(), grid.views['grid'].canvas\n"
                                "_canvas.draw(_wide)")
        assert harness.kernel_eval(kc, "int.from_bytes(_canvas._frame[12:16], 'little')") == 4  # PALETTE_WIDE
        harness.wait_until(lambda: harness.canvas_frame_id(page, GRID_CANVAS) == str(harness.kernel_eval(
            kc, "_canvas.frame_id")), 10, "the wide-palette picture was not drawn")
        sent = harness.kernel_eval(kc, "','.join(map(str, _wide.ravel().tolist()))")
        assert harness.canvas_pixels(page, GRID_CANVAS) == sent
        harness.kernel_exec(kc, "_canvas.draw(_kept)")  # the grid as it was, for any later test
    except Exception:
        harness.screenshot_on_failure(page, tmp_path)
        raise

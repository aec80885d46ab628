"""AttentionExplorer in real JupyterLab + Chromium: hovering a patch redraws the attention maps."""
from __future__ import annotations

import statistics

import pytest

from tests.browser import harness

NB = "browser_notebooks/attention.ipynb"
ROOT = ".nnl-attention-explorer"
INPUT = f"{ROOT} .nnl-attention-input canvas.nnl-canvas"
GRID = f"{ROOT} .nnl-attention-grid canvas.nnl-canvas"
DETAIL = f"{ROOT} .nnl-attention-detail canvas.nnl-canvas"

# Starts a timer at the next real mouse move over the input and resolves with the milliseconds
# until the grid canvas has drawn a new frame (its data-frame-id changes after drawing).
ARM_HOVER_TIMER = """([inputSel, gridSel]) => {
  const input = document.querySelector(inputSel), grid = document.querySelector(gridSel);
  const before = grid.dataset.frameId;
  window.__nnlHover = new Promise((resolve, reject) => {
    let t0 = null;
    input.addEventListener('mousemove', () => { if (t0 === null) t0 = performance.now(); }, {once: true});
    const obs = new MutationObserver(() => {
      if (t0 !== null && grid.dataset.frameId !== before) { obs.disconnect(); resolve(performance.now() - t0); }
    });
    obs.observe(grid, {attributes: true, attributeFilter: ['data-frame-id']});
    setTimeout(() => { obs.disconnect(); reject(new Error('the grid was not redrawn')); }, 10000);
  });
}"""


@pytest.fixture(scope="module")
def nb(browser, lab):
    with harness.notebook_page(browser, lab, NB) as (page, kc):
        yield page, kc


def _patch_point(box, row, col, grid=8):
    """Screen point at the centre of patch (row, col) of the input canvas."""
    return box["x"] + (col + 0.5) * box["width"] / grid, box["y"] + (row + 0.5) * box["height"] / grid


def _shown(page, kc, selector, expr):
    h, w = harness.kernel_eval(kc, f"{expr}.shape[:2]")
    points = [(0, 0), (w // 2, h // 2), (w - 1, h - 1), (w // 3, 2 * h // 3), (3, h // 4)]
    return harness.canvas_matches_frame(page, kc, selector, expr, points, tolerance=0)


def test_hovering_a_patch_redraws_the_maps_from_that_query(nb, tmp_path):
    page, kc = nb
    try:
        harness.wait_until(lambda: _shown(page, kc, GRID, "ex.frame"), 20, "grid canvas never matched ex.frame")
        legend = page.locator(f"{ROOT} .nnl-picture:has(.nnl-attention-grid) .nnl-legend")
        assert "attention probability" in legend.inner_text()
        canvas = page.locator(INPUT).first
        canvas.scroll_into_view_if_needed()
        box = canvas.bounding_box()
        before = harness.canvas_pixels(page, GRID)
        page.mouse.move(*_patch_point(box, 2, 5))
        harness.wait_for_kernel_value(kc, "ex.query", 1 + 2 * 8 + 5, timeout=10)
        harness.wait_until(lambda: harness.canvas_pixels(page, GRID) != before, 10, "grid did not change")
        harness.wait_until(lambda: _shown(page, kc, GRID, "ex.frame"), 10, "grid differs from ex.frame")
        harness.wait_until(lambda: _shown(page, kc, DETAIL, "ex.views['detail'].frame"), 10,
                           "enlarged map differs from its frame")
        assert harness.kernel_eval(
            kc, "bool(abs(ex.query_maps[0, 0] - nl.core.attention_maps(model, data.images[0])"
                "[ex.layers[0]][0, ex.query, 1:].reshape(8, 8).numpy()).max() < 1e-5)")
        caption = page.locator(f"{ROOT} .nnl-picture:has(.nnl-attention-detail) .nnl-caption").inner_text()
        assert "row 2, column 5" in caption
        page.mouse.move(box["x"] + box["width"] + 80, box["y"] - 40)  # leave: back to the class token
        harness.wait_for_kernel_value(kc, "ex.query", 0, timeout=10)
    except Exception:
        harness.screenshot_on_failure(page, tmp_path)
        raise


def test_hover_to_redrawn_maps_time(nb, tmp_path):
    page, kc = nb
    try:
        canvas = page.locator(INPUT).first
        canvas.scroll_into_view_if_needed()
        box = canvas.bounding_box()
        times = []
        for i in range(15):
            row, col = (i * 3) % 8, (i * 5 + 1) % 8
            page.evaluate(ARM_HOVER_TIMER, [INPUT, GRID])
            page.mouse.move(*_patch_point(box, row, col))
            times.append(page.evaluate("() => window.__nnlHover"))
            harness.wait_for_kernel_value(kc, "ex.query", 1 + row * 8 + col, timeout=10)
            page.mouse.move(box["x"] + box["width"] + 80, box["y"] - 40)
            harness.wait_for_kernel_value(kc, "ex.query", 0, timeout=10)
        median = statistics.median(times)
        print(f"\nhover -> redrawn attention grid in the browser: median {median:.1f} ms "
              f"(min {min(times):.1f}, max {max(times):.1f}, {len(times)} hovers)")
        assert harness.kernel_eval(kc, "ex.error") is None
    except Exception:
        harness.screenshot_on_failure(page, tmp_path)
        raise

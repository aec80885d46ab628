"""SynapseExplorer in real JupyterLab + Chromium: live repaint from the weight slider,
and a rectangle dragged on the painting listing its synapse ensemble."""
from __future__ import annotations

import pytest

from tests.browser import harness

NB = "browser_notebooks/synapses.ipynb"
ROOT = ".nnl-synapse-explorer"
PAINTING = f"{ROOT} .nnl-painting canvas.nnl-canvas"


@pytest.fixture(scope="module")
def nb(browser, lab):
    with harness.notebook_page(browser, lab, NB, width=1500, height=1100) as (page, kc):
        harness.wait_until(lambda: harness.canvas_frame_id(page, PAINTING) is not None, 30, "painting never drawn")
        yield page, kc


def test_weight_slider_repaints_the_canvas(nb, tmp_path):
    page, kc = nb
    try:
        points = [(10, 10), (48, 48), (80, 30), (30, 85)]
        harness.wait_until(lambda: harness.canvas_matches_frame(page, kc, PAINTING, "ex.frame", points, tolerance=0), 15, "canvas != ex.frame")
        before, before_id = harness.canvas_pixels(page, PAINTING), harness.canvas_frame_id(page, PAINTING)
        value = harness.kernel_eval(kc, "ex.value")
        for _ in range(3):
            harness.press_slider_key(page, f"{ROOT} .nnl-weight-slider", "PageUp")
        harness.wait_until(lambda: harness.kernel_eval(kc, "ex.value") > value + 0.1, 10,
                           "the slider move did not reach the kernel")
        harness.wait_until(lambda: harness.kernel_eval(kc, "ex.moved") == [42], 10, "weight 42 not moved")
        harness.wait_until(lambda: harness.canvas_frame_id(page, PAINTING) != before_id, 10, "painting not redrawn")
        harness.wait_until(lambda: harness.kernel_eval(kc, "ex._work.busy") is False, 10, "repaint still busy")
        harness.wait_until(lambda: harness.canvas_matches_frame(page, kc, PAINTING, "ex.frame", points, tolerance=0), 10, "canvas != ex.frame after the move")
        assert harness.canvas_pixels(page, PAINTING) != before
        # the user's net is untouched until commit
        assert harness.kernel_eval(kc, "float(net.fc1.bias[8].detach()) == float(ex.original_values[42])")
    except Exception:
        harness.screenshot_on_failure(page, tmp_path)
        raise


def test_dragging_a_rectangle_lists_synapses(nb, tmp_path):
    page, kc = nb
    try:
        canvas = page.locator(PAINTING).first
        canvas.scroll_into_view_if_needed()
        box = canvas.bounding_box()
        scale = box["width"] / harness.kernel_eval(kc, "ex.frame.shape[1]")
        x0, y0, x1, y1 = 20, 28, 44, 48  # the pixels covered, end exclusive
        # from the centre of the first pixel to the centre of the last one
        (ax, ay), (bx, by) = (x0 + 0.5, y0 + 0.5), (x1 - 0.5, y1 - 0.5)
        page.mouse.move(box["x"] + ax * scale, box["y"] + ay * scale)
        page.mouse.down()
        for i in range(1, 9):
            page.mouse.move(box["x"] + (ax + (bx - ax) * i / 8) * scale, box["y"] + (ay + (by - ay) * i / 8) * scale)
        page.mouse.up()
        harness.wait_until(lambda: harness.kernel_eval(kc, "ex.box") == (x0, y0, x1, y1), 15,
                           lambda: f"box in the kernel: {harness.kernel_eval(kc, 'ex.box')}")
        harness.wait_until(lambda: harness.kernel_eval(kc, "len(ex.ensemble)") == 24, 60, "no ensemble ranked")
        options = page.locator(f"{ROOT} .nnl-ensemble select option")
        harness.wait_until(lambda: options.count() == 24, 15, "ensemble list not shown")
        first = harness.kernel_eval(kc, "ex.ensemble[0]")
        text = options.first.inner_text().replace("\xa0", " ")  # ipywidgets writes non-breaking spaces
        assert text.startswith(f"#{first} ")
        info = page.locator(f"{ROOT} .nnl-ensemble-info").first.inner_text().replace("\xa0", " ")
        assert "rectangle x 20..43, y 28..47" in info
        assert harness.kernel_eval(kc, "ex.error") is None
        # picking a listed synapse selects it
        options.nth(1).click()
        second = harness.kernel_eval(kc, "ex.ensemble[1]")
        harness.wait_for_kernel_value(kc, "ex.synapse", second, timeout=10)
    except Exception:
        harness.screenshot_on_failure(page, tmp_path)
        raise

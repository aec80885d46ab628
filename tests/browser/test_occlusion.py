"""OcclusionExplorer in real JupyterLab + Chromium: map, colour bar, live patch, stop."""
from __future__ import annotations

import pytest

from tests.browser import harness

NB = "browser_notebooks/occlusion.ipynb"
ROOT = ".nnl-occlusion-explorer"
CANVAS = f"{ROOT} .nnl-occlusion-canvas canvas.nnl-canvas"


@pytest.fixture(scope="module")
def nb(browser, lab):
    with harness.notebook_page(browser, lab, NB) as (page, kc):
        yield page, kc


def test_map_and_its_colour_bar_appear(nb, tmp_path):
    page, kc = nb
    try:
        harness.wait_for_kernel_value(kc, "ex.heatmap is not None", True, timeout=60)
        harness.wait_for_kernel_value(kc, "ex.busy", False, timeout=30)
        # the canvas shows the final frame: pixels equal .frame, and the map tints the grey image
        h, w = harness.kernel_eval(kc, "ex.frame.shape[:2]")
        for x, y in [(w // 2, h // 2), (w // 4, h // 3), (w - 3, 2)]:
            harness.wait_until(
                lambda: harness.read_canvas_pixel(page, CANVAS, x, y)
                == harness.kernel_eval(kc, f"ex.frame[{y}, {x}].tolist()"),
                10, f"canvas pixel ({x}, {y}) never matched ex.frame",
            )
        tinted = harness.kernel_eval(kc, "int((ex.frame != nl.render.attribution_maps.grey_photo("
                                         "nl.render.image_rgba(x.numpy()))).any(-1).sum())")
        assert tinted > 20
        legend = page.locator(f"{ROOT} .nnl-legend").first
        label = harness.kernel_eval(kc, "ex.views['map'].title")
        assert "drop in P(" in legend.inner_text() and "drop in P(" in label
        top = harness.kernel_eval(kc, "nl.render.fmt(float(ex.heatmap.abs().max()))")
        assert top in legend.inner_text()
        # the picture is enlarged on screen, not resent bigger
        assert page.evaluate("s => document.querySelector(s).width", CANVAS) == w
    except Exception:
        harness.screenshot_on_failure(page, tmp_path)
        raise


def test_mouse_move_updates_the_probability_rows_and_the_input_view(nb, tmp_path):
    page, kc = nb
    try:
        canvas = page.locator(CANVAS).first
        canvas.scroll_into_view_if_needed()
        box = canvas.bounding_box()
        readout = page.locator(f"{ROOT} .nnl-probs").first
        assert "no patch" in readout.inner_text()
        page.mouse.move(box["x"] + box["width"] * 0.5, box["y"] + box["height"] * 0.5)
        harness.wait_until(lambda: "patch at" in readout.inner_text(), 10, "readout did not change")
        first = readout.inner_text()
        page.mouse.move(box["x"] + box["width"] * 0.2, box["y"] + box["height"] * 0.3)
        harness.wait_until(lambda: readout.inner_text() != first, 10, "second move not shown")
        y0, y1, x0, x1 = harness.kernel_eval(kc, "ex.patch")
        text = readout.inner_text()
        assert f"x {x0}.." in text and f"y {y0}.." in text
        names = harness.kernel_eval(kc, "[str(c) for c in nl.zoo.DIGIT_CLASSES]")
        assert sum(name in text for name in names) >= 5  # class names on the rows
        harness.wait_until(lambda: "input with the patch" in page.locator(f"{ROOT} .nnl-title").nth(1).inner_text(),
                           10, "input view did not show the patch")
        page.mouse.move(box["x"] + box["width"] + 50, box["y"])  # leave: back to the unoccluded image
        harness.wait_until(lambda: "no patch" in readout.inner_text(), 10, "leave not shown")
    except Exception:
        harness.screenshot_on_failure(page, tmp_path)
        raise


def test_stop_button_stops_a_long_map(nb, tmp_path):
    page, kc = nb
    try:
        harness.kernel_exec(kc, "slow.refresh()")
        harness.wait_for_kernel_value(kc, "slow.busy", True, timeout=10)
        stop = page.locator(ROOT).nth(1).locator("button", has_text="Stop")
        harness.wait_until(stop.is_visible, 20, "no Stop button while computing")
        stop.click()
        harness.wait_for_kernel_value(kc, "slow.busy", False, timeout=10)
        assert harness.kernel_eval(kc, "slow.heatmap is None")
        harness.wait_until(lambda: not stop.is_visible(), 10, "progress row still shown after stop")
    except Exception:
        harness.screenshot_on_failure(page, tmp_path)
        raise

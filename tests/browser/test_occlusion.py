"""OcclusionExplorer in real JupyterLab + Chromium: map, colour bar, live patch, stop."""
from __future__ import annotations

import re

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


def test_hover_rows_read_the_map_on_its_colour_bar_scale(nb, tmp_path):
    page, kc = nb
    try:
        harness.wait_for_kernel_value(kc, "ex.heatmap is not None", True, timeout=60)
        harness.wait_for_kernel_value(kc, "ex.busy", False, timeout=30)
        y, x = harness.kernel_eval(kc, "[int(v) for v in divmod(int(ex.heatmap.abs().argmax()), ex.heatmap.shape[1])]")
        h, w = harness.kernel_eval(kc, "ex.frame.shape[:2]")
        canvas = page.locator(CANVAS).first
        canvas.scroll_into_view_if_needed()
        box = canvas.bounding_box()
        page.mouse.move(box["x"] + (x + 0.5) * box["width"] / w, box["y"] + (y + 0.5) * box["height"] / h)
        value = page.locator(f"{ROOT} .nnl-occlusion-map-value").first
        harness.wait_until(lambda: value.count() > 0 and value.is_visible(), 10, "the readout shows no map value")
        text = page.locator(f"{ROOT} .nnl-occlusion-hover").first.inner_text()
        px, py = (int(v) for v in re.search(r"map at x (\d+), y (\d+)", text).groups())
        shown = float(value.get_attribute("data-value"))
        assert shown == pytest.approx(harness.kernel_eval(kc, f"float(ex.heatmap[{py}, {px}])"), abs=1e-6)
        top = harness.kernel_eval(kc, "float(ex.heatmap.abs().max())")  # the colour bar runs -top..top
        assert abs(shown) <= top + 1e-9 and abs(shown) >= 0.5 * top  # the hot spot, on the bar's scale
        name = harness.kernel_eval(kc, "str(nl.zoo.DIGIT_CLASSES[ex.target])")
        measure = f"mean drop in P({name}) over the windows covering the pixel"  # one name for both
        assert measure in text
        assert measure in page.locator(f"{ROOT} .nnl-legend").first.get_attribute("aria-label")
        window = float(page.locator(f"{ROOT} .nnl-occlusion-window-drop").first.get_attribute("data-value"))
        assert window == pytest.approx(harness.kernel_eval(kc, "ex.hover_values[1]"), abs=1e-6)
        page.mouse.move(box["x"] + box["width"] + 50, box["y"])
        harness.wait_until(lambda: "no patch" in page.locator(f"{ROOT} .nnl-probs").first.inner_text(), 10,
                           "leave not shown")
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

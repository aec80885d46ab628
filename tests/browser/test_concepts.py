"""ConceptExplorer in real JupyterLab + Chromium: rows choose a concept, images their heat maps; it fits."""
from __future__ import annotations

import pytest

from tests.browser import harness

NOTEBOOK = "browser_notebooks/concepts.ipynb"
ROOT = ".nnl-concept-explorer"
TOP = f"{ROOT} .nnl-concept-top canvas.nnl-canvas"
HEAT_BLUE = f"{ROOT} .nnl-concept-heat-2 canvas.nnl-canvas"


@pytest.fixture(scope="module")
def concepts(browser, lab):
    # 1280 px wide, as on a laptop: the widget has to fit and wrap, not squeeze or scroll sideways
    with harness.notebook_page(browser, lab, NOTEBOOK, width=1280, height=900, timeout=180) as (page, kc):
        assert harness.kernel_eval(kc, "explorer.wait(150)") is True
        yield page, kc


def corners(kc, expr):
    h, w = harness.kernel_eval(kc, f"{expr}.shape[:2]")
    return [(w // 8, h // 4), (w // 2, h // 2), (w - 5, h - 5)]


def test_the_widget_fits_at_1280_px_and_nothing_is_squeezed(concepts, tmp_path):
    page, kc = concepts
    try:
        harness.wait_until(lambda: page.locator(f"{ROOT} .nnl-concept-row-5 canvas.nnl-canvas").count() == 1, 30,
                           "concept rows never drawn")
        box = page.evaluate("s => { const e = document.querySelector(s); const r = e.getBoundingClientRect();"
                            " return [r.left, r.right, e.scrollWidth, e.clientWidth]; }", ROOT)
        left, right, scroll_width, client_width = box
        assert scroll_width <= client_width + 1, "the widget scrolls sideways"
        for j in range(6):  # every strip whole, inside the widget
            strip = page.locator(f"{ROOT} .nnl-concept-row-{j} canvas.nnl-canvas").bounding_box()
            assert strip["x"] >= left - 1 and strip["x"] + strip["width"] <= right + 1, (j, strip, box)
        labels = page.locator(f"{ROOT} .nnl-concept-label")
        for i in range(labels.count()):  # a label is a few lines, not one word per line
            assert labels.nth(i).bounding_box()["width"] >= 150
        for j in range(6):
            heat = page.locator(f"{ROOT} .nnl-concept-heat-{j} canvas.nnl-canvas").bounding_box()
            assert heat["x"] + heat["width"] <= right + 1
        titles = page.locator(f"{ROOT} .nnl-title").all_inner_texts()
        names = harness.kernel_eval(kc, "explorer.concepts")
        assert all(f"{name} axis" in titles for name in names), titles  # a name on every heat map
        legends = page.locator(f"{ROOT} .nnl-legend").count()
        assert legends >= len(names)  # a colour bar under each heat map
        bars = page.locator(f"{ROOT} .nnl-concept-scores svg text").all_text_contents()
        assert all(name in bars for name in names) and "axis score" in bars  # named bars on an axis
    except Exception:
        harness.screenshot_on_failure(page, tmp_path)
        raise


def test_choosing_a_concept_row_shows_its_top_images(concepts, tmp_path):
    page, kc = concepts
    try:
        harness.wait_until(lambda: harness.canvas_frame_id(page, TOP) is not None, 30, "top images never drawn")
        assert harness.kernel_eval(kc, "explorer.concept") == "red"
        before_id, before = harness.canvas_frame_id(page, TOP), harness.canvas_pixels(page, TOP)
        row = f"{ROOT} .nnl-concept-row-4 canvas.nnl-canvas"  # magenta
        x, y, w, h = harness.kernel_eval(kc, "explorer.rows['magenta'].tile_rect(1)")
        harness.click_canvas(page, kc, row, "explorer.rows['magenta'].frame", x + w / 2, y + h / 2)
        harness.wait_for_kernel_value(kc, "explorer.concept", "magenta", timeout=15)
        assert harness.kernel_eval(kc, "explorer.example == int(explorer.top_images('magenta')[1])")
        harness.wait_until(lambda: harness.canvas_frame_id(page, TOP) != before_id, 15, "top images not redrawn")
        assert harness.canvas_pixels(page, TOP) != before
        harness.wait_until(lambda: harness.canvas_matches_frame(page, kc, TOP, "explorer.top_frame",
                                                                corners(kc, "explorer.top_frame")), 10,
                           "top images shown are not the ones sent")
        # the shown images are the magenta axis's best: most of them show a magenta shape
        colors = harness.kernel_eval(
            kc, "[nl.zoo.shapes_data(n_train=0).test.attributes['color'][i] for i in explorer.top_images()]")
        assert colors.count("magenta") > len(colors) // 2, colors
        label = page.locator(f"{ROOT} .nnl-concept-label").nth(4).inner_text()
        assert "magenta" in label and "AUC" in label
    except Exception:
        harness.screenshot_on_failure(page, tmp_path)
        raise


def test_choosing_an_image_shows_the_per_axis_heat_maps(concepts, tmp_path):
    page, kc = concepts
    try:
        harness.kernel_exec(kc, "explorer.concept = 'blue'")
        harness.wait_until(lambda: harness.canvas_matches_frame(page, kc, TOP, "explorer.top_frame",
                                                                corners(kc, "explorer.top_frame")), 10,
                           "blue top images not shown")
        before_id, before = harness.canvas_frame_id(page, HEAT_BLUE), harness.canvas_pixels(page, HEAT_BLUE)
        target = harness.kernel_eval(kc, "int(explorer.top_images('blue')[2])")
        assert harness.kernel_eval(kc, "explorer.example") != target
        x, y, tw, th = harness.kernel_eval(kc, "explorer.views['top'].tile_rect(2)")
        harness.click_canvas(page, kc, TOP, "explorer.top_frame", x + tw / 2, y + th / 2)
        harness.wait_for_kernel_value(kc, "explorer.example", target, timeout=15)
        harness.wait_until(lambda: harness.canvas_frame_id(page, HEAT_BLUE) != before_id, 15, "heat map not redrawn")
        assert harness.canvas_pixels(page, HEAT_BLUE) != before
        harness.wait_until(lambda: harness.canvas_matches_frame(page, kc, HEAT_BLUE, "explorer.heat_frames['blue']",
                                                                corners(kc, "explorer.heat_frames['blue']")), 10,
                           "the blue axis's heat map shown is not the one sent")
        assert harness.kernel_eval(kc, "explorer.error") is None
    except Exception:
        harness.screenshot_on_failure(page, tmp_path)
        raise

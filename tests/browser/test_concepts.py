"""ConceptExplorer in real JupyterLab + Chromium: a concept row shows its top images, an image its heat maps."""
from __future__ import annotations

import pytest

from tests.browser import harness

NOTEBOOK = "browser_notebooks/concepts.ipynb"
ROOT = ".nnl-concept-explorer"
TOP = f"{ROOT} .nnl-concept-top canvas.nnl-canvas"
HEAT = f"{ROOT} .nnl-concept-heat canvas.nnl-canvas"


@pytest.fixture(scope="module")
def concepts(browser, lab):
    with harness.notebook_page(browser, lab, NOTEBOOK, width=1500, height=1100, timeout=180) as (page, kc):
        assert harness.kernel_eval(kc, "explorer.wait(150)") is True
        yield page, kc


def test_choosing_a_concept_row_shows_its_top_images(concepts, tmp_path):
    page, kc = concepts
    try:
        harness.wait_until(lambda: harness.canvas_frame_id(page, TOP) is not None, 30, "top images never drawn")
        assert harness.kernel_eval(kc, "explorer.concept") == "red"
        before_id, before = harness.canvas_frame_id(page, TOP), harness.canvas_pixels(page, TOP)
        row = f"{ROOT} .nnl-concept-row-4 canvas.nnl-canvas"  # magenta
        harness.click_canvas(page, kc, row, "explorer._row_canvases[4].frame", 10, 10)
        harness.wait_for_kernel_value(kc, "explorer.concept", "magenta", timeout=15)
        harness.wait_until(lambda: harness.canvas_frame_id(page, TOP) != before_id, 15, "top images not redrawn")
        assert harness.canvas_pixels(page, TOP) != before
        h, w = harness.kernel_eval(kc, "explorer.top_frame.shape[:2]")
        assert harness.canvas_matches_frame(page, kc, TOP, "explorer.top_frame",
                                            [(w // 8, h // 4), (w // 2, h // 2), (w - 5, h - 5)])
        # the shown images are the magenta axis's best: most of them show a magenta shape
        colors = harness.kernel_eval(
            kc, "[nl.zoo.shapes_data(n_train=0).test.attributes['color'][i] for i in explorer.top_images()]")
        assert colors.count("magenta") > len(colors) // 2, colors
        label = page.locator(f"{ROOT} .nnl-concept-rows .widget-html").nth(4).inner_text()
        assert "magenta" in label and "AUC" in label
    except Exception:
        harness.screenshot_on_failure(page, tmp_path)
        raise


def test_choosing_an_image_shows_the_per_axis_heat_maps(concepts, tmp_path):
    page, kc = concepts
    try:
        harness.wait_until(lambda: harness.canvas_frame_id(page, HEAT) is not None, 30, "heat maps never drawn")
        harness.kernel_exec(kc, "explorer.concept = 'blue'")
        harness.wait_until(lambda: harness.kernel_eval(kc, "explorer._chosen_title.value").count("blue") > 0, 10,
                           "blue not chosen")
        harness.wait_until(lambda: harness.canvas_frame_id(page, HEAT) == str(harness.kernel_eval(
            kc, "explorer._heat._frame_id")), 10, "the last heat maps sent are not shown")
        before_id, before = harness.canvas_frame_id(page, HEAT), harness.canvas_pixels(page, HEAT)
        target = harness.kernel_eval(kc, "int(explorer.top_images('blue')[2])")
        assert harness.kernel_eval(kc, "explorer.image") != target
        x, y, tw, th = harness.kernel_eval(kc, "explorer._chosen_grid.layout.rect(2)")
        harness.wait_until(lambda: harness.canvas_frame_id(page, TOP) == str(harness.kernel_eval(
            kc, "explorer._chosen._frame_id")), 10, "blue top images not shown")
        harness.click_canvas(page, kc, TOP, "explorer.top_frame", x + tw / 2, y + th / 2)
        harness.wait_for_kernel_value(kc, "explorer.image", target, timeout=15)
        harness.wait_until(lambda: harness.canvas_frame_id(page, HEAT) != before_id, 15, "heat maps not redrawn")
        assert harness.canvas_pixels(page, HEAT) != before
        h, w = harness.kernel_eval(kc, "explorer.frame.shape[:2]")
        tiles = harness.kernel_eval(kc, "len(explorer.concepts) + 1")
        # one tile per axis after the image: sample the middle of each
        points = [(int((i + 0.5) * w / tiles), h // 2) for i in range(tiles)]
        assert harness.canvas_matches_frame(page, kc, HEAT, "explorer.frame", points)
        assert harness.kernel_eval(kc, "explorer.error") is None
    except Exception:
        harness.screenshot_on_failure(page, tmp_path)
        raise

"""FeatureBrowser in real JupyterLab + Chromium: the page as sent, a click on an example, the feature list."""
from __future__ import annotations

import pytest

from tests.browser import harness

NOTEBOOK = "browser_notebooks/feature_browser.ipynb"
ROOT = ".nnl-feature-browser"
EXAMPLES = f"{ROOT} .nnl-examples-canvas canvas.nnl-canvas"
FIRES = f"{ROOT} .nnl-fires-canvas canvas.nnl-canvas"


@pytest.fixture(scope="module")
def fb(browser, lab):
    with harness.notebook_page(browser, lab, NOTEBOOK, timeout=180) as (page, kc):
        assert harness.kernel_eval(kc, "fb.wait(120) and fb.error is None") is True  # the data scan
        yield page, kc


def shows_frame(page, kc, selector, expr):
    h, w = harness.kernel_eval(kc, f"{expr}.shape[:2]")
    return harness.canvas_matches_frame(page, kc, selector, expr, [(w // 2, h // 2), (w // 3, h // 4), (w - 2, h - 2)])


def test_the_page_is_drawn_as_sent_and_a_click_picks_an_example(fb, tmp_path):
    page, kc = fb
    try:
        harness.wait_until(lambda: shows_frame(page, kc, EXAMPLES, "fb.frame"), 30, "examples not shown as sent")
        harness.wait_until(lambda: shows_frame(page, kc, FIRES, "fb.views['fires'].frame"), 30,
                           "the input panel not shown as sent")
        text = page.locator(ROOT).first.inner_text()
        for words in ("top 8 of 120 data images", "switched off", "mean P(class) over its top images",
                      "channels feature", "all features by how often they fire"):
            assert words in text, words
        assert page.locator(f"{ROOT} svg.nnl-density-histogram rect.nnl-bar").count() > 0
        before = harness.canvas_frame_id(page, FIRES)
        # the third top image, clicked in its tile's middle, becomes the input
        x, y = harness.kernel_eval(kc, "[v + 4 for v in fb.views['examples'].layout_.origin(2)][::-1]")
        harness.click_canvas(page, kc, EXAMPLES, "fb.frame", x, y)
        harness.wait_for_kernel_value(kc, "fb._chosen_rank", 2, timeout=15)
        assert harness.kernel_eval(kc, "fb.wait(30) and bool((fb.input == x[fb.top_examples()[2]]).all())")
        harness.wait_until(lambda: harness.canvas_frame_id(page, FIRES) != before, 15, "input panel not redrawn")
        harness.wait_until(lambda: shows_frame(page, kc, FIRES, "fb.views['fires'].frame"), 15, "stale input panel")
        assert "top image 3" in page.locator(f"{ROOT} .nnl-title", has_text="where feature").first.inner_text()
        assert harness.kernel_eval(kc, "nl.core.hook_count(model)") == 0
    except Exception:
        harness.screenshot_on_failure(page, tmp_path)
        raise


def test_the_feature_list_and_the_class_search_drive_the_page(fb, tmp_path):
    page, kc = fb
    try:
        listed = harness.kernel_eval(kc, "fb.listed()[:3]")
        before = harness.canvas_frame_id(page, EXAMPLES)
        page.locator(f"{ROOT} .nnl-feature-list select").first.select_option(value=None, index=2)
        harness.wait_for_kernel_value(kc, "fb.feature", listed[2], timeout=15)
        harness.wait_until(lambda: harness.canvas_frame_id(page, EXAMPLES) != before, 15, "page not redrawn")
        harness.wait_until(lambda: shows_frame(page, kc, EXAMPLES, "fb.frame"), 15, "examples not the new ones")
        assert f"feature {listed[2]} of 32" in page.locator(f"{ROOT} .nnl-feature-facts").first.inner_text()
        harness.kernel_exec(kc, "fb.order = 'number'")
        harness.wait_until(lambda: page.locator(f"{ROOT} .nnl-feature-list select option").first.inner_text()
                           .startswith("0:"), 15, "list not re-sorted")
        assert harness.kernel_eval(kc, "fb.wait(30) and fb.error is None") is True
    except Exception:
        harness.screenshot_on_failure(page, tmp_path)
        raise

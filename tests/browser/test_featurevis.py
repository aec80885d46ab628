"""FeatureVisualizer in real JupyterLab + Chromium: Run streams, Stop stops, cached channels show at once."""
from __future__ import annotations

import pytest

from tests.browser import harness

NOTEBOOK = "browser_notebooks/featurevis.ipynb"
ROOT = ".nnl-feature-visualizer"
VIS = f"{ROOT} .nnl-vis-canvas canvas.nnl-canvas"
EXAMPLES = f"{ROOT} .nnl-examples-canvas canvas.nnl-canvas"


@pytest.fixture(scope="module")
def vis(browser, lab):
    with harness.notebook_page(browser, lab, NOTEBOOK, timeout=120) as (page, kc):
        harness.kernel_eval(kc, "fv.wait(60)")  # the data scan
        yield page, kc


def shows_frame(page, kc, selector, expr):
    h, w = harness.kernel_eval(kc, f"{expr}.shape[:2]")
    return harness.canvas_matches_frame(page, kc, selector, expr, [(w // 2, h // 2), (w // 3, h // 4), (w - 2, h - 2)])


def test_run_streams_and_stop_stops(vis, tmp_path):
    page, kc = vis
    try:
        harness.wait_until(lambda: harness.canvas_frame_id(page, EXAMPLES) is not None, 30, "examples never drawn")
        first = harness.canvas_frame_id(page, VIS)
        before = harness.canvas_pixels(page, VIS)
        page.locator(f"{ROOT} .nnl-run").first.click()
        seen = {first}
        pictures = {before}

        def streamed():
            seen.add(harness.canvas_frame_id(page, VIS))
            pictures.add(harness.canvas_pixels(page, VIS))
            return len(seen) >= 4 and len(pictures) >= 3

        harness.wait_until(streamed, 30, lambda: f"canvas did not change over time: {len(seen)} frame ids")
        assert harness.kernel_eval(kc, "fv.running") is True
        page.locator(f"{ROOT} button", has_text="Stop").first.click()
        harness.wait_for_kernel_value(kc, "fv.running", False, timeout=15)
        assert harness.kernel_eval(kc, "fv.wait(10)") is True
        # the worker has ended: the canvas shows the last frame the kernel drew
        harness.wait_until(lambda: shows_frame(page, kc, VIS, "fv.frame"), 10, "last frame not shown")
        streamed_after_stop = harness.kernel_eval(kc, "fv.frames_streamed")
        assert harness.kernel_eval(kc, "fv.result() is None and fv.steps == 100000")
        assert harness.kernel_eval(kc, "fv.wait(1) and fv.frames_streamed") == streamed_after_stop
        assert harness.kernel_eval(kc, "nl.core.hook_count(model)") == 0
        assert harness.kernel_eval(kc, "all(p.grad is None for p in model.parameters())") is True
        # both sides state the same measures, as DOM text under each picture
        captions = page.locator(f"{ROOT} .nnl-caption").all_inner_texts()
        assert any("mean activation" in c and "peak activation" in c and "step" in c for c in captions), captions
        assert any("mean activation" in c and "peak activation" in c and "ranked by" in c for c in captions), captions
    except Exception:
        harness.screenshot_on_failure(page, tmp_path)
        raise


def test_slider_back_to_a_cached_channel_shows_it_without_a_run(vis, tmp_path):
    page, kc = vis
    try:
        harness.kernel_exec(kc, "fv.steps = 12; fv.channel = 0; fv.refresh(); fv.wait(60)")
        harness.kernel_exec(kc, "fv.channel = 1; fv.refresh(); fv.wait(60)")
        assert harness.kernel_eval(kc, "fv.result() is not None and fv.channel == 1")
        runs = harness.kernel_eval(kc, "fv.runs")
        harness.wait_until(lambda: shows_frame(page, kc, VIS, "fv.frame"), 10, "channel 1 image not shown")
        before_id, before = harness.canvas_frame_id(page, VIS), harness.canvas_pixels(page, VIS)
        harness.press_slider_key(page, f"{ROOT} .nnl-channel-slider", "ArrowLeft")
        harness.wait_for_kernel_value(kc, "fv.channel", 0)
        harness.wait_until(lambda: harness.canvas_frame_id(page, VIS) != before_id, 10, "cached channel not drawn")
        assert harness.kernel_eval(kc, "fv.runs") == runs  # no new optimisation
        assert harness.kernel_eval(kc, "fv.wait(0) and not fv.running") is True
        assert "cached" in harness.kernel_eval(kc, "fv.views['image'].caption.value")
        assert harness.canvas_pixels(page, VIS) != before
        harness.wait_until(lambda: shows_frame(page, kc, VIS, "fv.frame"), 10, "cached image not the one sent")
    except Exception:
        harness.screenshot_on_failure(page, tmp_path)
        raise

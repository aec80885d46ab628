"""SaliencyExplorer in real JupyterLab + Chromium: maps, colour bars, opacity slider,
method checkboxes and the trust report."""
from __future__ import annotations

import pytest

from tests.browser import harness

NB = "browser_notebooks/saliency.ipynb"
ROOT = ".nnl-saliency-explorer"
METHODS = ["gradient", "guided_backprop", "grad_cam", "integrated_gradients"]


def canvas(method):
    return f"{ROOT} .nnl-method-{method.replace('_', '-')} canvas.nnl-canvas"


@pytest.fixture(scope="module")
def nb(browser, lab):
    with harness.notebook_page(browser, lab, NB, width=1600, height=1100) as (page, kc):
        harness.wait_for_kernel_value(kc, "ex.busy", False, timeout=60)
        yield page, kc


def _matches_frame(page, kc, method, x, y):
    return harness.read_canvas_pixel(page, canvas(method), x, y) == harness.kernel_eval(
        kc, f"ex.frames[{method!r}][{y}, {x}].tolist()")


def test_every_map_is_on_the_page_with_its_colour_bar(nb, tmp_path):
    page, kc = nb
    try:
        assert harness.kernel_eval(kc, "sorted(ex.maps)") == sorted(METHODS)
        h, w = harness.kernel_eval(kc, "ex.frames['gradient'].shape[:2]")
        for method in METHODS:
            for x, y in [(w // 4, h // 2), (3 * w // 4, h // 3)]:
                harness.wait_until(lambda: _matches_frame(page, kc, method, x, y), 15,
                                   f"{method}: canvas pixel ({x}, {y}) never matched ex.frames")
            legend = page.locator(f"{ROOT} .nnl-method-{method.replace('_', '-')} .nnl-legend").first
            assert "saturates at the 99th percentile" in legend.inner_text()
        titles = page.locator(f"{ROOT} .nnl-saliency-map .nnl-title").all_inner_texts()
        assert "Integrated gradients" in titles and "Grad-CAM" in titles
    except Exception:
        harness.screenshot_on_failure(page, tmp_path)
        raise


def test_opacity_slider_changes_the_overlay_pixels(nb, tmp_path):
    page, kc = nb
    try:
        side = harness.kernel_eval(kc, "ex.input.shape[-1]")
        # an overlay pixel where the Grad-CAM map is strongest
        y, x = harness.kernel_eval(
            kc, "[int(v) for v in divmod(int(ex.maps['grad_cam'][0, 0].argmax()), ex.input.shape[-1])]")
        ox = x + side + 1
        before = harness.read_canvas_pixel(page, canvas("grad_cam"), ox, y)
        opacity = harness.kernel_eval(kc, "ex.opacity")
        for _ in range(6):
            harness.press_slider_key(page, f"{ROOT} .nnl-opacity-slider", "ArrowLeft")
        harness.wait_until(lambda: harness.kernel_eval(kc, "ex.opacity") < opacity - 0.2, 10,
                           "opacity did not reach the kernel")
        harness.wait_until(lambda: harness.read_canvas_pixel(page, canvas("grad_cam"), ox, y) != before, 10,
                           "overlay pixel did not change")
        harness.wait_until(lambda: _matches_frame(page, kc, "grad_cam", ox, y), 10, "canvas != ex.frames")
    except Exception:
        harness.screenshot_on_failure(page, tmp_path)
        raise


def test_a_method_ticked_in_the_page_is_computed_and_shown(nb, tmp_path):
    page, kc = nb
    try:
        box = page.locator(f"{ROOT} .widget-checkbox", has_text="Deconvnet").first
        box.locator("input").check()
        harness.wait_for_kernel_value(kc, "'deconvnet' in ex.methods", True, timeout=10)
        harness.wait_for_kernel_value(kc, "'deconvnet' in ex.maps", True, timeout=60)
        harness.wait_until(lambda: page.locator(canvas("deconvnet")).first.is_visible(), 10, "no deconvnet card")
        box.locator("input").uncheck()
        harness.wait_for_kernel_value(kc, "'deconvnet' in ex.methods", False, timeout=10)
        harness.wait_until(lambda: not page.locator(canvas("deconvnet")).first.is_visible(), 10,
                           "unticked card still shown")
    except Exception:
        harness.screenshot_on_failure(page, tmp_path)
        raise


def test_trust_report_appears_with_its_chart(nb, tmp_path):
    page, kc = nb
    try:
        assert page.locator(f"{ROOT} .nnl-trust-badge").count() == 0
        page.locator(f"{ROOT} .nnl-trust-button").first.click()
        harness.wait_for_kernel_value(kc, "'gradient' in ex.reports", True, timeout=120)
        badge = page.locator(f"{ROOT} .nnl-trust-badge").first
        harness.wait_until(lambda: badge.count() and "deletion AUC" in badge.inner_text(), 30, "no trust badge")
        auc = harness.kernel_eval(kc, "nl.render.fmt(ex.reports[next(iter(ex.reports))].deletion.auc)")
        assert f"deletion AUC {auc}" in badge.inner_text() and "lower is better" in badge.inner_text()
        harness.wait_for_kernel_value(kc, "ex.busy", False, timeout=120)
        chart = page.locator(f"{ROOT} svg.nnl-trust-curves").first
        harness.wait_until(chart.is_visible, 10, "no deletion/insertion chart")
        assert "fraction of pixels removed / inserted" in chart.text_content()
    except Exception:
        harness.screenshot_on_failure(page, tmp_path)
        raise

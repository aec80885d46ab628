"""SaliencyExplorer in real JupyterLab + Chromium: maps, opacity slider, trust badge."""
from __future__ import annotations

import pytest

from tests.browser import harness

NB = "browser_notebooks/saliency.ipynb"
ROOT = ".nnl-saliency-explorer"
METHODS = ["gradient", "guided_backprop", "grad_cam", "integrated_gradients"]


def canvas(method):
    return f"{ROOT} .nnl-method-{method} canvas.nnl-canvas"


@pytest.fixture(scope="module")
def nb(browser, lab):
    with harness.notebook_page(browser, lab, NB, width=1600, height=1100) as (page, kc):
        harness.wait_for_kernel_value(kc, "ex._work.busy", False, timeout=60)
        yield page, kc


def _matches_frame(page, kc, method, x, y):
    return harness.read_canvas_pixel(page, canvas(method), x, y) == harness.kernel_eval(
        kc, f"ex.frames[{method!r}][{y}, {x}].tolist()")


def test_maps_of_every_method_are_on_the_page(nb, tmp_path):
    page, kc = nb
    try:
        assert harness.kernel_eval(kc, "sorted(ex.maps)") == sorted(METHODS)
        h, w = harness.kernel_eval(kc, "ex.frames['gradient'].shape[:2]")
        for method in METHODS:
            for x, y in [(w // 4, h // 2), (3 * w // 4, h // 3)]:
                harness.wait_until(lambda: _matches_frame(page, kc, method, x, y), 15,
                                   f"{method}: canvas pixel ({x}, {y}) never matched ex.frames")
            # the heat pane is not blank
            assert harness.kernel_eval(kc, f"int((ex.frames[{method!r}][:, :{w // 2 - 2}, :3] != 255).any(-1).sum())") > 20
    except Exception:
        harness.screenshot_on_failure(page, tmp_path)
        raise


def test_opacity_slider_changes_the_overlay_pixels(nb, tmp_path):
    page, kc = nb
    try:
        h, w = harness.kernel_eval(kc, "ex.frames['grad_cam'].shape[:2]")
        # an overlay pixel where the Grad-CAM heat is strong
        y, x = harness.kernel_eval(
            kc, "[int(v) for v in divmod(int(ex.frames['grad_cam'][:, :%d, :3].astype(int).sum(-1).argmin()), %d)]"
            % (w // 2 - 2, w // 2 - 2))
        ox = x + (w + 4) // 2
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


def test_trust_badge_appears_after_its_run(nb, tmp_path):
    page, kc = nb
    try:
        badge = page.locator(f"{ROOT} .nnl-trust-badge").first
        assert badge.inner_text().strip() == ""
        page.locator(f"{ROOT} .nnl-trust-button").first.click()
        harness.wait_until(lambda: "deletion AUC" in badge.inner_text(), 60, "no trust badge")
        auc = harness.kernel_eval(kc, "round(ex.reports['gradient'].deletion.auc, 3)")
        assert f"{auc:.3f}" in badge.inner_text()
        harness.wait_for_kernel_value(kc, "ex._work.busy", False, timeout=60)
        curves = page.locator(f"{ROOT} .nnl-trust-curves canvas.nnl-canvas").first
        harness.wait_until(curves.is_visible, 10, "no deletion/insertion plot")
    except Exception:
        harness.screenshot_on_failure(page, tmp_path)
        raise

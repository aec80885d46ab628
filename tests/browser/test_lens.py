"""The Lens in real JupyterLab: a tile click redraws every panel of the unit.

The same click in the Voila app is tested in ``test_app.py``, on the app page loaded there.
"""
from __future__ import annotations

import pytest

from tests.browser import harness
from tests.browser.lens_panels import ROOT, UNIT_PICTURES, canvas, unit_panels, wait_until_all_changed

NB = "browser_notebooks/lens.ipynb"


@pytest.fixture(scope="module")
def nb(browser, lab):
    with harness.notebook_page(browser, lab, NB) as (page, kc):
        yield page, kc


def test_tile_click_redraws_every_panel_of_the_unit(nb, tmp_path):
    page, kc = nb
    try:
        assert harness.kernel_eval(kc, "lens.wait(120)", timeout=130)
        before = unit_panels(page)
        new = harness.kernel_eval(kc, "(lens.channel + 5) % lens.channels")
        x, y, w, h = harness.kernel_eval(kc, f"lens.views['channels'].tile_rect({new})")
        harness.click_canvas(page, kc, canvas("channels"), "lens.views['channels'].frame", x + w / 2, y + h / 2)
        harness.wait_for_kernel_value(kc, "lens.channel", new, timeout=10)
        assert harness.kernel_eval(kc, "lens.wait(120)", timeout=130)
        wait_until_all_changed(page, before, 30)
        assert f"channel {new}" in page.locator(f"{ROOT} .nnl-lens-ablation").first.inner_text()
        for name in UNIT_PICTURES:  # what the page shows is what the kernel drew
            view = name.replace("-", "_")
            h, w = harness.kernel_eval(kc, f"lens.views['{view}'].frame.shape[:2]")
            assert harness.canvas_matches_frame(page, kc, canvas(name), f"lens.views['{view}'].frame",
                                                [(0, 0), (w // 2, h // 2), (w - 1, h - 1)])
        assert harness.kernel_eval(kc, "lens.error") is None
    except Exception:
        harness.screenshot_on_failure(page, tmp_path)
        raise

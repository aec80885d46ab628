"""The Lens in real JupyterLab: a tile click redraws every panel of the unit; it opens on the predicted
class and draws dead tiles hatched.

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


def test_lens_opens_on_the_predicted_class_and_draws_dead_tiles_hatched(nb, tmp_path):
    page, kc = nb
    try:
        assert harness.kernel_eval(kc, "lens.wait(120)", timeout=130)
        predicted = harness.kernel_eval(kc, "int(lens.probabilities.argmax())")
        name = harness.kernel_eval(kc, f"str(data.classes[{predicted}])")
        assert harness.kernel_eval(kc, "lens.target") == predicted
        classes = page.locator(f"{ROOT} .nnl-lens-classes").first.locator("xpath=..").inner_text()
        assert f"(target: {name})" in classes
        harness.wait_until(lambda: f"why {name}" in page.locator(f"{ROOT} .nnl-lens-attribution").first
                           .locator("xpath=..").inner_text(), 30, "the attribution does not explain the prediction")
        dead = harness.kernel_eval(kc, "list(nl.core.constant_channels(model, lens.layer, x=lens.input).channels)")
        assert dead, "the notebook's input should leave some relu3 channels at 0"
        colours = {tuple(c) for c in harness.kernel_eval(kc, "nl.render.lut('viridis').tolist()")}
        for c in dead[:3]:  # every pixel of the tile as the browser drew it: none is a colour of the map
            x, y, w, h = harness.kernel_eval(kc, f"lens.views['channels'].tile_rect({c})")
            for dx in range(w):
                for dy in range(h):
                    pixel = tuple(harness.read_canvas_pixel(page, canvas("channels"), x + dx, y + dy))
                    assert pixel not in colours, f"dead channel {c} drawn in the colour map at ({dx}, {dy})"
        assert "hatched grey" in page.locator(f"{ROOT} .nnl-lens-channels").first.locator("xpath=..").inner_text()
        assert "constant for this input" in page.locator(".nnl-warnings").first.inner_text()
    except Exception:
        harness.screenshot_on_failure(page, tmp_path)
        raise

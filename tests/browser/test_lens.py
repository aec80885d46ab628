"""The Lens in real JupyterLab and in the Voila app: a tile click redraws every panel of the unit."""
from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

from tests.browser import harness

NB = "browser_notebooks/lens.ipynb"
ROOT = ".nnl-lens"
UNIT_PICTURES = ("activation", "unit-gradient", "feature-vis", "examples")


def canvas(name: str) -> str:
    return f"{ROOT} .nnl-lens-{name} canvas.nnl-canvas"


def unit_panels(page) -> dict:
    """What the page shows of the unit: each picture's pixels and the ablation chart's text."""
    shown = {name: harness.canvas_pixels(page, canvas(name)) for name in UNIT_PICTURES}
    shown["ablation"] = page.locator(f"{ROOT} .nnl-lens-ablation").first.inner_text()
    return shown


def wait_until_all_changed(page, before: dict, timeout: float) -> None:
    def all_changed() -> bool:
        now = unit_panels(page)
        return all(now[name] != before[name] for name in before)

    harness.wait_until(all_changed, timeout, "not every panel of the unit was redrawn after the click")


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


@pytest.fixture
def voila_app(tmp_path):
    """The Lens notebook served by Voila the way ``make app`` serves it (127.0.0.1, a token)."""
    port, token = harness.free_port(), secrets.token_hex(16)
    voila = Path(sys.executable).with_name("voila")
    log = open(tmp_path / "voila.log", "w")
    process = subprocess.Popen(
        [str(voila), str(harness.REPO_ROOT / "notebooks" / "01_lens.ipynb"), "--Voila.ip=127.0.0.1",
         f"--port={port}", "--Voila.port_retries=0", "--no-browser", f"--token={token}",
         "--strip_sources=True", "--show_tracebacks=False"],
        cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT, env=dict(os.environ))
    try:
        yield f"http://127.0.0.1:{port}/?token={token}"
    finally:
        process.terminate()
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


def test_voila_app_tile_click_redraws_every_panel_of_the_unit(browser, voila_app, tmp_path):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    try:
        harness.wait_until(lambda: _listening(voila_app), 60, "Voila did not start listening")
        page.goto(voila_app, timeout=300_000)  # Voila runs the notebook before it answers: once
        page.locator(canvas("feature-vis")).first.wait_for(state="visible", timeout=240_000)
        assert "nl.Lens(" not in page.locator("body").inner_text()  # the app hides the code
        import nnlens_widgets as nl  # the app's first Lens, as the notebook makes it: it opens on the prediction

        predicted = int(nl.core.class_probabilities(nl.zoo.digits_cnn(), nl.zoo.digits_data().x_test[0][None])
                        .argmax())
        assert f"(target: {nl.zoo.digits_data().classes[predicted]})" in page.locator(
            f"{ROOT} .nnl-lens-classes").first.locator("xpath=..").inner_text()
        harness.wait_until(lambda: "step 128 of 128" in page.locator(f"{ROOT} .nnl-lens-feature-vis").first
                           .locator("xpath=..").inner_text(), 120, "the first feature visualisation never finished")
        before = unit_panels(page)
        tiles = page.locator(canvas("channels")).first
        tiles.scroll_into_view_if_needed()
        box = tiles.bounding_box()
        page.mouse.click(box["x"] + box["width"] * 0.95, box["y"] + box["height"] * 0.05)  # a corner tile
        wait_until_all_changed(page, before, 180)
    except Exception:
        harness.screenshot_on_failure(page, tmp_path)
        raise
    finally:
        context.close()


def _listening(url: str) -> bool:
    import socket
    from urllib.parse import urlparse

    where = urlparse(url)
    try:
        with socket.create_connection((where.hostname, where.port), timeout=1):
            return True
    except OSError:  # not yet
        return False

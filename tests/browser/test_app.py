"""The Voila app as a teacher starts it (``tools/start-app``): it announces its URL once it answers,
asks nothing from outside the machine, logs no version warnings or errors, hides the code and the
cells tagged "hide-in-app", draws every panel at 1280 and 1000 px wide, and a tile click redraws
every panel of the unit.

Voila runs the whole notebook (two Lenses) on every page load, so the app is loaded once per width
and the page kept for the module's tests; the test that clicks runs last.
"""
from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass, field
from urllib.parse import urlparse

import pytest

import labharness as harness
from labharness.app import LENS_PANELS, AppServer, app_panels, wait_for_app
from tests.browser.lens_panels import ROOT, canvas, unit_panels, wait_until_all_changed

LOCAL_HOSTS = ("127.0.0.1", "localhost")
VERSION_WARNINGS = ("Unsatisfied version", "No satisfying version")
HEIGHT = 900


@dataclass
class AppPage:
    """The app loaded in a window ``width`` px wide, with what it asked for and logged while loading."""
    width: int
    page: object = None
    report: dict = field(default_factory=dict)
    blocked: list = field(default_factory=list)
    console: list = field(default_factory=list)


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    work_dir = tmp_path_factory.mktemp("voila_app")  # config, data, runtime folders and the log stay here
    with AppServer(work_dir=work_dir) as server:
        yield server


@pytest.fixture(scope="module")
def loaded(browser, app, tmp_path_factory):
    """``loaded(width)``: the app's page at that width, loaded on first use and kept open."""
    pages: dict[int, AppPage] = {}
    contexts = []

    def load(width: int) -> AppPage:
        if width not in pages:
            context = browser.new_context(viewport={"width": width, "height": HEIGHT})
            contexts.append(context)
            pages[width] = _load(context, app, width, tmp_path_factory.mktemp(f"app_shots_{width}"))
        return pages[width]

    try:
        yield load
    finally:
        for context in contexts:
            context.close()


def _load(context, app, width: int, shots) -> AppPage:
    """Open the app with every non-local request blocked and recorded; wait for both Lenses and
    every picture; save a picture of the whole page."""
    loaded = AppPage(width, page=context.new_page())
    page = loaded.page

    def route(route):
        if urlparse(route.request.url).hostname in LOCAL_HOSTS:
            route.continue_()
        else:
            loaded.blocked.append(route.request.url)
            route.abort()

    page.route("**/*", route)
    page.on("console", lambda msg: loaded.console.append((msg.type, msg.text)))
    page.on("pageerror", lambda err: loaded.console.append(("pageerror", str(err))))
    try:
        page.goto(app.url, timeout=300_000)  # Voila runs the whole notebook before the page is complete
        report = wait_for_app(page, lenses=2, timeout=300)
        # the whole page in one picture: the window as tall as the app's scroller, then back
        page.set_viewport_size({"width": width, "height": report["height"] + 40})
        page.screenshot(path=str(shots / f"app-light-{width}.png"))
        print(f"screenshot: {shots / f'app-light-{width}.png'}")
        loaded.report = app_panels(page)
        page.set_viewport_size({"width": width, "height": HEIGHT})
        return loaded
    except Exception:
        page.screenshot(path=str(shots / f"failure-{width}.png"))
        (shots / f"console-{width}.log").write_text("\n".join(f"[{t}] {m}" for t, m in loaded.console))
        raise


def _front_end_versions() -> str:
    from importlib.metadata import version

    return ", ".join(f"{name} {version(name)}" for name in ("voila", "jupyterlab_widgets", "ipywidgets"))


def test_the_url_is_printed_once_the_server_answers(app):
    assert app.url.startswith(f"http://127.0.0.1:{app.port}/?token={app.token}")
    assert app.answered_when_announced == 200  # asked the moment the URL appeared: no retry, no wait


@pytest.mark.parametrize("width", [1280, 1000])
def test_the_app_asks_nothing_outside_and_draws_every_panel(loaded, width):
    app_page = loaded(width)
    report, console = app_page.report, app_page.console
    assert app_page.blocked == []  # fonts and scripts all come from the app's own server
    warnings = [m for t, m in console if any(w in m for w in VERSION_WARNINGS)]
    assert warnings == [], f"{_front_end_versions()}: the app extra in pyproject.toml says which match"
    assert [(t, m) for t, m in console if t in ("error", "pageerror")] == []
    assert len(report["lenses"]) == 2
    for panels in report["lenses"]:
        assert all(panels[name]["displayed"] and panels[name]["drawn"] for name in LENS_PANELS), panels
    assert report["lenses"][1]["occlusion"]["drawn"]  # the shapes Lens computes its occlusion map
    assert report["pictures"] >= 2 * 7 + 1 and report["undrawn"] == 0  # the Lenses' pictures and the grid
    assert report["overflowX"] <= 0  # wraps rather than scrolling sideways


def test_code_and_hidden_cells_are_not_shown(loaded):
    text = loaded(1280).page.locator("#rendered_cells").inner_text()
    assert "The Lens: one model, every view of it linked" in text  # markdown is shown
    assert "nl.Lens(" not in text and "import nnlens_widgets" not in text  # code is not
    assert "vis_seed" not in text  # the state dict printed by the cell tagged hide-in-app
    assert "channel 12" in text  # ... which still ran: it picked channel 12


def test_a_tile_click_redraws_every_panel_of_the_unit(loaded, tmp_path):
    page = loaded(1280).page
    try:
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


def test_a_missing_notebook_is_named():
    env = dict(os.environ, APP_NOTEBOOK="notebooks/no_such.ipynb", APP_PYTHON=sys.executable)
    done = subprocess.run([str(harness.REPO_ROOT / "tools" / "start-app")], env=env, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 2
    assert "no notebook at notebooks/no_such.ipynb" in done.stderr and done.stdout == ""

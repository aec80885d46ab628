"""The Voila app as a teacher starts it (``tools/start-app``): it announces its URL once it answers,
asks nothing from outside the machine, logs no version warnings or errors, hides the code and the
cells tagged "hide-in-app", and draws every panel, at 1280 and 1000 px wide."""
from __future__ import annotations

import os
import subprocess
import sys
from urllib.parse import urlparse

import pytest

import labharness as harness
from labharness.app import LENS_PANELS, AppServer, app_panels, wait_for_app

LOCAL_HOSTS = ("127.0.0.1", "localhost")
VERSION_WARNINGS = ("Unsatisfied version", "No satisfying version")


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    work_dir = tmp_path_factory.mktemp("voila_app")  # config, data, runtime folders and the log stay here
    with AppServer(work_dir=work_dir) as server:
        yield server


def _load(browser, app, width: int, shots):
    """Open the app in a fresh window ``width`` px wide with every non-local request blocked and
    recorded; wait for both Lenses and every picture; return (page, report, blocked, console)."""
    context = browser.new_context(viewport={"width": width, "height": 900})
    page = context.new_page()
    blocked: list[str] = []
    console: list[tuple[str, str]] = []

    def route(route):
        if urlparse(route.request.url).hostname in LOCAL_HOSTS:
            route.continue_()
        else:
            blocked.append(route.request.url)
            route.abort()

    page.route("**/*", route)
    page.on("console", lambda msg: console.append((msg.type, msg.text)))
    page.on("pageerror", lambda err: console.append(("pageerror", str(err))))
    try:
        page.goto(app.url, timeout=300_000)  # Voila runs the whole notebook before the page is complete
        report = wait_for_app(page, lenses=2, timeout=300)
        # the whole page in one picture: the window as tall as the app's scroller
        page.set_viewport_size({"width": width, "height": report["height"] + 40})
        page.screenshot(path=str(shots / f"app-light-{width}.png"))
        print(f"screenshot: {shots / f'app-light-{width}.png'}")
        return page, app_panels(page), blocked, console
    except Exception:
        page.screenshot(path=str(shots / f"failure-{width}.png"))
        (shots / f"console-{width}.log").write_text("\n".join(f"[{t}] {m}" for t, m in console))
        raise
    finally:
        context.close()


def _front_end_versions() -> str:
    from importlib.metadata import version

    return ", ".join(f"{name} {version(name)}" for name in ("voila", "jupyterlab_widgets", "ipywidgets"))


def test_the_url_is_printed_once_the_server_answers(app):
    assert app.url.startswith(f"http://127.0.0.1:{app.port}/?token={app.token}")
    assert app.answered_when_announced == 200  # asked the moment the URL appeared: no retry, no wait


@pytest.mark.parametrize("width", [1280, 1000])
def test_the_app_asks_nothing_outside_and_draws_every_panel(browser, app, width, tmp_path_factory):
    shots = tmp_path_factory.mktemp(f"app_shots_{width}")
    _, report, blocked, console = _load(browser, app, width, shots)
    assert blocked == []  # fonts and scripts all come from the app's own server
    warnings = [m for t, m in console if any(w in m for w in VERSION_WARNINGS)]
    assert warnings == [], f"{_front_end_versions()}: the app extra in pyproject.toml says which match"
    assert [(t, m) for t, m in console if t in ("error", "pageerror")] == []
    assert len(report["lenses"]) == 2
    for panels in report["lenses"]:
        assert all(panels[name]["displayed"] and panels[name]["drawn"] for name in LENS_PANELS), panels
    assert report["lenses"][1]["occlusion"]["drawn"]  # the shapes Lens computes its occlusion map
    assert report["pictures"] >= 2 * 7 + 1 and report["undrawn"] == 0  # the Lenses' pictures and the grid
    assert report["overflowX"] <= 0  # wraps rather than scrolling sideways


def test_code_and_hidden_cells_are_not_shown(browser, app):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    try:
        page.goto(app.url, timeout=300_000)
        wait_for_app(page, lenses=2, timeout=300)
        text = page.locator("#rendered_cells").inner_text()
        assert "The Lens: one model, every view of it linked" in text  # markdown is shown
        assert "nl.Lens(" not in text and "import nnlens_widgets" not in text  # code is not
        assert "vis_seed" not in text  # the state dict printed by the cell tagged hide-in-app
        assert "channel 12" in text  # ... which still ran: it picked channel 12
    finally:
        context.close()


def test_a_missing_notebook_is_named():
    env = dict(os.environ, APP_NOTEBOOK="notebooks/no_such.ipynb", APP_PYTHON=sys.executable)
    done = subprocess.run([str(harness.REPO_ROOT / "tools" / "start-app")], env=env, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 2
    assert "no notebook at notebooks/no_such.ipynb" in done.stderr and done.stdout == ""

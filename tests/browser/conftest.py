"""Fixtures for real-browser tests: one JupyterLab and one Chromium per session.

Set ``NNLENS_SKIP_BROWSER=1`` to skip everything in this directory (e.g. on a
machine without Chromium).  Without it a missing Chromium is an error, not a
silent skip, so CI cannot pass by accident.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import labharness as harness
from tests.reporting import report_lines

BROWSER_DIR = Path(__file__).resolve().parent
SKIP_REASON = "browser tests disabled by NNLENS_SKIP_BROWSER=1"


def browser_tests_disabled() -> bool:
    return os.environ.get("NNLENS_SKIP_BROWSER") == "1"


def pytest_collection_modifyitems(config, items):
    """Mark every test under this directory as skipped when disabled."""
    if not browser_tests_disabled():
        return
    skip = pytest.mark.skip(reason=SKIP_REASON)
    for item in items:
        if BROWSER_DIR in Path(str(item.path)).resolve().parents:
            item.add_marker(skip)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Store each phase's report on the item (``item.rep_setup/rep_call/...``).

    The ``page`` fixture reads ``rep_call`` in its teardown to decide whether
    to save a failure screenshot.
    """
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)


@pytest.fixture(scope="session")
def browser():
    """Headless Chromium (system build) driven by Playwright's sync API."""
    if browser_tests_disabled():
        pytest.skip(SKIP_REASON)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = harness.launch_browser(playwright)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def page(browser, request, tmp_path):
    """A fresh 1400x1000 browser context and page.

    On test failure, saves ``failure.png`` and ``console.log`` (the page's
    console messages and uncaught errors) into the test's ``tmp_path``.
    """
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    console: list[str] = []
    page.on("console", lambda msg: console.append(f"[{msg.type}] {msg.text}"))
    page.on("pageerror", lambda err: console.append(f"[pageerror] {err}"))
    try:
        yield page
    finally:
        report = getattr(request.node, "rep_call", None)
        if report is not None and report.failed:
            try:
                page.screenshot(path=str(tmp_path / "failure.png"), full_page=True)
            except Exception as exc:  # a crashed page must not hide the real failure
                console.append(f"[harness] screenshot failed: {exc}")
            (tmp_path / "console.log").write_text("".join(line + "\n" for line in console))
            print(f"browser failure artifacts in {tmp_path}")
        context.close()


@pytest.fixture(scope="session")
def lab(tmp_path_factory):
    """One JupyterLab server per session, rooted at a copy of the notebooks, in the light theme.

    Every test that needs JupyterLab shares it; a test that changes the server's settings from a
    page (the legibility test switches to the dark theme) writes them back when it is done.
    """
    if browser_tests_disabled():
        pytest.skip(SKIP_REASON)
    root = harness.lab_root(tmp_path_factory)
    # The server's log/runtime/config dir stays under pytest's basetemp.
    work_dir = tmp_path_factory.mktemp("lab_server")
    with harness.LabServer(root, user_settings=harness.themed_settings("light"), work_dir=work_dir) as server:
        yield server


@pytest.fixture(scope="session")
def legibility_run(browser, lab, tmp_path_factory, request):
    """Every notebook run once in the session's Lab, measured for legibility and its static pictures
    (``test_legibility``, ``test_static_pictures``)."""
    from tests.browser.test_legibility import LegibilityRun

    artifacts = Path(os.environ.get("NNLENS_ARTIFACTS") or tmp_path_factory.mktemp("legibility"))
    artifacts.mkdir(parents=True, exist_ok=True)
    run = LegibilityRun(browser, lab, artifacts)
    try:
        yield run
    finally:
        report_lines(request.config, run.summary() + [f"  findings: {run.save_json()}"])

"""Self-test of the browser harness: Lab, Chromium, widgets and kernel access."""

from __future__ import annotations

import pytest

from tests.browser import harness

SLIDER = ".probe-slider"


@pytest.fixture
def probe_notebook(lab):
    """A notebook with an IntSlider (class ``probe-slider``) and ``x = 42``."""
    relpath = "harness_selftest/probe.ipynb"
    harness.write_notebook(
        lab.root_dir / relpath,
        [
            'import ipywidgets as w; s = w.IntSlider(value=3, max=10); s.add_class("probe-slider"); s',
            "x = 41 + 1",
        ],
    )
    yield relpath
    lab.shutdown_session(relpath)


def test_slider_renders_and_keyboard_reaches_kernel(page, lab, probe_notebook):
    harness.open_notebook(page, lab, probe_notebook)
    report = harness.run_all_cells(page, timeout=120)
    assert [c["executionCount"] for c in report["cells"]] == [1, 2]

    slider = page.locator(SLIDER)
    slider.wait_for(state="visible", timeout=30_000)

    with lab.kernel_client(probe_notebook) as kc:
        assert harness.kernel_eval(kc, "x") == 42
        assert harness.kernel_eval(kc, "[s.value, s.max]") == [3, 10]

        # browser -> kernel: a key press on the noUiSlider handle
        harness.press_slider_key(page, SLIDER, "ArrowRight")
        assert harness.wait_for_kernel_value(kc, "s.value", 4) == 4

        # kernel -> browser: a value set in Python shows in the readout
        harness.kernel_exec(kc, "s.value = 7")
        readout = page.locator(f"{SLIDER} .widget-readout")
        page.wait_for_function(
            "(el) => el.textContent.trim() === '7'", arg=readout.element_handle(), timeout=10_000
        )


def test_kernel_eval_reports_errors(page, lab, probe_notebook):
    harness.open_notebook(page, lab, probe_notebook)
    with lab.kernel_client(probe_notebook) as kc:
        with pytest.raises(harness.KernelError, match="NameError"):
            harness.kernel_eval(kc, "undefined_name")
        with pytest.raises(harness.KernelError, match="ZeroDivisionError"):
            harness.kernel_exec(kc, "1/0")


def test_run_all_cells_reports_cell_error(page, lab):
    relpath = "harness_selftest/failing.ipynb"
    harness.write_notebook(lab.root_dir / relpath, ["y = 1", "1/0", "z = 3"])
    try:
        harness.open_notebook(page, lab, relpath)
        with pytest.raises(harness.NotebookCellError, match="ZeroDivisionError") as info:
            harness.run_all_cells(page, timeout=120, relpath=relpath)
        assert "cell 1" in str(info.value)
        # notebook_url's reset: notebooks opened by earlier tests are not restored
        labels = page.evaluate("Array.from(jupyterapp.shell.widgets('main')).map(w => w.title.label)")
        assert labels == ["failing.ipynb"]
    finally:
        lab.shutdown_session(relpath)


def test_read_canvas_pixel(page):
    page.set_content(
        "<canvas id='c' width='8' height='8'></canvas><script>"
        "const ctx = document.getElementById('c').getContext('2d');"
        "ctx.fillStyle = 'rgb(10, 20, 30)'; ctx.fillRect(0, 0, 8, 8);"
        "ctx.fillStyle = 'rgb(200, 100, 50)'; ctx.fillRect(4, 4, 1, 1);</script>"
    )
    assert harness.read_canvas_pixel(page, "#c", 0, 0) == [10, 20, 30, 255]
    assert harness.read_canvas_pixel(page, "#c", 4, 4) == [200, 100, 50, 255]


def test_chromium_path_env_override(monkeypatch):
    monkeypatch.setenv("CHROMIUM", "/opt/custom/chrome")
    assert harness.chromium_path() == "/opt/custom/chrome"


def test_chromium_path_missing(monkeypatch):
    monkeypatch.delenv("CHROMIUM", raising=False)
    monkeypatch.setattr(harness.shutil, "which", lambda name: None)
    with pytest.raises(RuntimeError, match="apt-get install -y chromium"):
        harness.chromium_path()

"""Every widget of every notebook stays legible where people use it.

For each notebook in ``notebooks/``, in JupyterLab's light and dark themes,
with the file browser open, at 1280x900 and 1000x900 windows: nothing hidden
sideways, no cut text, text contrast of at least 4.5:1, a colour bar beside
every colour-mapped picture (see ``labharness.legibility``).  One test per
(theme, notebook, width, check) so the owners of a widget see exactly which
condition fails.  Each notebook runs once, in the session's Lab server: it
opens in the light theme and is measured at both widths, then the page
switches to the dark theme the way a reader does (Settings > Theme) and is
measured again.  Widget colours come only from the theme's CSS variables (no
picture is drawn for a theme), so after the switch the page shows what a page
opened in the dark theme shows; the window is resized for the second width.
Before that, in the light theme at 1280 px, the same page serves
``test_static_pictures`` (each widget's PNG against its live view).

Screenshots of every widget go to ``$NNLENS_ARTIFACTS`` (or a folder under
pytest's tmp dir), ``<theme>-<width>/<notebook>-<index>-<Widget>.png``, with
``<notebook>-window.png`` showing the whole window; the folder is printed.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest

import labharness as lh
from labharness import legibility
from tests.browser import test_static_pictures
from tests.notebooks import export_check

NOTEBOOKS = sorted(p.name for p in (lh.REPO_ROOT / "notebooks").glob("*.ipynb"))
THEMES = ("light", "dark")
WIDTHS = (1280, 1000)
HEIGHT = 900
CASES = [(theme, nb, width, check) for theme in THEMES for nb in NOTEBOOKS
         for width in WIDTHS for check in legibility.CHECKS]


class LegibilityRun:
    """Runs each notebook once, on first use, and keeps its measurements in both themes.

    The session's Lab server opens every page in the light theme; the switch
    to dark that JupyterLab saves in the server's settings is put back after
    each notebook, and its kernel is shut down once it has been measured, so
    memory stays bounded and later tests find the server as it was.
    """

    def __init__(self, browser, lab: lh.LabServer, artifacts: Path):
        self.browser = browser
        self.lab = lab
        self.artifacts = artifacts
        self.results: dict[tuple[str, str], dict[int, legibility.Measurement] | Exception] = {}
        self.static_pictures: dict[str, dict | Exception] = {}

    def measurements(self, theme: str, notebook: str) -> dict[int, legibility.Measurement]:
        """The measurements at every width; a failure to run the notebook fails all its tests alike."""
        if (theme, notebook) not in self.results:
            self._measure(notebook)
        result = self.results[(theme, notebook)]
        if isinstance(result, Exception):
            raise AssertionError(f"{notebook} could not be measured in the {theme} theme: {result}") from result
        return result

    def _measure(self, notebook: str) -> None:
        """Measure ``notebook`` in every theme, keeping a theme's error in place of its measurements."""
        relpath = f"notebooks/{notebook}"
        context = self.browser.new_context(viewport={"width": WIDTHS[0], "height": HEIGHT})
        theme = THEMES[0]
        try:
            page = context.new_page()
            lh.open_notebook(page, self.lab, relpath)
            lh.run_all_cells(page, timeout=900, relpath=relpath)
            legibility.wait_for_widget_work(page, relpath)
            export_check.keep(notebook, lambda: lh.notebook_content(page, relpath))  # for test_export.py
            lh.show_file_browser(page, relpath)
            self.static_pictures[notebook] = test_static_pictures.compare_on_page(
                page, self.lab, relpath, self.artifacts / "static" / Path(notebook).stem)
            for theme in THEMES:
                if theme != THEMES[0]:
                    lh.set_theme(page, theme)
                self.results[(theme, notebook)] = {
                    width: self._measure_at(page, relpath, notebook, theme, width) for width in WIDTHS}
        except Exception as exc:  # noqa: BLE001 - kept and re-raised by each test of this theme and notebook
            for rest in THEMES[THEMES.index(theme):]:
                self.results[(rest, notebook)] = exc
        finally:
            context.close()
            self.lab.shutdown_session(relpath)
            self.lab.write_user_settings()  # the light theme again for the next page

    def _measure_at(self, page, relpath: str, notebook: str, theme: str, width: int) -> legibility.Measurement:
        layout = lh.set_window(page, relpath, width, HEIGHT)
        expected = lh.THEMES[theme]
        assert layout["theme"] == expected, f"{notebook}: Lab shows theme {layout['theme']!r}, not {expected!r}"
        assert layout["fileBrowserWidth"] > 0, f"{notebook}: the file browser is not open: {layout}"
        lh.wait_until_quiet(page)
        result = legibility.measure_widgets(page, relpath, notebook, theme)
        folder = self.artifacts / f"{theme}-{width}"
        stem = Path(notebook).stem
        for widget in result.widgets:
            widget.screenshot = lh.screenshot_widget(
                page, legibility.widget_selector(widget.index), folder / f"{stem}-{widget.index:02d}-{widget.name}.png")
        if result.widgets:
            page.evaluate("s => document.querySelector(s).scrollIntoView()", legibility.widget_selector(0))
        page.screenshot(path=str(folder / f"{stem}-window.png"))
        return result

    def summary(self) -> list[str]:
        """Per check: elements checked and findings over every measurement made; and where the files are."""
        done = [m for r in self.results.values() if isinstance(r, dict) for m in r.values()]
        lines = [f"legibility: {len(done)} notebook views measured, screenshots in {self.artifacts}"]
        for check in legibility.CHECKS:
            checked = sum(m.checked(check) for m in done)
            found = sum(len(m.findings(check)) for m in done)
            lines.append(f"  {check:9s} {checked:7d} checked, {found:4d} findings ({legibility.CHECK_TITLES[check]})")
        return lines

    def save_json(self) -> Path:
        """All findings as JSON next to the screenshots, for owners who want to sort them."""
        out = {}
        for (theme, notebook), result in self.results.items():
            key = f"{theme}/{notebook}"
            if isinstance(result, Exception):
                out[key] = {"error": str(result)}
                continue
            out[key] = {str(width): {"layout": m.layout, "widgets": [
                {"title": w.title(), "width": w.width, "checks": w.checks,
                 "screenshot": str(w.screenshot) if w.screenshot else None} for w in m.widgets]}
                for width, m in result.items()}
        path = self.artifacts / "legibility.json"
        path.write_text(json.dumps(out, indent=1))
        return path


@pytest.mark.parametrize("theme,notebook,width,check", CASES,
                         ids=[f"{t}-{Path(n).stem}-{w}-{c}" for t, n, w, c in CASES])
def test_widgets_are_legible(legibility_run, theme, notebook, width, check):
    measurement = legibility_run.measurements(theme, notebook)[width]
    assert measurement.widgets, f"no .nnl-widget found in {measurement.where()}"
    assert measurement.checked(check) > 0 or check == "legends", (
        f"the {check} check found nothing to check in {measurement.where()}")
    assert not measurement.findings(check), measurement.failure_message(check)

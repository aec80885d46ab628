"""Driving JupyterLab in a browser page: open a notebook, run its cells, handle dialogs.

Everything goes through JupyterLab's own application object
(``window.jupyterapp``, exposed by the server flag) and its commands rather
than through clicks on menus, so tests do not break when the menus move.
"""
from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Any, Iterator

from .kernel import strip_ansi
from .scripts import script
from .server import LabServer
from .waiting import wait_until

_NOTEBOOK_STATE = script("notebook_state", uses=["findPanel"])
_ACTIVATE_PANEL = script("activate_panel", uses=["findPanel"])
_START_RUN_ALL = script("start_run_all", uses=["findPanel"])
_CELL_REPORT = script("cell_report", uses=["findPanel"])
_NOTEBOOK_CONTENT = script("notebook_content", uses=["findPanel"])


class NotebookCellError(AssertionError):
    """A notebook cell raised (or printed a traceback) while running all cells."""


def _relpath(relpath: str | os.PathLike | None) -> str | None:
    return None if relpath is None else Path(relpath).as_posix()


def notebook_state(page: Any, relpath: str | os.PathLike) -> dict:
    """Snapshot of the notebook panel: found?, context/session ready, kernel status, dialog text."""
    return page.evaluate(_NOTEBOOK_STATE, _relpath(relpath))


def dismiss_dialog(page: Any) -> bool:
    """Accept an open JupyterLab dialog (e.g. "Select Kernel"); True if one was open."""
    button = page.locator(".jp-Dialog .jp-Dialog-button.jp-mod-accept")
    if button.count():
        button.first.click()
        return True
    return False


def open_notebook(page: Any, lab: LabServer, relpath: str | os.PathLike, timeout: float = 90) -> None:
    """Open ``relpath`` in JupyterLab and wait until its kernel is connected and idle.

    Any dialog that shows while loading (kernel selection) is accepted, which
    picks the notebook's preferred kernel.
    """
    path = _relpath(relpath)
    page.goto(lab.notebook_url(path), wait_until="domcontentloaded", timeout=timeout * 1000)
    last: dict = {}

    def ready() -> bool:
        nonlocal last
        last = notebook_state(page, path)
        if last.get("dialog"):
            dismiss_dialog(page)
            return False
        return bool(
            last.get("panel")
            and last.get("contextReady")
            and last.get("sessionReady")
            and last.get("kernel") == "idle"
            and last.get("connection") == "connected"
        )

    wait_until(
        ready,
        timeout,
        lambda: f"notebook {path!r} not ready, last state {last}\n--- server log tail ---\n{lab.log_text(4000)}",
        interval=0.1,
    )
    page.evaluate(_ACTIVATE_PANEL, path)


def cell_report(page: Any, relpath: str | os.PathLike | None = None) -> dict:
    """Per code cell: index, execution count, source head and error texts (tracebacks)."""
    return page.evaluate(_CELL_REPORT, _relpath(relpath))


def notebook_content(page: Any, relpath: str | os.PathLike | None = None) -> dict:
    """The open notebook as JupyterLab would save it now: nbformat JSON with the cells' outputs."""
    return page.evaluate(_NOTEBOOK_CONTENT, _relpath(relpath))


def _format_cell_errors(report: dict) -> str:
    parts = []
    for cell in report["cells"]:
        for err in cell["errors"]:
            parts.append(f"--- cell {cell['index']} ---\n{cell['source']}\n>>>\n{strip_ansi(err)}")
    return "\n".join(parts)


def run_all_cells(page: Any, timeout: float = 300, relpath: str | os.PathLike | None = None) -> dict:
    """Run every cell of an open notebook; wait for the kernel to finish.

    ``relpath`` picks the notebook; by default the current one (the one
    :func:`open_notebook` just opened and activated).

    Uses the ``notebook:run-all-cells`` command, whose promise resolves when
    every cell's execute reply has arrived.  Then requires every code cell to
    have an execution count and the kernel to be idle.  Raises
    :class:`NotebookCellError` with the (ANSI-stripped) traceback text of every
    failing cell.  Returns the :func:`cell_report`.
    """
    path = _relpath(relpath)
    page.evaluate(_START_RUN_ALL, path)
    page.wait_for_function("() => window.__nnlensRunAll.done", timeout=timeout * 1000, polling=100)
    outcome = page.evaluate("() => window.__nnlensRunAll")
    report: dict = {}

    def settled() -> bool:
        nonlocal report
        report = cell_report(page, path)
        if any(cell["errors"] for cell in report["cells"]):
            return True  # after a failure later cells are aborted: no counts to wait for
        counted = all(cell["executionCount"] is not None for cell in report["cells"])
        return counted and report["kernel"] == "idle"

    wait_until(settled, timeout, lambda: f"cells did not finish: {report}", interval=0.1)
    name = path or "current notebook"
    errors = _format_cell_errors(report)
    if errors:
        raise NotebookCellError(f"cell error(s) in {name}:\n{errors}")
    if outcome.get("error") or outcome.get("ok") is False:
        raise NotebookCellError(f"run-all-cells failed for {name}: {outcome}; cells: {report['cells']}")
    return report


@contextlib.contextmanager
def notebook_page(browser: Any, lab: LabServer, relpath: str, width: int = 1400, height: int = 1000,
                  timeout: float = 300) -> Iterator[tuple]:
    """A fresh browser page with ``relpath`` open and all its cells run, and a client of its kernel.

    Yields ``(page, kernel_client)``; the page's browser context is closed afterwards.
    """
    context = browser.new_context(viewport={"width": width, "height": height})
    try:
        page = context.new_page()
        open_notebook(page, lab, relpath)
        run_all_cells(page, timeout=timeout, relpath=relpath)
        with lab.kernel_client(relpath) as kc:
            yield page, kc
    finally:
        context.close()


def screenshot_on_failure(page: Any, tmp_path: Path) -> None:
    """Save the whole page as ``failure.png`` in the test's tmp dir and say where."""
    page.screenshot(path=str(tmp_path / "failure.png"), full_page=True)
    print(f"screenshot: {tmp_path / 'failure.png'}")


def press_slider_key(page: Any, selector: str, key: str) -> None:
    """Press ``key`` on an ipywidgets 8 slider, the way a keyboard user would.

    ``selector`` selects the slider widget (e.g. ``.probe-slider``, a class
    added with ``add_class``).  ipywidgets 8 renders sliders with noUiSlider;
    the key handler sits on the handle ``.noUi-handle`` (``tabindex=0``,
    ``role=slider``), so the handle must have focus.  Verified in Chromium
    with JupyterLab 4.6 / ipywidgets 8.1:

    * handle focused + ArrowRight/ArrowUp: +1 ``step``; ArrowLeft/ArrowDown: -1;
      PageUp/PageDown: 5 steps; Home/End: ``min``/``max``.  The value reaches
      the kernel with and without ``continuous_update``.
    * ``page.keyboard.press`` with nothing focused, or a key pressed on the
      widget's container (``.widget-slider``), does nothing.
    * Clicking the handle also focuses it (later ``page.keyboard`` presses
      work) but the click itself does not change the value.
    """
    handle = page.locator(f"{selector} .noUi-handle").first
    handle.focus()
    handle.press(key)

"""The reader's window: its size, its theme, the file browser, and waiting for the page to settle.

Legibility depends on the room a widget gets, so checks set the window size
the way a reader's window would be (viewport size, file browser open) and
read back what JupyterLab actually laid out before measuring anything.
"""
from __future__ import annotations

import os
from typing import Any

from .scripts import script

_LAB_LAYOUT = script("labLayout", uses=["findPanel"])
_SHOW_FILE_BROWSER = script("show_file_browser", uses=["findPanel"])
_WAIT_QUIET = script("wait_quiet")
_SET_THEME = script("set_theme")

NOTEBOOK_AREA = ".jp-NotebookPanel"
"""Selector of the part of the page that widgets change."""


def wait_until_quiet(page: Any, selector: str = NOTEBOOK_AREA, quiet_ms: int = 500,
                     timeout: float = 30) -> bool:
    """Wait until nothing in ``selector`` has changed for ``quiet_ms``; False if it kept changing.

    Pictures arrive, decode and lay out asynchronously after the kernel is
    done; a change-free window is the condition that they have all landed.
    """
    return page.evaluate(_WAIT_QUIET, {"selector": selector, "quietMs": quiet_ms, "timeoutMs": timeout * 1000})


def lab_layout(page: Any, relpath: str | os.PathLike) -> dict:
    """Viewport, theme name, file-browser width and notebook/output widths of notebook ``relpath``."""
    return page.evaluate(_LAB_LAYOUT, str(relpath))


def show_file_browser(page: Any, relpath: str | os.PathLike) -> dict:
    """Open the file browser in the left sidebar, keep ``relpath`` in front; return :func:`lab_layout`."""
    page.evaluate(_SHOW_FILE_BROWSER, str(relpath))
    wait_until_quiet(page, "body")
    return lab_layout(page, relpath)


def set_window(page: Any, relpath: str | os.PathLike, width: int, height: int) -> dict:
    """Resize the browser window to ``width`` x ``height`` and wait for the layout; return :func:`lab_layout`.

    Resizing rather than reopening keeps the notebook's outputs, so each
    notebook runs once for all widths.
    """
    page.set_viewport_size({"width": width, "height": height})
    page.wait_for_function("([w, h]) => innerWidth === w && innerHeight === h", arg=[width, height])
    wait_until_quiet(page, "body")
    return lab_layout(page, relpath)


def set_theme(page: Any, theme: str, timeout: float = 60) -> str:
    """Switch the open JupyterLab page to ``theme`` ("light"/"dark" or a full theme name), the way a
    reader does from the Settings menu, and wait until it is shown and the page has settled.

    JupyterLab saves the choice in the server's user settings, so pages opened later on the same
    server start in it too. Widget colours come from the theme's CSS variables, so what a widget
    shows after the switch is what it shows in a page opened in that theme. Returns the theme's name.
    """
    from .server import THEMES

    name = page.evaluate(_SET_THEME, {"theme": THEMES.get(theme, theme), "timeoutMs": timeout * 1000})
    wait_until_quiet(page, "body")
    return name

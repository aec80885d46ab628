"""Measurements that keep widgets legible: fit, whole labels, text contrast, colour legends.

A widget is only usable if a reader can see all of it: nothing scrolled or
clipped sideways, no label cut to an ellipsis, text readable against its
background in light and dark themes, and every colour-mapped picture
explained by a colour bar.  The checks run in the page (``js/check*.js``)
on every top-level ``.nnl-widget`` of a notebook and report each problem
with the element, its view and the measured values, so the widget's owner
can find it.

- ``fit``: no element hides content sideways (scrollWidth > clientWidth
  where overflow clips or scrolls), nothing sticks out past the cell's
  output area, the widget is no wider than that area.
- ``labels``: no text cut by its own box (ellipsis) or a clipping
  ancestor; dropdown and text-box values fit; chart text inside its <svg>.
- ``contrast``: every visible text node has a WCAG 2 contrast of at least
  :data:`MIN_CONTRAST` against what is painted under it.
- ``legends``: every canvas sits in a ``.nnl-picture`` with a visible
  ``.nnl-legend``, unless it (or its view) is marked ``.nnl-plain-rgb``
  because it shows plain RGB pixels (an input photo, RGB filters).
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .kernel import KernelError, strip_ansi
from .scripts import script

CHECKS = ("fit", "labels", "contrast", "legends")
CHECK_TITLES = {
    "fit": "content hidden sideways",
    "labels": "cut text",
    "contrast": "text contrast too low",
    "legends": "colour-mapped picture without a colour bar",
}
MIN_CONTRAST = 4.5
"""WCAG 2 AA for normal text; applied to all text, so every size is covered."""

PLAIN_RGB_CLASS = "nnl-plain-rgb"
"""The class a picture view (or its canvas) carries when it shows plain RGB pixels, no colour map."""

CHECK_HELPERS = ["notebookScroller", "describeElement", "ownText", "colour",
                  "checkFit", "checkLabels", "checkContrast", "checkLegends", "runChecks"]
_MEASURE = script("measure_widgets", uses=["findPanel", "labLayout", *CHECK_HELPERS])
_CHECK_ELEMENT = script("check_element", uses=CHECK_HELPERS)
_EXECUTE = script("execute_in_page", uses=["findPanel"])

_WAIT_FOR_WIDGETS = """
def _labharness_wait(timeout):
    import gc
    from nnlens_widgets.widgets.base import LensWidget
    busy = sorted({type(w).__name__ for w in gc.get_objects()
                   if LensWidget in type(w).__mro__ and not w.wait(timeout)})
    if busy:
        raise TimeoutError(f"still working after {timeout} s: {', '.join(busy)}")
try:
    _labharness_wait(%r)
finally:
    del _labharness_wait
"""


def wait_for_widget_work(page: Any, relpath: str | os.PathLike, timeout: float = 300) -> None:
    """Wait until every nnlens widget in the notebook's kernel has finished its background work.

    The wait runs on the kernel through the page's own connection, so when
    it returns the page has also received every picture the widgets sent.
    Raises :class:`KernelError` naming the widgets still busy after ``timeout``.
    """
    result = page.evaluate(_EXECUTE, {"path": str(relpath), "code": _WAIT_FOR_WIDGETS % float(timeout)})
    if result["status"] != "ok":
        trace = strip_ansi("\n".join(result.get("traceback") or []))
        raise KernelError(f"waiting for the widgets of {relpath}: {result.get('ename')}: "
                          f"{result.get('evalue')}\n{trace}")


@dataclass
class WidgetReport:
    """One widget's results: where it is, how wide it is, and each check's findings."""

    index: int
    name: str
    cell: int
    source: str
    width: int
    area_width: int | None
    checks: dict[str, dict]
    screenshot: Path | None = None

    @classmethod
    def from_page(cls, data: dict) -> "WidgetReport":
        return cls(data["index"], data["name"], data["cell"], data["source"], data["width"],
                   data["areaWidth"], data["checks"])

    def title(self) -> str:
        """``ActivationGrid #0 (cell 1: grid = nl.ActivationGrid(...))``: enough to find it."""
        source = self.source if len(self.source) <= 70 else self.source[:69] + "\u2026"
        return f"{self.name} #{self.index} (cell {self.cell}: {source})"


@dataclass
class Measurement:
    """Every widget of one notebook at one window width in one theme."""

    notebook: str
    theme: str
    layout: dict
    widgets: list[WidgetReport] = field(default_factory=list)

    @property
    def width(self) -> int:
        return self.layout["viewport"][0]

    def where(self) -> str:
        """The conditions, as a failure message states them."""
        lay = self.layout
        return (f"{self.notebook}, {lay['viewport'][0]}x{lay['viewport'][1]} window, {lay['theme']} theme, "
                f"file browser {lay['fileBrowserWidth']} px, notebook {lay['notebookWidth']} px, "
                f"output area {lay['outputWidth']} px")

    def checked(self, check: str) -> int:
        """How many elements (text nodes for ``contrast``, canvases for ``legends``) were checked."""
        return sum(w.checks[check]["checked"] for w in self.widgets)

    def findings(self, check: str) -> list[tuple[WidgetReport, dict]]:
        return [(w, f) for w in self.widgets for f in w.checks[check]["findings"]]

    def failure_message(self, check: str) -> str:
        """Every finding of ``check``, one line each, grouped by widget, with where to look."""
        lines = [f"{CHECK_TITLES[check]} in {self.where()}:"]
        for widget in self.widgets:
            found = widget.checks[check]["findings"]
            if not found:
                continue
            shot = f" [screenshot {widget.screenshot}]" if widget.screenshot else ""
            lines.append(f"  {widget.title()}, {widget.width} px wide{shot}:")
            lines.extend(f"    - {f['element']}: {f['message']}" for f in found)
        return "\n".join(lines)


def measure_widgets(page: Any, relpath: str | os.PathLike, notebook: str, theme: str,
                    min_contrast: float = MIN_CONTRAST) -> Measurement:
    """Run every check on every top-level ``.nnl-widget`` of the open notebook ``relpath``.

    Widgets are tagged ``data-labharness-widget=<index>`` in the page for
    :func:`widget_selector`.
    """
    data = page.evaluate(_MEASURE, {"path": str(relpath), "minRatio": min_contrast})
    return Measurement(notebook, theme, data["layout"], [WidgetReport.from_page(w) for w in data["widgets"]])


def check_element(page: Any, selector: str, min_contrast: float = MIN_CONTRAST) -> dict[str, dict]:
    """Every check on the element ``selector`` of any page: ``{check: {"checked", "findings"}}``.

    The checks' own tests use it on hand-made pages whose problems are known.
    """
    return page.evaluate(_CHECK_ELEMENT, {"selector": selector, "minRatio": min_contrast})


def widget_selector(index: int) -> str:
    """CSS selector of the widget :func:`measure_widgets` numbered ``index``."""
    return f'[data-labharness-widget="{index}"]'

"""Rows, columns and grids of widgets that still show a picture where no widget JavaScript runs.

``nl.row(a, b)``, ``nl.column(a, b)`` and ``nl.grid(a, b, c, d, columns=2)``
lay out our widgets (and any ipywidgets) like ``HBox``/``VBox``/``GridBox``,
wrapping rather than scrolling sideways, and their display bundle carries an
``image/png`` of the whole arrangement drawn as the live view lays it out
(``static_layout``): an nbconvert HTML export, GitHub or nbviewer show the
children's pictures, not ``VBox(children=(...))``.
"""
from __future__ import annotations

import io
import math
from typing import Optional, Sequence

import ipywidgets as W

from .static_layout import DEFAULT_WIDTH, widget_picture

__all__ = ["Arrangement", "row", "column", "grid"]


class Arrangement(W.Box):
    """A box of widgets whose static picture is the picture of its children, laid out as shown."""

    def __init__(self, children: Sequence[W.Widget], kind: str, **kwargs):
        self.kind = kind
        super().__init__(list(children), **kwargs)
        self.add_class(f"nnl-{kind}")

    def save_png(self, path, width: int = DEFAULT_WIDTH, theme: str = "light") -> None:
        """Write the arrangement as its live view lays it out, ``width`` pixels wide, as PNG."""
        with open(path, "wb") as f:
            f.write(self._png(width, theme))

    def _png(self, width: int = DEFAULT_WIDTH, theme: str = "light") -> bytes:
        buf = io.BytesIO()
        widget_picture(self, width, theme).save(buf, format="PNG")
        return buf.getvalue()

    def _repr_mimebundle_(self, **kwargs):
        bundle = super()._repr_mimebundle_(**kwargs)
        data = bundle[0] if isinstance(bundle, tuple) else bundle
        if data is None:
            return bundle
        count = len(self.children)
        data["text/plain"] = (f"{self.kind} of {count} widget{'' if count == 1 else 's'} "
                              "(a live view; the picture below is its state when shown)")
        try:
            data["image/png"] = self._png()
        except Exception:  # noqa: BLE001 - a static picture must never break the live display
            pass
        return bundle


def _widgets(children, what: str) -> list:
    if len(children) == 1 and isinstance(children[0], (list, tuple)):
        children = tuple(children[0])
    if not children:
        raise ValueError(f"{what} needs at least one widget")
    for i, child in enumerate(children):
        if not isinstance(child, W.Widget):
            raise TypeError(f"{what}: expected ipywidgets (e.g. nl.ActivationGrid(...)), "
                            f"got {type(child).__name__} as item {i}")
    return list(children)


def _spaced(children: list, margin: str) -> list:
    """``children`` with ``margin`` after each but the last (a margin the user set is kept)."""
    for child in children[:-1]:
        if not child.layout.margin:
            child.layout.margin = margin
    return children


def row(*widgets: W.Widget, gap: int = 16) -> Arrangement:
    """``widgets`` side by side, wrapping onto the next line when the window is narrow."""
    children = _spaced(_widgets(widgets, "row"), f"0 {int(gap)}px 8px 0")
    return Arrangement(children, "row", layout=W.Layout(display="flex", flex_flow="row wrap",
                                                         align_items="flex-start", max_width="100%"))


def column(*widgets: W.Widget, gap: int = 16) -> Arrangement:
    """``widgets`` one under another."""
    children = _spaced(_widgets(widgets, "column"), f"0 0 {int(gap)}px 0")
    return Arrangement(children, "column", layout=W.Layout(display="flex", flex_flow="column",
                                                            max_width="100%"))


def grid(*widgets: W.Widget, columns: Optional[int] = None, gap: int = 16) -> Arrangement:
    """``widgets`` in a grid of ``columns`` columns (default: as square as the count allows).

    ``grid([[a, b], [c, d]])`` takes rows instead: its column count is the longest row's.
    """
    if len(widgets) == 1 and isinstance(widgets[0], (list, tuple)) and widgets[0] \
            and all(isinstance(r, (list, tuple)) for r in widgets[0]):
        rows = [list(r) for r in widgets[0]]
        columns = max(len(r) for r in rows) if columns is None else columns
        flat = _widgets(tuple(w for r in rows for w in r), "grid")
    else:
        flat = _widgets(widgets, "grid")
    if columns is None:
        columns = math.ceil(math.sqrt(len(flat)))
    if isinstance(columns, bool) or not isinstance(columns, int) or columns < 1:
        raise ValueError(f"grid: expected columns to be a whole number >= 1, got {columns!r}")
    return Arrangement(flat, "grid", layout=W.Layout(
        display="grid", grid_template_columns=f"repeat({columns}, minmax(0, max-content))", grid_gap=f"{int(gap)}px",
        max_width="100%", overflow="auto"))

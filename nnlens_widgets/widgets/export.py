"""A widget without a live front end: one PNG and one self-contained HTML page.

Notebook viewers, PDFs and offline HTML exports cannot run widget JavaScript;
the display bundle's ``image/png`` (from ``widget_png``) shows them what the
widget showed, legends included, and ``save_html`` writes every view's exact
pixels with their titles, colour bars and captions into one page with no
network access.
"""
from __future__ import annotations

import html
import io
import json
import math
from typing import Any, List

from ..render.legend import THEME

__all__ = ["widget_png", "widget_html", "static_views", "script_json"]


# Inside a <script> element the page's parser reads "</script", and also "<!--" followed by
# "<script", as markup; JSON may write these characters as \u escapes instead, so it does.
_SCRIPT_SAFE = str.maketrans({"<": "\\u003c", ">": "\\u003e", "&": "\\u0026",
                              "\u2028": "\\u2028", "\u2029": "\\u2029"})


def script_json(value: Any) -> str:
    """``value`` as JSON that can sit inside a ``<script>`` element: no raw ``<``, ``>`` or ``&``."""
    return json.dumps(value, sort_keys=True).translate(_SCRIPT_SAFE)


def static_views(widget) -> List:
    """The widget's views that have something to show, in display order."""
    out = []
    for view in widget.views.values():
        if getattr(view, "frame", None) is not None or getattr(getattr(view, "body", None), "value", ""):
            out.append(view)
    return out


def widget_png(widget, dpi: int = 100) -> bytes:
    """Every view of ``widget`` (picture, title, colour bar; charts as text) in one PNG."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    views = static_views(widget)
    if not views:
        raise ValueError("nothing has been drawn yet")
    cols = min(3, len(views))
    rows = math.ceil(len(views) / cols)
    fig = Figure(figsize=(3.4 * cols, 3.4 * rows), dpi=dpi)
    FigureCanvasAgg(fig)
    grid = fig.add_gridspec(rows, cols)
    for i, view in enumerate(views):
        view.draw_static(fig, grid[i // cols, i % cols])
    fig.suptitle(widget._state_caption(), fontsize=10)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def widget_html(widget) -> str:
    """A self-contained page: each view's static HTML, no scripts, no network."""
    body = "".join(view.static_html() for view in static_views(widget))
    title = html.escape(widget._state_caption())
    extra = getattr(widget, "_export_extra_html", lambda: "")()
    return (
        "<!DOCTYPE html><html><head><meta charset='utf-8'>"
        f"<title>{title}</title></head>"
        f"<body style='background:{THEME['bg']};color:{THEME['fg']};font-family:{THEME['font']}'>"
        f"<h1 style='font-size:16px'>{title}</h1>"
        f"<div style='display:flex;flex-wrap:wrap;align-items:flex-start'>{body}</div>{extra}"
        "</body></html>"
    )

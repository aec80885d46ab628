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
from typing import Any, List

from ..render.legend import THEME
from .static_layout import DEFAULT_WIDTH, widget_picture

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
        if getattr(view, "frame", None) is not None or getattr(view, "body", None) is not None and view.body.value:
            out.append(view)
    return out


def widget_png(widget, width: int = DEFAULT_WIDTH, theme: str = "light") -> bytes:
    """``widget`` as its live view lays it out ``width`` pixels wide (``static_layout``), as PNG bytes.

    The same titles, canvases with their selection marks, colour bars with
    their end values, charts and captions as the live view, text wrapped
    inside its box; the controls show their values.
    """
    buf = io.BytesIO()
    widget_picture(widget, width, theme).save(buf, format="PNG")
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

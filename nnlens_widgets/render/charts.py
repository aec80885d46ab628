"""Charts as DOM: SVG line charts, HTML probability rows (bars: ``render.bars``).

Every chart has labelled axes with tick values and names the things it
plots (class names on class bars), in text the browser renders crisply and
colours from the JupyterLab theme. They are strings, so a static page
(``save_html``) shows exactly what the live widget shows.
"""
from __future__ import annotations

import html
from typing import Optional, Sequence, Tuple

import numpy as np

from .bars import SERIES_COLORS, nice_ticks
from .legend import THEME, fmt

__all__ = ["line_chart_svg", "probability_rows_html", "SERIES_COLORS"]

#: the "before" bar: mid grey, at least 3:1 against white and against JupyterLab's dark background
BEFORE_GREY = "#8a8a8a"
_TEXT = f"fill:{THEME['fg']};font-family:{THEME['font']};font-size:11px"


def _esc(s) -> str:
    return html.escape(str(s), quote=True)


def line_chart_svg(
    series: Sequence[Tuple[str, Sequence[float], Sequence[float], str]],
    *, x_label: str, y_label: str, width: int = 300, height: int = 170,
    x_range: Optional[Tuple[float, float]] = None, y_range: Optional[Tuple[float, float]] = None,
    css_class: str = "nnl-line-chart",
) -> str:
    """Lines ``(name, xs, ys, colour)`` on labelled axes, with a legend of the names."""
    xs_all = np.concatenate([np.asarray(s[1], float) for s in series]) if series else np.array([0.0, 1.0])
    ys_all = np.concatenate([np.asarray(s[2], float) for s in series]) if series else np.array([0.0, 1.0])
    x0, x1 = x_range or (float(np.nanmin(xs_all)), float(np.nanmax(xs_all)))
    y0, y1 = y_range or (min(0.0, float(np.nanmin(ys_all))), float(np.nanmax(ys_all)))
    if y1 <= y0:
        y1 = y0 + 1.0
    if x1 <= x0:
        x1 = x0 + 1.0
    left, right, top, bottom = 42, 8, 8 + 14 * len(series), 34
    pw, ph = width - left - right, height - top - bottom

    def px(x):
        return left + (x - x0) / (x1 - x0) * pw

    def py(y):
        return top + (1 - (y - y0) / (y1 - y0)) * ph

    parts = [f"<svg class='{css_class}' xmlns='http://www.w3.org/2000/svg' width='{width}' "
             f"height='{height}' viewBox='0 0 {width} {height}' role='img' "
             f"aria-label='{_esc(y_label)} against {_esc(x_label)}'>"]
    axis = f"stroke:{THEME['fg']};stroke-width:1"
    parts.append(f"<line x1='{left}' y1='{top + ph}' x2='{left + pw}' y2='{top + ph}' style='{axis}'/>")
    parts.append(f"<line x1='{left}' y1='{top}' x2='{left}' y2='{top + ph}' style='{axis}'/>")
    for t in nice_ticks(x0, x1):
        x = px(t)
        parts.append(f"<line x1='{x:.1f}' y1='{top + ph}' x2='{x:.1f}' y2='{top + ph + 4}' style='{axis}'/>")
        parts.append(f"<text x='{x:.1f}' y='{top + ph + 15}' text-anchor='middle' style='{_TEXT}'>{fmt(t)}</text>")
    for t in nice_ticks(y0, y1, 4):
        y = py(t)
        parts.append(f"<line x1='{left - 4}' y1='{y:.1f}' x2='{left}' y2='{y:.1f}' style='{axis}'/>")
        parts.append(f"<text x='{left - 6}' y='{y + 4:.1f}' text-anchor='end' style='{_TEXT}'>{fmt(t)}</text>")
    parts.append(f"<text x='{left + pw / 2:.1f}' y='{height - 4}' text-anchor='middle' "
                 f"style='{_TEXT}'>{_esc(x_label)}</text>")
    parts.append(f"<text transform='translate(11,{top + ph / 2:.1f}) rotate(-90)' text-anchor='middle' "
                 f"style='{_TEXT}'>{_esc(y_label)}</text>")
    for i, (name, xs, ys, color) in enumerate(series):
        pts = " ".join(f"{px(x):.1f},{py(y):.1f}" for x, y in zip(xs, ys) if np.isfinite(y))
        parts.append(f"<polyline points='{pts}' fill='none' stroke='{color}' stroke-width='2'/>")
        ly = 10 + 14 * i
        parts.append(f"<line x1='{left}' y1='{ly}' x2='{left + 18}' y2='{ly}' stroke='{color}' stroke-width='3'/>")
        parts.append(f"<text x='{left + 24}' y='{ly + 4}' style='{_TEXT}'>{_esc(name)}</text>")
    parts.append("</svg>")
    return "".join(parts)


def probability_rows_html(labels: Sequence[str], values: Sequence[float], *,
                          before: Optional[Sequence[float]] = None, highlight: Optional[int] = None,
                          indices: Optional[Sequence[int]] = None, title: str = "probability",
                          bar_px: int = 140) -> str:
    """One row per class: its name, a bar on a 0..1 axis and the number (with the change
    from ``before`` when given). ``indices`` name which class each row is (for ``highlight``)."""
    t = THEME
    idx = list(range(len(values))) if indices is None else list(indices)
    rows = []
    for row, (label, p) in enumerate(zip(labels, values)):
        b = None if before is None else float(before[row])
        strong = "font-weight:bold;" if highlight is not None and idx[row] == highlight else ""
        # + 0.0 turns a change that rounds to -0.0 into +0.0
        change = "" if b is None else f" <span class='nnl-change'>({round(100 * (float(p) - b), 1) + 0.0:+.1f} pts)</span>"
        ghost = ("" if b is None else
                 f"<div class='nnl-bar-before' data-p='{b:.6f}' style='position:absolute;left:0;top:0;"
                 f"height:5px;width:{100 * b:.2f}%;background:{BEFORE_GREY}'></div>")
        rows.append(
            f"<div class='nnl-prob-row' data-label='{_esc(label)}' data-p='{float(p):.6f}' "
            f"style='{strong}display:flex;gap:6px;align-items:center'>"
            f"<span style='flex:0 0 auto;min-width:70px;white-space:nowrap'>{html.escape(str(label))}</span>"
            f"<span style='position:relative;flex:0 0 {bar_px}px;height:12px;border-left:1px solid {t['fg']}'>"
            f"{ghost}<div class='nnl-bar-after' style='position:absolute;left:0;"
            f"top:{5 if b is not None else 1}px;height:{6 if b is not None else 10}px;"
            f"width:{100 * float(p):.2f}%;background:{t['accent']}'></div></span>"
            f"<span class='nnl-prob' style='font-family:{t['mono']};white-space:nowrap'>{100 * float(p):.1f}%{change}</span></div>"
        )
    axis = (f"<div style='display:flex;gap:6px'><span style='min-width:70px'></span>"
            f"<span style='flex:0 0 {bar_px}px;display:flex;justify-content:space-between;"
            f"border-top:1px solid {t['fg']};font-size:11px'><span>0</span><span>50%</span><span>100%</span>"
            f"</span></div>")
    key = ("" if before is None else
           "<div style='font-size:11px'>thin grey bar: before, blue bar: now</div>")
    return (f"<div class='nnl-prob-table' style='color:{t['fg']};font-family:{t['font']};font-size:12px'>"
            f"<div style='font-weight:bold'>{html.escape(title)}</div>{''.join(rows)}{axis}{key}</div>")

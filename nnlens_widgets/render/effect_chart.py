"""A ranking as a chart: one labelled horizontal bar per item, on a value axis with ticks.

Used for ablation effects (how much a class's score changes when one channel
is switched off): names on the left, a bar from zero, the number at the
bar's end, tick values and an axis label below. SVG text in the theme's
colours, so the live widget and a saved page show the same thing.
"""
from __future__ import annotations

import html
from typing import Optional, Sequence

import numpy as np

from .charts import SERIES_COLORS, nice_ticks
from .legend import THEME, fmt

__all__ = ["ranked_bars_svg"]

_TEXT = f"fill:{THEME['fg']};font-family:{THEME['font']};font-size:11px"


def _esc(value) -> str:
    return html.escape(str(value), quote=True)


def ranked_bars_svg(names: Sequence[str], values: Sequence[float], *, value_label: str,
                    width: int = 400, row_px: int = 18, selected: Optional[int] = None,
                    negative_color: str = SERIES_COLORS[0], positive_color: str = SERIES_COLORS[1],
                    css_class: str = "nnl-ranked-bars") -> str:
    """One row per item (``names[i]``: a bar of ``values[i]`` from zero), in the order given.

    ``selected`` (a row index) is drawn in bold. The value axis spans zero and
    every value, with round tick values; ``value_label`` names it.
    """
    v = np.asarray(values, dtype=float)
    names = [str(n) for n in names]
    n = len(v)
    finite = v[np.isfinite(v)]
    lo = min(0.0, float(finite.min())) if finite.size else 0.0
    hi = max(0.0, float(finite.max())) if finite.size else 1.0
    if hi <= lo:
        hi = lo + 1.0
    ticks = nice_ticks(lo, hi, 5)
    lo, hi = min(lo, float(ticks[0])), max(hi, float(ticks[-1]))
    longest = max((len(s) for s in names), default=1)
    left = 8 + 6.5 * min(longest, 18)
    right = 8 + 6.5 * max(len(fmt(x)) for x in (lo, hi)) + 4
    top, bottom = 4, 34
    pw = max(width - left - right, 40)
    height = top + n * row_px + bottom

    def px(x):
        return left + (x - lo) / (hi - lo) * pw

    axis = f"stroke:{THEME['fg']};stroke-width:1"
    parts = [f"<svg class='{css_class}' xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}' "
             f"viewBox='0 0 {width} {height}' role='img' aria-label='{_esc(value_label)}'>"]
    base = top + n * row_px
    zero = px(0.0)
    for i, (name, value) in enumerate(zip(names, v)):
        y = top + i * row_px
        weight = "font-weight:bold;" if i == selected else ""
        shown = name if len(name) <= 18 else name[:17] + "…"
        parts.append(f"<text x='{left - 6:.1f}' y='{y + row_px * 0.7:.1f}' text-anchor='end' "
                     f"style='{weight}{_TEXT}'>{_esc(shown)}</text>")
        if np.isfinite(value):
            x0, x1 = sorted((zero, px(value)))
            color = negative_color if value < 0 else positive_color
            parts.append(f"<rect class='nnl-ranked-bar' data-index='{i}' data-value='{value:.6g}' x='{x0:.1f}' "
                         f"y='{y + 3:.1f}' width='{max(x1 - x0, 0.5):.1f}' height='{row_px - 6}' fill='{color}'>"
                         f"<title>{_esc(name)}: {fmt(value)}</title></rect>")
            tx, anchor = (x1 + 4, "start") if value >= 0 else (x0 - 4, "end")
            if value < 0 and x0 - left < 6.5 * len(fmt(value)) + 4:  # no room left of the bar: right of zero
                tx, anchor = zero + 4, "start"
            parts.append(f"<text x='{tx:.1f}' y='{y + row_px * 0.7:.1f}' text-anchor='{anchor}' "
                         f"style='{weight}{_TEXT}'>{fmt(value)}</text>")
    parts.append(f"<line x1='{zero:.1f}' y1='{top}' x2='{zero:.1f}' y2='{base}' style='{axis}'/>")
    parts.append(f"<line x1='{left}' y1='{base}' x2='{left + pw:.1f}' y2='{base}' style='{axis}'/>")
    for t in ticks:
        x = px(t)
        parts.append(f"<line x1='{x:.1f}' y1='{base}' x2='{x:.1f}' y2='{base + 4}' style='{axis}'/>")
        parts.append(f"<text x='{x:.1f}' y='{base + 15}' text-anchor='middle' style='{_TEXT}'>{fmt(t)}</text>")
    parts.append(f"<text x='{left + pw / 2:.1f}' y='{height - 4}' text-anchor='middle' "
                 f"style='{_TEXT}'>{_esc(value_label)}</text>")
    parts.append("</svg>")
    return "".join(parts)

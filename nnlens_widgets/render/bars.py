"""Every chart of bars, as SVG: one bar per unit or class, a ranking, a histogram.

One renderer: a value axis with round tick values, bars from zero drawn
along it, names on the other axis, and the axis named. ``bar_chart_svg``
stands bars up (units, classes) or lays them down (``horizontal=True``: a
ranking, each row named on the left with its number at the bar's end);
``histogram_svg`` puts counts over adjacent bins on a numeric axis. Text is
escaped here (names and labels are plain text) and drawn in the
JupyterLab theme's colours, so the live widget and a saved page agree.
"""
from __future__ import annotations

import html
from dataclasses import dataclass
from typing import List, Optional, Sequence

import numpy as np

from .legend import THEME, fmt

__all__ = ["bar_chart_svg", "histogram_svg", "nice_ticks", "SERIES_COLORS"]

#: colours that stay distinct on light and dark backgrounds (bars, and the lines of ``charts``)
SERIES_COLORS = ("#e4572e", "#2f8fd8", "#59a14f", "#b07aa1", "#edc948")

_TEXT = f"fill:{THEME['fg']};font-family:{THEME['font']};font-size:11px"
_AXIS = f"stroke:{THEME['fg']};stroke-width:1"
_RED, _BLUE = SERIES_COLORS[:2]


def nice_ticks(low: float, high: float, count: int = 5) -> np.ndarray:
    """Round tick values covering [low, high] (about ``count`` of them)."""
    if not np.isfinite(low) or not np.isfinite(high) or high <= low:
        return np.array([low]) if np.isfinite(low) else np.array([0.0])
    raw = (high - low) / max(1, count - 1)
    mag = 10 ** np.floor(np.log10(raw))
    step = min((m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw), default=raw)
    start = np.ceil(low / step - 1e-9) * step
    ticks = np.arange(start, high + step * 1e-6, step)
    return np.round(ticks, 12)


def _esc(s) -> str:
    return html.escape(str(s), quote=True)


def _short(name: str, most: int) -> str:
    return name if len(name) <= most else name[:most - 1] + "…"


@dataclass(frozen=True)
class _Axis:
    """Values ``lo..hi`` onto pixels ``start..end`` (``end < start`` for an upward axis)."""

    lo: float
    hi: float
    start: float
    end: float

    @classmethod
    def spanning(cls, values: np.ndarray, start: float, end: float, widen: bool = False) -> "_Axis":
        """Zero and every finite value; ``widen``: out to the outer round ticks as well."""
        finite = values[np.isfinite(values)]
        lo = min(0.0, float(finite.min())) if finite.size else 0.0
        hi = max(0.0, float(finite.max())) if finite.size else 1.0
        if hi <= lo:
            hi = lo + 1.0
        if widen:
            ticks = nice_ticks(lo, hi, 5)
            lo, hi = min(lo, float(ticks[0])), max(hi, float(ticks[-1]))
        return cls(lo, hi, start, end)

    def at(self, value: float) -> float:
        return self.start + (value - self.lo) / (self.hi - self.lo) * (self.end - self.start)

    def ticks(self, count: int) -> np.ndarray:
        return nice_ticks(self.lo, self.hi, count)


def _open(css_class: str, width: float, height: float, label: str) -> List[str]:
    return [f"<svg class='{css_class}' xmlns='http://www.w3.org/2000/svg' width='{width:.0f}' "
            f"height='{height:.0f}' viewBox='0 0 {width:.0f} {height:.0f}' role='img' aria-label='{_esc(label)}'>"]


def _line(x1: float, y1: float, x2: float, y2: float) -> str:
    return f"<line x1='{x1:.1f}' y1='{y1:.1f}' x2='{x2:.1f}' y2='{y2:.1f}' style='{_AXIS}'/>"


def _text(x: float, y: float, content: str, anchor: str = "middle", style: str = "", rotate: int = 0) -> str:
    place = (f"transform='translate({x:.1f},{y:.1f}) rotate({rotate})'" if rotate else f"x='{x:.1f}' y='{y:.1f}'")
    return f"<text {place} text-anchor='{anchor}' style='{style}{_TEXT}'>{content}</text>"


def _rect(css: str, index: int, value: float, x: float, y: float, w: float, h: float, fill: str, tip: str) -> str:
    return (f"<rect class='{css}' data-index='{index}' data-value='{value:.6g}' x='{x:.1f}' y='{y:.1f}' "
            f"width='{max(w, 0.5):.1f}' height='{max(h, 0.5):.1f}' fill='{fill}'><title>{_esc(tip)}</title></rect>")


def _value_ticks_left(axis: _Axis, left: float, count: int) -> List[str]:
    parts = []
    for t in axis.ticks(count):
        y = axis.at(t)
        parts += [_line(left - 4, y, left, y), _text(left - 6, y + 4, fmt(t), "end")]
    return parts


def _value_ticks_below(axis: _Axis, base: float, count: int) -> List[str]:
    parts = []
    for t in axis.ticks(count):
        x = axis.at(t)
        parts += [_line(x, base, x, base + 4), _text(x, base + 15, fmt(t))]
    return parts


def bar_chart_svg(
    values: Sequence[float], labels: Optional[Sequence[str]] = None, *, value_label: str,
    selected: Optional[int] = None, horizontal: bool = False, width: int = 420, height: int = 200,
    row_px: int = 18, color: str = _BLUE, selected_color: str = _RED, negative_color: Optional[str] = None,
    css_class: Optional[str] = None,
) -> str:
    """One bar per value from zero, named by ``labels`` (default: the index), on a value axis
    named ``value_label`` with round ticks.

    Upright (the default): ``selected`` is drawn in ``selected_color``; names
    under the bars (slanted when many, left out beyond 40). ``horizontal``: a
    ranking in the order given, one ``row_px`` row per value (``height`` is
    then the rows'), names on the left, the number at each bar's end,
    ``selected`` in bold, negative values in ``negative_color`` (default red).
    """
    v = np.asarray(values, dtype=float).ravel()
    names = [str(i) for i in range(len(v))] if labels is None else [str(s) for s in labels]
    if len(names) != len(v):
        raise ValueError(f"expected one label per value ({len(v)}), got {len(names)}")
    if horizontal:
        return _ranking(v, names, value_label, selected, width, row_px, color, negative_color or _RED,
                        css_class or "nnl-ranked-bars")
    return _upright(v, names, value_label, selected, width, height, color, selected_color,
                    css_class or "nnl-bar-chart")


def _upright(v: np.ndarray, names: List[str], value_label: str, selected: Optional[int], width: int, height: int,
             color: str, selected_color: str, css_class: str) -> str:
    n = len(v)
    show_names = n <= 40
    longest = max((len(s) for s in names), default=1)
    left, right, top = 46, 6, 8
    bottom = 18 + (min(longest, 14) * 6 if show_names and n > 8 else 14 if show_names else 0) + 14
    pw = width - left - right
    axis = _Axis.spanning(v, top + height - top - bottom, top)
    slot = pw / max(n, 1)
    parts = _open(css_class, width, height, value_label) + _value_ticks_left(axis, left, 4)
    zero = axis.at(0.0)
    parts += [_line(left, top, left, axis.start), _line(left, zero, left + pw, zero)]
    for i, value in enumerate(v):
        if np.isfinite(value):  # a missing value: its name and no bar
            y0, y1 = sorted((zero, axis.at(value)))
            parts.append(_rect("nnl-bar", i, value, left + i * slot + slot * 0.1, y0, slot * 0.8, y1 - y0,
                               selected_color if i == selected else color, f"{names[i]}: {fmt(value)}"))
        if show_names:
            cx, ly = left + (i + 0.5) * slot, axis.start + 12
            parts.append(_text(cx, ly, _esc(_short(names[i], 14)), "end" if n > 8 else "middle",
                               rotate=-45 if n > 8 else 0))
    parts.append(_text(11, (top + axis.start) / 2, _esc(value_label), rotate=-90))
    return "".join(parts) + "</svg>"


def _ranking(v: np.ndarray, names: List[str], value_label: str, selected: Optional[int], width: int, row_px: int,
             positive_color: str, negative_color: str, css_class: str) -> str:
    n = len(v)
    left = 8 + 6.5 * min(max((len(s) for s in names), default=1), 18)
    top, bottom = 4, 34
    widest = _Axis.spanning(v, 0, 1, widen=True)
    right = 8 + 6.5 * max(len(fmt(x)) for x in (widest.lo, widest.hi)) + 4
    axis = _Axis(widest.lo, widest.hi, left, left + max(width - left - right, 40))
    height = top + n * row_px + bottom
    base, zero = top + n * row_px, axis.at(0.0)
    parts = _open(css_class, width, height, value_label)
    for i, (name, value) in enumerate(zip(names, v)):
        y = top + i * row_px
        weight = "font-weight:bold;" if i == selected else ""
        parts.append(_text(left - 6, y + row_px * 0.7, _esc(_short(name, 18)), "end", weight))
        if not np.isfinite(value):
            continue
        x0, x1 = sorted((zero, axis.at(value)))
        parts.append(_rect("nnl-ranked-bar", i, value, x0, y + 3, x1 - x0, row_px - 6,
                           negative_color if value < 0 else positive_color, f"{name}: {fmt(value)}"))
        tx, anchor = (x1 + 4, "start") if value >= 0 else (x0 - 4, "end")
        if value < 0 and x0 - left < 6.5 * len(fmt(value)) + 4:  # no room left of the bar: right of zero
            tx, anchor = zero + 4, "start"
        parts.append(_text(tx, y + row_px * 0.7, fmt(value), anchor, weight))
    parts += [_line(zero, top, zero, base), _line(left, base, axis.end, base)]
    parts += _value_ticks_below(axis, base, 5)
    parts.append(_text((axis.start + axis.end) / 2, height - 4, _esc(value_label)))
    return "".join(parts) + "</svg>"


def histogram_svg(
    values: Optional[Sequence[float]] = None, *, bins: int = 20, counts: Optional[Sequence[float]] = None,
    edges: Optional[Sequence[float]] = None, value_label: str, count_label: str = "count",
    width: int = 420, height: int = 200, color: str = _BLUE, css_class: str = "nnl-histogram",
) -> str:
    """Counts over adjacent bins: ``values`` binned into ``bins`` equal bins (non-finite ones
    left out), or ready ``counts`` with their ``edges`` (one more than the counts). The bin
    axis is named ``value_label`` with round ticks, the count axis ``count_label``."""
    if counts is None:
        if values is None:
            raise ValueError("expected values to bin, or counts with their edges")
        data = np.asarray(values, dtype=float).ravel()
        data = data[np.isfinite(data)]
        lo, hi = (float(data.min()), float(data.max())) if data.size else (0.0, 1.0)
        found, found_edges = np.histogram(data, bins=int(bins), range=(lo, hi if hi > lo else lo + 1.0))
        c, e = found.astype(float), found_edges.astype(float)
    else:
        c, e = np.asarray(counts, dtype=float).ravel(), np.asarray(edges, dtype=float).ravel()
        if len(e) != len(c) + 1 or not np.all(np.diff(e) > 0):
            raise ValueError(f"expected {len(c) + 1} increasing edges for {len(c)} counts, got {len(e)}")
    left, right, top, bottom = 46, 10, 8, 34
    x_axis = _Axis(float(e[0]), float(e[-1]), left, width - right)
    y_axis = _Axis.spanning(c, height - bottom, top)
    parts = _open(css_class, width, height, f"{count_label} of {value_label}")
    parts += _value_ticks_left(y_axis, left, 4) + _value_ticks_below(x_axis, y_axis.start, 5)
    for i, count in enumerate(c):
        if not count > 0:  # an empty bin: no bar
            continue
        x0, x1, y = x_axis.at(e[i]), x_axis.at(e[i + 1]), y_axis.at(count)
        parts.append(_rect("nnl-histogram-bin", i, count, x0, y, x1 - x0, y_axis.start - y, color,
                           f"{fmt(e[i])} to {fmt(e[i + 1])}: {fmt(count)}"))
    parts += [_line(left, top, left, y_axis.start), _line(left, y_axis.start, x_axis.end, y_axis.start)]
    parts.append(_text((left + x_axis.end) / 2, height - 4, _esc(value_label)))
    parts.append(_text(11, (top + y_axis.start) / 2, _esc(count_label), rotate=-90))
    return "".join(parts) + "</svg>"

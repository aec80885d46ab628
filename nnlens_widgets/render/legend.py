"""What a colour means: colour bars as HTML, with their numeric range as text.

A ``Scale`` says how values became colours (colormap, the values at its two
ends, what the value is); ``legend_html`` draws it as DOM text beside a CSS
gradient sampled from the same lookup table the pictures use, so the bar and
the picture can never disagree. Colours of text and lines follow the
JupyterLab theme through its CSS variables (with fallbacks for pages outside
JupyterLab).
"""
from __future__ import annotations

import html
import math
from dataclasses import dataclass
from typing import Optional, Tuple

from .colormap import lut

__all__ = ["Scale", "legend_html", "fmt", "THEME"]

# JupyterLab theme variables, with fallbacks for a plain page (save_html).
THEME = {
    "fg": "var(--jp-ui-font-color1, #1f1f1f)",
    "bg": "var(--jp-layout-color1, #ffffff)",
    "border": "var(--jp-border-color1, #9e9e9e)",
    "accent": "var(--jp-brand-color1, #1976d2)",
    "error": "var(--jp-error-color1, #d32f2f)",
    "font": "var(--jp-ui-font-family, system-ui, sans-serif)",
    "mono": "var(--jp-code-font-family, monospace)",
    "size": "var(--jp-ui-font-size1, 13px)",
}


def fmt(value: float) -> str:
    """A number as a reader wants it: 3 significant digits, no ``np.float32(...)``."""
    v = float(value)
    if not math.isfinite(v):
        return str(v)
    if v == 0:
        return "0"
    if 1e-3 <= abs(v) < 1e5:
        return f"{v:.3g}"
    return f"{v:.2e}"


@dataclass(frozen=True)
class Scale:
    """How a picture's values map to colours.

    ``low``/``high``: the values at the colormap's two ends. ``meaning``: what
    a value is ("activation, this channel's range", "drop in P(star)").
    ``opacity``: the picture fades with |value| (maps drawn over a photo).
    ``middle``: a label for the centre of a diverging scale (e.g. "0").
    """

    cmap: str
    low: float
    high: float
    meaning: str
    opacity: bool = False
    middle: Optional[str] = None
    ends: Optional[Tuple[str, str]] = None  # words for the two ends instead of numbers

    def end_labels(self) -> Tuple[str, str]:
        return self.ends or (fmt(self.low), fmt(self.high))

    def colors(self, stops: int = 11):
        table = lut(self.cmap)
        for i in range(stops):
            r, g, b, _ = table[round(i * 255 / (stops - 1))]
            yield f"rgb({r},{g},{b})"


def legend_html(scale: Scale, width: int = 180) -> str:
    """A colour bar with its two end values and meaning, as HTML (class ``nnl-legend``)."""
    stops = ", ".join(scale.colors())
    fade = ""
    if scale.opacity:  # the picture fades where |value| is small
        fade = ("<div style='font-size:11px'>opacity grows with |value|</div>")
    mid = (f"<span>{html.escape(scale.middle)}</span>" if scale.middle is not None else "")
    t = THEME
    low, high = scale.end_labels()
    return (
        f"<div class='nnl-legend' role='img' aria-label='{html.escape(scale.meaning, quote=True)}: "
        f"{html.escape(low, quote=True)} to {html.escape(high, quote=True)}' "
        f"style='color:{t['fg']};font-family:{t['font']};font-size:12px;line-height:1.3;"
        f"max-width:{width}px;margin-top:2px'>"
        f"<div class='nnl-legend-bar' style='height:10px;width:{width}px;max-width:100%;"
        f"border:1px solid {t['border']};background:linear-gradient(to right, {stops})'></div>"
        f"<div style='display:flex;justify-content:space-between;width:{width}px;max-width:100%'>"
        f"<span class='nnl-legend-low'>{html.escape(low)}</span>{mid}"
        f"<span class='nnl-legend-high'>{html.escape(high)}</span></div>"
        f"<div class='nnl-legend-meaning'>{html.escape(scale.meaning)}</div>{fade}</div>"
    )

"""Characters coloured by a value: background from a colormap, ink that stays readable.

``value_colors`` maps each character's value onto a diverging colormap
(``[-vmax, vmax]``, clipped) exactly as ``js/text_neurons.js`` does;
``ink_table`` gives, for each of the colormap's 256 colours, the text colour
(black or white) with the higher WCAG contrast against it. The backgrounds
are opaque, so the same ink holds in light and dark themes.
"""
from __future__ import annotations

import html
import numpy as np

from .colormap import lut
from .contrast import ink_for

__all__ = ["value_indices", "value_colors", "ink_table", "value_inks", "colored_text_html"]


def value_indices(values: np.ndarray, vmax: float = 1.0) -> np.ndarray:
    """(T,) values -> (T,) colormap indices 0..255: ``-vmax`` -> 0, 0 -> 128, ``+vmax`` -> 255."""
    t = np.clip((np.asarray(values, dtype=np.float32).astype(np.float64) / vmax + 1) / 2, 0, 1)
    t = np.nan_to_num(t, nan=0.5)
    x = t * 255
    whole = np.floor(x)
    return (whole + (x - whole >= 0.5)).astype(np.int64)  # exactly JavaScript's Math.round


def value_colors(values: np.ndarray, vmax: float = 1.0, cmap: str = "RdBu_r") -> np.ndarray:
    """(T,) values -> (T, 4) RGBA backgrounds (opaque)."""
    return lut(cmap)[value_indices(values, vmax)]


def ink_table(cmap: str) -> np.ndarray:
    """(256, 3) uint8: black or white text for each colour of ``cmap``, whichever contrasts more."""
    return ink_for(lut(cmap)[:, :3])


def value_inks(values: np.ndarray, vmax: float = 1.0, cmap: str = "RdBu_r") -> np.ndarray:
    """(T, 3) uint8 text colour of each character."""
    return ink_table(cmap)[value_indices(values, vmax)]


def colored_text_html(text: str, values: np.ndarray, vmax: float, cmap: str) -> str:
    """The text as static HTML spans (background and ink per character), lines wrapping."""
    bg = value_colors(values, vmax, cmap)
    ink = value_inks(values, vmax, cmap)
    parts = []
    for i, ch in enumerate(text):
        r, g, b = bg[i, :3]
        ir, ig, ib = ink[i]
        glyph = " " if ch == "\n" else html.escape(ch)
        parts.append(f"<span style='background:rgb({r},{g},{b});color:rgb({ir},{ig},{ib})'>{glyph}</span>")
        if ch == "\n":
            parts.append("<br>")
    return ("<div class='nnl-text-static' style='font-family:monospace;font-size:12px;line-height:16px;"
            "white-space:pre-wrap;overflow-wrap:anywhere'>" + "".join(parts) + "</div>")

"""A bar chart drawn straight into RGBA (one bar per unit of a 1-D layer)."""
from __future__ import annotations

import numpy as np

from .colormap import lut

__all__ = ["bar_chart"]


def bar_chart(
    values: np.ndarray,
    selected: int = -1,
    height: int = 160,
    max_width: int = 512,
    color=(90, 120, 200, 255),
    selected_color=(230, 60, 40, 255),
    background=(255, 255, 255, 255),
) -> np.ndarray:
    """Bars for ``values`` around a zero line; bar ``selected`` drawn in another colour."""
    v = np.asarray(values, dtype=np.float32).ravel()
    n = max(len(v), 1)
    bar_w = max(1, max_width // n)
    out = np.empty((height, n * bar_w, 4), dtype=np.uint8)
    out[:] = background
    lo, hi = min(float(v.min(initial=0.0)), 0.0), max(float(v.max(initial=0.0)), 0.0)
    span = hi - lo if hi > lo else 1.0
    zero = int(round((hi / span) * (height - 1)))  # row of value 0
    for i, value in enumerate(v.tolist()):
        top = int(round((hi - max(value, 0.0)) / span * (height - 1)))
        bottom = int(round((hi - min(value, 0.0)) / span * (height - 1)))
        out[top:bottom + 1, i * bar_w:(i + 1) * bar_w] = selected_color if i == selected else color
    out[zero, :] = lut("gray")[0]
    return out

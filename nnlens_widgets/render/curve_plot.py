"""Small line plots drawn straight into RGBA (no matplotlib, no PNG round trip):
fast enough to redraw on every update, exact pixels for tests."""
from __future__ import annotations

from typing import Sequence, Tuple

import numpy as np

__all__ = ["line_plot"]

Colour = Tuple[int, int, int]


def _stroke(canvas: np.ndarray, xs: np.ndarray, ys: np.ndarray, colour: Colour, width: int) -> None:
    """Polyline through pixel coordinates, sampled densely enough to leave no gaps."""
    h, w = canvas.shape[:2]
    for (x0, y0), (x1, y1) in zip(zip(xs[:-1], ys[:-1]), zip(xs[1:], ys[1:])):
        n = int(max(abs(x1 - x0), abs(y1 - y0))) + 2
        px = np.rint(np.linspace(x0, x1, n)).astype(int)
        py = np.rint(np.linspace(y0, y1, n)).astype(int)
        for dy in range(-(width // 2), width - width // 2):
            yy, xx = np.clip(py + dy, 0, h - 1), np.clip(px, 0, w - 1)
            canvas[yy, xx, :3] = colour
            canvas[yy, xx, 3] = 255


def line_plot(
    series: Sequence[Tuple[np.ndarray, np.ndarray]],
    colours: Sequence[Colour],
    width: int = 160,
    height: int = 90,
    x_range=(0.0, 1.0),
    y_range=(0.0, 1.0),
    line_width: int = 2,
    fill: bool = True,
) -> np.ndarray:
    """Curves ``(x, y)`` on a white RGBA plot with a light frame; values outside the
    ranges are clipped. ``fill`` shades the area under each curve (the AUC)."""
    if len(series) != len(colours):
        raise ValueError(f"expected one colour per series, got {len(colours)} for {len(series)}")
    pad = 4
    out = np.full((height, width, 4), 255, dtype=np.uint8)
    out[[pad - 1, height - pad], pad - 1:width - pad + 1, :3] = 200
    out[pad - 1:height - pad + 1, [pad - 1, width - pad], :3] = 200
    (x0, x1), (y0, y1) = x_range, y_range
    sx = (width - 2 * pad - 1) / max(x1 - x0, 1e-12)
    sy = (height - 2 * pad - 1) / max(y1 - y0, 1e-12)
    projected = []
    for x, y in series:
        x, y = np.asarray(x, dtype=np.float64), np.clip(np.asarray(y, dtype=np.float64), y0, y1)
        px = pad + (np.clip(x, x0, x1) - x0) * sx
        py = height - 1 - pad - (y - y0) * sy
        projected.append((px, py))
    if fill:
        cols = np.arange(width)
        for (px, py), colour in zip(projected, colours):
            top = np.interp(cols, px, py, left=np.nan, right=np.nan)
            rows = np.arange(height)[:, None]
            under = (rows >= top[None, :]) & (rows <= height - 1 - pad)
            tint = (np.array(colour, dtype=np.float32) * 0.18 + out[..., :3] * 0.82).astype(np.uint8)
            out[..., :3] = np.where(under[..., None], tint, out[..., :3])
    for (px, py), colour in zip(projected, colours):
        _stroke(out, px, py, colour, line_width)
    return out

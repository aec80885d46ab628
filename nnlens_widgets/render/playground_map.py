"""The playground's decision map: each class's region in its colour, and the data points on it.

The background is the winning class's colour, as strong as the network is
sure of it (white where two classes tie), in ``LEVELS`` steps: a map of at
most ``LEVELS * classes`` colours travels as a small palette frame. Points
are stamped from index arrays made once per data set (``PointMarks``), so
drawing 500 points costs one indexed assignment per frame.
"""
from __future__ import annotations

import html
from functools import lru_cache
from typing import Optional, Sequence

import numpy as np

from .legend import THEME
from .plane import class_colours

__all__ = ["LEVELS", "STRENGTH", "PointMarks", "decision_key_html", "decision_rgba", "probability_rgba"]

LEVELS = 24  # steps of certainty between a tie (white) and sure (the class colour at STRENGTH)
STRENGTH = 0.62  # the colour of a sure region: strong enough to read, pale enough for the points on it
TRAIN_EDGE = (20, 20, 20)  # outline of a training point
TEST_EDGE = (250, 250, 250)  # outline of a test point


def _palette(classes: int) -> np.ndarray:
    return class_colours(classes)[np.arange(classes) % 10].astype(np.float32)


@lru_cache(maxsize=8)
def _shades(classes: int) -> np.ndarray:
    """(classes, LEVELS + 1, 4) uint8: each class's colour from white (level 0) to STRENGTH (the last)."""
    a = (np.arange(LEVELS + 1, dtype=np.float32) * (STRENGTH / LEVELS))[None, :, None]
    table = np.full((classes, LEVELS + 1, 4), 255, dtype=np.uint8)
    table[..., :3] = np.rint(_palette(classes)[:, None, :] * a + 255.0 * (1 - a))
    table.setflags(write=False)
    return table


def decision_rgba(probabilities: np.ndarray) -> np.ndarray:
    """(H, W, k) class probabilities -> RGBA: the winner's colour, as strong as it is sure."""
    p = np.nan_to_num(np.asarray(probabilities, dtype=np.float32))  # a diverged network: ties, not noise
    if p.ndim != 3 or p.shape[2] < 2:
        raise ValueError(f"expected class probabilities shaped (H, W, classes >= 2), got {p.shape}")
    k = p.shape[2]
    if k == 2:  # the common case, without a search over the classes
        winner = (p[..., 1] > p[..., 0]).astype(np.intp)
        top = np.maximum(p[..., 0], p[..., 1])
    else:
        winner = p.argmax(axis=2)
        top = np.take_along_axis(p, winner[..., None], axis=2)[..., 0]
    sure = (top - 1.0 / k) * (1.0 / (1.0 - 1.0 / k))  # 0 at a tie, 1 when certain
    level = np.rint(np.clip(sure, 0, 1) * LEVELS).astype(np.intp)
    return _shades(k)[winner, level]


def probability_rgba(probability: np.ndarray, colour_index: int, classes: int) -> np.ndarray:
    """(H, W) probability of one class -> white (0) to that class's colour (1), in ``LEVELS`` steps."""
    p = np.clip(np.nan_to_num(np.asarray(probability, dtype=np.float32)), 0, 1)
    a = (np.rint(p * LEVELS) / LEVELS)[..., None]
    out = np.empty(p.shape + (4,), dtype=np.uint8)
    out[..., :3] = np.rint(_palette(classes)[colour_index] * a + 255.0 * (1 - a))
    out[..., 3] = 255
    return out


class PointMarks:
    """Data points as small squares on a ``size`` x ``size`` map of ``extent``.

    Each point is a 2x2 square of its class's colour in a 1-pixel outline:
    dark for a training point, white for a test point. Points outside the
    map are left out (``shown`` counts the others).
    """

    def __init__(self, points: np.ndarray, labels: np.ndarray, test: np.ndarray, extent: Sequence[float],
                 size: int, classes: int):
        pts = np.asarray(points, dtype=np.float64).reshape(-1, 2)
        x0, x1, y0, y1 = (float(v) for v in extent)
        # the map's pixel i is the point linspace(x0, x1, size)[i] (core.plane's grid)
        fx = (pts[:, 0] - x0) / (x1 - x0) * (size - 1)
        fy = (pts[:, 1] - y0) / (y1 - y0) * (size - 1)
        left, top = np.floor(fx).astype(int), np.floor(fy).astype(int)  # the 2x2 core covers the point
        inside = (left >= 0) & (top >= 0) & (left + 1 < size) & (top + 1 < size)
        self.shown = int(inside.sum())
        order = np.argsort(np.asarray(test)[inside], kind="stable")  # test points drawn last, on top
        left, top = left[inside][order], top[inside][order]
        colours = _palette(classes).astype(np.uint8)[np.asarray(labels)[inside][order]]
        edges = np.where(np.asarray(test)[inside][order][:, None], TEST_EDGE, TRAIN_EDGE).astype(np.uint8)
        ring = np.array([(dy, dx) for dy in range(-1, 3) for dx in range(-1, 3)])  # 4x4 outline square
        core = np.array([(dy, dx) for dy in range(2) for dx in range(2)])  # 2x2 core on top of it
        offsets = np.concatenate([ring, core])
        # point by point, outline then core, so a later point covers an earlier one
        rows = (top[:, None] + offsets[None, :, 0]).reshape(-1)
        cols = (left[:, None] + offsets[None, :, 1]).reshape(-1)
        paint = np.concatenate([np.repeat(edges[:, None], len(ring), axis=1),
                                np.repeat(colours[:, None], len(core), axis=1)], axis=1).reshape(-1, 3)
        keep = (rows >= 0) & (rows < size) & (cols >= 0) & (cols < size)
        self._rows, self._cols, self._colours = rows[keep], cols[keep], paint[keep]
        self.size = int(size)

    def stamp(self, rgba: np.ndarray) -> np.ndarray:
        """``rgba`` with the points drawn on it (changed in place and returned)."""
        if rgba.shape[:2] != (self.size, self.size):
            raise ValueError(f"expected a {self.size}x{self.size} map, got {rgba.shape[:2]}")
        rgba[self._rows, self._cols, :3] = self._colours  # numpy assigns in order: the last write wins
        rgba[self._rows, self._cols, 3] = 255
        return rgba


def decision_key_html(names: Sequence[str], counts: Optional[Sequence[int]] = None) -> str:
    """The decision map's key: one swatch per class (its name escaped), and how to read the map."""
    colours = _palette(len(names)).astype(int)
    items = "".join(
        f"<span style='display:inline-flex;align-items:center;gap:4px;margin-right:10px'>"
        f"<span style='width:12px;height:12px;border:1px solid {THEME['border']};"
        f"background:rgb({c[0]},{c[1]},{c[2]})'></span>{html.escape(str(name))}"
        + (f" ({counts[i]})" if counts is not None else "") + "</span>"
        for i, (name, c) in enumerate(zip(names, colours)))
    return (f"<div class='nnl-legend nnl-class-key' style='color:{THEME['fg']};font-family:{THEME['font']};"
            f"font-size:12px;line-height:1.5;max-width:300px'>{items}"
            f"<div>background: the class the network predicts there, stronger where it is surer, "
            f"white where classes tie. Squares: data points in their class's colour, "
            f"dark edge = training point, white edge = test point.</div></div>")

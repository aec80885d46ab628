"""A network drawn as TensorFlow Playground draws it: columns of neuron pictures joined by weights.

``DiagramLayout`` places every neuron of a network of given layer sizes
(inputs, hidden layers, outputs) as a square tile and every weight as a
line from the right edge of its source tile to the left edge of its target
tile; ``hit`` tells what is under a point of the picture. ``draw_diagram``
draws the lines (colour: the weight on a diverging scale; width and opacity
grow with its size) on a transparent background, so the page's theme shows
through, then the tiles on top. Lines are drawn at the picture's own
resolution: drawing them twice as large and halving smooths their edges
but costs five times as long, and the diagram is redrawn many times a
second while a network trains.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import List, Optional, Sequence, Tuple

import numpy as np

from .colormap import lut

__all__ = ["DiagramLayout", "Hit", "draw_diagram", "weight_style"]

MAX_HEIGHT = 330  # px for the tallest column
MAX_WIDTH = 480  # beside the 300 px map in a 1280 px window with the file browser open
TILE_MAX, TILE_MIN = 40, 12
GAP = 6  # between two tiles of a column
PAD = 4  # around the picture
NEAR = 4.0  # px: how close to a line a point must be to hit it
TILE_EDGE = (128, 128, 128, 255)


@dataclass(frozen=True)
class Hit:
    """What is under a point: ``("neuron", column, unit)`` or ``("weight", layer, target, source)``.

    ``layer`` counts linear layers from 0 (the one from column ``layer`` to
    column ``layer + 1``).
    """

    kind: str
    index: Tuple[int, ...]


class DiagramLayout:
    """Where each neuron and weight goes for columns of ``sizes`` neurons."""

    def __init__(self, sizes: Sequence[int]):
        self.sizes = [int(n) for n in sizes]
        if len(self.sizes) < 2 or min(self.sizes) < 1:
            raise ValueError(f"expected at least 2 columns of at least 1 neuron, got {self.sizes}")
        tallest = max(self.sizes)
        self.tile = int(np.clip((MAX_HEIGHT - GAP * (tallest - 1)) // tallest, TILE_MIN, TILE_MAX))
        cols = len(self.sizes)
        self.spacing = int(np.clip((MAX_WIDTH - 2 * PAD - cols * self.tile) // (cols - 1), 36, 120))
        self.width = 2 * PAD + cols * self.tile + (cols - 1) * self.spacing
        column_px = lambda n: n * self.tile + (n - 1) * GAP
        self.height = 2 * PAD + column_px(tallest)
        self.x = [PAD + c * (self.tile + self.spacing) for c in range(cols)]
        self.y = [[PAD + (column_px(tallest) - column_px(n)) // 2 + i * (self.tile + GAP) for i in range(n)]
                  for n in self.sizes]

    def rect(self, column: int, unit: int) -> Tuple[int, int, int, int]:
        """(x, y, w, h) of a neuron's tile."""
        return self.x[column], self.y[column][unit], self.tile, self.tile

    def segment(self, layer: int, target: int, source: int) -> Tuple[float, float, float, float]:
        """(x0, y0, x1, y1) of the weight from ``source`` in column ``layer`` to ``target`` in the next."""
        half = self.tile / 2
        return (self.x[layer] + self.tile, self.y[layer][source] + half,
                self.x[layer + 1], self.y[layer + 1][target] + half)

    def hit(self, x: float, y: float) -> Optional[Hit]:
        """The neuron or weight under (x, y) in picture pixels, or None."""
        for c, ys in enumerate(self.y):
            if self.x[c] - 2 <= x <= self.x[c] + self.tile + 2:
                for i, top in enumerate(ys):
                    if top - 2 <= y <= top + self.tile + 2:
                        return Hit("neuron", (c, i))
                return None
        for layer in range(len(self.sizes) - 1):
            if self.x[layer] + self.tile < x < self.x[layer + 1]:
                return self._nearest_weight(layer, x, y)
        return None

    def _nearest_weight(self, layer: int, x: float, y: float) -> Optional[Hit]:
        x0, x1 = self.x[layer] + self.tile, self.x[layer + 1]
        t = (x - x0) / (x1 - x0)
        sources = np.asarray(self.y[layer], float) + self.tile / 2
        targets = np.asarray(self.y[layer + 1], float) + self.tile / 2
        line_y = (1 - t) * sources[None, :] + t * targets[:, None]  # (target, source) at this x
        slope = (targets[:, None] - sources[None, :]) / (x1 - x0)
        distance = np.abs(line_y - y) / np.sqrt(1 + slope**2)  # perpendicular distance to each line
        j, i = np.unravel_index(int(np.argmin(distance)), distance.shape)
        return Hit("weight", (layer, int(j), int(i))) if distance[j, i] <= NEAR else None


def weight_style(weight: float, wmax: float, cmap: str) -> Tuple[Tuple[int, int, int, int], float]:
    """A weight's line: RGBA colour (the diverging scale, opacity growing with |w|) and width in px."""
    m = min(abs(weight) / wmax, 1.0) if wmax > 0 else 0.0
    r, g, b, _ = lut(cmap)[int(round((0.5 + 0.5 * math.copysign(m, weight)) * 255))]
    return (int(r), int(g), int(b), int(round(255 * (0.3 + 0.7 * m)))), 0.6 + 3.4 * m


def draw_diagram(layout: DiagramLayout, tiles: Sequence[np.ndarray], weights: Sequence[np.ndarray], wmax: float,
                 cmap: str) -> np.ndarray:
    """The diagram as RGBA: ``tiles[c]`` is column ``c``'s (n, t, t, 4) pictures, ``weights[l]`` the
    (out, in) weights between columns ``l`` and ``l + 1``; line colours on ``cmap`` over +-``wmax``."""
    from PIL import Image, ImageDraw

    weights = [np.nan_to_num(w, nan=0.0, posinf=wmax, neginf=-wmax) for w in weights]  # a diverged net still draws
    canvas = Image.new("RGBA", (layout.width, layout.height), (0, 0, 0, 0))
    pen = ImageDraw.Draw(canvas)  # a line replaces what is under it (no blending): the larger weight on top
    lines: List[Tuple[float, int, int, int]] = [
        (abs(float(w[j, i])), layer, j, i) for layer, w in enumerate(weights)
        for j in range(w.shape[0]) for i in range(w.shape[1])]
    for size, layer, j, i in sorted(lines):  # the largest weights last, on top
        colour, width = weight_style(float(weights[layer][j, i]), wmax, cmap)
        x0, y0, x1, y1 = layout.segment(layer, j, i)
        pen.line([(x0, y0), (x1, y1)], fill=colour, width=max(1, round(width)))
    out = np.array(canvas)
    t = layout.tile
    for c, column in enumerate(tiles):
        if column.shape[1:3] != (t, t):
            raise ValueError(f"expected tiles of {t}x{t} px in column {c}, got {column.shape[1:3]}")
        for i, picture in enumerate(column):
            x, y, _, _ = layout.rect(c, i)
            out[y - 1:y + t + 1, x - 1:x + t + 1] = TILE_EDGE
            out[y:y + t, x:x + t] = picture
    return out

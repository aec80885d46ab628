"""Lay many small pictures out as one, and map canvas pixels back to tiles."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional, Tuple

import numpy as np

__all__ = ["TileLayout", "tile", "upscale", "fit_factor"]


@dataclass(frozen=True)
class TileLayout:
    """Where tile ``i`` sits in a grid picture (``gap`` pixels between tiles)."""

    count: int
    rows: int
    cols: int
    tile_h: int
    tile_w: int
    gap: int

    @classmethod
    def for_count(cls, count: int, tile_h: int, tile_w: int, gap: int = 1,
                  cols: Optional[int] = None) -> "TileLayout":
        if cols is None:  # close to square, in pixels rather than in tiles
            cols = max(1, math.ceil(math.sqrt(count * tile_h / max(tile_w, 1))))
        cols = max(1, min(cols, max(count, 1)))
        rows = max(1, math.ceil(count / cols))
        return cls(count, rows, cols, tile_h, tile_w, gap)

    @property
    def height(self) -> int:
        return self.rows * self.tile_h + (self.rows + 1) * self.gap

    @property
    def width(self) -> int:
        return self.cols * self.tile_w + (self.cols + 1) * self.gap

    def origin(self, i: int) -> Tuple[int, int]:
        """Top-left pixel (y, x) of tile ``i``."""
        r, c = divmod(i, self.cols)
        return self.gap + r * (self.tile_h + self.gap), self.gap + c * (self.tile_w + self.gap)

    def rect(self, i: int) -> Tuple[int, int, int, int]:
        """(x, y, w, h) of tile ``i``, the order canvases use."""
        y, x = self.origin(i)
        return x, y, self.tile_w, self.tile_h

    def index_at(self, x: float, y: float) -> Optional[int]:
        """The tile under pixel (x, y); a gap counts for the tile to its right/below."""
        c = int((x - self.gap / 2) // (self.tile_w + self.gap)) if x >= 0 else -1
        r = int((y - self.gap / 2) // (self.tile_h + self.gap)) if y >= 0 else -1
        if not (0 <= c < self.cols and 0 <= r < self.rows):
            return None
        i = r * self.cols + c
        return i if i < self.count else None


def tile(images: np.ndarray, layout: TileLayout, background=(40, 40, 40, 255)) -> np.ndarray:
    """Place ``images`` (N, h, w, 4) uint8 into one RGBA picture following ``layout``."""
    images = np.asarray(images)
    if images.ndim != 4 or images.shape[3] != 4:
        raise ValueError(f"expected RGBA tiles shaped (N, h, w, 4), got {images.shape}")
    n, h, w, _ = images.shape
    if (h, w) != (layout.tile_h, layout.tile_w) or n > layout.count:
        raise ValueError(f"tiles {images.shape} do not fit layout {layout}")
    out = np.empty((layout.height, layout.width, 4), dtype=np.uint8)
    out[:] = np.asarray(background, dtype=np.uint8)
    for i in range(n):
        y, x = layout.origin(i)
        out[y:y + h, x:x + w] = images[i]
    return out


def upscale(img: np.ndarray, factor: int) -> np.ndarray:
    """Nearest-neighbour enlargement of the first two axes by an integer factor."""
    factor = int(factor)
    if factor < 1:
        raise ValueError(f"expected an integer upscale factor >= 1, got {factor}")
    if factor == 1:
        return img
    return np.repeat(np.repeat(img, factor, axis=0), factor, axis=1)


def fit_factor(size: int, target: int, limit: int = 64) -> int:
    """Largest integer factor (>= 1, <= limit) keeping ``size * factor <= target``."""
    return max(1, min(limit, int(target // max(size, 1))))

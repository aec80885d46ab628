"""The pad that moves two weights together, drawn as the error over their values.

The pad covers a grid of ``cells x cells`` value pairs of two weights,
centred on their original values (the middle cell), ``reach`` to either
side; each cell is coloured by the error of the painting at that pair and
drawn ``cell_px`` pixels wide, so the markers (the original pair and the
current one) can sit between cell centres. Right and up are larger values.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Tuple

import numpy as np

from .colormap import apply_cmap

__all__ = ["PAD_CELLS", "PAD_CELL_PX", "PAD_CMAP", "PadGeometry", "pad_rgba"]

PAD_CELLS = 17  # odd, so the middle cell is the original pair
PAD_CELL_PX = 10
PAD_CMAP = "viridis"  # error: dark is low
CURRENT_COLOUR = (255, 59, 48)  # red ring: the two weights now
ORIGINAL_COLOUR = (255, 255, 255)  # white dot: the network's values
OUTLINE_COLOUR = (20, 20, 20)  # dark edge that keeps both markers visible on any cell
CROSSHAIR_WHITE = 0.35  # the lines through the original pair: this much white blended in
CURRENT_RING = 4  # half the side of the current marker's ring, in pixels


@dataclass(frozen=True)
class PadGeometry:
    """Where offsets from the original values sit on the pad, in picture pixels.

    ``reach``: the largest offset shown on either side; offsets run from
    ``-reach`` (left, bottom) to ``+reach`` (right, top).
    """

    reach: float
    cells: int = PAD_CELLS
    cell_px: int = PAD_CELL_PX

    @property
    def size(self) -> int:
        return self.cells * self.cell_px

    @property
    def spacing(self) -> float:
        return 2.0 * self.reach / (self.cells - 1)

    def offsets(self) -> np.ndarray:
        """The offsets of the cell centres, left to right (``-reach..+reach``)."""
        return np.linspace(-self.reach, self.reach, self.cells)

    def x_of(self, offset: float) -> float:
        """The x pixel (fractional) of an offset, clipped to the pad."""
        x = ((float(offset) + self.reach) / self.spacing + 0.5) * self.cell_px
        return float(np.clip(x, 0.0, self.size))

    def y_of(self, offset: float) -> float:
        """The y pixel of an offset (up is positive)."""
        return self.size - self.x_of(offset)

    def offset_at(self, x: float, y: float) -> Tuple[float, float]:
        """The offsets at pixel ``(x, y)``, clipped to ``-reach..+reach``."""
        def along(p):
            return float(np.clip((p / self.cell_px - 0.5) * self.spacing - self.reach, -self.reach, self.reach))

        return along(float(x)), along(self.size - float(y))


def pad_rgba(errors: np.ndarray, geometry: PadGeometry, low: float, high: float,
             current: Tuple[float, float]) -> np.ndarray:
    """The pad picture: ``errors`` (rows top = largest y offset) coloured from ``low`` to
    ``high``, crosshair lines through the original pair, a white dot on it and a red ring
    on the ``current`` offsets ``(dx, dy)``."""
    e = np.asarray(errors, dtype=np.float64)
    if e.shape != (geometry.cells, geometry.cells):
        raise ValueError(f"expected errors shaped ({geometry.cells}, {geometry.cells}), got {e.shape}")
    span = high - low if high > low else 1.0
    cells = apply_cmap((e - low) / span, PAD_CMAP)
    rgba = np.repeat(np.repeat(cells, geometry.cell_px, axis=0), geometry.cell_px, axis=1)
    size = geometry.size
    mid = int(round(geometry.x_of(0.0)))
    for line in (rgba[mid, :, :3], rgba[:, mid, :3]):  # views: blended in place
        line[:] = np.rint(line * (1 - CROSSHAIR_WHITE) + 255 * CROSSHAIR_WHITE).astype(np.uint8)
    _square(rgba, mid, mid, 2, OUTLINE_COLOUR)
    _square(rgba, mid, mid, 1, ORIGINAL_COLOUR)
    cx = int(np.clip(round(geometry.x_of(current[0])), 0, size - 1))
    cy = int(np.clip(round(geometry.y_of(current[1])), 0, size - 1))
    r = CURRENT_RING
    _ring(rgba, cx, cy, r + 1, OUTLINE_COLOUR)
    _ring(rgba, cx, cy, r, CURRENT_COLOUR)
    _ring(rgba, cx, cy, r - 1, CURRENT_COLOUR)
    return rgba


def _square(rgba: np.ndarray, x: int, y: int, r: int, colour) -> None:
    rgba[max(y - r, 0):y + r + 1, max(x - r, 0):x + r + 1, :3] = colour


def _ring(rgba: np.ndarray, x: int, y: int, r: int, colour) -> None:
    h, w = rgba.shape[:2]
    y0, y1, x0, x1 = max(y - r, 0), min(y + r, h - 1), max(x - r, 0), min(x + r, w - 1)
    rgba[y0:y1 + 1, [x0, x1], :3] = colour
    rgba[[y0, y1], x0:x1 + 1, :3] = colour

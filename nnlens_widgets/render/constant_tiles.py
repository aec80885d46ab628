"""Tiles of channels that carry no information drawn apart: a grey hatch, never a colour of the map.

A constant channel scaled "to its own range" has no range; any colour given
to it (viridis's teal for a dead ReLU) would read as a response. Its tile is
filled with diagonal stripes of grey and half-transparent grey instead: the
transparent stripes cannot be a colour-map colour (those are opaque), so the
tile reads as "nothing here" whatever colour map is in use.
"""
from __future__ import annotations

from typing import Iterable

import numpy as np

from .channels import ChannelGrid

__all__ = ["HATCH_GREY", "HATCH_ALPHA", "hatch", "hatch_tiles"]

HATCH_GREY = (128, 128, 128)
HATCH_ALPHA = (255, 64)  # the dark and the light stripe


def hatch(h: int, w: int, period: int = 4) -> np.ndarray:
    """An (h, w, 4) uint8 picture of diagonal grey stripes, ``period`` pixels apart (at least 2)."""
    period = max(2, int(period))
    yy, xx = np.mgrid[0:h, 0:w]
    dark = (yy + xx) % period < period // 2
    out = np.empty((h, w, 4), dtype=np.uint8)
    out[..., :3] = HATCH_GREY
    out[..., 3] = np.where(dark, HATCH_ALPHA[0], HATCH_ALPHA[1])
    return out


def hatch_tiles(grid: ChannelGrid, channels: Iterable[int]) -> ChannelGrid:
    """``grid`` with the tiles of ``channels`` (absolute indices; others on no page are skipped) hatched."""
    rgba = grid.rgba.copy()
    layout = grid.layout
    for c in channels:
        i = int(c) - grid.start
        if not 0 <= i < layout.count:
            continue
        x, y, w, h = layout.rect(i)
        period = 4 if min(w, h) >= 4 else 2
        rgba[y:y + h, x:x + w] = hatch(h, w, period)
    return ChannelGrid(rgba, layout, grid.start, grid.factor)

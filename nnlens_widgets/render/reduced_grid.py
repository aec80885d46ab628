"""A channel grid sent no larger than it is shown: tiles reduced to their display size.

An early layer of a big network (resnet18's ``conv1``: 64 maps of 112x112)
tiled at full resolution is a 905-pixel picture drawn in a box about 450
pixels wide: three quarters of its pixels never reach the screen, yet every
layer change sends them. ``display_grid`` colours each map exactly as
``channel_grid`` does (the same per-channel or shared range, taken from the
full-resolution maps) and then averages blocks of ``k x k`` coloured values,
with ``k`` the smallest whole factor that makes the grid fit ``target_px``.
The enlarged single channel stays exact; only the overview is reduced.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .channels import ChannelGrid, _layout, channel_range
from .colormap import apply_cmap
from .normalize import scale01, scale_channels
from .tiling import TileLayout, tile

__all__ = ["DisplayGrid", "display_grid", "reduction_factor", "block_mean"]


@dataclass(frozen=True)
class DisplayGrid:
    """A ``ChannelGrid`` whose tiles may be reduced: ``tile_shape`` as sent, ``map_shape`` as computed."""

    grid: ChannelGrid
    map_shape: tuple
    tile_shape: tuple

    @property
    def reduced(self) -> bool:
        return self.tile_shape != self.map_shape

    def note(self) -> str:
        """What a title should say when the tiles are reduced ("" when they are exact)."""
        if not self.reduced:
            return ""
        (th, tw), (mh, mw) = self.tile_shape, self.map_shape
        return f"tiles shown at {tw}x{th} of {mw}x{mh}; the enlarged view is exact"


def reduction_factor(count: int, h: int, w: int, target_px: int) -> int:
    """Smallest whole ``k`` such that ``count`` tiles of ``h/k x w/k`` fit ``target_px`` across (1: none)."""
    cols = TileLayout.for_count(count, h, w).cols
    return max(1, math.ceil(cols * w / max(int(target_px), 1)))


def block_mean(values: np.ndarray, k: int) -> np.ndarray:
    """Average ``k x k`` blocks of the last two axes (edges padded by repetition), float32."""
    if k <= 1:
        return np.asarray(values, dtype=np.float32)
    *lead, h, w = values.shape
    ph, pw = -h % k, -w % k
    pad = [(0, 0)] * len(lead) + [(0, ph), (0, pw)]
    padded = np.pad(np.asarray(values, dtype=np.float32), pad, mode="edge")
    blocks = padded.reshape(*lead, (h + ph) // k, k, (w + pw) // k, k)
    return blocks.mean(axis=(-3, -1), dtype=np.float32)


def display_grid(maps: np.ndarray, normalization: str = "channel", cmap: str = "viridis", start: int = 0,
                 count: int | None = None, target_px: int = 448, min_tile_px: int = 12) -> DisplayGrid:
    """Channels ``start .. start+count`` of ``maps`` (C, h, w) tiled at no more than ``target_px`` across.

    Tiles are at the maps' own resolution when that fits (then this equals
    ``channel_grid(..., enlarge=False)`` pixel for pixel); otherwise reduced
    by the whole factor ``reduction_factor`` gives, after colour scaling, so a
    tile's colours mean what the colour bar says.
    """
    c, h, w = maps.shape
    count = c - start if count is None else min(count, c - start)
    page = maps[start:start + count]
    if normalization == "shared":
        values = scale01(page, *channel_range(maps, 0, "shared"))
    else:
        values = scale_channels(page, normalization)
    k = reduction_factor(count, h, w, target_px)
    values = block_mean(values, k)
    th, tw = values.shape[1:]
    layout, factor = _layout(count, th, tw, target_px, min_tile_px, enlarge=False)
    rgba = tile(apply_cmap(values, cmap), layout)
    return DisplayGrid(ChannelGrid(rgba, layout, start, factor), (h, w), (th, tw))

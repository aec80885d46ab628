"""Pictures of a layer's channels: the tile grid and the enlarged single channel."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional, Tuple

import numpy as np

from .colormap import apply_cmap
from .normalize import NORMALIZATIONS, scale01, scale_channels
from .tiling import TileLayout, fit_factor, tile, upscale

__all__ = [
    "flat_tiles_note",
    "channel_maps", "channel_range", "ChannelGrid", "channel_grid", "channel_picture", "rgb_grid",
]


def channel_maps(a: np.ndarray) -> np.ndarray:
    """View one sample's layer output as a stack of 2-D maps ``(C, h, w)``.

    ``(C,)`` (a linear layer) becomes C cells of 1x1, ``(C, L)`` C strips of
    1xL, ``(C, H, W)`` stays as it is.
    """
    a = np.asarray(a, dtype=np.float32)
    if a.ndim == 1:
        return a[:, None, None]
    if a.ndim == 2:
        return a[:, None, :]
    if a.ndim == 3:
        return a
    raise ValueError(
        "expected one sample's layer output shaped (C,), (C, L) or (C, H, W), "
        f"got {a.shape}"
    )


def channel_range(
    maps: np.ndarray, index: int, normalization: str, symmetric: bool = False
) -> Tuple[float, float]:
    """The value range that maps to the colormap's ends for channel ``index``.

    ``symmetric`` centres the range on zero (for diverging colormaps).
    """
    if normalization not in NORMALIZATIONS:
        raise ValueError(f"expected normalisation in {NORMALIZATIONS}, got {normalization!r}")
    m = maps[index] if normalization == "channel" else maps
    if symmetric:
        a = float(np.abs(m).max())
        return -a, a
    return float(m.min()), float(m.max())


@dataclass(frozen=True)
class ChannelGrid:
    rgba: np.ndarray
    layout: TileLayout
    start: int  # channel shown in tile 0
    factor: int  # each activation pixel is factor x factor canvas pixels


def channel_grid(
    maps: np.ndarray,
    normalization: str = "channel",
    cmap: str = "viridis",
    start: int = 0,
    count: Optional[int] = None,
    target_px: int = 512,
    min_tile_px: int = 12,
    symmetric: bool = False,
    enlarge: bool = True,
) -> ChannelGrid:
    """Tile channels ``start .. start+count`` of ``maps`` (C, h, w) into one RGBA picture.

    Tiles are enlarged by a whole factor (nearest neighbour) so the grid is
    about ``target_px`` wide and no tile is smaller than ``min_tile_px``;
    with ``enlarge=False`` the picture keeps the maps' own resolution and
    ``factor`` says how much to enlarge it on screen (light to send).
    Shared normalisation uses the range of all C channels, not just this page.
    """
    c, h, w = maps.shape
    count = c - start if count is None else min(count, c - start)
    page = maps[start:start + count]
    layout, factor = _layout(count, h, w, target_px, min_tile_px, enlarge)
    if normalization == "shared":
        values = scale01(page, *channel_range(maps, 0, "shared", symmetric))
    else:
        values = scale_channels(page, normalization, symmetric)
    return _grid_of(apply_cmap(values, cmap), layout, start, factor, enlarge)


def _layout(n: int, h: int, w: int, target_px: int, min_tile_px: int, enlarge: bool = True):
    """A near-square layout of ``n`` tiles enlarged by a whole factor to about ``target_px``."""
    base = TileLayout.for_count(n, h, w)
    factor = max(fit_factor(base.cols * w, target_px), math.ceil(min_tile_px / max(h, w)))
    if not enlarge:
        return base, factor
    return TileLayout.for_count(n, h * factor, w * factor, gap=1, cols=base.cols), factor


def _grid_of(tiles: np.ndarray, layout: TileLayout, start: int, factor: int,
             enlarge: bool = True) -> ChannelGrid:
    if enlarge:
        tiles = upscale(tiles.transpose(1, 2, 0, 3), factor).transpose(2, 0, 1, 3)
    return ChannelGrid(tile(tiles, layout), layout, start, factor)


def rgb_grid(images: np.ndarray, target_px: int = 512, min_tile_px: int = 12,
             enlarge: bool = True) -> ChannelGrid:
    """Tile colour images ``(N, h, w, 3)`` with values in [0, 1] (e.g. RGB filters)."""
    n, h, w, _ = images.shape
    layout, factor = _layout(n, h, w, target_px, min_tile_px, enlarge)
    rgba = np.empty((n, h, w, 4), dtype=np.uint8)
    rgba[..., :3] = np.clip(np.rint(np.asarray(images) * 255), 0, 255)
    rgba[..., 3] = 255
    return _grid_of(rgba, layout, 0, factor, enlarge)


def channel_picture(
    maps: np.ndarray, index: int, normalization: str = "channel", cmap: str = "viridis",
    target_px: int = 256, symmetric: bool = False, enlarge: bool = True,
) -> np.ndarray:
    """One channel enlarged to about ``target_px`` (``enlarge=False``: at its own
    resolution), coloured exactly as in the grid."""
    lo, hi = channel_range(maps, index, normalization, symmetric)
    m = maps[index]
    picture = apply_cmap(scale01(m, lo, hi), cmap)
    return upscale(picture, fit_factor(max(m.shape), target_px)) if enlarge else picture


def flat_tiles_note(maps: np.ndarray, start: int = 0, stop: Optional[int] = None) -> str:
    """Why some tiles of a per-tile normalised grid show one flat colour ("" when none do)."""
    flat = int(sum(np.ptp(maps[c]) == 0 for c in range(start, len(maps) if stop is None else stop)))
    return (f"{flat} flat tile(s): a channel that is constant for this input has no range to colour"
            if flat else "")

"""Attention over a patch grid as pictures: a layer x head grid of small maps, and one map over the image.

Each map is one value per patch (``h x w``); a tile shows it one pixel per
patch, an overlay enlarges it to the image so each patch's colour covers
exactly the pixels of that patch.
"""
from __future__ import annotations

from typing import Tuple, Union

import numpy as np

from .attribution_maps import overlay_rgba
from .colormap import apply_cmap
from .tiling import TileLayout, tile

__all__ = ["patch_tiles", "patch_pixels", "patch_overlay", "ATTENTION_CMAP"]

#: dark = little attention, bright = much; readable over the grey photo of an overlay
ATTENTION_CMAP = "inferno"


def patch_tiles(values: np.ndarray, present: np.ndarray, vmax: Union[float, np.ndarray],
                cmap: str = ATTENTION_CMAP, gap: int = 1) -> Tuple[np.ndarray, TileLayout]:
    """A grid picture of ``values`` ``(rows, cols, h, w)``, one ``h x w`` tile per (row, col).

    ``present`` ``(rows, cols)``: tiles that exist (absent ones stay the
    background). ``vmax``: the value at the colormap's top, one for all
    tiles or one per tile ``(rows, cols)``; 0 is its bottom.
    """
    v = np.asarray(values, dtype=np.float32)
    if v.ndim != 4:
        raise ValueError(f"expected maps shaped (rows, cols, h, w), got {v.shape}")
    rows, cols, h, w = v.shape
    top = np.broadcast_to(np.asarray(vmax, dtype=np.float32), (rows, cols))
    top = np.where(np.isfinite(top) & (top > 0), top, 1.0)
    rgba = apply_cmap(v / top[:, :, None, None], cmap)
    rgba[~np.asarray(present, dtype=bool)] = (40, 40, 40, 255)
    layout = TileLayout.for_count(rows * cols, h, w, gap=gap, cols=cols)
    return tile(rgba.reshape(rows * cols, h, w, 4), layout), layout


def patch_pixels(values: np.ndarray, size: Tuple[int, int]) -> np.ndarray:
    """An ``(h, w)`` patch map enlarged to ``size`` = (H, W): each pixel takes its patch's value."""
    v = np.asarray(values)
    if v.ndim != 2:
        raise ValueError(f"expected a patch map shaped (h, w), got {v.shape}")
    height, width = size
    rows = (np.arange(height) * v.shape[0] // height)[:, None]
    cols = (np.arange(width) * v.shape[1] // width)[None, :]
    return v[rows, cols]


def patch_overlay(photo: np.ndarray, values: np.ndarray, vmax: float, cmap: str = ATTENTION_CMAP,
                  opacity: float = 0.85) -> np.ndarray:
    """``values`` ``(h, w)`` (>= 0) coloured over a grey copy of ``photo`` (RGBA), opacity growing with the value."""
    top = float(vmax) if np.isfinite(vmax) and vmax > 0 else 1.0
    return overlay_rgba(photo, patch_pixels(values, photo.shape[:2]), "positive", top, opacity, cmap)

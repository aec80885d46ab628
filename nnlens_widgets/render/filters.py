"""Pictures of a conv layer's weights, on one scale for the whole layer.

Weights are signed, so zero sits in the middle of the scale: mid grey in the
colour view (a filter reading 3 channels drawn as an RGB picture) and the
middle colour of a diverging colormap in the per-channel view. One range,
``±reach`` over the whole layer, is used for every filter and every input
channel, so tiles compare and changing the input channel keeps the scale.
``reach`` is the 99th percentile of |w|: trained layers often hold a few
weights several times larger than the rest, which would otherwise leave
every other weight near the middle colour; the few beyond it saturate.
All pictures are at the weights' own resolution (one pixel per weight);
views enlarge them on screen.
"""
from __future__ import annotations

import numpy as np

from .channels import ChannelGrid
from .colormap import apply_cmap
from .normalize import scale01
from .tiling import TileLayout, fit_factor, tile

__all__ = ["weight_reach", "color_filters", "channel_filters", "filter_tiles"]


def weight_reach(weight: np.ndarray, quantile: float = 0.99) -> float:
    """The end of the layer's colour scale: the ``quantile`` of |weight| (the largest |weight|
    if that quantile is zero); the scale runs from minus it to plus it."""
    if not weight.size:
        return 0.0
    magnitude = np.abs(np.asarray(weight, dtype=np.float64))
    reach = float(np.quantile(magnitude, quantile))
    return reach if reach > 0 else float(magnitude.max())


def color_filters(weight: np.ndarray, reach: float) -> np.ndarray:
    """``(out, 3, kh, kw)`` -> ``(out, kh, kw, 4)`` RGBA: 0 is mid grey, ``±reach`` the ends."""
    unit = 0.5 + 0.5 * weight.transpose(0, 2, 3, 1) / (reach if reach > 0 else 1.0)
    rgba = np.empty(unit.shape[:3] + (4,), dtype=np.uint8)
    rgba[..., :3] = np.clip(np.rint(unit * 255), 0, 255)
    rgba[..., 3] = 255
    return rgba


def channel_filters(maps: np.ndarray, reach: float, cmap: str) -> np.ndarray:
    """Signed maps ``(n, kh, kw)`` -> ``(n, kh, kw, 4)`` RGBA on ``[-reach, reach]``."""
    return apply_cmap(scale01(maps, -reach, reach), cmap)


def filter_tiles(tiles: np.ndarray, target_px: int) -> ChannelGrid:
    """RGBA tiles ``(n, kh, kw, 4)`` in a near-square grid at their own resolution;
    ``factor`` enlarges the grid to about ``target_px`` on screen."""
    n, h, w, _ = tiles.shape
    layout = TileLayout.for_count(n, h, w)
    factor = fit_factor(layout.width, target_px)
    return ChannelGrid(tile(tiles, layout), layout, 0, factor)

"""Concept axes over an image: one diverging heat map per axis, on one shared colour scale."""
from __future__ import annotations

from typing import Tuple

import numpy as np

from .heatmap import image_rgba, overlay_maps

__all__ = ["pale", "axis_overlays"]


def pale(picture: np.ndarray) -> np.ndarray:
    """A light grey copy of an RGBA picture (its brightness kept faintly), for maps drawn over it.

    A heat map over the image's own colours would be hard to read where the
    image is red or blue itself.
    """
    out = picture.copy()
    out[..., :3] = (160 + 0.35 * picture[..., :3].astype(np.float32).mean(-1, keepdims=True)).astype(np.uint8)
    return out


def axis_overlays(image, maps: np.ndarray, percentile: float = 99.0) -> Tuple[np.ndarray, float]:
    """Each map ``(K, h, w)`` over a pale copy of ``image`` ``(C, H, W)``; returns ``(K, H, W, 4)`` and vmax.

    One colour scale for all K maps (so axes compare): full colour at the
    ``percentile`` of ``|value|`` over all maps, so a few extreme pixels do not
    leave the rest invisible; red above zero, blue below, opacity with |value|.
    """
    maps = np.asarray(maps, dtype=np.float32)
    if maps.ndim != 3:
        raise ValueError(f"expected maps shaped (K, h, w), got {maps.shape}")
    if not 0 < percentile <= 100:
        raise ValueError(f"expected a percentile in (0, 100], got {percentile}")
    vmax = float(np.percentile(np.abs(maps), percentile)) if maps.size else 0.0
    if not np.isfinite(vmax) or vmax <= 0:
        vmax = float(np.abs(maps).max()) if maps.size and np.isfinite(maps).all() else 0.0
    vmax = vmax if vmax > 0 else 1.0
    picture = pale(image_rgba(np.asarray(image)))
    return overlay_maps(picture, maps, vmax=vmax, opacity=0.85), vmax

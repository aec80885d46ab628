"""Pictures of data set images: a batch tiled at its own resolution, and boxes over the tiles.

Used wherever a widget shows example images (top examples of a unit, the
images of a concept): the tiles keep every input pixel exactly, the screen
enlarges them, and a box drawn over an image (the region that drives a
unit) is a mark in picture pixels rather than pixels painted into the image.
"""
from __future__ import annotations

from typing import List, Optional, Sequence, Tuple

import numpy as np

from .tiling import TileLayout, tile

__all__ = ["display_images", "example_grid", "box_marks"]


def display_images(images) -> np.ndarray:
    """``(N, C, H, W)`` images (C = 1 or 3; a tensor or array) as ``(N, H, W, 3)`` floats in [0, 1].

    Values already in [0, 1] are shown as they are; any other range (e.g.
    normalised inputs) is scaled to [0, 1] with one range for the whole
    batch, so the images stay comparable. Other channel counts are shown as
    the mean over channels.
    """
    a = np.asarray(images.detach().cpu().float() if hasattr(images, "detach") else images, dtype=np.float32)
    if a.ndim != 4:
        raise ValueError(f"expected images shaped (N, C, H, W), got {a.shape}")
    lo, hi = (float(a.min()), float(a.max())) if a.size else (0.0, 1.0)
    if lo < 0 or hi > 1:
        a = (a - lo) / (hi - lo) if hi > lo else np.zeros_like(a)
    a = a.transpose(0, 2, 3, 1)
    if a.shape[-1] != 3:
        a = np.repeat(a.mean(-1, keepdims=True), 3, axis=-1)
    return a


def example_grid(images, cols: Optional[int] = None, gap: int = 1,
                 background=(40, 40, 40, 255)) -> Tuple[np.ndarray, TileLayout]:
    """Tile ``images`` ``(N, C, H, W)`` into one RGBA picture at their own resolution.

    ``cols`` tiles per row (default: close to square). Returns the picture
    and its ``TileLayout`` (to map clicks to images and boxes to pixels).
    """
    rgb = display_images(images)
    n, h, w, _ = rgb.shape
    if n == 0:
        raise ValueError("expected at least one image to show")
    layout = TileLayout.for_count(n, h, w, gap=gap, cols=cols)
    rgba = np.empty((n, h, w, 4), dtype=np.uint8)
    rgba[..., :3] = np.clip(np.rint(rgb * 255), 0, 255)
    rgba[..., 3] = 255
    return tile(rgba, layout, background), layout


def box_marks(layout: TileLayout, boxes: Sequence[Tuple[int, int, int, int]], color: str,
              width: int = 2) -> List[dict]:
    """Canvas marks outlining box ``(x0, y0, x1, y1)`` (image pixels, end exclusive) of tile ``i``."""
    marks = []
    for i, (x0, y0, x1, y1) in enumerate(boxes):
        oy, ox = layout.origin(i)
        marks.append(dict(x=ox + x0, y=oy + y0, w=x1 - x0, h=y1 - y0, color=color, width=width))
    return marks

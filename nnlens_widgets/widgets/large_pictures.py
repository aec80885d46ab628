"""Pictures of very large inputs are drawn reduced by a whole factor.

A 2000x2000 photo drawn at its own resolution costs 16 MB per RGBA frame,
several times over while it is blended, encoded and sent, for every partial
map; and no screen shows it at that size beside its controls. Pictures up to
``MAX_FRAME_SIDE`` pixels keep their exact pixels; larger ones are drawn at
1/factor, each pixel the mean of a factor x factor block, and say so.
"""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from ..render import image_rgba

__all__ = ["MAX_FRAME_SIDE", "reduction", "reduced", "reduced_image", "reduction_note"]

MAX_FRAME_SIDE = 1024
_STRIP = 64  # output rows reduced at a time


def reduction(shape: Sequence[int]) -> int:
    """The smallest whole factor bringing a picture of ``shape`` (H, W) within ``MAX_FRAME_SIDE``."""
    return max(1, math.ceil(max(int(s) for s in shape[:2]) / MAX_FRAME_SIDE))


def reduced(picture: np.ndarray, factor: int) -> np.ndarray:
    """``picture`` (H, W) or (H, W, C) with each ``factor`` x ``factor`` block replaced by its mean.

    Blocks cut by the border average the pixels they hold. Integer pictures
    stay integers (rounded); a factor of 1 returns the picture itself. Worked
    through in strips, so no full-size copy of the picture is made.
    """
    if factor == 1:
        return picture
    h, w = picture.shape[:2]
    rows, cols = math.ceil(h / factor), math.ceil(w / factor)
    out = np.empty((rows, cols, *picture.shape[2:]), dtype=picture.dtype)
    col_counts = np.minimum(factor, w - factor * np.arange(cols)).astype(np.float32)
    for r0 in range(0, rows, _STRIP):
        r1 = min(rows, r0 + _STRIP)
        strip = picture[r0 * factor:r1 * factor].astype(np.float32)
        pad = [(0, (r1 - r0) * factor - strip.shape[0]), (0, cols * factor - w)] + [(0, 0)] * (picture.ndim - 2)
        sums = np.pad(strip, pad).reshape(r1 - r0, factor, cols, factor, *picture.shape[2:]).sum((1, 3))
        counts = np.outer(np.minimum(factor, h - factor * np.arange(r0, r1)), col_counts)
        means = sums / counts.reshape(r1 - r0, cols, *([1] * (picture.ndim - 2)))
        out[r0:r1] = np.rint(means) if np.issubdtype(picture.dtype, np.integer) else means
    return out


def reduced_image(chw: np.ndarray, factor: int) -> np.ndarray:
    """An input image ``(C, H, W)`` as RGBA (``render.image_rgba``), reduced before it is coloured."""
    return image_rgba(chw if factor == 1 else reduced(chw.transpose(1, 2, 0), factor))


def reduction_note(shape: Sequence[int], factor: int) -> str:
    """What a reduced picture says about itself ("" when it is not reduced)."""
    if factor == 1:
        return ""
    return f" Drawn at 1/{factor} of the {int(shape[1])}x{int(shape[0])} px input (block means)."

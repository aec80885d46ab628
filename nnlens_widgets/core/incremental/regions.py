"""A batch of patched maps held as the clean map plus one changed crop per patch.

``Region(clean, crops, boxes)`` stands for ``B`` maps, each equal to
``clean`` except inside its box, where it equals its crop. Reading a window
of such a map (``windows``) takes the clean map's window and writes the
crop's overlap into it; ``materialise`` builds the whole maps when a layer
must see them all.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np
import torch

from .boxes import Boxes

__all__ = ["Region", "windows", "materialise"]


@dataclass(frozen=True)
class Region:
    clean: torch.Tensor  # (1, C, H, W)
    crops: torch.Tensor  # (B, C, h, w)
    boxes: Boxes


def windows(base: torch.Tensor, starts: np.ndarray, size, region: Optional[Region] = None,
            offset=(0, 0)) -> torch.Tensor:
    """``(B, C, h, w)``: the window of size ``size`` at each row of ``starts`` in ``base``.

    ``base`` is a clean ``(1, C, H', W')`` map (possibly padded by ``offset``
    pixels on each side); with ``region`` each window shows that patch's map,
    its crop written over the clean values where they overlap. ``offset``:
    (rows, columns) of padding around ``base``.
    """
    h, w = size
    plane = base[0]
    if region is not None and tuple(offset) == (0, 0) and region.boxes.size == (h, w) and np.array_equal(
            region.boxes.start, starts):
        return region.crops
    out = torch.stack([plane[:, y:y + h, x:x + w] for y, x in starts.tolist()])
    if region is None:
        return out
    ch, cw = region.boxes.size
    crops = region.crops
    for b, ((y, x), (cy, cx)) in enumerate(zip(starts.tolist(), (region.boxes.start + np.asarray(offset)).tolist())):
        y0, y1, x0, x1 = max(y, cy), min(y + h, cy + ch), max(x, cx), min(x + w, cx + cw)
        if y0 < y1 and x0 < x1:
            out[b, :, y0 - y:y1 - y, x0 - x:x1 - x] = crops[b, :, y0 - cy:y1 - cy, x0 - cx:x1 - cx]
    return out


def materialise(region: Region) -> torch.Tensor:
    """The ``B`` whole maps."""
    crops = region.crops
    out = region.clean.expand(crops.shape[0], *region.clean.shape[1:]).clone()
    h, w = region.boxes.size
    for b, (y, x) in enumerate(region.boxes.start.tolist()):
        out[b, :, y:y + h, x:x + w] = crops[b]
    return out

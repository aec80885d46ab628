"""Where each layer's map can differ from its clean version, for a batch of patches.

Pure integer geometry on numpy arrays, one row per patch; no tensors. A
patch changes a box of the input; through a sliding-window op (kernel k,
stride s, padding p) a changed input interval ``[a, b)`` changes the output
interval ``[ceil((a + p - k + 1) / s), floor((b - 1 + p) / s) + 1)``, clipped
to the map; elementwise ops keep boxes, and ops of several maps take the
union. All patches of a batch are recomputed on boxes of one size (the
largest they need), so their crops stack into one tensor; a box is shifted
to stay inside the map and may be larger than the change it holds.

In approximate mode (Krypton's projective-field threshold) a box's side is
capped at ``tau`` times the map's side, centred on the change: what lies
outside is read from the clean pass.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Dict, Optional, Sequence, Tuple, Union

import numpy as np

__all__ = ["Boxes", "FULL", "layout", "through_window", "union", "fit"]

FULL = "full"  # the map is recomputed whole for every patch


@dataclass(frozen=True, eq=False)
class Boxes:
    """Per patch: the changed interval and the fixed-size box recomputed around it."""

    changed: np.ndarray  # (B, 4) y0, y1, x0, x1, half-open; empty when y1 <= y0 or x1 <= x0
    start: np.ndarray  # (B, 2) top-left corner of the box
    size: Tuple[int, int]  # (h, w), the same for every patch


Layout = Union[None, str, Boxes]  # None: clean (unchanged for every patch), FULL, or Boxes


def through_window(changed: np.ndarray, kernel, stride, padding, out_hw) -> np.ndarray:
    """Output intervals a sliding-window op can change, given changed input intervals."""
    out = np.empty_like(changed)
    for axis in range(2):
        a, b = changed[:, 2 * axis], changed[:, 2 * axis + 1]
        k, s, p, n = kernel[axis], stride[axis], padding[axis], out_hw[axis]
        lo = np.maximum(0, -((-(a + p - k + 1)) // s))  # ceil division
        hi = np.minimum(n, (b - 1 + p) // s + 1)
        empty = b <= a
        out[:, 2 * axis] = lo
        out[:, 2 * axis + 1] = np.where(empty, lo, np.maximum(hi, lo))
    return out


def union(changed: Sequence[np.ndarray]) -> np.ndarray:
    """Per patch, the smallest box holding every non-empty interval given."""
    stack = np.stack(changed)  # (n, B, 4)
    empty = (stack[..., 1] <= stack[..., 0]) | (stack[..., 3] <= stack[..., 2])
    big = np.iinfo(np.int64).max // 4
    lo = np.where(empty[..., None], big, stack[..., [0, 2]]).min(0)
    hi = np.where(empty[..., None], -big, stack[..., [1, 3]]).max(0)
    none = empty.all(0)
    lo[none], hi[none] = 0, 0
    return np.stack([lo[:, 0], hi[:, 0], lo[:, 1], hi[:, 1]], axis=1)


def fit(changed: np.ndarray, hw, cap: Optional[Tuple[int, int]] = None) -> Optional[Boxes]:
    """One box size for the batch; None when no patch changes anything."""
    ext = np.maximum(changed[:, [1, 3]] - changed[:, [0, 2]], 0)
    nonempty = (ext > 0).all(1)
    if not nonempty.any():
        return None
    size = [min(int(ext[nonempty, axis].max()), hw[axis]) for axis in range(2)]
    starts, kept = [], changed.copy()
    for axis in range(2):
        lo, hi = changed[:, 2 * axis], changed[:, 2 * axis + 1]
        if cap is not None and size[axis] > cap[axis]:
            size[axis] = cap[axis]
            s = np.clip((lo + hi - size[axis]) // 2, 0, hw[axis] - size[axis])
            kept[:, 2 * axis] = np.maximum(lo, s)
            kept[:, 2 * axis + 1] = np.minimum(hi, s + size[axis])
        else:
            s = np.clip(lo, 0, hw[axis] - size[axis])
        starts.append(s)
    kept[~nonempty] = 0
    return Boxes(kept, np.stack(starts, axis=1).astype(np.int64), (size[0], size[1]))


def _cap(hw, tau: Optional[float]) -> Optional[Tuple[int, int]]:
    if tau is None:
        return None
    return (max(1, math.ceil(tau * hw[0])), max(1, math.ceil(tau * hw[1])))


def layout(steps, shapes: Dict, first: Boxes, tau: Optional[float] = None,
           full_fraction: float = 0.6) -> Dict:
    """Each step's ``Layout`` for a batch of patches changing ``first`` in the input.

    ``shapes``: node -> (H, W) of its clean map (maps only). A window op whose
    box would cover ``full_fraction`` of its map or more is recomputed whole,
    and so is everything downstream of a whole map.
    """
    out: Dict = {}
    for s in steps:
        refs = [out[r] for r in s.refs]
        if s.kind == "input":
            out[s.node] = first
        elif s.kind == "constant" or all(r is None for r in refs):
            out[s.node] = None
        elif s.kind in ("window", "elementwise") and not any(r is FULL for r in refs):
            hw = shapes[s.node]
            boxes = [r for r in refs if isinstance(r, Boxes)]
            if s.kind == "elementwise" and len(boxes) == 1:
                out[s.node] = boxes[0]  # pixel by pixel: the same box
                continue
            if s.kind == "window":
                g = s.geometry
                changed = through_window(boxes[0].changed, g.kernel, g.stride, g.padding, hw)
            else:
                changed = union([b.changed for b in boxes])
            fitted = fit(changed, hw, _cap(hw, tau))
            if fitted is None:
                out[s.node] = None
            elif tuple(fitted.size) == tuple(hw) or (
                    s.kind == "window" and fitted.size[0] * fitted.size[1] >= full_fraction * hw[0] * hw[1]):
                out[s.node] = FULL
            else:
                out[s.node] = fitted
        else:
            out[s.node] = FULL
    return out

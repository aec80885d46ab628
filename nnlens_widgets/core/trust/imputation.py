"""Noisy linear imputation (Rong, Leemann et al. 2022, "ROAD"): removed pixels
are filled so that each one equals the weighted mean of its 8 neighbours
(edge neighbours 1/6, corner neighbours 1/12), the pixels kept staying as
they are, plus Gaussian noise of sd ``noise``.

That is one sparse linear system per mask of removed pixels: for a removed
pixel ``i`` with in-image neighbours ``N(i)``,

    sum_{j in N(i)} w_ij * (u_i - v_j) = 0,

where ``v_j`` is the unknown ``u_j`` when ``j`` is removed too and the
image's value otherwise. The matrix depends on the mask only, never on the
image or its channels, and it is symmetric and positive definite (each row's
diagonal is the sum of its in-image weights), so it is factorised once per
mask (symmetric fill-reducing order, no pivoting) and every channel, and
every image that shares the mask, is one pair of triangular solves.
"""
from __future__ import annotations

from typing import Optional, Tuple

import numpy as np
import torch

__all__ = ["NEIGHBOUR_WEIGHTS", "ImputationSystem", "impute"]

# (dy, dx) -> weight; the 8 weights sum to 1
NEIGHBOUR_WEIGHTS: Tuple[Tuple[Tuple[int, int], float], ...] = (
    ((1, 1), 1 / 12), ((0, 1), 1 / 6), ((-1, 1), 1 / 12), ((1, -1), 1 / 12),
    ((0, -1), 1 / 6), ((-1, -1), 1 / 12), ((1, 0), 1 / 6), ((-1, 0), 1 / 6),
)


class ImputationSystem:
    """The factorised system of one mask; ``fill(image)`` imputes any image of that size.

    ``removed``: a boolean ``(H, W)`` array, True where a pixel is imputed.
    ``order``: the unknowns' elimination order, ``"dissection"`` (nested
    dissection, fast on large masks) or ``"rows"`` (row-major, left to a
    minimum-degree reordering); the solutions agree to rounding.
    ``grid_order``: the nested-dissection order of every pixel of the image
    (``dissection_order`` of a full mask), when several masks of one size are
    factorised: its restriction to the removed pixels is theirs.
    """

    def __init__(self, removed: np.ndarray, order: str = "dissection", grid_order: Optional[np.ndarray] = None):
        from scipy.sparse import coo_matrix
        from scipy.sparse.linalg import splu

        if order not in ("dissection", "rows"):
            raise ValueError(f"expected order 'dissection' or 'rows', got {order!r}")
        removed = np.asarray(removed, dtype=bool)
        if removed.ndim != 2:
            raise ValueError(f"expected a mask shaped (H, W), got {removed.shape}")
        self.shape = removed.shape
        h, w = removed.shape
        self.removed = removed
        if order == "rows":
            self.flat = np.flatnonzero(removed)
        elif grid_order is not None:
            self.flat = grid_order[removed.ravel()[grid_order]]
        else:
            self.flat = dissection_order(removed)
        n = len(self.flat)
        ys, xs = np.divmod(self.flat, w)
        var = np.full(h * w, -1, dtype=np.int64)
        var[self.flat] = np.arange(n)
        diagonal = np.zeros(n)
        rows, cols, vals = [], [], []
        known_rows, known_pixels, known_weights = [], [], []
        for (dy, dx), weight in NEIGHBOUR_WEIGHTS:
            ny, nx = ys + dy, xs + dx
            inside = (ny >= 0) & (ny < h) & (nx >= 0) & (nx < w)
            diagonal[inside] += weight
            eq = np.flatnonzero(inside)
            pix = ny[inside] * w + nx[inside]
            other = var[pix]
            unknown = other >= 0
            rows.append(eq[unknown])
            cols.append(other[unknown])
            vals.append(np.full(int(unknown.sum()), -weight))
            known_rows.append(eq[~unknown])
            known_pixels.append(pix[~unknown])
            known_weights.append(np.full(int((~unknown).sum()), weight))
        rows.append(np.arange(n))
        cols.append(np.arange(n))
        vals.append(diagonal)
        self.n = n
        # right-hand side: b_i = sum over kept neighbours j of w_ij * v_j, as a sparse (n, H*W) map
        self._rhs = coo_matrix((np.concatenate(known_weights), (np.concatenate(known_rows),
                                np.concatenate(known_pixels))), shape=(n, h * w)).tocsr()
        if n == 0:
            self._lu = None
            return
        if n == h * w:
            raise ValueError("cannot impute an image with every pixel removed: nothing is left to interpolate from")
        matrix = coo_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
                            shape=(n, n)).tocsc()
        self._lu = splu(matrix, permc_spec="NATURAL" if order == "dissection" else "MMD_AT_PLUS_A",
                        diag_pivot_thresh=0.0, options=dict(SymmetricMode=True))

    def solve(self, image: np.ndarray) -> np.ndarray:
        """The imputed values, ``(C, n)`` float64, for an image ``(C, H, W)`` (no noise)."""
        image = np.asarray(image)
        c = image.shape[0]
        if image.shape[1:] != self.shape:
            raise ValueError(f"expected an image of size {self.shape}, got {image.shape[1:]}")
        if self._lu is None:
            return np.zeros((c, 0))
        b = self._rhs @ image.reshape(c, -1).T.astype(np.float64)  # (n, C)
        return self._lu.solve(np.ascontiguousarray(b)).T

    def fill(self, image: torch.Tensor, noise: float = 0.0,
             generator: Optional[torch.Generator] = None) -> torch.Tensor:
        """A copy of ``image`` ``(C, H, W)`` with the removed pixels imputed (+ ``noise`` * N(0, 1))."""
        pixels = image.detach().cpu()
        values = torch.from_numpy(self.solve(pixels.numpy())).to(pixels.dtype)
        if noise:
            values += noise * torch.randn(values.shape, generator=generator, dtype=values.dtype)
        out = pixels.clone()
        out.view(out.shape[0], -1)[:, torch.from_numpy(self.flat)] = values
        return out.to(image.device)

def impute(image: torch.Tensor, removed, noise: float = 0.0,
           generator: Optional[torch.Generator] = None) -> torch.Tensor:
    """``image`` ``(C, H, W)`` with the pixels where ``removed`` is True imputed (one-off use)."""
    mask = removed.detach().cpu().numpy() if isinstance(removed, torch.Tensor) else np.asarray(removed)
    return ImputationSystem(mask.astype(bool)).fill(image, noise, generator)


def dissection_order(removed: np.ndarray, leaf: int = 64) -> np.ndarray:
    """Pixel numbers of the removed pixels in nested-dissection order.

    A full row (or column) of the grid cuts the 8-neighbour graph in two, so
    the removed pixels of the middle row of a box go last, after those of
    the two halves, each ordered the same way. Eliminating in this order
    keeps the factor's fill near n log n on a grid (a generic minimum-degree
    order fills far more on large 2-D masks).
    """
    h, w = removed.shape
    parts = []

    def visit(y0, y1, x0, x1):
        box = removed[y0:y1, x0:x1]
        count = int(box.sum())
        if count == 0:
            return
        if count <= leaf or (y1 - y0 <= 2 and x1 - x0 <= 2):
            ys, xs = np.nonzero(box)
            parts.append((ys + y0) * w + xs + x0)
        elif y1 - y0 >= x1 - x0:
            m = (y0 + y1) // 2
            visit(y0, m, x0, x1)
            visit(m + 1, y1, x0, x1)
            parts.append(m * w + x0 + np.flatnonzero(removed[m, x0:x1]))
        else:
            m = (x0 + x1) // 2
            visit(y0, y1, x0, m)
            visit(y0, y1, m + 1, x1)
            parts.append((y0 + np.flatnonzero(removed[y0:y1, m])) * w + m)

    visit(0, h, 0, w)
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)

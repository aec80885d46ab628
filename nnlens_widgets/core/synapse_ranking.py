"""Which synapses act where: every synapse ranked for one rectangle of the picture.

``Sensitivity`` holds, for every pixel and every synapse, how strongly the
synapse moves the pixel (the squared Jacobian summed over the outputs);
rectangle sums come from an integral image, so ranking all synapses for a new
rectangle (every step of a mouse drag) costs O(synapses), not O(pixels).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import List, Sequence, Tuple

import numpy as np

__all__ = ["Ranking", "Sensitivity", "pixel_box"]


@dataclass(frozen=True)
class Ranking:
    """Synapses ranked for one rectangle of the picture.

    ``inside`` / ``outside``: root-mean-square rate of change of the pixels
    inside / outside the rectangle per unit change of each synapse (colour
    channels combined); ``score = inside - outside``: how much more a synapse
    changes the rectangle than the rest of the picture. ``order`` lists
    synapse indices from the highest score down; ``box`` is the rectangle as
    whole pixels ``(x0, y0, x1, y1)``, end exclusive.
    """

    box: Tuple[int, int, int, int]
    order: np.ndarray
    score: np.ndarray
    inside: np.ndarray
    outside: np.ndarray

    def top(self, n: int = 20) -> List[int]:
        """The ``n`` synapses with the highest scores, best first."""
        return [int(i) for i in self.order[: int(n)]]

    def rank_of(self, index: int) -> int:
        """The place of synapse ``index`` (0 for the first place)."""
        return int(np.nonzero(self.order == int(index))[0][0])


class Sensitivity:
    """``energy[i, j, p]`` = sum over outputs of (d output / d synapse p)^2 at pixel (i, j)."""

    def __init__(self, energy: np.ndarray):
        self.energy = np.asarray(energy, dtype=np.float64)
        h, w, p = self.energy.shape
        self.shape = (h, w)
        self._integral = np.zeros((h + 1, w + 1, p))
        np.cumsum(np.cumsum(self.energy, axis=0), axis=1, out=self._integral[1:, 1:])
        self._total = self._integral[h, w].copy()

    def map(self, index: int) -> np.ndarray:
        """``(H, W)``: how strongly synapse ``index`` moves each pixel (RMS over outputs)."""
        return np.sqrt(self.energy[:, :, int(index)])

    def pixel_box(self, box: Sequence[float]) -> Tuple[int, int, int, int]:
        """Rectangle corners ``(x0, y0, x1, y1)`` in pixel coordinates (any corner order)
        -> the whole pixels it covers, clipped to the picture, end exclusive."""
        return pixel_box(box, self.shape)

    def rank(self, box: Sequence[float]) -> Ranking:
        """Rank every synapse for the rectangle ``box`` (see ``Ranking``)."""
        x0, y0, x1, y1 = self.pixel_box(box)
        s = self._integral
        inside_sum = s[y1, x1] - s[y0, x1] - s[y1, x0] + s[y0, x0]
        n_in = (x1 - x0) * (y1 - y0)
        n_out = self.shape[0] * self.shape[1] - n_in
        inside = np.sqrt(np.maximum(inside_sum, 0) / n_in)
        outside = (np.sqrt(np.maximum(self._total - inside_sum, 0) / n_out) if n_out
                   else np.zeros_like(inside))
        score = inside - outside
        order = np.argsort(-score, kind="stable")
        return Ranking((x0, y0, x1, y1), order, score, inside, outside)


def pixel_box(box: Sequence[float], shape: Tuple[int, int]) -> Tuple[int, int, int, int]:
    """The whole pixels a rectangle covers in an ``(H, W)`` picture.

    Parameters
    ----------
    box : (x0, y0, x1, y1)
        Corners in pixel coordinates, in any order; partly covered pixels count.
    shape : (H, W)
        The picture's size.

    Returns
    -------
    (x0, y0, x1, y1)
        Whole pixels, clipped to the picture, end exclusive. A rectangle that
        covers no pixel raises ``ValueError``.
    """
    try:
        values = [float(v) for v in box]
    except (TypeError, ValueError):
        raise ValueError(f"expected a rectangle (x0, y0, x1, y1) of numbers, got {box!r}") from None
    if len(values) != 4 or not all(np.isfinite(values)):
        raise ValueError(f"expected a rectangle (x0, y0, x1, y1) of finite numbers, got {tuple(box)}")
    h, w = shape
    xa, ya, xb, yb = values
    x0, x1 = sorted((xa, xb))
    y0, y1 = sorted((ya, yb))
    cx0, cx1 = int(np.clip(np.floor(x0), 0, w)), int(np.clip(np.ceil(x1), 0, w))
    cy0, cy1 = int(np.clip(np.floor(y0), 0, h)), int(np.clip(np.ceil(y1), 0, h))
    if x1 - x0 <= 0 or y1 - y0 <= 0 or cx1 <= cx0 or cy1 <= cy0:
        raise ValueError(
            f"the rectangle ({xa:g}, {ya:g}) - ({xb:g}, {yb:g}) covers no pixel of the "
            f"{w}x{h} picture; drag a rectangle with a width and a height inside it"
        )
    return cx0, cy0, cx1, cy1

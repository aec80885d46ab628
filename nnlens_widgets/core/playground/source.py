"""Where the playground's points come from: a built-in data set, or your own points, and their box.

``DataSource`` makes the ``PointSet`` for a choice of data set, noise,
classes, test share and seed, the same points for the same choice. Your
own points keep their coordinates; their map is the square around them
(10% margin), and the network sees them through an ``InputScale`` that maps
that square onto the built-in data sets' plane, [-6, 6]: the range on
which the Playground's learning rates work.
"""
from __future__ import annotations

from typing import Any, Optional, Sequence, Tuple

import numpy as np
import torch

from .data import DATASETS, EXTENT, POINTS, PointSet, make_points, split_points
from .net import InputScale
from .own_data import Classes, load_points
from .trainer import derived_seeds

__all__ = ["OWN", "DataSource", "nearest_point"]

OWN = "own"  # the data set name of your own points
MARGIN = 0.1


class DataSource:
    """The built-in data sets and, when given, your own points (``dataset == "own"``)."""

    def __init__(self, points: Any = None, labels: Any = None, classes: Classes = None):
        self.own: Optional[Tuple[np.ndarray, np.ndarray, Tuple[str, ...]]] = None
        self.own_extent: Tuple[float, float, float, float] = EXTENT
        if points is not None:
            self.own = load_points(points, labels, classes)
            self.own_extent = _square_around(self.own[0])
        elif labels is not None:
            raise ValueError("labels were given without points")

    def datasets(self) -> Tuple[str, ...]:
        """The data sets to choose from (``"own"`` first when there are own points)."""
        return ((OWN,) if self.own is not None else ()) + DATASETS

    def check(self, dataset: str) -> str:
        if dataset not in self.datasets():
            extra = "" if self.own is not None else " ('own' needs points=...)"
            raise ValueError(f"expected dataset in {self.datasets()}{extra}, got {dataset!r}")
        return dataset

    def extent(self, dataset: str) -> Tuple[float, float, float, float]:
        return self.own_extent if dataset == OWN else EXTENT

    def scale(self, dataset: str) -> Optional[InputScale]:
        """The network's fixed first module for ``dataset`` (None for the built-in ones, already on [-6, 6])."""
        if dataset != OWN:
            return None
        x0, x1, y0, y1 = self.own_extent
        return InputScale(((x0 + x1) / 2, (y0 + y1) / 2), EXTENT[1] / ((x1 - x0) / 2))

    def make(self, dataset: str, noise: float, classes: int, test_fraction: float, seed: int) -> PointSet:
        """The points for this choice, split into training and test points."""
        self.check(dataset)
        data_seed, split_seed, _, _ = derived_seeds(seed)
        if dataset == OWN:
            points, labels, names = self.own  # type: ignore[misc]
        else:
            points, labels = make_points(dataset, torch.Generator().manual_seed(data_seed), POINTS, noise, classes)
            names = tuple(str(c) for c in range(classes))
        test = split_points(len(points), test_fraction, torch.Generator().manual_seed(split_seed), labels)
        return PointSet(points.copy(), labels.copy(), test, names)

    def remember(self, data: PointSet) -> None:
        """Keep edited own points (a later split or seed starts from them)."""
        self.own = (data.points.copy(), data.labels.copy(), data.names)


def _square_around(points: np.ndarray) -> Tuple[float, float, float, float]:
    low, high = points.min(axis=0).astype(float), points.max(axis=0).astype(float)
    centre = (low + high) / 2
    half = float(max(high - low)) / 2 * (1 + MARGIN)
    half = half if half > 0 else 1.0
    return (centre[0] - half, centre[0] + half, centre[1] - half, centre[1] + half)


def nearest_point(points: np.ndarray, xy: Sequence[float], reach: float) -> Optional[int]:
    """The index of the point nearest ``xy`` if it lies within ``reach``, else None."""
    if not len(points):
        return None
    d = np.hypot(points[:, 0] - xy[0], points[:, 1] - xy[1])
    i = int(np.argmin(d))
    return i if d[i] <= reach else None

"""The four data sets of TensorFlow Playground, for 2 to 6 classes, and the train/test split.

Each shape follows the Playground's recipe on its plane, [-6, 6] on both
axes (``EXTENT``); on coordinates of that size a small tanh network learns
as fast as it does in the Playground:

- ``circle``: class 0 inside radius 5/2, class 1 in the ring 3.5..5; with
  ``k`` classes, ``k`` rings. Noise moves the point used for the label, not
  the point drawn, so noisy labels sit on the wrong side of the boundary.
- ``xor``: class 0 where ``x * y >= 0`` (two classes only).
- ``gauss``: one Gaussian blob per class, centred at (2, 2) and (-2, -2)
  for two classes (on that circle for more); noise widens them.
- ``spiral``: one arm per class, each turning 1.75 times.

Random numbers come from the ``torch.Generator`` the caller passes, never
from torch's global generator, so the same seed gives the same points.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional, Sequence, Tuple

import numpy as np
import torch

__all__ = ["DATASETS", "EXTENT", "MAX_CLASSES", "MIN_CLASSES", "POINTS", "PointSet", "make_points", "split_points"]

DATASETS = ("circle", "xor", "gauss", "spiral")
EXTENT = (-6.0, 6.0, -6.0, 6.0)  # the plane of the built-in data sets, as in the Playground
POINTS = 500  # the Playground's number of points
MIN_CLASSES, MAX_CLASSES = 2, 6


@dataclass(frozen=True)
class PointSet:
    """Labelled points on the plane, each in the training or the test set.

    ``points`` (N, 2) float32, ``labels`` (N,) int64 class indices into
    ``names``, ``test`` (N,) bool: True for a test point.
    """

    points: np.ndarray
    labels: np.ndarray
    test: np.ndarray
    names: Tuple[str, ...]

    @property
    def classes(self) -> int:
        return len(self.names)

    def __len__(self) -> int:
        return len(self.points)

    def with_point(self, xy: Sequence[float], label: int, test: bool = False) -> "PointSet":
        """A copy with one more point of class ``label`` (a training point unless ``test``)."""
        try:
            x, y = (float(v) for v in xy)
        except (TypeError, ValueError):
            raise ValueError(f"expected a point as two numbers (x, y), got {xy!r}") from None
        if not (math.isfinite(x) and math.isfinite(y)):
            raise ValueError(f"expected a point with finite x and y, got ({x}, {y})")
        if isinstance(label, bool) or not hasattr(label, "__index__") or not 0 <= int(label) < self.classes:
            raise ValueError(f"expected label in 0..{self.classes - 1} (one of {list(self.names)}), got {label!r}")
        points = np.concatenate([self.points, np.asarray([[x, y]], np.float32)])
        return PointSet(points, np.append(self.labels, np.int64(label)), np.append(self.test, bool(test)), self.names)

    def without(self, index: int) -> "PointSet":
        """A copy without point ``index``; points of 2 classes and a training point must stay."""
        if isinstance(index, bool) or not hasattr(index, "__index__") or not 0 <= int(index) < len(self):
            raise ValueError(f"expected a point index in 0..{len(self) - 1}, got {index!r}")
        keep = np.arange(len(self)) != int(index)
        if len(np.unique(self.labels[keep])) < 2:
            raise ValueError("expected points of at least 2 classes to stay; this is the last point of its class")
        if self.test[keep].all():
            raise ValueError("expected a training point to stay; this is the last one")
        return PointSet(self.points[keep], self.labels[keep], self.test[keep], self.names)


def _uniform(g: torch.Generator, n: int, low: float, high: float) -> torch.Tensor:
    return low + (high - low) * torch.rand(n, generator=g, dtype=torch.float64)


def _per_class(count: int, classes: int) -> list:
    """``count`` points shared between the classes as evenly as they go."""
    return [count // classes + (c < count % classes) for c in range(classes)]


def _circle(g, count, noise, classes):
    radius = 5.0
    band = radius / classes
    xs, ys, labels = [], [], []
    for c, n in enumerate(_per_class(count, classes)):
        low = 0.0 if c == 0 else band * (c + 0.4)  # a gap before every ring but the first
        r = _uniform(g, n, low, band * (c + 1))
        angle = _uniform(g, n, 0.0, 2 * math.pi)
        x, y = r * torch.sin(angle), r * torch.cos(angle)
        nx, ny = _uniform(g, n, -radius, radius) * noise, _uniform(g, n, -radius, radius) * noise
        seen = torch.sqrt((x + nx) ** 2 + (y + ny) ** 2)  # the label comes from the noisy point
        labels.append(torch.clamp((seen / band).floor(), max=classes - 1).long())
        xs.append(x)
        ys.append(y)
    return torch.cat(xs), torch.cat(ys), torch.cat(labels)


def _xor(g, count, noise, classes):
    if classes != 2:
        raise ValueError(f"the 'xor' data set has 2 classes, got classes={classes}; "
                         "for 3 to 6 classes use 'circle', 'gauss' or 'spiral', or your own points")
    padding = 0.3
    x, y = _uniform(g, count, -5.0, 5.0), _uniform(g, count, -5.0, 5.0)
    x = x + torch.where(x > 0, padding, -padding)  # a gap along both axes
    y = y + torch.where(y > 0, padding, -padding)
    nx, ny = _uniform(g, count, -5.0, 5.0) * noise, _uniform(g, count, -5.0, 5.0) * noise
    labels = ((x + nx) * (y + ny) < 0).long()
    return x, y, labels


def _gauss(g, count, noise, classes):
    spread = 0.5 + 3.5 * noise / 0.5  # noise 0..0.5 -> standard deviation 0.5..4
    xs, ys, labels = [], [], []
    for c, n in enumerate(_per_class(count, classes)):
        angle = math.pi / 4 + 2 * math.pi * c / classes  # (2, 2) and (-2, -2) for two classes
        cx, cy = 2 * math.sqrt(2) * math.cos(angle), 2 * math.sqrt(2) * math.sin(angle)
        xs.append(cx + spread * torch.randn(n, generator=g, dtype=torch.float64))
        ys.append(cy + spread * torch.randn(n, generator=g, dtype=torch.float64))
        labels.append(torch.full((n,), c, dtype=torch.long))
    return torch.cat(xs), torch.cat(ys), torch.cat(labels)


def _spiral(g, count, noise, classes):
    xs, ys, labels = [], [], []
    for c, n in enumerate(_per_class(count, classes)):
        i = torch.arange(n, dtype=torch.float64)
        r = i / n * 5.0
        t = 1.75 * i / n * 2 * math.pi + 2 * math.pi * c / classes
        xs.append(r * torch.sin(t) + _uniform(g, n, -1.0, 1.0) * noise)
        ys.append(r * torch.cos(t) + _uniform(g, n, -1.0, 1.0) * noise)
        labels.append(torch.full((n,), c, dtype=torch.long))
    return torch.cat(xs), torch.cat(ys), torch.cat(labels)


_MAKERS = {"circle": _circle, "xor": _xor, "gauss": _gauss, "spiral": _spiral}


def make_points(name: str, generator: torch.Generator, count: int = POINTS, noise: float = 0.0,
                classes: int = 2) -> Tuple[np.ndarray, np.ndarray]:
    """The data set ``name`` as ``(points (N, 2) float32, labels (N,) int64)``.

    Parameters
    ----------
    name : one of ``DATASETS``
    generator : torch.Generator
        The only source of randomness.
    count : int
        Points in all.
    noise : float
        0 to 0.5, as the Playground's noise slider (0 to 50).
    classes : int
        2 to 6 (``xor`` has 2).
    """
    if name not in _MAKERS:
        raise ValueError(f"expected a data set in {DATASETS}, got {name!r}")
    if not 0.0 <= float(noise) <= 0.5:
        raise ValueError(f"expected noise in 0..0.5, got {noise!r}")
    if not MIN_CLASSES <= int(classes) <= MAX_CLASSES:
        raise ValueError(f"expected {MIN_CLASSES} to {MAX_CLASSES} classes, got {classes}")
    if int(count) < int(classes):
        raise ValueError(f"expected at least one point per class ({classes}), got count={count}")
    x, y, labels = _MAKERS[name](generator, int(count), float(noise), int(classes))
    points = torch.stack([x, y], dim=1).to(torch.float32).numpy()
    return points, labels.numpy().astype(np.int64)


def split_points(count: int, test_fraction: float, generator: torch.Generator,
                 labels: Optional[np.ndarray] = None) -> np.ndarray:
    """Which of ``count`` points are test points: a random ``test_fraction`` of them.

    With ``labels``, each class is split on its own (so both sets hold every
    class in about the same share).
    """
    if not 0.0 <= float(test_fraction) <= 0.9:
        raise ValueError(f"expected test_fraction in 0..0.9, got {test_fraction!r}")
    test = np.zeros(count, dtype=bool)
    groups = [np.arange(count)] if labels is None else [np.flatnonzero(labels == c) for c in np.unique(labels)]
    for members in groups:
        order = torch.randperm(len(members), generator=generator).numpy()
        test[members[order[:int(round(len(members) * float(test_fraction)))]]] = True
    return test

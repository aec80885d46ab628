"""Checking and batching the two kinds of data concept whitening reads.

- main-task data: ``(x, y)`` tensors, an object with ``x_train`` / ``y_train``
  (such as ``zoo.shapes.shapes_data()``), or any re-iterable of ``(x, y)``
  batches (a ``DataLoader``);
- concept data: a mapping from concept name to example images ``(n, C, H, W)``
  (a tensor, or an object with ``.images``).
"""
from __future__ import annotations

from typing import Dict, Iterable, Iterator, Mapping, Tuple

import torch

__all__ = ["concept_tensors", "main_batches"]


def concept_tensors(concept_data: Mapping) -> Dict[str, torch.Tensor]:
    """``{name: (n, C, H, W) float tensor}`` with a clear error for anything else."""
    if not isinstance(concept_data, Mapping) or not concept_data:
        raise ValueError("expected concept data as a non-empty mapping {concept name: example images (n, C, H, W)}, "
                         f"got {type(concept_data).__name__}")
    out = {}
    for name, value in concept_data.items():
        images = getattr(value, "images", value)
        if not isinstance(images, torch.Tensor):
            raise ValueError(f"concept {name!r}: expected a tensor of images (n, C, H, W), got {type(images).__name__}")
        if images.ndim != 4:
            raise ValueError(f"concept {name!r}: expected images shaped (n, C, H, W), got {tuple(images.shape)}")
        if images.shape[0] == 0:
            raise ValueError(f"concept {name!r} has no examples")
        if not torch.isfinite(images).all():
            raise ValueError(f"concept {name!r}: the images hold NaN or infinite values")
        out[str(name)] = images.float()
    return out


def _pair(main_data) -> Tuple[torch.Tensor, torch.Tensor]:
    if hasattr(main_data, "x_train") and hasattr(main_data, "y_train"):
        return main_data.x_train, main_data.y_train
    return main_data


def main_batches(main_data, batch_size: int, generator: torch.Generator) -> Tuple[Iterable, int]:
    """A way to go once through the main-task data in batches, and how many batches that is.

    Tensors are shuffled with ``generator``; an iterable of batches is used as it comes.
    """
    pair = _pair(main_data)
    if isinstance(pair, tuple) and len(pair) == 2 and all(isinstance(t, torch.Tensor) for t in pair):
        x, y = pair
        if x.ndim != 4 or y.ndim != 1 or len(x) != len(y) or len(x) == 0:
            raise ValueError("expected main-task data as images (N, C, H, W) and labels (N,) of the same, non-zero "
                             f"length, got {tuple(x.shape)} and {tuple(y.shape)}")

        def epoch() -> Iterator:
            order = torch.randperm(len(x), generator=generator)
            for i in range(0, len(order), batch_size):
                idx = order[i:i + batch_size]
                yield x[idx], y[idx]

        return _Reiterable(epoch), (len(x) + batch_size - 1) // batch_size
    if isinstance(main_data, (str, bytes)) or not hasattr(main_data, "__iter__"):
        raise ValueError("expected main-task data as (images, labels) tensors, an object with x_train/y_train, "
                         f"or an iterable of (images, labels) batches; got {type(main_data).__name__}")
    try:
        count = len(main_data)
    except TypeError:
        count = 0
    return main_data, count


class _Reiterable:
    def __init__(self, make):
        self._make = make

    def __iter__(self):
        return self._make()

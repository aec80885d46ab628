"""Data helpers the widgets share: random access to the images of a data set."""
from __future__ import annotations

from typing import Sequence, Tuple

import torch

from ..core import inputs_of

__all__ = ["DataView"]


class DataView:
    """The inputs of a tensor ``(N, C, H, W)``, a Dataset or a DataLoader (its dataset), by index.

    Items may be ``(x, y)`` pairs or dicts (see ``core.inputs_of``); ``images``
    returns a float batch of the inputs asked for.
    """

    def __init__(self, data, what: str = "data"):
        if isinstance(data, torch.utils.data.DataLoader):
            data = data.dataset
        if isinstance(data, torch.Tensor):
            if data.ndim != 4:
                raise ValueError(f"expected {what} images shaped (N, C, H, W), got shape {tuple(data.shape)}")
        elif not (hasattr(data, "__getitem__") and hasattr(data, "__len__")) or isinstance(data, (str, bytes)):
            raise ValueError(f"expected {what} as a tensor (N, C, H, W), a Dataset or a DataLoader, "
                             f"got {type(data).__name__}")
        if len(data) == 0:
            raise ValueError(f"expected a non-empty {what} set, got no examples")
        self.data = data
        self.what = what
        first = self.images([0])
        if first.ndim != 4:
            raise ValueError(f"expected {what} items to be images (C, H, W), got shape {tuple(first.shape[1:])}")
        self.input_shape: Tuple[int, ...] = tuple(first.shape[1:])

    def __len__(self) -> int:
        return len(self.data)

    def images(self, indices: Sequence[int]) -> torch.Tensor:
        """The inputs at ``indices``, ``(len(indices), C, H, W)``."""
        if isinstance(self.data, torch.Tensor):
            out = self.data[torch.as_tensor(list(indices), dtype=torch.long)]
        else:
            out = torch.stack([torch.as_tensor(inputs_of(self.data[int(i)])) for i in indices])
        return out if out.is_floating_point() else out.float()

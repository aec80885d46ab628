"""Bounded best-k rankings of data images, shared by the scans that rank them by activation or by relevance.

Each row keeps its ``k`` best (value, data set index, grid position)
entries; a batch is merged in with one sort of ``k + batch`` values, ties
(and empty slots, index -1) ordered by the data set index, so a scan split
over workers and merged equals one full scan.
"""
from __future__ import annotations

from typing import Callable, Iterable, Iterator, Optional

import torch
from torch import nn

from .inputs import expected_in_channels

__all__ = ["keep_best", "grid_positions", "check_images", "model_batches", "checked_units"]


def keep_best(values, indices, locations, k, descending):
    """Per row, the ``k`` best entries; ties (and empty slots) ordered by data set index.

    Empty slots carry index -1 and value -inf (top) / +inf (bottom), so they sort last.
    """
    big = torch.iinfo(torch.int64).max
    key = torch.where(indices < 0, torch.full_like(indices, big), indices)
    order = torch.sort(key, dim=1, stable=True).indices  # index ascending first ...
    values, indices, locations = (torch.gather(values, 1, order), torch.gather(indices, 1, order),
                                  torch.gather(locations, 1, order[..., None].expand(-1, -1, 2)))
    order = torch.sort(values, dim=1, descending=descending, stable=True).indices[:, :k]  # ... then by value
    return (torch.gather(values, 1, order), torch.gather(indices, 1, order),
            torch.gather(locations, 1, order[..., None].expand(-1, -1, 2)))


def grid_positions(flat_index: torch.Tensor, layer_shape) -> torch.Tensor:
    """(y, x) in a layer's grid of flat position indices; (0, i) for a layer with one axis of positions."""
    w = layer_shape[-1] if len(layer_shape) >= 3 else 1
    if len(layer_shape) == 2:  # (C, L): positions along one axis
        return torch.stack([torch.zeros_like(flat_index), flat_index], dim=-1)
    return torch.stack([flat_index // w, flat_index % w], dim=-1)


def check_images(model: nn.Module, x: torch.Tensor) -> None:
    """A batch the model's first conv layer can take; a ValueError naming what it expects otherwise."""
    in_channels = expected_in_channels(model)
    if in_channels is None:
        return
    axes = next(m for m in model.modules() if isinstance(m, nn.modules.conv._ConvNd)).weight.ndim
    if x.ndim != axes or x.shape[1] != in_channels:
        raise ValueError(
            f"expected batches of images shaped (N, {in_channels}, ...) with {axes - 2} spatial axes (the "
            f"model's first conv layer takes {in_channels} channel(s)), got a batch shaped {tuple(x.shape)}")


def model_batches(model: nn.Module, batches: Iterable, preprocess: Optional[Callable], device: torch.device,
                  should_stop: Optional[Callable[[], bool]] = None) -> Iterator[torch.Tensor]:
    """Each batch as the model takes it (preprocessed, on its device, float), the first one checked
    against the model's input channels; stops with ``InterruptedError`` once ``should_stop()``."""
    for bi, x in enumerate(batches):
        if should_stop is not None and should_stop():
            raise InterruptedError("top_examples scan stopped")
        x = torch.as_tensor(x)
        if preprocess is not None:
            x = preprocess(x)
        x = x.to(device=device, dtype=torch.float32 if not x.is_floating_point() else x.dtype)
        if bi == 0:
            check_images(model, x)
        yield x


def checked_units(units, channels: int, layer: str) -> list:
    """``units`` as a list of channel numbers (None: every channel of the layer's ``channels``)."""
    if units is None:
        return list(range(channels))
    units = [int(u) for u in units]
    bad = [u for u in units if not 0 <= u < channels]
    if bad:
        raise ValueError(f"channel(s) {bad} out of range: layer {layer!r} has {channels} channels "
                         f"(expected 0..{channels - 1})")
    return units

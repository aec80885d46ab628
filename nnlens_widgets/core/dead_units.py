"""Which channels of a layer never change: dead (always 0) or stuck at one value.

A constant channel carries no information about the input, so a picture of
it in a colour map (mid-range teal for a stuck ReLU) reads as a response
that is not there, and its "top examples" are arbitrary ties. Views draw
such channels apart and say so; this is where they learn which ones are.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Tuple

import torch
from torch import nn

from .guard import check_model
from .inputs import model_device, to_batch
from .probe import forward_capture, get_module
from .scan_data import input_batches

__all__ = ["ConstantChannels", "constant_channels"]


@dataclass(frozen=True)
class ConstantChannels:
    """Result of :func:`constant_channels`: the layer's channels that kept one value."""

    layer: str
    channels: Tuple[int, ...]  # constant over every position of every input looked at
    values: Tuple[float, ...]  # each one's value
    total: int  # channels in the layer
    inputs: int  # inputs looked at
    source: str  # "this input" or "every input in data"

    @property
    def dead(self) -> Tuple[int, ...]:
        """The constant channels whose value is 0."""
        return tuple(c for c, v in zip(self.channels, self.values) if v == 0)

    def is_constant(self, channel: int) -> bool:
        return int(channel) in self.channels

    @property
    def warnings(self) -> Tuple[str, ...]:
        """One sentence per constant channel, e.g. "channel 34 of relu3 is 0 for every input in data"."""
        return tuple(f"channel {c} of {self.layer} is {v:.4g} for {self.source}"
                     for c, v in zip(self.channels, self.values))


def _channel_range(out) -> Tuple[torch.Tensor, torch.Tensor]:
    if not isinstance(out, torch.Tensor) or out.ndim < 2:
        raise ValueError("expected the layer to output a tensor (N, C, ...), got "
                         + (str(tuple(out.shape)) if isinstance(out, torch.Tensor) else type(out).__name__))
    flat = out.detach().transpose(0, 1).reshape(out.shape[1], -1).float()
    return flat.amin(1), flat.amax(1)


def _rows(model: nn.Module, batch, preprocess) -> torch.Tensor:
    """A data batch as model input: as is when it already is a float tensor, else item by item."""
    if preprocess is None and isinstance(batch, torch.Tensor) and batch.is_floating_point():
        return batch.to(model_device(model))
    return torch.stack([to_batch(row, model, preprocess)[0] for row in batch])


def constant_channels(model: nn.Module, layer: str, x=None, data=None, *, preprocess=None,
                      batch_size: int = 64) -> ConstantChannels:
    """The channels of ``layer`` that are constant for the input ``x``, or over the whole of ``data``.

    Parameters
    ----------
    model : nn.Module
        Looked at on a private eval-mode twin; never changed.
    layer : str
        A layer whose output is ``(N, C, ...)`` (channels on axis 1).
    x
        One input (as the widgets take it); or ``data``: a tensor ``(N, C, H, W)``,
        a Dataset or a DataLoader (items may be ``(input, label)``).

    Returns
    -------
    ConstantChannels
        ``channels`` whose value is the same at every position of every input
        (exactly: a dead ReLU is exactly 0), with ``values``.
    """
    check_model(model)
    get_module(model, layer)  # KeyError with the closest names before any work
    if (x is None) == (data is None):
        raise ValueError("expected exactly one of x= (one input) or data= (a data set)")
    if x is not None:
        batches, source = iter([to_batch(x, model, preprocess)]), "this input"
    else:
        batches, source = input_batches(data, int(batch_size))[0], "every input in data"
    low: Optional[torch.Tensor] = None
    high: Optional[torch.Tensor] = None
    count = 0
    for batch in batches:
        xb = batch if x is not None else _rows(model, batch, preprocess)
        acts, _ = forward_capture(model, xb, [layer], keep=_channel_range)
        lo, hi = acts[layer]
        low = lo if low is None else torch.minimum(low, lo)
        high = hi if high is None else torch.maximum(high, hi)
        count += len(xb)
    if low is None or high is None:
        raise ValueError("expected a non-empty data set, got no inputs")
    same = (low == high).nonzero().flatten().tolist()
    return ConstantChannels(layer, tuple(same), tuple(float(low[c]) for c in same), len(low), count, source)

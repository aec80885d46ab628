"""Measure pictures and data set images by the same yardstick.

An optimised picture and a data set example are only comparable when the
same number is read off both:

- ``objective_values`` evaluates any objective (``channel``: the mean
  activation, ``peak``: the largest one, ...) on each image of a batch;
- ``axis_response`` gives each image's mean and peak (largest value over
  positions) along one axis of a layer's channel space: a channel, or a
  direction (the peak is the score ``top_examples`` ranks images by).

Both run one forward pass per batch, with the model left as found.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence, Union

import torch
from torch import nn

from ..guard import check_model, hooked, looking_at
from ..inputs import model_device
from ..probe import get_module
from .objectives import INPUT, OUTPUT, Objective, as_objective
from .optimization import VisSettings, model_input

__all__ = ["objective_values", "axis_response", "AxisResponse"]


def _check_images(images, batch_size) -> None:
    if not isinstance(images, torch.Tensor) or images.ndim != 4:
        raise ValueError(f"expected images shaped (N, C, H, W), got {getattr(images, 'shape', type(images).__name__)}")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or not 1 <= batch_size <= 4096:
        raise ValueError(f"expected batch_size in 1..4096, got {batch_size!r}")


def _batches(model, images, settings, batch_size):
    """Yield (pictures, model input) per batch, on the model's device."""
    device = model_device(model)
    for start in range(0, len(images), batch_size):
        pictures = images[start:start + batch_size].to(device, torch.float32)
        yield pictures, (model_input(pictures, settings) if settings is not None else pictures)


def objective_values(model: nn.Module, objective: Union[Objective, str], images: torch.Tensor, *,
                     settings: Optional[VisSettings] = None, batch_size: int = 64) -> torch.Tensor:
    """The value of ``objective`` for each image on its own.

    Parameters
    ----------
    model
        The model (run on a private eval-mode twin, no gradients).
    objective
        An ``Objective`` or a ``"layer:channel"`` string.
    images
        ``(N, C, H, W)``: model inputs, or with ``settings`` optimised
        pictures in [0, 1] (normalised and resized as during the run, without
        the random transforms).
    settings
        The ``VisSettings`` of the run that made the pictures, if they are.
    batch_size
        Images per forward pass (1..4096).

    Returns
    -------
    torch.Tensor
        ``(N,)`` float32 on the CPU: ``objective`` evaluated on each image as
        a batch of one (a penalty over a batch, such as diversity, is 0).
    """
    check_model(model)
    objective = as_objective(objective)
    _check_images(images, batch_size)
    layers = sorted(objective.layers - {INPUT, OUTPUT})
    for name in layers:
        get_module(model, name)  # KeyError with the closest names
    acts = {}

    def recorder(name):
        def hook(_m, _i, out):
            acts[name] = out

        return hook

    values = []
    with looking_at(model) as twin, hooked(twin, {n: recorder(n) for n in layers}), torch.no_grad():
        for pictures, x in _batches(model, images, settings, batch_size):
            acts.clear()
            out = twin(x)
            missing = [n for n in layers if not isinstance(acts.get(n), torch.Tensor)]
            if missing:
                raise ValueError(f"layer(s) {missing} did not output a tensor in the model's forward pass")
            for i in range(len(pictures)):
                one = {n: acts[n][i:i + 1] for n in layers}
                one[INPUT] = pictures[i:i + 1]
                if isinstance(out, torch.Tensor):
                    one[OUTPUT] = out[i:i + 1]
                values.append(float(objective(one)))
    return torch.tensor(values, dtype=torch.float32)


@dataclass(frozen=True)
class AxisResponse:
    """Per image, along one axis of a layer: the mean over positions and the largest value."""

    mean: torch.Tensor  # (N,) float32, CPU
    peak: torch.Tensor  # (N,) float32, CPU


def axis_response(model: nn.Module, images: torch.Tensor, layer: str, axis: Union[int, Sequence[float]], *,
                  settings: Optional[VisSettings] = None, batch_size: int = 64) -> AxisResponse:
    """Each image's response along ``axis`` of ``layer``: its mean and its peak over positions.

    Parameters
    ----------
    model, images, settings, batch_size
        As in :func:`objective_values`.
    layer
        A layer whose output is ``(N, C)``, ``(N, C, L)`` or ``(N, C, H, W)``.
    axis
        A channel index, or a vector of length C (used at unit length): the
        response is the output projected on it at each position.

    Returns
    -------
    AxisResponse
        ``mean``: what the ``channel``/``direction`` objectives maximise;
        ``peak``: what ``top_examples`` ranks data set images by.
    """
    check_model(model)
    _check_images(images, batch_size)
    get_module(model, layer)
    captured = {}
    means, peaks = [], []

    def record(_m, _i, out):
        captured["out"] = out

    with looking_at(model) as twin, hooked(twin, {layer: record}), torch.no_grad():
        for _pictures, x in _batches(model, images, settings, batch_size):
            captured.clear()
            twin(x)
            out = captured.get("out")
            if not isinstance(out, torch.Tensor) or out.ndim < 2:
                raise ValueError(f"layer {layer!r} must output (N, C, ...) to have channels, "
                                 f"got {getattr(out, 'shape', type(out).__name__)}")
            flat = out.reshape(out.shape[0], out.shape[1], -1).float()
            values = flat[:, _channel(axis, out.shape[1], layer)] if _is_index(axis) else \
                torch.einsum("ncp,c->np", flat, _unit(axis, out.shape[1], layer).to(flat.device))
            means.append(values.mean(1).cpu())
            peaks.append(values.amax(1).cpu())
    return AxisResponse(torch.cat(means), torch.cat(peaks))


def _is_index(axis) -> bool:
    return isinstance(axis, int) and not isinstance(axis, bool) or (
        isinstance(axis, torch.Tensor) and axis.ndim == 0 and not axis.is_floating_point())


def _channel(axis, channels: int, layer: str) -> int:
    c = int(axis)
    if not 0 <= c < channels:
        raise ValueError(f"expected a channel in 0..{channels - 1} for layer {layer!r}, got {c}")
    return c


def _unit(axis, channels: int, layer: str) -> torch.Tensor:
    v = torch.as_tensor(axis, dtype=torch.float32).detach().flatten().cpu()
    if v.numel() != channels:
        raise ValueError(f"expected an axis of length {channels} (the channels of {layer!r}), got {v.numel()}")
    norm = float(v.norm())
    if not torch.isfinite(v).all() or norm == 0:
        raise ValueError("expected an axis with finite values and non-zero length")
    return v / norm

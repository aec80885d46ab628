"""The box of input pixels that drives one position of a unit (outlined on its top examples)."""
from __future__ import annotations

from typing import Any, Dict, Optional, Tuple

import torch
from torch import nn

from .guard import hooked, looking_at
from .inputs import model_device

__all__ = ["activating_region"]


def activating_region(model: nn.Module, x: torch.Tensor, layer: str, location: Tuple[int, int],
                      unit: Optional[int] = None, direction=None, threshold: float = 0.1):
    """Box ``(x0, y0, x1, y1)`` (input pixels, end exclusive) of the input that drives one position.

    The gradient of the unit's (or direction's) value at ``location`` with
    respect to the input ``x`` (C, H, W); the box encloses every pixel whose
    gradient magnitude is at least ``threshold`` times the largest. Falls back
    to the whole image when the gradient is zero. The model's parameters get
    no gradient.
    """
    if (unit is None) == (direction is None):
        raise ValueError("expected exactly one of unit= or direction=")
    inp = x.detach().to(model_device(model)).float()[None].clone().requires_grad_(True)
    captured: Dict[str, Any] = {}
    record = {layer: lambda _m, _i, out: captured.__setitem__("out", out)}
    with looking_at(model) as twin, hooked(twin, record), torch.enable_grad():
        twin(inp)
        a = captured["out"][0]
        y, xx = int(location[0]), int(location[1])
        if a.ndim == 3:
            col = a[:, y, xx]
        elif a.ndim == 2:
            col = a[:, xx]
        else:
            col = a
        if unit is not None:
            value = col[int(unit)]
        else:
            v = torch.as_tensor(direction, dtype=col.dtype, device=col.device).flatten()
            value = (col * v / v.norm()).sum()
        (grad,) = torch.autograd.grad(value, inp)
    mag = grad[0].abs().sum(0)
    h, w = mag.shape
    peak = float(mag.max())
    if peak == 0:
        return (0, 0, w, h)
    ys, xs = torch.nonzero(mag >= threshold * peak, as_tuple=True)
    return (int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1)

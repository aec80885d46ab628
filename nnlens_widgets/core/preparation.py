"""What every method does to its input before it looks at the model.

``prepare`` checks the model and the input and resolves the target, so an
attribution method, a trust check or a metric starts from the same
``(batch, target)``; ``batch_layout`` puts a batch in the memory order
convolutions run fastest in. Neither belongs to one method.
"""
from __future__ import annotations

from typing import Any, Tuple

import torch
from torch import nn

from .guard import check_model
from .inputs import to_batch
from .targets import resolve_target

__all__ = ["prepare", "batch_layout"]


def prepare(model: nn.Module, x, target=None, preprocess=None) -> Tuple[torch.Tensor, Any]:
    """Validate the model and input, resolve the target: ``(batch, target)``."""
    check_model(model)
    xb = to_batch(x, model, preprocess)
    if not xb.is_floating_point():
        raise ValueError(f"expected a floating-point input for gradients, got dtype {xb.dtype}")
    return xb, resolve_target(model, xb, target)


def batch_layout(xb: torch.Tensor) -> torch.Tensor:
    """Image batches in channels-last memory order: the same values, and CPU
    convolutions over many images run about a third faster that way."""
    if xb.ndim == 4 and xb.shape[0] > 1:
        return xb.contiguous(memory_format=torch.channels_last)
    return xb

"""What a classifier says about a batch: one forward pass, softmax over classes."""
from __future__ import annotations

import torch
from torch import nn

from .guard import looking_at

__all__ = ["class_probabilities", "class_scores", "check_class_scores"]


def check_class_scores(out, who: str = "the model") -> torch.Tensor:
    """``out`` if it is a ``(N, classes)`` tensor of class scores; a ValueError otherwise."""
    if not isinstance(out, torch.Tensor) or out.ndim != 2:
        shape = f"shape {tuple(out.shape)}" if isinstance(out, torch.Tensor) else type(out).__name__
        raise ValueError(f"expected {who} to output class scores shaped (N, classes), got {shape}")
    return out


def class_probabilities(model: nn.Module, xb: torch.Tensor) -> torch.Tensor:
    """Softmax of the model's class scores for the batch ``xb``.

    Parameters
    ----------
    model
        A classifier mapping ``(N, ...)`` inputs to ``(N, classes)`` scores.
    xb
        An input batch already on the model's device (see ``to_batch``).

    Returns
    -------
    torch.Tensor
        ``(N, classes)`` float32 probabilities on the CPU. The pass runs on a
        private eval-mode twin without gradients.
    """
    with looking_at(model) as m, torch.inference_mode():
        out = check_class_scores(m(xb))
    return out.float().softmax(1).cpu()


def class_scores(model: nn.Module, xb: torch.Tensor) -> torch.Tensor:
    """The model's raw class scores (logits) for the batch ``xb``: ``(N, classes)`` float32 on the CPU,
    from a private eval-mode twin without gradients (softmax of them is ``class_probabilities``)."""
    with looking_at(model) as m, torch.inference_mode():
        out = check_class_scores(m(xb))
    return out.float().cpu()

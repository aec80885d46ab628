"""Gradient of a target with respect to the image, and the methods built on it.

One mechanism (``input_gradients``): eval mode, the target's score for a
batch, ``torch.autograd.grad`` with respect to the input only (the model's
``.grad`` fields are never touched), optionally with a ReLU backward rule.
Each method is then a line or two.
"""
from __future__ import annotations

from typing import Callable, Optional

import torch
from torch import nn

from ..guard import looking_at
from ..preparation import batch_layout, prepare
from .registry import GradientRule, register_method
from ..relu_rules import relu_rule
from ..targets import scores

__all__ = [
    "input_gradients",
    "gradient",
    "input_x_gradient",
    "guided_backprop",
    "deconvnet",
]


def input_gradients(
    model: nn.Module, xb: torch.Tensor, target, rule: Optional[str] = None
) -> torch.Tensor:
    """d score / d input for each row of ``xb`` (rows are independent in eval mode).

    ``target`` must be resolved (see ``core.preparation.prepare``); ``rule`` is a ReLU backward
    rule ("guided", "deconvnet") or None for the plain gradient.
    """
    xb = batch_layout(xb.detach()).requires_grad_(True)
    with looking_at(model) as m, scores(m, target) as score, relu_rule(rule), torch.enable_grad():
        s = score(xb)
        if not s.requires_grad:
            raise ValueError("the target's score does not depend on the input")
        (g,) = torch.autograd.grad(s.sum(), xb)
    return g.detach().contiguous()


def _method(name: str, title: str, rule: Optional[str], times_input: bool, doc: str) -> Callable:
    def attribute(model: nn.Module, x, target=None, preprocess=None) -> torch.Tensor:
        xb, t = prepare(model, x, target, preprocess)
        g = input_gradients(model, xb, t, rule)
        return g * xb if times_input else g

    attribute.__name__ = attribute.__qualname__ = name
    attribute.__doc__ = doc
    return register_method(name, title, gradient=GradientRule(rule, times_input))(attribute)


gradient = _method("gradient", "Gradient", None, False, """Saliency: the gradient of the target's score with respect to the input.

Returns a tensor shaped like the model's input batch ``(1, C, H, W)``, signed
(take ``.abs()`` for the classic saliency map). ``target``: see ``targets``.
""")

input_x_gradient = _method("input_x_gradient", "Input × gradient", None, True,
                           """Input times gradient, shaped like the input batch.""")

guided_backprop = _method("guided_backprop", "Guided backprop", "guided", False, """Guided backpropagation (Springenberg et al. 2015).

ReLUs pass back only positive gradients where their input was positive. Works
with ``nn.ReLU`` modules (in-place, reused) and functional relu calls alike;
the model is not modified.
""")

deconvnet = _method("deconvnet", "Deconvnet", "deconvnet", False,
                    """Deconvnet (Zeiler & Fergus 2014): ReLUs pass back ``relu(g)``.""")

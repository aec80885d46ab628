"""Backward rules for ReLU: guided backpropagation and deconvnet.

With x the ReLU's input and g the gradient from above:
plain ``g * 1[x>0]``; deconvnet ``relu(g)``; guided backprop ``g * 1[x>0] * 1[g>0]``;
redirect (feature visualisation) lets ``g < 0`` through dead units of a batch
element whose plain gradient is all zero.

``relu_rule(rule)`` swaps the rule for every ReLU that runs inside the block,
whether a model uses ``nn.ReLU`` modules (in-place or not, one module reused
several times, as torchvision's ResNet does) or calls ``torch.relu`` /
``F.relu`` / ``x.relu()`` itself. It works through a ``TorchFunctionMode``
that sees every relu call, so no module, flag or function of the model is
touched; the mode is popped in ``finally``. In-place relus become out-of-place
inside the block (the result is what the caller uses), which also keeps the
model's autograd graph valid.
"""
from __future__ import annotations

import contextlib
from typing import Iterator, Optional

import torch
import torch.nn.functional as F
from torch.overrides import TorchFunctionMode

__all__ = ["RELU_RULES", "relu_rule"]


class _GuidedReLU(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        out = torch.relu(x)
        ctx.save_for_backward(out)  # out > 0 exactly where x > 0
        return out

    @staticmethod
    def backward(ctx, g):
        (out,) = ctx.saved_tensors
        # relu(g) where the forward input was positive: two fused kernels
        return torch.ops.aten.threshold_backward(torch.relu(g), out, 0)


class _DeconvReLU(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        return torch.relu(x)

    @staticmethod
    def backward(ctx, g):
        return torch.relu(g)


class _RedirectedReLU(torch.autograd.Function):
    """ReLU whose backward lets a gradient through a dead unit if nothing else flows.

    Forward is exactly ``relu``. Backward (for a loss to minimise): the usual
    gradient, except for a batch element whose usual gradient is all zero
    (an optimisation is stuck: every unit on its path is off, as for a grey
    start image on a BatchNorm + ReLU layer); there, gradients that would
    push a negative input up pass through (lucid's redirected ReLU).
    """

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return torch.relu(x)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        usual = grad * (x > 0)
        redirected = grad * ((x > 0) | (grad < 0))
        if grad.ndim < 2:
            return usual
        stuck = usual.flatten(1).abs().sum(1) == 0
        return torch.where(stuck.view(-1, *([1] * (grad.ndim - 1))), redirected, usual)


RELU_RULES = {"guided": _GuidedReLU, "deconvnet": _DeconvReLU, "redirect": _RedirectedReLU}

# every spelling of relu a model may call; nn.ReLU goes through F.relu
_RELU_CALLS = {
    F.relu,
    F.relu_,
    torch.relu,
    torch.relu_,
    torch.Tensor.relu,
    torch.Tensor.relu_,
}


class _ReluRuleMode(TorchFunctionMode):
    def __init__(self, function):
        super().__init__()
        self.function = function
        self.calls = 0

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func in _RELU_CALLS:
            self.calls += 1
            return self.function.apply(args[0])
        return func(*args, **kwargs)


@contextlib.contextmanager
def relu_rule(rule: Optional[str]) -> Iterator[Optional[_ReluRuleMode]]:
    """Inside the block every ReLU backpropagates with ``rule`` ("guided", "deconvnet", "redirect").

    ``rule=None`` changes nothing (plain gradients). The yielded mode counts
    the relu calls it replaced (``.calls``), so callers can tell a model
    without any ReLU.
    """
    if rule is None:
        yield None
        return
    if rule not in RELU_RULES:
        raise ValueError(f"expected a ReLU rule in {sorted(RELU_RULES)}, got {rule!r}")
    mode = _ReluRuleMode(RELU_RULES[rule])
    with mode:  # TorchFunctionMode.__exit__ pops the mode even when the block raises
        yield mode

"""The playground's network: a plain ``nn.Sequential`` of linear layers and activations.

Layers are named so that every other nnlens widget can talk about them:
``scale`` (only for your own points: maps their square onto the built-in plane, [-6, 6]),
``hidden1``, ``act1``, ..., ``output``. Activations are one registry,
``ACTIVATIONS``: each spec makes its module and says its formula; ``step``
outputs 0 or 1 and learns with a straight-through gradient (the slope of
``clamp(z, -1, 1)``: 1 between -1 and 1, 0 outside), since its own slope is
0 everywhere it exists.

Weights are drawn with PyTorch's default rule for ``nn.Linear`` (uniform in
``+-1/sqrt(fan_in)`` for weights and biases) from the generator passed in,
never from torch's global generator: the layers are made without drawing
anything (``skip_init``) and then filled.
"""
from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import dataclass
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
from torch import nn

__all__ = ["ACTIVATIONS", "MAX_LAYERS", "MAX_NEURONS", "ActivationSpec", "InputScale", "Step", "build_net",
           "check_activations", "check_hidden", "linear_layers", "set_activation"]

MAX_LAYERS = 8
MAX_NEURONS = 16


class _StepFunction(torch.autograd.Function):
    """Heaviside forward; the slope of ``clamp(z, -1, 1)`` backward (straight through).

    Written in the form torch.func needs (``setup_context``, a generated
    vmap rule, a jvp), so widgets that take Jacobians (SynapseExplorer) work
    on a network with step neurons.
    """

    generate_vmap_rule = True

    @staticmethod
    def forward(z):
        return (z > 0).to(z.dtype)

    @staticmethod
    def setup_context(ctx, inputs, output):
        (z,) = inputs
        ctx.save_for_backward(z)
        ctx.save_for_forward(z)

    @staticmethod
    def backward(ctx, grad):
        (z,) = ctx.saved_tensors
        return grad * (z.abs() <= 1).to(grad.dtype)

    @staticmethod
    def jvp(ctx, tangent):
        (z,) = ctx.saved_tensors
        return tangent * (z.abs() <= 1).to(tangent.dtype)


class Step(nn.Module):
    """0 where ``z <= 0``, 1 where ``z > 0``; learns with a straight-through gradient."""

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return _StepFunction.apply(z)


class InputScale(nn.Module):
    """``(p - centre) * gain``: maps a square of the plane onto another (fixed, not learnt)."""

    centre: torch.Tensor
    gain: torch.Tensor

    def __init__(self, centre: Sequence[float], gain: float):
        super().__init__()
        self.register_buffer("centre", torch.tensor([float(c) for c in centre], dtype=torch.float32))
        self.register_buffer("gain", torch.tensor(float(gain), dtype=torch.float32))

    def forward(self, p: torch.Tensor) -> torch.Tensor:
        return (p - self.centre) * self.gain

    def extra_repr(self) -> str:
        c = self.centre.tolist()
        return f"centre=({c[0]:.4g}, {c[1]:.4g}), gain={float(self.gain):.4g}"


@dataclass(frozen=True)
class ActivationSpec:
    """One activation: its module, the same function on numpy arrays, its formula, its output range."""

    name: str
    make: Callable[[], nn.Module]
    numpy: Callable[[np.ndarray], np.ndarray]
    formula: str
    low: Optional[float]
    high: Optional[float]
    help: str


def _np_sigmoid(z: np.ndarray) -> np.ndarray:
    return 0.5 * (1 + np.tanh(0.5 * z))  # equal to 1 / (1 + exp(-z)), without overflow


ACTIVATIONS: Dict[str, ActivationSpec] = {
    spec.name: spec for spec in (
        ActivationSpec("tanh", nn.Tanh, np.tanh, "tanh(z)", -1.0, 1.0, "tanh: from -1 to 1, smooth"),
        ActivationSpec("relu", nn.ReLU, lambda z: np.maximum(z, 0), "max(0, z)", 0.0, None,
                       "relu: 0 below zero, z above"),
        ActivationSpec("sigmoid", nn.Sigmoid, _np_sigmoid, "1 / (1 + exp(\u2212z))", 0.0, 1.0,
                       "sigmoid: from 0 to 1, smooth"),
        ActivationSpec("linear", nn.Identity, lambda z: z, "z", None, None, "linear: z itself (no activation)"),
        ActivationSpec("step", Step, lambda z: (z > 0).astype(z.dtype), "1 if z > 0, else 0", 0.0, 1.0,
                       "step: 0 or 1. Its slope is 0, so it learns with a straight-through gradient: "
                       "backpropagation uses the slope of clamp(z, -1, 1) instead (1 between -1 and 1)"),
    )
}


def check_hidden(hidden) -> Tuple[int, ...]:
    """``hidden`` as a tuple of layer sizes; a ValueError unless 0..8 layers of 1..16 neurons."""
    if isinstance(hidden, (int, str, bytes)) or not hasattr(hidden, "__iter__"):
        raise ValueError(f"expected hidden as a sequence of layer sizes, e.g. (4, 4), got {hidden!r}")
    sizes = tuple(hidden)
    if len(sizes) > MAX_LAYERS:
        raise ValueError(f"expected at most {MAX_LAYERS} hidden layers, got {len(sizes)}")
    for n in sizes:
        if isinstance(n, bool) or not hasattr(n, "__index__"):
            raise ValueError(f"expected whole numbers of neurons in hidden, got {n!r}")
        if not 1 <= int(n) <= MAX_NEURONS:
            raise ValueError(f"expected 1 to {MAX_NEURONS} neurons per hidden layer, got {int(n)} in {sizes}")
    return tuple(int(n) for n in sizes)


def check_activations(activation, layers: int) -> Tuple[str, ...]:
    """One activation name per hidden layer, from one name or a sequence of ``layers`` names."""
    names = [activation] * layers if isinstance(activation, str) else list(activation)
    if len(names) != layers:
        raise ValueError(f"expected one activation per hidden layer ({layers}), got {len(names)}: {names}")
    for name in names:
        if name not in ACTIVATIONS:
            raise ValueError(f"expected an activation in {tuple(ACTIVATIONS)}, got {name!r}")
    return tuple(names)


def _linear(inputs: int, outputs: int, generator: torch.Generator) -> nn.Linear:
    layer = torch.nn.utils.skip_init(nn.Linear, inputs, outputs)  # made without drawing a number
    bound = 1.0 / math.sqrt(inputs)
    with torch.no_grad():
        layer.weight.uniform_(-bound, bound, generator=generator)
        layer.bias.uniform_(-bound, bound, generator=generator)
    return layer


def build_net(hidden: Sequence[int], activations: Sequence[str], outputs: int, generator: torch.Generator,
              scale: Optional[InputScale] = None) -> nn.Sequential:
    """The network 2 -> hidden... -> outputs with its first weights drawn from ``generator``."""
    hidden = check_hidden(hidden)
    activations = check_activations(activations, len(hidden))
    parts: "OrderedDict[str, nn.Module]" = OrderedDict()
    if scale is not None:
        parts["scale"] = scale
    width = 2
    for i, (n, act) in enumerate(zip(hidden, activations), start=1):
        parts[f"hidden{i}"] = _linear(width, n, generator)
        parts[f"act{i}"] = ACTIVATIONS[act].make()
        width = n
    parts["output"] = _linear(width, outputs, generator)
    return nn.Sequential(parts)


def set_activation(net: nn.Sequential, layer: int, name: str) -> None:
    """Make hidden layer ``layer`` (1-based) use activation ``name``; its weights stay."""
    if name not in ACTIVATIONS:
        raise ValueError(f"expected an activation in {tuple(ACTIVATIONS)}, got {name!r}")
    setattr(net, f"act{layer}", ACTIVATIONS[name].make())


def linear_layers(net: nn.Sequential) -> List[nn.Linear]:
    """The linear layers in order: ``hidden1``, ..., ``output``."""
    return [m for m in net if isinstance(m, nn.Linear)]

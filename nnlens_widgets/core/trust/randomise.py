"""A fully re-initialised copy of a model, drawn from our own generator.

Quantus randomises a model by calling each module's ``reset_parameters``
(in ``named_modules`` order, or its reverse) after seeding the global torch
generator with ``seed + 1`` before each module. Here each module gets a
fresh ``torch.Generator`` seeded the same way, and the standard layers are
re-drawn exactly as their ``reset_parameters`` draws them (Kaiming-uniform
weights with a = sqrt(5), biases uniform in +-1/sqrt(fan_in); norms back to
ones and zeros with fresh running statistics), so the copy equals Quantus's
without touching the process's random state (``core.initialisation``). A
module of another kind is drawn by that module's fallback rule instead and
is listed in ``approximated``.
The user's model is never touched: the work happens on a deep copy.
"""
from __future__ import annotations

import copy
from typing import List, NamedTuple, Optional, Sequence

import torch
from torch import nn

from ..initialisation import drawn_as_its_own, reinitialise

__all__ = ["RandomisedModel", "randomised_copy", "reset_layers", "redraw"]

LAYER_ORDERS = ("bottom_up", "top_down")


class RandomisedModel(NamedTuple):
    model: nn.Module  # the re-initialised copy
    layers: List[str]  # re-initialised, in the order they were
    approximated: List[str]  # among them, the ones not drawn as their own reset_parameters would


def reset_layers(model: nn.Module) -> List[str]:
    """Names of the modules with a ``reset_parameters`` method, in definition order (Quantus's list)."""
    return [name for name, m in model.named_modules() if hasattr(m, "reset_parameters")]


def redraw(module: nn.Module, generator: torch.Generator) -> bool:
    """Re-initialise ``module``'s own parameters from ``generator``; True when exactly as ``reset_parameters``."""
    reinitialise(module, generator)
    return drawn_as_its_own(module)


def randomised_copy(model: nn.Module, seed: int = 42, layer_order: str = "bottom_up",
                    layers: Optional[Sequence[str]] = None) -> RandomisedModel:
    """A deep copy of ``model`` with ``layers`` (default: every module with ``reset_parameters``)
    re-initialised one after another, each from a generator seeded with ``seed + 1``."""
    if layer_order not in LAYER_ORDERS:
        raise ValueError(f"expected layer_order in {LAYER_ORDERS}, got {layer_order!r}")
    twin = copy.deepcopy(model)
    modules = dict(twin.named_modules())
    names = reset_layers(twin) if layers is None else list(layers)
    for n in names:
        if n not in modules:
            raise KeyError(f"layer {n!r} not found; layers that can be re-initialised: {reset_layers(twin)}")
    if layer_order == "top_down":
        names = names[::-1]
    approximated = [n for n in names if not redraw(modules[n], torch.Generator().manual_seed(int(seed) + 1))]
    return RandomisedModel(twin, names, approximated)

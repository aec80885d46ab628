"""Fresh parameter values for a module, drawn only from a generator of our own.

A module's ``reset_parameters()`` draws from torch's global generator, which
belongs to the user: a seeded training loop in the kernel must see the same
numbers whether or not a widget re-initialises a copy of a model in the
background. ``reinitialise(module, generator)`` gives the module's own
parameters (not its children's) the distribution its ``reset_parameters``
would, drawing from ``generator`` only:

- ``Linear``, ``Bilinear``, ``ConvNd``, ``ConvTransposeNd``: weight
  kaiming-uniform with ``a = sqrt(5)``, bias uniform in ``+-1/sqrt(fan_in)``
  (``Bilinear``: both uniform in ``+-1/sqrt(in1_features)``);
- ``BatchNorm``, ``InstanceNorm``, ``LayerNorm``, ``GroupNorm``,
  ``RMSNorm``: weight ones, bias zeros, running statistics reset;
- ``Embedding``: standard normal, the padding row zero;
- ``RNN``, ``LSTM``, ``GRU`` and their cells: every parameter uniform in
  ``+-1/sqrt(hidden_size)``;
- ``MultiheadAttention``: xavier-uniform projections, zero input-projection
  bias, xavier-normal ``bias_k`` / ``bias_v``;
- any other module (its ``reset_parameters``, if any, is not called): a
  parameter of two or more axes as a ``Linear`` weight (kaiming-uniform,
  ``a = sqrt(5)``, over its own fan-in), any other parameter normal with
  mean 0 and standard deviation 0.05.

Values are drawn on the CPU in the parameter's dtype and copied into the
parameter, so a CPU model gets exactly the numbers ``reset_parameters``
would give after ``torch.manual_seed`` with the same seed, and a CUDA model
needs no CUDA generator.
"""
from __future__ import annotations

import math
from typing import Callable, Dict, Optional

import torch
from torch import nn

__all__ = ["reinitialise", "is_norm", "drawn_as_its_own", "OTHER_STD"]

#: standard deviation of the fallback draw for parameters of fewer than two axes
OTHER_STD = 0.05

_Draw = Callable[[torch.Tensor], None]  # fills a CPU tensor in place


def _kaiming(g: torch.Generator) -> _Draw:
    def draw(t: torch.Tensor) -> None:
        nn.init.kaiming_uniform_(t, a=math.sqrt(5), generator=g)
    return draw


def _uniform(bound: float, g: torch.Generator) -> _Draw:
    def draw(t: torch.Tensor) -> None:
        t.uniform_(-bound, bound, generator=g)
    return draw


def _normal(std: float, g: torch.Generator) -> _Draw:
    def draw(t: torch.Tensor) -> None:
        t.normal_(0.0, std, generator=g)
    return draw


def _xavier(kind: str, g: torch.Generator) -> _Draw:
    def draw(t: torch.Tensor) -> None:
        getattr(nn.init, f"xavier_{kind}_")(t, generator=g)
    return draw


def _zero(t: torch.Tensor) -> None:
    t.zero_()


def _fan_in(weight: torch.Tensor) -> int:
    return nn.init._calculate_fan_in_and_fan_out(weight)[0] if weight.ndim >= 2 else weight.numel()


def _bound(fan: int) -> float:
    return 1 / math.sqrt(fan) if fan > 0 else 0.0


def _fill(param: torch.Tensor, draw: _Draw) -> None:
    """Draw into a contiguous CPU tensor of the parameter's dtype and copy it in."""
    values = torch.empty(tuple(param.shape), dtype=param.dtype)
    draw(values)
    with torch.no_grad():
        param.copy_(values)


def _constant(param: Optional[torch.Tensor], value: float) -> None:
    if param is not None:
        with torch.no_grad():
            param.fill_(value)


def _rules(module: nn.Module, g: torch.Generator) -> Dict[str, _Draw]:
    """Parameter name -> draw, for the module kinds whose defaults we know."""
    own = module._parameters
    weight = own.get("weight")
    if isinstance(module, (nn.Linear, nn.modules.conv._ConvNd)) and weight is not None:
        rules = {"weight": _kaiming(g)}
        if own.get("bias") is not None:
            rules["bias"] = _uniform(_bound(_fan_in(weight)), g)
        return rules
    if isinstance(module, nn.Bilinear):
        bound = _bound(module.in1_features)
        return {"weight": _uniform(bound, g), "bias": _uniform(bound, g)}
    if isinstance(module, nn.Embedding):
        return {"weight": _normal(1.0, g)}
    if isinstance(module, (nn.RNNBase, nn.RNNCellBase)):
        bound = _bound(module.hidden_size)
        return {name: _uniform(bound, g) for name in own}
    if isinstance(module, nn.MultiheadAttention):
        xavier_u, xavier_n = _xavier("uniform", g), _xavier("normal", g)
        return {"in_proj_weight": xavier_u, "q_proj_weight": xavier_u, "k_proj_weight": xavier_u,
                "v_proj_weight": xavier_u, "in_proj_bias": _zero, "bias_k": xavier_n, "bias_v": xavier_n}
    return {}


_NORMS = (nn.modules.batchnorm._NormBase, nn.LayerNorm, nn.GroupNorm) + (
    (nn.RMSNorm,) if hasattr(nn, "RMSNorm") else ())


def is_norm(module: nn.Module) -> bool:
    """A normalisation layer: its default parameters are ones and zeros (the identity)."""
    return isinstance(module, _NORMS)


def drawn_as_its_own(module: nn.Module) -> bool:
    """Whether ``reinitialise`` draws ``module`` exactly as its own ``reset_parameters`` would
    (a known kind, or a module without parameters of its own), not by the fallback rule."""
    if is_norm(module) or not any(p is not None for p in module._parameters.values()):
        return True
    return bool(_rules(module, torch.Generator()))


def reinitialise(module: nn.Module, generator: torch.Generator) -> None:
    """Give ``module``'s own parameters fresh values drawn from ``generator`` only (see above).

    Parameters are drawn in registration order, as ``reset_parameters`` draws them.
    """
    if is_norm(module):
        if isinstance(module, nn.modules.batchnorm._NormBase):
            module.reset_running_stats()
        for name, p in module._parameters.items():
            _constant(p, 0.0 if name == "bias" else 1.0)
        return
    rules = _rules(module, generator)
    for name, p in module._parameters.items():
        if p is None or isinstance(p, nn.parameter.UninitializedParameter):
            continue
        draw = rules.get(name)
        if draw is None:
            draw = _kaiming(generator) if p.ndim >= 2 else _normal(OTHER_STD, generator)
        _fill(p, draw)
    if isinstance(module, nn.Embedding) and module.padding_idx is not None:
        with torch.no_grad():
            module.weight[module.padding_idx].fill_(0)
    if isinstance(module, nn.MultiheadAttention) and module.in_proj_bias is not None:
        _constant(module.out_proj.bias, 0.0)

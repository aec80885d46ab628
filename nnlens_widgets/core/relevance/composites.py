"""Which LRP rule each layer gets: zennit's composites, by name.

- ``epsilon_plus_flat``: flat rule on the first layer, z+ on convolutions,
  epsilon on fully connected layers (zennit's ``EpsilonPlusFlat``);
- ``epsilon_gamma_box``: z-box on the first convolution (bounded by the
  input's ``low``/``high``), gamma (0.25) on the others, epsilon on fully
  connected layers (``EpsilonGammaBox``);
- ``epsilon_alpha2_beta1``: alpha 2 beta 1 on convolutions, epsilon on fully
  connected layers (``EpsilonAlpha2Beta1``);
- ``rule="epsilon"``: the epsilon rule on every convolution and fully
  connected layer, sums and average pools (Captum's ``LRP`` default).

All of them pass relevance through activations and merged BatchNorms and
split it by the z-rule at sums and average pools. Three changes to zennit's
maps: a BatchNorm that could not be merged gets the z-rule as the affine
layer it is (not the pass-through meant for a merged one);
``nn.MultiheadAttention`` gets no module rule (zennit counts it among the
activations): its explicit operations carry relevance by AttnLRP's rules;
a module that runs more than once per pass gets no module rule (zennit's
hook keeps one input per module, so a second call would overwrite the
first's): its operations get the rules of ``operations``, which for a
convolution or linear layer is the epsilon rule.
"""
from __future__ import annotations

from typing import Collection, Optional

import torch
from torch import nn
from zennit.composites import EpsilonAlpha2Beta1, EpsilonGammaBox, EpsilonPlusFlat, LayerMapComposite
from zennit.core import Composite, Hook
from zennit.layer import Sum
from zennit.rules import Epsilon, Norm, Pass
from zennit.types import Activation, AvgPool, BatchNorm, Linear

from .options import check_rules

__all__ = ["STABILIZER", "make_composite", "ruled_modules", "box_bounds"]

STABILIZER = 1e-6  # zennit's default for every rule but epsilon's own


def _epsilon_everywhere(epsilon: float, canonizers) -> Composite:
    return LayerMapComposite([
        (Activation, Pass()),
        (Sum, Norm(stabilizer=epsilon)),
        (AvgPool, Norm(stabilizer=epsilon)),
        (BatchNorm, Pass()),
        (Linear, Epsilon(epsilon=epsilon)),
    ], canonizers=canonizers)


def make_composite(composite: str, rule: Optional[str], epsilon: float, low, high, canonizers,
                   unmerged: Collection[str] = (), reused: Collection[str] = ()) -> Composite:
    """The zennit composite for ``composite`` (or one ``rule`` everywhere), with our changes."""
    check_rules(composite, rule)
    if rule is not None:
        made = _epsilon_everywhere(epsilon, canonizers)
    elif composite == "epsilon_plus_flat":
        made = EpsilonPlusFlat(epsilon=epsilon, stabilizer=STABILIZER, canonizers=canonizers)
    elif composite == "epsilon_gamma_box":
        made = EpsilonGammaBox(low=low, high=high, epsilon=epsilon, stabilizer=STABILIZER, canonizers=canonizers)
    else:  # epsilon_alpha2_beta1
        made = EpsilonAlpha2Beta1(epsilon=epsilon, stabilizer=STABILIZER, canonizers=canonizers)
    zennit_map = made.module_map
    affine = Norm(stabilizer=epsilon if rule is not None else STABILIZER)

    def module_map(ctx, name, module):
        rule_of_zennit = zennit_map(ctx, name, module)  # first: it records which layer was the first
        if isinstance(module, nn.MultiheadAttention) or name in reused:
            return None
        if name in unmerged:
            return affine
        return rule_of_zennit

    made.module_map = module_map
    return made


def ruled_modules(model: nn.Module):
    """Modules that carry a zennit rule (registered by a composite): their insides are the rule's business."""
    for module in model.modules():
        if any(isinstance(getattr(h, "__self__", None), Hook) for h in module._forward_pre_hooks.values()):
            yield module


def box_bounds(xb: torch.Tensor, low, high):
    """The z-box rule's pixel bounds: as given, else the batch's smallest and largest value."""
    low = xb.detach().amin() if low is None else torch.as_tensor(low, dtype=xb.dtype, device=xb.device)
    high = xb.detach().amax() if high is None else torch.as_tensor(high, dtype=xb.dtype, device=xb.device)
    if bool((low > xb.detach()).any()) or bool((high < xb.detach()).any()):
        raise ValueError("expected low <= every input value <= high for the z-box rule")
    return low, high

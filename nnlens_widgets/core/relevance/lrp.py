"""Layer-wise relevance propagation (Bach et al. 2015) on any CNN and on vision transformers.

>>> r = nl.core.lrp(model, x, target=3)                  # zennit's EpsilonPlusFlat
>>> r.relevance.shape, r.describe()                       # (1, 3, H, W), "relevance sums to 97.8% of the logit"
>>> nl.core.lrp(model, x, 3, rule="epsilon")              # epsilon-LRP everywhere (Captum's LRP)
>>> nl.core.lrp(model, x, 3, layer="layer3").channel_relevance   # (1, C): each channel's relevance

The layer rules are zennit's composites (``composites``) on a canonical
private twin (``canonical``: BatchNorm merged where it follows a layer,
torchvision ResNet blocks canonized); what the model computes outside its
layers (functional and in-place relus, residual sums, gates, softmax
attention, layer norms) gets the rules of ``operations``. On a transformer
the attention and LayerNorm rules are AttnLRP's (Achtibat et al. 2024);
with ``rule="epsilon"`` that is AttnLRP as published.
"""
from __future__ import annotations

import math
from typing import NamedTuple, Optional, Tuple

import torch
from torch import nn

from ..attribution.registry import register_method
from ..guard import check_model
from ..inputs import to_batch
from ..registry import Param
from .options import COMPOSITES, check_epsilon, check_rules
from .propagation import channel_maps, channel_totals, propagate

__all__ = ["Relevance", "lrp", "lrp_epsilon"]


class Relevance(NamedTuple):
    """LRP's result: the input's relevance, where it started, and how much of it arrived."""

    relevance: torch.Tensor  # (N, C, H, W): each input value's relevance, in the score's units
    score: torch.Tensor  # (N,): the target's score (the logit for a class): the relevance it started from
    conservation: torch.Tensor  # (N,): relevance.sum / score; 1 when nothing was absorbed or lost
    layer: Optional[str] = None
    layer_relevance: Optional[torch.Tensor] = None  # (N, C, h, w): relevance reaching the layer's channels
    channel_relevance: Optional[torch.Tensor] = None  # (N, C): the same summed per channel
    rules: str = ""  # the composite and what was canonized
    warnings: Tuple[str, ...] = ()
    score_name: str = "logit"  # what ``score`` is: "logit" for a class target, else "score"

    def describe(self, index: int = 0) -> str:
        """"relevance sums to 97.8% of the logit" for image ``index``."""
        share = float(self.conservation[index])
        if not math.isfinite(share):
            return "the score is 0: relevance has nothing to be a share of"
        return f"relevance sums to {100 * share:.1f}% of the {self.score_name}"


def _warnings(unruled: dict) -> Tuple[str, ...]:
    if not unruled:
        return ()
    calls = ", ".join(f"{name} ({n}x)" for name, n in sorted(unruled.items()))
    return (f"no relevance rule for {calls}: the plain gradient carried relevance there",)


def _rules_text(composite: str, rule: Optional[str], description: str) -> str:
    text = f"{rule} rule on every layer" if rule else composite
    return f"{text}; {description}" if description else text


def lrp(model: nn.Module, x, target=None, composite: str = "epsilon_plus_flat", rule: Optional[str] = None,
        epsilon: float = 1e-6, layer: Optional[str] = None, preprocess=None, low=None, high=None) -> Relevance:
    """Layer-wise relevance propagation of ``target`` for ``x``.

    Parameters
    ----------
    model : any CNN or vision transformer (torchvision, timm or your own);
        never changed (the rules run on a private twin).
    x : one input (tensor ``(C, H, W)`` / ``(1, C, H, W)``, numpy or PIL image).
    target : None (the predicted class), a class index, a callable on the
        output or a ``("layer", channel)`` unit, as everywhere (``targets``).
    composite : "epsilon_plus_flat", "epsilon_gamma_box" or "epsilon_alpha2_beta1" (zennit's).
    rule : "epsilon" for the epsilon rule on every layer instead of a composite.
    epsilon : the epsilon rule's stabiliser (>= 0).
    layer : a layer name: also return the relevance reaching its output.
    low, high : the z-box rule's input bounds (``epsilon_gamma_box``); by
        default the input's smallest and largest value.

    Returns
    -------
    ``Relevance``: ``relevance`` shaped like the batch, in the score's units
    (it starts as the logit itself), ``score``, ``conservation`` (their ratio,
    ``describe()`` says it in words), and with ``layer`` the layer's
    ``layer_relevance`` (N, C, h, w) and ``channel_relevance`` (N, C).
    ``warnings`` names operations that had no relevance rule.
    """
    check_model(model)
    epsilon = check_epsilon(epsilon)
    check_rules(composite, rule)
    xb = to_batch(x, model, preprocess)
    if not xb.is_floating_point():
        raise ValueError(f"expected a floating-point input for LRP, got dtype {xb.dtype}")
    p = propagate(model, xb, target, composite=composite, rule=rule, epsilon=epsilon, low=low, high=high,
                  layer=layer)
    conservation = p.relevance.reshape(len(xb), -1).sum(1) / p.score
    layer_maps = totals = None
    if p.layer_output is not None:
        layer_maps, totals = channel_maps(p.layer_output, p.grid), channel_totals(p.layer_output, p.grid)
    return Relevance(p.relevance, p.score, conservation, layer, layer_maps, totals,
                     _rules_text(composite, rule, p.canonical.description()), p.notes + _warnings(p.unruled),
                     "logit" if isinstance(p.targets, torch.Tensor) else "score")


_EPSILON = Param("epsilon", "Epsilon", 1e-6, choices=(1e-9, 1e-6, 1e-3, 0.01, 0.1, 0.25),
                 description="stabiliser of the epsilon rule; larger values keep only the strongest paths")
def _relevance_pixels(result: Relevance) -> torch.Tensor:
    return result.relevance


register_method("lrp", "LRP", to_pixels=_relevance_pixels, params=(
    Param("composite", "Composite", "epsilon_plus_flat", choices=COMPOSITES,
          description="which rule each layer gets (zennit's composites)"), _EPSILON))(lrp)


@register_method("lrp_epsilon", "LRP-ε", params=(_EPSILON,), to_pixels=_relevance_pixels)
def lrp_epsilon(model: nn.Module, x, target=None, epsilon: float = 1e-6, layer: Optional[str] = None,
                preprocess=None) -> Relevance:
    """Epsilon-LRP on every layer (Captum's LRP; on a transformer, AttnLRP)."""
    return lrp(model, x, target, rule="epsilon", epsilon=epsilon, layer=layer, preprocess=preprocess)

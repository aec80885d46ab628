"""Concept relevance (CRP, Achtibat et al., Nat. Mach. Intell. 2023): what one channel of a layer does for a class.

The relevance of a channel for a class is the class's relevance (LRP)
restricted to that channel at its layer: the sum of what reaches the
channel's outputs. Continuing the backward pass with only that channel's
relevance gives the *conditional* map: the input pixels through which the
channel carries relevance to the class. Relevance propagation is linear in
the relevance it starts from, so the conditional maps of all channels of a
layer add up to the class's LRP map.

- ``channel_relevance(model, images, layer, target)``: per image, each
  channel's relevance for the class (N, C) and where it sits in the layer
  (N, C, h, w); one backward pass per batch. Ranking data images by it
  (RelMax) instead of by activation finds the images where the channel
  matters to the class, not merely where it fires.
- ``crp(model, x, layer, channels, target)``: the conditional input maps of
  a few channels, with each channel's share of the class's relevance at the
  layer (for ranking units); the channels run as one batch.
"""
from __future__ import annotations

import numbers
from typing import NamedTuple, Optional, Sequence, Tuple

import torch
from torch import nn

from ..guard import check_model
from ..inputs import to_batch
from ..names import get_module
from .options import check_epsilon, check_rules
from .propagation import channel_maps, channel_totals, layer_output_of, mask_channels, propagate

__all__ = ["ChannelRelevance", "ConceptRelevance", "channel_relevance", "crp"]


class ChannelRelevance(NamedTuple):
    """Each channel's relevance at a layer for each image's target class."""

    scores: torch.Tensor  # (N, C): relevance reaching each channel (the score's units)
    maps: torch.Tensor  # (N, C, h, w): where in the layer it arrives (patch tokens for a transformer)
    score: torch.Tensor  # (N,): the target's score the relevance started from
    targets: torch.Tensor  # (N,): the class each row explains
    layer: str

    @property
    def shares(self) -> torch.Tensor:
        """(N, C): each channel's fraction of the relevance reaching the layer."""
        return self.scores / self.scores.sum(1, keepdim=True)


class ConceptRelevance(NamedTuple):
    """Conditional relevance maps of some channels of a layer, for one image and class."""

    maps: torch.Tensor  # (K, C_in, H, W): input relevance flowing through each channel
    channels: Tuple[int, ...]
    relevance: torch.Tensor  # (K,): each channel's relevance at the layer (the score's units)
    share: torch.Tensor  # (K,): the same as a fraction of all relevance reaching the layer
    score: float  # the target's score (the logit for a class)
    target: int
    layer: str
    all_channels: torch.Tensor  # (C,): every channel's relevance, for ranking units

    def ranking(self) -> Tuple[int, ...]:
        """All the layer's channels, most relevant for the class first."""
        return tuple(int(i) for i in torch.argsort(self.all_channels, descending=True, stable=True))


def _checked(model, composite, rule, epsilon, layer):
    check_model(model)
    epsilon = check_epsilon(epsilon)
    check_rules(composite, rule)
    if not isinstance(layer, str):
        raise ValueError(f"expected a layer name, got {layer!r}")
    get_module(model, layer)
    return epsilon


def _images(model: nn.Module, images, preprocess) -> torch.Tensor:
    if isinstance(images, torch.Tensor) and images.ndim >= 4 and images.shape[0] > 1:
        first = to_batch(images[:1], model, preprocess)
        rest = [to_batch(im[None], model, preprocess) for im in images[1:]]
        return torch.cat([first, *rest])
    return to_batch(images, model, preprocess)


def _batch_size(value, n: int) -> int:
    if value is None:
        return min(n, 16)
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"expected batch_size as an integer >= 1, got {value!r}")
    return int(value)


def channel_relevance(model: nn.Module, images, layer: str, target=None, composite: str = "epsilon_plus_flat",
                      rule: Optional[str] = None, epsilon: float = 1e-6, batch_size: Optional[int] = None,
                      preprocess=None) -> ChannelRelevance:
    """Relevance of every channel of ``layer`` for each image's target class.

    Parameters
    ----------
    images : a batch (N, C, H, W) or one image (anything ``to_batch`` takes).
    layer : the layer whose channels are scored.
    target : None (each image's predicted class), a class index for all, or one class per image.
    composite, rule, epsilon : as in ``lrp``.
    batch_size : images per backward pass (default 16).

    Returns
    -------
    ``ChannelRelevance``: ``scores`` (N, C), ``maps`` (N, C, h, w),
    ``score`` (N,) and ``targets`` (N,); ``shares`` normalises each row.
    """
    epsilon = _checked(model, composite, rule, epsilon, layer)
    xb = _images(model, images, preprocess)
    n = xb.shape[0]
    if isinstance(target, (list, tuple, torch.Tensor)) and len(target) != n:
        raise ValueError(f"expected one target class per image ({n}), got {len(target)}")
    step = _batch_size(batch_size, n)
    parts = []
    for start in range(0, n, step):
        t = target[start:start + step] if isinstance(target, (list, tuple, torch.Tensor)) else target
        p = propagate(model, xb[start:start + step], t, composite=composite, rule=rule, epsilon=epsilon, layer=layer)
        if not isinstance(p.targets, torch.Tensor):
            raise ValueError("channel relevance explains a class: expected None, a class index or one per image")
        reached = layer_output_of(p)
        parts.append((channel_totals(reached, p.grid), channel_maps(reached, p.grid), p.score, p.targets))
    scores, maps, score, targets = (torch.cat(list(column)) for column in zip(*parts))
    return ChannelRelevance(scores, maps, score, targets, layer)


def crp(model: nn.Module, x, layer: str, channels: Optional[Sequence[int]] = None, target=None,
        composite: str = "epsilon_plus_flat", rule: Optional[str] = None, epsilon: float = 1e-6,
        top: int = 6, batch_size: Optional[int] = None, preprocess=None) -> ConceptRelevance:
    """Concept-conditional relevance maps of ``channels`` of ``layer`` for ``target``.

    Parameters
    ----------
    x : one input, as for ``lrp``.
    layer : the layer whose channels are the concepts.
    channels : which channels; by default the ``top`` most relevant for the target.
    target : None (the predicted class) or a class index.
    composite, rule, epsilon : as in ``lrp``.

    Returns
    -------
    ``ConceptRelevance``: ``maps`` (K, C, H, W), one per channel, each the
    input relevance that flows through that channel alone; ``relevance`` and
    ``share`` of each channel at the layer; ``all_channels`` (C,) and
    ``ranking()`` for every channel of the layer.
    """
    epsilon = _checked(model, composite, rule, epsilon, layer)
    xb = to_batch(x, model, preprocess)
    whole = propagate(model, xb, target, composite=composite, rule=rule, epsilon=epsilon, layer=layer)
    if not isinstance(whole.targets, torch.Tensor):
        raise ValueError("concept relevance explains a class: expected None or a class index as target")
    per_channel = channel_totals(layer_output_of(whole), whole.grid)[0]
    count = per_channel.numel()
    if channels is None:
        if isinstance(top, bool) or not isinstance(top, numbers.Integral) or top < 1:
            raise ValueError(f"expected top as an integer >= 1, got {top!r}")
        channels = torch.argsort(per_channel, descending=True, stable=True)[:int(top)].tolist()
    chosen = tuple(int(c) for c in channels)
    bad = [c for c in chosen if not 0 <= c < count]
    if not chosen or bad:
        raise ValueError(f"expected channels in 0..{count - 1} of layer {layer!r}, got {list(channels)}")
    target_class = int(whole.targets[0])
    step = _batch_size(batch_size, len(chosen))
    maps = []
    for start in range(0, len(chosen), step):
        group = chosen[start:start + step]
        p = propagate(model, xb.expand(len(group), *xb.shape[1:]), target_class, composite=composite, rule=rule,
                      epsilon=epsilon, layer=layer, mask=mask_channels([[c] for c in group]))
        maps.append(p.relevance)
    relevance = per_channel[list(chosen)]
    return ConceptRelevance(torch.cat(maps), chosen, relevance, relevance / per_channel.sum(),
                            float(whole.score[0]), target_class, layer, per_channel)

"""How well one axis (or channel) of a layer picks out one concept: AUC over concept examples.

A channel's score for an image is its 3x3 max-pooled map averaged over space
(``axis_scores``, the score concept whitening aligns). For concept ``j`` the
positives are concept ``j``'s examples and the negatives every other
concept's examples; AUC is the chance a random positive outscores a random
negative (ties count half). Several random splits, each keeping a
``fraction`` of every concept's examples, give a mean and a spread.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import List, Mapping, Optional

import numpy as np
import torch
from torch import nn

from .data import concept_tensors
from .whitening import ConceptWhitening, axis_scores
from ..inputs import model_device
from ..probe import forward_capture, get_module

__all__ = ["ConceptAUC", "Purity", "auc", "layer_scores", "concept_auc", "concept_purity", "best_channels"]


def auc(positive: np.ndarray, negative: np.ndarray) -> np.ndarray:
    """AUC per column of ``positive`` (p, C) against ``negative`` (q, C) (Mann-Whitney, ties half)."""
    positive, negative = np.atleast_2d(positive.T).T, np.atleast_2d(negative.T).T
    p, q = len(positive), len(negative)
    if p == 0 or q == 0:
        raise ValueError(f"AUC needs positive and negative examples, got {p} and {q}")
    from scipy.stats import rankdata  # scipy.stats takes seconds to import: on first use

    ranks = rankdata(np.concatenate([positive, negative]), axis=0)
    return (ranks[:p].sum(0) - p * (p + 1) / 2) / (p * q)


def layer_scores(model: nn.Module, layer: str, images: torch.Tensor, batch_size: int = 256,
                 pool: Optional[int] = None) -> np.ndarray:
    """``axis_scores`` of ``layer``'s output for ``images``: ``(n, channels)``; the model is left as found.

    ``pool`` defaults to a concept-whitening layer's own, else 3 (see ``axis_scores``).
    """
    module = get_module(model, layer)
    if pool is None:
        pool = module.pool if isinstance(module, ConceptWhitening) else 3
    device = model_device(model)
    out = []
    for i in range(0, len(images), batch_size):
        acts, _ = forward_capture(model, images[i:i + batch_size].to(device), [layer])
        a = acts[layer]
        if not isinstance(a, torch.Tensor) or a.ndim != 4:
            raise ValueError(f"layer {layer!r} must output maps (N, C, H, W) to score concepts, "
                             f"got {getattr(a, 'shape', type(a).__name__)}")
        out.append(axis_scores(a.float(), pool).cpu().numpy())
    return np.concatenate(out)


@dataclass(frozen=True)
class ConceptAUC:
    """AUC of every channel for every concept: ``mean`` and ``std`` over splits, ``(concepts, channels)``."""

    concepts: List[str]
    mean: np.ndarray
    std: np.ndarray


def concept_auc(model: nn.Module, layer: str, concept_data: Mapping, splits: int = 5, fraction: float = 0.5,
                seed: int = 0, pool: Optional[int] = None) -> ConceptAUC:
    """AUC of each channel of ``layer`` for each concept (see the module docstring; ``pool`` as in ``layer_scores``)."""
    concepts = concept_tensors(concept_data)
    if len(concepts) < 2:
        raise ValueError(f"AUC compares a concept with the others: expected at least 2 concepts, got {len(concepts)}")
    if not 0 < fraction <= 1 or int(splits) < 1:
        raise ValueError(f"expected 0 < fraction <= 1 and splits >= 1, got fraction={fraction}, splits={splits}")
    scores = {c: layer_scores(model, layer, x, pool=pool) for c, x in concepts.items()}
    names = list(scores)
    rng = np.random.default_rng(seed)
    runs = []
    for _ in range(int(splits)):
        kept = {c: s[rng.permutation(len(s))[:max(1, int(round(fraction * len(s))))]] for c, s in scores.items()}
        runs.append(np.stack([auc(kept[c], np.concatenate([kept[o] for o in names if o != c])) for c in names]))
    stacked = np.stack(runs)
    return ConceptAUC(names, stacked.mean(0), stacked.std(0))


@dataclass(frozen=True)
class Purity:
    """Per concept: the channel used, its mean AUC over splits and the spread."""

    concepts: List[str]
    channels: np.ndarray
    auc: np.ndarray
    std: np.ndarray


def concept_purity(model: nn.Module, layer: str, concept_data: Mapping, splits: int = 5, fraction: float = 0.5,
                   seed: int = 0) -> Purity:
    """AUC of each concept axis of the ``ConceptWhitening`` layer ``layer`` for its concept.

    ``concept_data`` holds examples of the layer's concepts (other names
    serve as extra negatives); use examples the rotation was not trained on.
    """
    module = get_module(model, layer)
    if not isinstance(module, ConceptWhitening):
        raise ValueError(f"layer {layer!r} is a {type(module).__name__}, not a ConceptWhitening layer; "
                         "for any other layer use best_channels")
    table = concept_auc(model, layer, concept_data, splits, fraction, seed)
    names = [c for c in module.concepts if c in table.concepts]
    if not names:
        raise ValueError(f"concept_data has none of layer {layer!r}'s concepts {module.concepts}")
    rows = [table.concepts.index(c) for c in names]
    axes = np.array([module.concept_index(c) for c in names])
    return Purity(names, axes, table.mean[rows, axes], table.std[rows, axes])


def best_channels(model: nn.Module, layer: str, concept_data: Mapping, splits: int = 5, fraction: float = 0.5,
                  seed: int = 0, pool: Optional[int] = None) -> Purity:
    """For each concept, the single channel of ``layer`` with the highest mean AUC (the usual baseline).

    Score channels as the concept axes they are compared with: pass the
    concept-whitening layer's ``pool``.
    """
    table = concept_auc(model, layer, concept_data, splits, fraction, seed, pool)
    best = table.mean.argmax(1)
    rows = np.arange(len(best))
    return Purity(table.concepts, best, table.mean[rows, best], table.std[rows, best])

"""RelMax (Achtibat et al., Nat. Mach. Intell. 2023): data images ranked by a channel's relevance for a class.

Ranking by activation finds the images where a channel fires; ranking by
relevance finds those where the channel carries the class's evidence. An
image's score for a channel is the channel's relevance (CRP) for the target
class: the class's LRP relevance summed over the channel's positions at the
layer, in the class score's units. ``top`` keeps the ``k`` images with the
largest relevance and where in the layer's grid most of it arrived;
``bottom`` keeps the ``k`` images with the most negative relevance (the
channel speaks against the class there) and where the most negative part
arrived.

The result becomes a ``TopExamples`` with ``by="relevance"`` and its target, so
it is stored, loaded and merged across scan processes like an activation
scan (ties by the lower data set index: a split scan merged equals one full
scan). Images that are not all finite, or whose relevance is not, are left
out and counted in ``skipped``.
"""
from __future__ import annotations

import math
import numbers
from typing import Callable, Optional, Sequence

import torch
from torch import nn

from ..inputs import model_device
from ..names import get_module
from ..scan_data import input_batches
from ..best_k import checked_units, grid_positions, keep_best, model_batches
from .options import check_epsilon, check_rules
from .propagation import channel_maps, channel_totals, layer_output_of, propagate

__all__ = ["relevance_rankings", "check_class_target"]

_RANKINGS = tuple(f"{which}_{part}" for which in ("top", "bottom") for part in ("values", "indices", "locations"))


def check_class_target(target) -> Optional[int]:
    """``None`` (each image's predicted class) or a class index >= 0."""
    if target is None:
        return None
    if isinstance(target, bool) or not isinstance(target, numbers.Integral) or target < 0:
        raise ValueError(f"expected target as a class index >= 0 (or None for each image's predicted class), "
                         f"got {target!r}")
    return int(target)


def relevance_rankings(model: nn.Module, data, layer: str, units: Optional[Sequence[int]] = None, k: int = 9,
                       target: Optional[int] = None, batch_size: int = 32,
                       progress: Optional[Callable[[float, str], None]] = None, offset: int = 0,
                       preprocess: Optional[Callable] = None, should_stop: Optional[Callable[[], bool]] = None,
                       composite: str = "epsilon_plus_flat", rule: Optional[str] = None,
                       epsilon: float = 1e-6) -> dict:
    """Scan ``data`` once; keep per channel the ``k`` images where it is most (and least) relevant for ``target``.

    Parameters as in ``top_examples``; ``target`` is a class index (or None:
    each image's predicted class); ``composite``, ``rule``, ``epsilon`` as in
    ``lrp``. One relevance pass (forward and backward) per batch. Returns the
    fields of a ``TopExamples`` (``top_examples(..., by="relevance")`` makes it).
    """
    if not isinstance(model, nn.Module):
        raise ValueError(f"expected a torch.nn.Module, got {type(model).__name__}")
    if isinstance(k, bool) or not isinstance(k, numbers.Integral) or k <= 0:
        raise ValueError(f"expected an integer k >= 1 examples per unit, got {k!r}")
    if int(batch_size) < 1:
        raise ValueError(f"expected batch_size >= 1, got {batch_size}")
    target = check_class_target(target)
    epsilon = check_epsilon(epsilon)
    check_rules(composite, rule)
    get_module(model, layer)  # KeyError with the closest names before any work
    device = model_device(model)
    batches, n_batches = input_batches(data, int(batch_size))
    state: dict = {}
    count = skipped = 0  # skipped: images not all finite, never run
    for bi, x in enumerate(model_batches(model, batches, preprocess, device, should_stop)):
        index = torch.arange(offset + count, offset + count + len(x))
        count += len(x)
        finite = torch.isfinite(x.reshape(len(x), -1)).all(1).cpu()
        if bool(finite.any()):
            kept = x[finite.to(x.device)]
            p = propagate(model, kept, target, composite=composite, rule=rule, epsilon=epsilon, layer=layer)
            reached = layer_output_of(p)
            totals, maps = channel_totals(reached, p.grid).cpu().float(), channel_maps(reached, p.grid).cpu().float()
            if not state:
                state = _start(maps, layer, units, int(k), tuple(x.shape[1:]))
            _update(state, totals, maps, index[finite])
        skipped += int((~finite).sum())
        if progress is not None:
            progress((bi + 1) / n_batches if n_batches else 0.0, f"scanned {count} images")
    if count == 0:
        raise ValueError("expected a non-empty data set, got no examples")
    if "units" not in state:
        raise ValueError(f"expected at least one image with finite values, got {count} that are not all finite")
    return dict(layer=layer, units=state["units"], directions=torch.zeros(0, state["layer_shape"][0]), k=int(k),
                layer_shape=state["layer_shape"], count=count, input_shape=state["input_shape"],
                skipped=state["skipped"] + skipped, by="relevance", target=target,
                **{name: state[name] for name in _RANKINGS})


def _start(maps: torch.Tensor, layer: str, units, k: int, input_shape) -> dict:
    c = maps.shape[1]
    units = checked_units(units, c, layer)
    rows = len(units)
    state = dict(units=units, unit_index=torch.tensor(units, dtype=torch.long), layer_shape=tuple(maps.shape[1:]),
                 input_shape=input_shape, k=k, skipped=0,
                 top_values=torch.full((rows, k), -math.inf), bottom_values=torch.full((rows, k), math.inf))
    for which in ("top", "bottom"):
        state[f"{which}_indices"] = torch.full((rows, k), -1, dtype=torch.long)
        state[f"{which}_locations"] = torch.zeros((rows, k, 2), dtype=torch.long)
    return state


def _update(state: dict, totals: torch.Tensor, maps: torch.Tensor, index: torch.Tensor) -> None:
    """Merge one batch: ``totals`` (n, C) relevance per channel, ``maps`` (n, C, h, w) where it arrived."""
    if tuple(maps.shape[1:]) != state["layer_shape"]:
        raise ValueError(f"layer output shape changed within the data set: {state['layer_shape']} "
                         f"then {tuple(maps.shape[1:])}; expected inputs of one size")
    finite = torch.isfinite(totals).all(1) & torch.isfinite(maps.reshape(len(maps), -1)).all(1)
    if not bool(finite.all()):  # NaN relevance would rank first (or last) for every channel
        state["skipped"] += int((~finite).sum())
        totals, maps, index = totals[finite], maps[finite], index[finite]
        if not len(totals):
            return
    units = state["unit_index"]
    scores = totals[:, units].T  # (rows, n)
    flat = maps[:, units].reshape(len(maps), len(units), -1)
    idx = index[None].expand(len(units), -1)
    for which, at, descending in (("top", flat.argmax(2), True), ("bottom", flat.argmin(2), False)):
        values = torch.cat([state[f"{which}_values"], scores], dim=1)
        indices = torch.cat([state[f"{which}_indices"], idx], dim=1)
        locations = torch.cat([state[f"{which}_locations"], grid_positions(at.T, state["layer_shape"])], dim=1)
        kept = keep_best(values, indices, locations, state["k"], descending)
        state[f"{which}_values"], state[f"{which}_indices"], state[f"{which}_locations"] = kept

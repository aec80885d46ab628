"""Quantus 0.6's perturbation metrics, computed the way it computes them.

- the map: divided by its largest |value| (``normalise``), then made absolute
  if ``abs``; a one-channel map is broadcast over the image's channels, so
  each channel value of each pixel is one feature (a three-channel image has
  3 H W features, ranked together);
- the order: ``np.argsort`` of the negated map (numpy's default sort, so ties
  fall as they do in Quantus);
- a ``"black"`` baseline is the image's minimum over all channels, ``"white"``
  its maximum (a number is used as is);
- softmax probabilities of the target (``softmax=False``: logits);
- an AUC is the trapezoid area with dx=1: in units of steps.

Curves are built for all steps at once (each step's input is the image with
every feature removed so far) and run through the model in batches, where
Quantus runs one image per step; the values are the same up to float32
rounding of batched passes.
"""
from __future__ import annotations

import math
from typing import Optional, Sequence

import numpy as np
import torch

from .common import Problem
from .result import FaithfulnessResult

__all__ = ["pixel_flipping", "region_perturbation", "selectivity", "faithfulness_correlation",
           "BASELINES"]

BASELINES = ("black", "white")
ORDERS = ("morf", "lerf", "random")


def quantus_map(p: Problem, abs: bool, normalise: bool) -> np.ndarray:
    """The map as Quantus scores it: normalised by max |a|, |a| if asked, broadcast to the input's shape."""
    a = p.attribution
    if normalise and not np.all(a == 0.0):
        a = np.divide(a, np.max(np.abs(a), keepdims=True))
    if abs:
        a = np.abs(a)
    return np.broadcast_to(a, tuple(p.x.shape))


def baseline_value(x: torch.Tensor, baseline) -> float:
    """A removed feature's value: "black" = the image's minimum, "white" its maximum, or a number."""
    if isinstance(baseline, str):
        if baseline not in BASELINES:
            raise ValueError(f"expected perturb_baseline in {BASELINES} or a number, got {baseline!r}")
        return float(x.min() if baseline == "black" else x.max())
    if isinstance(baseline, bool) or not isinstance(baseline, (int, float)) or not math.isfinite(baseline):
        raise ValueError(f"expected perturb_baseline in {BASELINES} or a finite number, got {baseline!r}")
    return float(baseline)


def _output(softmax: bool) -> str:
    return "softmax" if softmax else "logits"


def _cumulative(p: Problem, rank: torch.Tensor, counts: np.ndarray, fill: float, output: str) -> np.ndarray:
    """The target's output after removing the ``counts[i]`` first features of ``rank``, for every i."""
    x = p.x[0]
    n = p.rows_per_batch()
    fill_t = torch.tensor(fill, dtype=x.dtype, device=x.device)

    def batches():
        for i in range(0, len(counts), n):
            k = torch.as_tensor(counts[i:i + n], device=x.device).view(-1, 1, 1, 1)
            yield torch.where(rank.to(x.device)[None] < k, fill_t, x[None])

    return p.outputs(batches(), output)[:, p.target]


def pixel_flipping(p: Problem, features_in_step: int = 1, perturb_baseline="black", abs: bool = False,
                   normalise: bool = True, softmax: bool = True) -> FaithfulnessResult:
    """Bach et al. 2015: remove features most relevant first, ``features_in_step`` at a time; the curve is
    the target's probability after each step (no point for the untouched image). Score: AUC, lower better."""
    a = quantus_map(p, abs, normalise).reshape(1, -1)
    order = np.argsort(-a, axis=1)[0]
    rank = torch.empty(order.size, dtype=torch.long)
    rank[torch.from_numpy(order)] = torch.arange(order.size)
    steps = math.ceil(order.size / features_in_step)
    counts = np.minimum(np.arange(1, steps + 1) * features_in_step, order.size)
    curve = _cumulative(p, rank.view(p.x.shape[1:]), counts, baseline_value(p.x, perturb_baseline),
                        _output(softmax))
    return FaithfulnessResult("pixel_flipping", "quantus", float(np.trapezoid(curve, dx=1)), curve,
                              np.arange(1, steps + 1), f"step ({features_in_step} feature(s) each)",
                              "target " + _output(softmax), "lower", p.target)


def _padding(size: int, patch: int):
    total = (-size) % patch
    return total // 2, total - total // 2


def _patch_ranks(p: Problem, a: np.ndarray, patch_size: int, order: str, seed: int):
    """Per padded patch (row-major), its place in the removal order; and the padding (top, left)."""
    c, h, w = a.shape[1:]
    (top, bottom), (left, right) = _padding(h, patch_size), _padding(w, patch_size)
    a_pad = np.pad(a[0], ((0, 0), (top, bottom), (left, right)), mode="constant")
    bh, bw = a_pad.shape[1] // patch_size, a_pad.shape[2] // patch_size
    # each patch's values in (channel, row, column) order, summed the way Quantus sums them
    blocks = a_pad.reshape(c, bh, patch_size, bw, patch_size).transpose(1, 3, 0, 2, 4).reshape(bh * bw, -1)
    sums = np.ascontiguousarray(blocks).sum(axis=-1)
    if order == "morf":
        sequence = np.argsort(-sums)
    elif order == "lerf":
        sequence = np.argsort(sums)
    elif order == "random":
        sequence = np.random.default_rng(seed).permutation(bh * bw)
    else:
        raise ValueError(f"expected order in {ORDERS}, got {order!r}")
    ranks = np.empty(bh * bw, dtype=np.int64)
    ranks[sequence] = np.arange(bh * bw)
    return ranks.reshape(bh, bw), (top, left)


def _patch_curve(p: Problem, patch_size: int, order: str, count: Optional[int], baseline, abs, normalise,
                 softmax, seed: int = 0):
    if isinstance(patch_size, bool) or not isinstance(patch_size, int) or patch_size < 1:
        raise ValueError(f"expected patch_size as an integer >= 1, got {patch_size!r}")
    a = quantus_map(p, abs, normalise)
    ranks, (top, left) = _patch_ranks(p, a, patch_size, order, seed)
    h, w = p.size
    pixel_rank = np.kron(ranks, np.ones((patch_size, patch_size), dtype=np.int64))[top:top + h, left:left + w]
    rank = torch.from_numpy(np.ascontiguousarray(np.broadcast_to(pixel_rank, tuple(p.x.shape[1:]))))
    total = ranks.size if count is None else min(int(count), ranks.size)
    return _cumulative(p, rank, np.arange(1, total + 1), baseline_value(p.x, baseline), _output(softmax)), total


def region_perturbation(p: Problem, patch_size: int = 8, order: str = "morf", regions_evaluation: int = 100,
                        perturb_baseline="black", abs: bool = False, normalise: bool = True,
                        softmax: bool = True, seed: int = 0) -> FaithfulnessResult:
    """Samek et al. 2015: remove non-overlapping ``patch_size`` patches (the input padded to fit) in
    ``order`` of their summed map; the curve is the drop ``y - y_removed`` after each of the first
    ``regions_evaluation`` patches. Score: AUC (morf: higher is better; lerf: lower)."""
    y0 = p.target_outputs(p.x, _output(softmax))[0]
    after, total = _patch_curve(p, patch_size, order, regions_evaluation, perturb_baseline, abs, normalise,
                                softmax, seed)
    curve = y0 - after
    better = {"morf": "higher", "lerf": "lower"}.get(order)
    return FaithfulnessResult("region_perturbation", "quantus", float(np.trapezoid(curve, dx=1)), curve,
                              np.arange(1, total + 1), f"patches removed ({patch_size}x{patch_size}, {order})",
                              "drop in target " + _output(softmax), better, p.target)


def selectivity(p: Problem, patch_size: int = 8, perturb_baseline="black", abs: bool = False,
                normalise: bool = True, softmax: bool = True) -> FaithfulnessResult:
    """Montavon et al. 2018: remove every ``patch_size`` patch, most relevant first; the curve is the
    target's probability after each. Score: AUC, lower is better."""
    after, total = _patch_curve(p, patch_size, "morf", None, perturb_baseline, abs, normalise, softmax)
    curve = after.astype(np.float64)
    return FaithfulnessResult("selectivity", "quantus", float(np.trapezoid(curve, dx=1)), curve,
                              np.arange(1, total + 1), f"patches removed ({patch_size}x{patch_size})",
                              "target " + _output(softmax), "lower", p.target)


def faithfulness_correlation(p: Problem, nr_runs: int = 100, subset_size: int = 224, perturb_baseline="black",
                             abs: bool = False, normalise: bool = True, softmax: bool = False, seed: int = 0,
                             subsets: Optional[Sequence[Sequence[int]]] = None) -> FaithfulnessResult:
    """Bhatt et al. 2020: ``nr_runs`` times, remove a random subset of ``subset_size`` features; Pearson
    correlation of the subsets' summed map with the drops in the target's logit. Higher is better.

    ``subsets``: the feature subsets to use instead of drawing them (``nr_runs`` rows of feature numbers
    into the flattened ``(C, H, W)`` input), e.g. to repeat another tool's draws.
    """
    from scipy.stats import pearsonr

    a = quantus_map(p, abs, normalise).reshape(1, -1)
    features = a.shape[1]
    if subsets is None:
        if not 1 <= subset_size < features:
            raise ValueError(f"expected subset_size in 1..{features - 1} (the input's features), got {subset_size}")
        rng = np.random.default_rng(seed)
        chosen = np.stack([rng.choice(features, subset_size, replace=False) for _ in range(nr_runs)])
    else:
        chosen = np.asarray(subsets, dtype=np.int64)
        if chosen.ndim != 2 or chosen.min() < 0 or chosen.max() >= features:
            raise ValueError(f"expected subsets as rows of feature numbers in 0..{features - 1}, got shape "
                             f"{chosen.shape}")
    x = p.x[0].reshape(-1)
    fill = baseline_value(p.x, perturb_baseline)
    rows = x[None].repeat(len(chosen), 1)
    rows[torch.arange(len(chosen))[:, None], torch.from_numpy(chosen)] = fill
    y0 = p.target_outputs(p.x, _output(softmax))[0]
    deltas = y0 - p.target_outputs(rows.view(-1, *p.x.shape[1:]), _output(softmax))
    sums = a[0][chosen].sum(axis=-1)
    score = float(pearsonr(sums, deltas)[0]) if np.ptp(sums) > 0 and np.ptp(deltas) > 0 else float("nan")
    return FaithfulnessResult("faithfulness_correlation", "quantus", score, deltas, sums,
                              "map summed over the removed subset", "drop in target " + _output(softmax),
                              "higher", p.target)

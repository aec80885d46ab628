"""ROAD (Rong, Leemann et al. 2022): remove pixels by the map and fill them by
noisy linear imputation, so the removal itself leaks no shape to the model.

Three conventions, one mechanism: each removal mask is factorised once
(``ImputationSystem``), every channel is solved with that factor, and all
imputed images go through the model in batches. What differs is which
pixels a percentile removes and what is read from the model:

- ``grad-cam``: percentile p keeps the pixels below the map's p-th
  percentile (``np.percentile``): MoRF(80) removes the top 20%; LeRF ranks
  ``1 - map``, so LeRF(20) removes the bottom 80%. The score is the target's
  logit (``output="softmax"``: probability) after minus before, averaged over
  ``percentiles`` in float32; combined = (LeRF - MoRF) / 2.
- ``quantus``: percentage p removes the ``int(H W p / 100)`` most relevant
  pixels (order ``np.argsort`` of the negated, max-normalised map) and scores
  whether the predicted class is still the target (1 or 0). Quantus 0.6 only
  runs this on one-channel images (it indexes a broadcast map's channel
  values as pixels and fails on three); here a pixel's value is its map
  summed over channels, which is the same thing on one channel.
- ``nnlens``: percentile p removes p% of the pixels (most relevant first
  for MoRF, least for LeRF; ties in pixel order); the curve is the target's
  probability, the score its mean over the percentiles.

The noise (sd ``noise``, in input units) comes from a generator seeded with
``seed``: the same call gives the same score.
"""
from __future__ import annotations

import numbers
from typing import List, Optional, Sequence

import numpy as np
import torch

from .common import OUTPUTS, Problem
from .imputation import ImputationSystem, dissection_order
from .quantus_metrics import quantus_map
from .result import FaithfulnessResult

__all__ = ["road_morf", "road_lerf", "road_combined", "quantus_road", "imputed_inputs"]

GRADCAM_PERCENTILES = (10, 20, 30, 40, 50, 60, 70, 80, 90)


def imputed_inputs(x: torch.Tensor, masks: Sequence[np.ndarray], noise: float, seed: int) -> torch.Tensor:
    """``x`` (1, C, H, W) with each mask's removed pixels imputed: (len(masks), C, H, W).

    One factorisation per distinct mask; the noise is drawn per image in mask order.
    """
    if not np.isfinite(noise) or noise < 0:
        raise ValueError(f"expected noise >= 0, got {noise}")
    generator = torch.Generator().manual_seed(int(seed))
    systems = {}
    image = x[0].detach().cpu()
    grid = dissection_order(np.ones(image.shape[-2:], dtype=bool))  # restricted to each mask: its order
    out = []
    for mask in masks:
        key = mask.tobytes()
        if key not in systems:
            systems[key] = ImputationSystem(mask, grid_order=grid)
        out.append(systems[key].fill(image, float(noise), generator))
    return torch.stack(out).to(x.device)


def _percentiles(value, name: str) -> List[float]:
    values = [value] if isinstance(value, numbers.Real) and not isinstance(value, bool) else list(value)
    if not values or any(isinstance(v, bool) or not isinstance(v, numbers.Real) or not 0 < float(v) < 100
                         for v in values):
        raise ValueError(f"expected {name} as numbers strictly between 0 and 100, got {value!r}")
    return [int(float(v)) if float(v).is_integer() else float(v) for v in values]


# -- pytorch-grad-cam ------------------------------------------------------
def _gradcam_masks(cam: np.ndarray, percentiles, least: bool) -> List[np.ndarray]:
    ranked = torch.from_numpy(cam)
    if least:
        ranked = 1 - ranked
    thresholds = np.percentile(ranked.numpy(), list(percentiles))  # one partition for all of them
    return [(~(ranked < threshold)).numpy() for threshold in thresholds]


def _gradcam_scores(p: Problem, percentiles, least: bool, noise: float, output: str, seed: int) -> np.ndarray:
    if output not in OUTPUTS:
        raise ValueError(f"expected output in {OUTPUTS}, got {output!r}")
    cam = p.pixel_map()
    inputs = imputed_inputs(p.x, _gradcam_masks(cam, percentiles, least), noise, seed)
    values = np.asarray(p.target_outputs(torch.cat([p.x, inputs]), output), dtype=np.float32)  # untouched first
    return values[1:] - values[0]


def _gradcam(p: Problem, kind: str, percentile, percentiles, noise, output, seed) -> FaithfulnessResult:
    qs = _percentiles(percentiles if percentiles is not None else percentile,
                      "percentiles" if percentiles is not None else "percentile")
    if kind == "combined":
        lerf = _gradcam_scores(p, qs, True, noise, output, seed)
        morf = _gradcam_scores(p, qs, False, noise, output, seed + 1)
        curve = (lerf - morf) / 2
        score = (np.mean(lerf, dtype=np.float32) - np.mean(morf, dtype=np.float32)) / 2
        better = "higher"
    else:
        curve = _gradcam_scores(p, qs, kind == "lerf", noise, output, seed)
        score = np.mean(curve, dtype=np.float32)
        better = "higher" if kind == "lerf" else "lower"
    what = {"morf": "kept below percentile", "lerf": "kept above percentile (1 - map below it)",
            "combined": "percentile"}[kind]
    return FaithfulnessResult(f"road_{kind}", "grad-cam", float(score), curve, np.asarray(qs, dtype=np.float64),
                              f"map percentile ({what})", f"change in target {output}", better, p.target)


# -- Quantus ---------------------------------------------------------------
def quantus_road(p: Problem, percentages: Optional[Sequence[float]] = None, noise: float = 0.01,
                 abs: bool = False, normalise: bool = True, seed: int = 0) -> FaithfulnessResult:
    """Quantus's ROAD (MoRF): 1 where the class predicted after removing the top p% is still the target."""
    qs = list(range(1, 100, 2)) if percentages is None else _percentiles(percentages, "percentages")
    a = quantus_map(p, abs, normalise)
    flat = (a[:, :1] if p.attribution.shape[1] == 1 else a.sum(1, keepdims=True)).reshape(1, -1)
    order = np.argsort(-flat, axis=1)[0]
    h, w = p.size
    masks = []
    for q in qs:
        removed = np.zeros(h * w, dtype=bool)
        removed[order[:int(h * w * q / 100)]] = True
        masks.append(removed.reshape(h, w))
    inputs = imputed_inputs(p.x, masks, noise, seed)
    predicted = p.all_outputs(inputs, "logits").argmax(axis=1)
    curve = (predicted == p.target).astype(np.float64)
    return FaithfulnessResult("road_morf", "quantus", float(curve.mean()), curve, np.asarray(qs, dtype=np.float64),
                              "percent of pixels removed (most relevant first)",
                              "1 if the target is still predicted", "lower", p.target)


# -- nnlens ----------------------------------------------------------------
def _nnlens_curve(p: Problem, qs, least: bool, noise: float, seed: int) -> np.ndarray:
    sal = p.pixel_map().ravel()
    order = np.argsort(sal if least else -sal, kind="stable")
    h, w = p.size
    masks = []
    for q in qs:
        removed = np.zeros(h * w, dtype=bool)
        removed[order[:int(round(h * w * q / 100))]] = True
        masks.append(removed.reshape(h, w))
    return p.target_outputs(imputed_inputs(p.x, masks, noise, seed), "softmax").astype(np.float64)


def _nnlens(p: Problem, kind: str, percentiles, noise, seed) -> FaithfulnessResult:
    qs = _percentiles(percentiles, "percentiles")
    if kind == "combined":
        curve = (_nnlens_curve(p, qs, True, noise, seed) - _nnlens_curve(p, qs, False, noise, seed + 1)) / 2
        better, label = "higher", "(LeRF - MoRF) / 2 of the target probability"
    else:
        curve = _nnlens_curve(p, qs, kind == "lerf", noise, seed)
        better, label = ("higher" if kind == "lerf" else "lower"), "target probability"
    which = {"morf": "most relevant first", "lerf": "least relevant first", "combined": "each way"}[kind]
    return FaithfulnessResult(f"road_{kind}", "nnlens", float(curve.mean()), curve,
                              np.asarray(qs, dtype=np.float64) / 100, f"fraction of pixels removed ({which})",
                              label, better, p.target)


def road_morf(p: Problem, convention: str, **o) -> FaithfulnessResult:
    if convention == "grad-cam":
        return _gradcam(p, "morf", o["percentile"], o["percentiles"], o["noise"], o["output"], o["seed"])
    if convention == "quantus":
        return quantus_road(p, **o)
    return _nnlens(p, "morf", o["percentiles"], o["noise"], o["seed"])


def road_lerf(p: Problem, convention: str, **o) -> FaithfulnessResult:
    if convention == "grad-cam":
        return _gradcam(p, "lerf", o["percentile"], o["percentiles"], o["noise"], o["output"], o["seed"])
    return _nnlens(p, "lerf", o["percentiles"], o["noise"], o["seed"])


def road_combined(p: Problem, convention: str, **o) -> FaithfulnessResult:
    if convention == "grad-cam":
        return _gradcam(p, "combined", None, o["percentiles"], o["noise"], o["output"], o["seed"])
    return _nnlens(p, "combined", o["percentiles"], o["noise"], o["seed"])

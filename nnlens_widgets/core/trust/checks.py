"""Checks of the checks: when a faithfulness score says less than it seems.

- ``blur_confound`` (Song et al. 2026: ROAR/ROAD-type scores reward blurry
  maps): every metric also scores the map blurred (Gaussian, sigma 2 and 4
  px at 224 px, scaled with the image's shorter side); a metric that scores
  a blurred map more than 5% better than the map itself is flagged, since
  it would rank a blurrier method above this one for the blur alone.
- ``metric_sanity`` (after MetaQuantus, Hedström et al. 2023): a metric
  should barely move when the input gets a little noise (the map is
  recomputed for the noised input) and move a lot when the model is
  re-initialised (the map recomputed on the random model); for this input
  it "told them apart" when the second move is at least ``margin`` times
  the first.
- ``low_target_caveat``: a map for a class the model gives under 1% explains
  an answer the model did not give.

All results are plain data: numbers, names and sentences in ``warnings``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Mapping, Optional, Sequence, Tuple, Union

import numpy as np
import torch

from ..attribution.gradients import prepare
from ..attribution.registry import method_function
from ..attribution.results import pixel_map
from ..guard import looking_at
from .randomise import randomised_copy
from .registry import FAITHFULNESS_METRICS, faithfulness

__all__ = ["BlurCheck", "BlurConfound", "blur_confound", "blurred_map", "SanityOfMetric", "MetricSanity",
           "metric_sanity", "low_target_caveat", "target_probability"]

REFERENCE_SIDE = 224  # the blur sigmas are given in pixels of a 224-pixel image


def blurred_map(attribution, sigma: float) -> torch.Tensor:
    """The map (1, C, H, W) blurred channel by channel with a Gaussian of ``sigma`` pixels."""
    from torchvision.transforms.functional import gaussian_blur

    a = pixel_map(attribution) if not isinstance(attribution, np.ndarray) else torch.from_numpy(attribution)
    a = a.detach().float().cpu()
    while a.ndim < 4:
        a = a[None]
    side = min(a.shape[-2:])
    k = min(2 * math.ceil(3 * sigma) + 1, side - (1 - side % 2))
    if k < 3 or sigma <= 0:
        return a.clone()
    return gaussian_blur(a, [k, k], [float(sigma)] * 2)


@dataclass(frozen=True)
class BlurCheck:
    """One metric on the map and on its blurred copies."""

    metric: str
    better: Optional[str]
    score: float
    blurred: Tuple[Tuple[float, float], ...]  # (sigma in pixels, score)
    preference: float  # the largest improvement a blurred copy gets, relative to the larger score (0.12: 12% better)
    flagged: bool


@dataclass(frozen=True)
class BlurConfound:
    convention: str
    sigmas: Tuple[float, ...]  # in pixels of this image
    threshold: float
    checks: Tuple[BlurCheck, ...]

    @property
    def flagged(self) -> Tuple[str, ...]:
        """Metrics that prefer the blurred map by more than the threshold."""
        return tuple(c.metric for c in self.checks if c.flagged)

    @property
    def warnings(self) -> Tuple[str, ...]:
        out = []
        for c in self.checks:
            if c.flagged:
                sigma, score = max(c.blurred, key=lambda b: _gain(c, b[1]))
                out.append(f"the map blurred (sigma {sigma:.2g} px) scores {100 * c.preference:.0f}% better on "
                           f"{c.metric} ({self.convention}) than the map itself ({score:.4g} vs {c.score:.4g}): "
                           f"{c.metric} favours blur here, so a blurrier map may rank above this one without "
                           "being more faithful")
        return tuple(out)


def _gain(check: BlurCheck, score: float) -> float:
    if check.better is None or not math.isfinite(score) or not math.isfinite(check.score):
        return 0.0
    sign = 1.0 if check.better == "higher" else -1.0  # relative to the larger size: a score near 0 cannot explode it
    return sign * (score - check.score) / max(abs(check.score), abs(score), 1e-12)


def blur_confound(model, x, attribution, target=None, metrics: Sequence[str] = ("deletion", "insertion"),
                  convention: str = "nnlens", sigmas: Sequence[float] = (2.0, 4.0), threshold: float = 0.05,
                  metric_options: Optional[Mapping[str, dict]] = None, scores: Optional[Mapping[str, float]] = None,
                  preprocess=None, progress: Optional[Callable[[float], None]] = None) -> BlurConfound:
    """Score ``attribution`` and its blurred copies with each metric; flag metrics that prefer blur.

    ``sigmas`` are in pixels of a 224-pixel image and scale with the input's
    shorter side (sigma 2 at 224 px is 0.57 px at 64 px). ``metric_options``
    maps a metric name to its options (as ``faithfulness`` takes them);
    ``scores``: the map's own scores where already known (not recomputed).
    ``progress(fraction)`` after each score.
    """
    for metric in metrics:
        FAITHFULNESS_METRICS[metric].implementation(convention)
    xb, t = prepare(model, x, target, preprocess)
    scale = min(xb.shape[-2:]) / REFERENCE_SIDE
    scaled = tuple(float(s) * scale for s in sigmas)
    checks = []
    done, total = 0, len(metrics) * (len(scaled) + 1)

    def score(a, metric, opts):
        nonlocal done
        r = faithfulness(model, xb, a, t, metric, convention, **opts)
        done += 1
        if progress is not None:
            progress(done / total)
        return r

    for metric in metrics:
        opts = dict((metric_options or {}).get(metric, {}))
        if scores is not None and metric in scores:
            own, total = float(scores[metric]), total - 1
            better = FAITHFULNESS_METRICS[metric].better_for(opts)
        else:
            first = score(attribution, metric, opts)
            own, better = first.score, first.better
        blurred = tuple((s, score(blurred_map(attribution, s), metric, opts).score) for s in scaled)
        check = BlurCheck(metric, better, own, blurred, 0.0, False)
        preference = max(_gain(check, b) for _, b in blurred)
        checks.append(BlurCheck(metric, better, own, blurred, preference, preference > threshold))
    return BlurConfound(convention, scaled, float(threshold), tuple(checks))


# -- metric sanity ---------------------------------------------------------
@dataclass(frozen=True)
class SanityOfMetric:
    metric: str
    score: float  # the map of the trained model on the input
    noised_score: float  # the map recomputed for a slightly noised input
    randomised_score: float  # the map recomputed on a re-initialised model
    told_apart: bool

    @property
    def noise_move(self) -> float:
        return abs(self.noised_score - self.score)

    @property
    def randomisation_move(self) -> float:
        return abs(self.randomised_score - self.score)


@dataclass(frozen=True)
class MetricSanity:
    method: str
    convention: str
    noise: float  # sd of the input noise, as a fraction of the input's range
    margin: float
    checks: Tuple[SanityOfMetric, ...]

    @property
    def failed(self) -> Tuple[str, ...]:
        return tuple(c.metric for c in self.checks if not c.told_apart)

    @property
    def warnings(self) -> Tuple[str, ...]:
        return tuple(
            f"{c.metric} ({self.convention}) did not tell a randomised model from a slightly noised input for "
            f"this image (it moved {c.randomisation_move:.3g} for the randomised model and {c.noise_move:.3g} "
            f"for the noised input): its score says little about whether the {self.method} map follows the model"
            for c in self.checks if not c.told_apart)


def metric_sanity(model, x, method: Union[str, Callable] = "gradient", target=None,
                  metrics: Sequence[str] = ("deletion", "insertion"), convention: str = "nnlens",
                  noise: float = 0.01, margin: float = 2.0, seed: int = 0, attribution=None,
                  metric_options: Optional[Mapping[str, dict]] = None, preprocess=None,
                  **method_kwargs) -> MetricSanity:
    """Each metric's score for ``method``'s map, for a noised input and for a randomised model.

    ``noise``: sd of Gaussian noise as a fraction of the input's value range
    (own generator, ``seed``); the randomised model is a full re-initialisation
    (``randomised_copy(model, seed)``). ``attribution``: the map already made
    for ``x`` (else ``method`` is run). A metric told them apart when the
    randomised model moved its score at least ``margin`` times as far as the noise did.
    """
    fn = method_function(method) if isinstance(method, str) else method
    for metric in metrics:  # unknown names and undefined pairs fail before any work
        FAITHFULNESS_METRICS[metric].implementation(convention)
    xb, t = prepare(model, x, target, preprocess)
    if not noise >= 0:
        raise ValueError(f"expected noise >= 0, got {noise}")
    span = float(xb.max() - xb.min()) or 1.0
    g = torch.Generator().manual_seed(int(seed))
    noised = xb + noise * span * torch.randn(xb.shape, generator=g, dtype=xb.dtype).to(xb.device)
    random = randomised_copy(model, seed).model
    maps = (attribution if attribution is not None else fn(model, xb, target=t, **method_kwargs),
            fn(model, noised, target=t, **method_kwargs), fn(random, xb, target=t, **method_kwargs))
    cases = ((model, xb), (model, noised), (random, xb))
    checks = []
    for metric in metrics:
        opts = dict((metric_options or {}).get(metric, {}))
        s0, s_noise, s_random = (faithfulness(m, inp, a, t, metric, convention, **opts).score
                                 for (m, inp), a in zip(cases, maps))
        told = abs(s_random - s0) >= margin * abs(s_noise - s0) and abs(s_random - s0) > 0
        checks.append(SanityOfMetric(metric, s0, s_noise, s_random, bool(told)))
    name = method if isinstance(method, str) else getattr(method, "__name__", repr(method))
    return MetricSanity(name, convention, float(noise), float(margin), tuple(checks))


# -- targets the model does not give ----------------------------------------
def target_probability(model, x, target, preprocess=None) -> Optional[float]:
    """The softmax probability the model gives class ``target`` (None for targets that are not classes)."""
    xb, t = prepare(model, x, target, preprocess)
    if isinstance(t, bool) or not isinstance(t, int):
        return None
    with looking_at(model) as m, torch.no_grad():
        out = m(xb)
    if not isinstance(out, torch.Tensor) or out.ndim != 2:
        return None
    return float(torch.softmax(out.float(), dim=-1)[0, t])


def low_target_caveat(model, x, target, threshold: float = 0.01, labels: Optional[Sequence[str]] = None,
                      preprocess=None) -> Optional[str]:
    """A sentence when the model gives ``target`` less than ``threshold`` (1%), else None.

    e.g. "explaining class 3, which the model gives 0.0%: the map shows what would make it class 3,
    not why the model chose its answer".
    """
    p = target_probability(model, x, target, preprocess)
    if p is None or p >= threshold:
        return None
    _, t = prepare(model, x, target, preprocess)
    name = f"class {t}" + (f" ({labels[t]})" if labels is not None and 0 <= t < len(labels) else "")
    return (f"explaining {name}, which the model gives {100 * p:.1f}%: the map shows what would raise "
            f"{name}, not why the model gave its own answer")


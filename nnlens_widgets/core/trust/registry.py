"""Every faithfulness metric described once: under which conventions it is
defined, with which options (named as the reference library names them)
and their defaults, and which function computes it."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Mapping, Optional

import torch

from ..registry import Registry
from .common import Problem, make_problem
from .conventions import CONVENTIONS
from .curves import deletion_curve, insertion_curve
from .result import FaithfulnessResult
from . import quantus_metrics as qm
from . import road

__all__ = ["MetricSpec", "Implementation", "FAITHFULNESS_METRICS", "faithfulness"]


@dataclass(frozen=True)
class Implementation:
    """A metric under one convention: ``function(problem, **options)`` and the options' defaults."""

    function: Callable[..., FaithfulnessResult]
    defaults: Mapping[str, Any] = field(default_factory=dict)
    class_only: bool = True  # False: any target the nnlens curves take (a unit, a callable)


@dataclass(frozen=True)
class MetricSpec:
    name: str
    title: str
    description: str
    better: str  # "lower" or "higher": which scores mean a more faithful map (most relevant first)
    conventions: Mapping[str, Implementation]

    def better_for(self, options: Mapping[str, Any]) -> Optional[str]:
        """``better`` under ``options``: removing the least relevant first flips it; a random order has none."""
        order = options.get("order", "morf")
        if order == "random":
            return None
        if order == "lerf":
            return "higher" if self.better == "lower" else "lower"
        return self.better

    def implementation(self, convention: str) -> Implementation:
        CONVENTIONS[convention]  # unknown names: ValueError listing the known ones
        if convention not in self.conventions:
            here = [m for m in FAITHFULNESS_METRICS if convention in FAITHFULNESS_METRICS[m].conventions]
            raise ValueError(
                f"the {convention!r} convention does not define {self.name!r}; it defines {', '.join(here)}. "
                f"{self.name!r} is defined under {', '.join(map(repr, self.conventions))}")
        return self.conventions[convention]


FAITHFULNESS_METRICS: Registry[MetricSpec] = Registry("faithfulness metric")


def _metric(name: str, title: str, better: str, description: str, **conventions: Implementation) -> None:
    FAITHFULNESS_METRICS.add(name, MetricSpec(name, title, description, better,
                                              {k.replace("_", "-"): v for k, v in conventions.items()}))


def _deletion(p: Problem, steps: int, baseline) -> FaithfulnessResult:
    c = deletion_curve(p.model, p.x, torch.from_numpy(p.attribution), p.target, steps, baseline, p.batch_size)
    return FaithfulnessResult("deletion", "nnlens", c.auc, c.scores, c.fractions, "fraction of pixels removed",
                              "target probability", "lower", p.target)


def _insertion(p: Problem, steps: int, blur_sigma: float) -> FaithfulnessResult:
    c = insertion_curve(p.model, p.x, torch.from_numpy(p.attribution), p.target, steps, blur_sigma, p.batch_size)
    return FaithfulnessResult("insertion", "nnlens", c.auc, c.scores, c.fractions, "fraction of pixels inserted",
                              "target probability", "higher", p.target)


def _road(kind: str, convention: str) -> Callable[..., FaithfulnessResult]:
    fn = {"morf": road.road_morf, "lerf": road.road_lerf, "combined": road.road_combined}[kind]
    return lambda p, **o: fn(p, convention, **o)


_QUANTUS_MAP = dict(abs=False, normalise=True)
_NNLENS_ROAD = dict(percentiles=road.GRADCAM_PERCENTILES, noise=0.01, seed=0)
_GRADCAM_ROAD = dict(noise=0.01, output="logits", seed=0)

_metric("deletion", "deletion", "lower",
        "Petsiuk et al. 2018: remove pixels most salient first; the target's probability falls fast for a "
        "faithful map (area under the curve: lower is better)",
        nnlens=Implementation(_deletion, dict(steps=64, baseline="zero"), class_only=False))
_metric("insertion", "insertion", "higher",
        "Petsiuk et al. 2018: put pixels, most salient first, into a blurred copy; the target's probability "
        "rises fast for a faithful map (higher is better)",
        nnlens=Implementation(_insertion, dict(steps=64, blur_sigma=5.0), class_only=False))
_metric("pixel_flipping", "pixel flipping", "lower",
        "Bach et al. 2015: remove features most relevant first; area under the probability curve (lower is better)",
        quantus=Implementation(qm.pixel_flipping, dict(features_in_step=1, perturb_baseline="black", softmax=True,
                                                       **_QUANTUS_MAP)))
_metric("region_perturbation", "region perturbation", "higher",
        "Samek et al. 2015: remove patches in order of their summed map; area under the drop curve",
        quantus=Implementation(qm.region_perturbation, dict(patch_size=8, order="morf", regions_evaluation=100,
                                                            perturb_baseline="black", softmax=True, seed=0,
                                                            **_QUANTUS_MAP)))
_metric("selectivity", "selectivity", "lower",
        "Montavon et al. 2018: remove all patches most relevant first; area under the probability curve "
        "(lower is better)",
        quantus=Implementation(qm.selectivity, dict(patch_size=8, perturb_baseline="black", softmax=True,
                                                    **_QUANTUS_MAP)))
_metric("faithfulness_correlation", "faithfulness correlation", "higher",
        "Bhatt et al. 2020: correlation of random subsets' summed map with the logit's drop when they are "
        "removed (higher is better)",
        quantus=Implementation(qm.faithfulness_correlation, dict(nr_runs=100, subset_size=224,
                                                                 perturb_baseline="black", softmax=False, seed=0,
                                                                 subsets=None, **_QUANTUS_MAP)))
_metric("road_morf", "ROAD, most relevant first", "lower",
        "Rong et al. 2022: remove the most relevant pixels by noisy linear imputation (lower is better)",
        nnlens=Implementation(_road("morf", "nnlens"), _NNLENS_ROAD),
        quantus=Implementation(_road("morf", "quantus"), dict(percentages=None, noise=0.01, seed=0, **_QUANTUS_MAP)),
        grad_cam=Implementation(_road("morf", "grad-cam"), dict(percentile=80, percentiles=None, **_GRADCAM_ROAD)))
_metric("road_lerf", "ROAD, least relevant first", "higher",
        "Rong et al. 2022: remove the least relevant pixels by noisy linear imputation (higher is better)",
        nnlens=Implementation(_road("lerf", "nnlens"), _NNLENS_ROAD),
        grad_cam=Implementation(_road("lerf", "grad-cam"), dict(percentile=20, percentiles=None, **_GRADCAM_ROAD)))
_metric("road_combined", "ROAD, combined", "higher",
        "Rong et al. 2022: (LeRF - MoRF) / 2 over several percentiles (higher is better)",
        nnlens=Implementation(_road("combined", "nnlens"), _NNLENS_ROAD),
        grad_cam=Implementation(_road("combined", "grad-cam"),
                                dict(percentiles=road.GRADCAM_PERCENTILES, **_GRADCAM_ROAD)))


def resolve_options(metric: str, convention: str, options: Mapping[str, Any]) -> Dict[str, Any]:
    """Every option of ``metric`` under ``convention``, defaults filled in; unknown names refused."""
    impl = FAITHFULNESS_METRICS[metric].implementation(convention)
    unknown = sorted(set(options) - set(impl.defaults))
    if unknown:
        raise ValueError(f"{metric} ({convention}) takes the options {', '.join(impl.defaults) or 'none'}; "
                         f"got unknown {', '.join(unknown)}")
    return {**impl.defaults, **options}


def faithfulness(model, x, attribution, target=None, metric: str = "deletion", convention: str = "nnlens", *,
                 preprocess=None, batch_size: Optional[int] = None, **options) -> FaithfulnessResult:
    """Score how faithfully ``attribution`` explains ``model``'s ``target`` for ``x``.

    Parameters
    ----------
    model : nn.Module
        A classifier; it is looked at (on a private eval-mode twin), never changed.
    x
        One input (tensor ``(C, H, W)`` / ``(1, C, H, W)``, numpy image, PIL image).
    attribution
        The map: a tensor or array ``(H, W)``, ``(C or 1, H, W)`` or ``(1, C or 1, H, W)``,
        or any attribution method's result (Grad-CAM maps, LIME results, ...).
    target
        The class explained (None: the predicted class).
    metric : str
        A name from ``FAITHFULNESS_METRICS``: deletion, insertion, pixel_flipping,
        region_perturbation, selectivity, faithfulness_correlation, road_morf, road_lerf,
        road_combined.
    convention : str
        ``"nnlens"`` (ours), ``"quantus"`` (Quantus 0.6) or ``"grad-cam"``
        (pytorch-grad-cam 1.5.7): see ``CONVENTIONS``. A metric a convention
        does not define raises a ValueError listing those it does.
    **options
        The metric's options under the reference library's names (e.g.
        ``features_in_step``, ``patch_size``, ``order``, ``regions_evaluation``,
        ``nr_runs``, ``subset_size``, ``percentile``/``percentiles``,
        ``percentages``, ``noise``, ``perturb_baseline``, ``softmax``/``output``,
        ``abs``, ``normalise``, ``steps``, ``baseline``); random parts use our
        own generator seeded with ``seed``.

    Returns
    -------
    FaithfulnessResult
        ``score``, ``curve`` and its ``x`` values, ``better`` ("lower"/"higher"),
        the convention and every option used.
    """
    spec = FAITHFULNESS_METRICS[metric]
    impl = spec.implementation(convention)
    used = resolve_options(metric, convention, options)
    p = make_problem(model, x, attribution, target, preprocess, batch_size, impl.class_only)
    result = impl.function(p, **used)
    return FaithfulnessResult(result.metric, result.convention, result.score, result.curve, result.x,
                              result.x_label, result.y_label, result.better, result.target, used)

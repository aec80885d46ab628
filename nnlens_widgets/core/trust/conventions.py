"""The three ways of scoring a map, described once.

A number from a faithfulness metric means little without its convention:
the libraries a paper may have used differ in the baseline a removed pixel
gets, whether the map is normalised, whether the class's softmax
probability or its logit is read, what a percentile removes, and the unit
of an area under a curve. Each convention reproduces one library's choices
exactly, so a score can be compared with a paper that used it.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..registry import Registry

__all__ = ["ConventionSpec", "CONVENTIONS"]


@dataclass(frozen=True)
class ConventionSpec:
    name: str
    title: str
    description: str


CONVENTIONS: Registry[ConventionSpec] = Registry("faithfulness convention")

CONVENTIONS.add("nnlens", ConventionSpec(
    "nnlens", "nnlens",
    "this package's own: one value per pixel (the map's channels summed), pixels ranked by it with ties "
    "in pixel order; the target class's softmax probability; removed pixels set to a baseline ('zero' by "
    "default) for deletion, put into a copy blurred with sigma 5 for insertion, or filled by noisy linear "
    "imputation for ROAD; curves start at the untouched image and run over the fraction of pixels changed "
    "(0..1), and an AUC is the trapezoid area over that fraction; ROAD percentiles are the percent of pixels "
    "removed, its score the curve's mean"))
CONVENTIONS.add("quantus", ConventionSpec(
    "quantus", "Quantus 0.6",
    "Quantus 0.6's metrics: a 'black' baseline is the image's own minimum; the map is divided by its "
    "largest |value| (normalise=True) and not made absolute (abs=False); a one-channel map is broadcast over "
    "the image's channels, so every channel value is a feature; softmax probabilities, except "
    "faithfulness_correlation, which reads logits; curves start after the first perturbation and an AUC is "
    "np.trapz with dx=1 (units of steps); ROAD's percentages remove the top p% of pixels and score accuracy"))
CONVENTIONS.add("grad-cam", ConventionSpec(
    "grad-cam", "pytorch-grad-cam 1.5.7",
    "pytorch-grad-cam 1.5.7's ROAD: the map as given (one value per pixel); percentile p keeps the pixels "
    "below the map's p-th percentile, so ROADMostRelevantFirst(80) removes the top 20% and "
    "ROADLeastRelevantFirst(20) the bottom 80%; the target's logit (output='softmax' for "
    "ClassifierOutputSoftmaxTarget); a score is the target after imputation minus before, averaged over "
    "percentiles in float32; combined = (LeRF - MoRF) / 2"))

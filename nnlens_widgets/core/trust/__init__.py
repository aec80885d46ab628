"""How far a map can be trusted: faithfulness metrics under the field's conventions
(``faithfulness``), and checks of those checks.

>>> import nnlens_widgets as nl
>>> r = nl.core.faithfulness(model, x, nl.core.gradient(model, x), metric="pixel_flipping", convention="quantus")
>>> r.score, r.better, r.curve, r.x

- ``faithfulness``: one metric (``FAITHFULNESS_METRICS``) under one convention
  (``CONVENTIONS``: ``"nnlens"``, ``"quantus"``, ``"grad-cam"``);
- ``blur_confound``: does a metric prefer the map blurred?
- ``metric_sanity``: does a metric tell a slightly noised input from a randomised model?
- ``efficient_mprt``: Quantus's two-state model randomisation test.
"""
from .checks import (
    BlurCheck, BlurConfound, MetricSanity, SanityOfMetric, blur_confound, blurred_map, low_target_caveat,
    metric_sanity, target_probability,
)
from .conventions import CONVENTIONS, ConventionSpec
from .curves import Curve, deletion_curve, insertion_curve
from .mprt import EfficientMPRT, discrete_entropy, efficient_mprt
from .randomise import RandomisedModel, randomised_copy
from .imputation import ImputationSystem, impute
from .registry import FAITHFULNESS_METRICS, Implementation, MetricSpec, faithfulness, resolve_options
from .result import FaithfulnessResult

__all__ = [
    "BlurCheck", "BlurConfound", "CONVENTIONS", "ConventionSpec", "Curve", "EfficientMPRT", "FAITHFULNESS_METRICS",
    "FaithfulnessResult", "Implementation", "ImputationSystem", "MetricSanity", "MetricSpec", "RandomisedModel",
    "SanityOfMetric", "blur_confound", "blurred_map", "deletion_curve", "discrete_entropy", "efficient_mprt",
    "faithfulness", "impute", "insertion_curve", "low_target_caveat", "metric_sanity", "randomised_copy",
    "resolve_options", "target_probability",
]

"""How far a map can be trusted: faithfulness metrics under the field's conventions
(``faithfulness``).

>>> import nnlens_widgets as nl
>>> r = nl.core.faithfulness(model, x, nl.core.gradient(model, x), metric="pixel_flipping", convention="quantus")
>>> r.score, r.better, r.curve, r.x

- ``faithfulness``: one metric (``FAITHFULNESS_METRICS``) under one convention
  (``CONVENTIONS``: ``"nnlens"``, ``"quantus"``, ``"grad-cam"``).
"""
from .conventions import CONVENTIONS, ConventionSpec
from .curves import Curve, deletion_curve, insertion_curve
from .imputation import ImputationSystem, impute
from .registry import FAITHFULNESS_METRICS, Implementation, MetricSpec, faithfulness, resolve_options
from .result import FaithfulnessResult

__all__ = [
    "CONVENTIONS", "ConventionSpec", "Curve", "FAITHFULNESS_METRICS", "FaithfulnessResult", "Implementation",
    "ImputationSystem", "MetricSpec", "deletion_curve", "faithfulness", "impute", "insertion_curve",
    "resolve_options",
]

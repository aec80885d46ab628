"""What a faithfulness metric returns: a score, the curve behind it, and how it was made."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, Optional

import numpy as np

__all__ = ["FaithfulnessResult"]


@dataclass(frozen=True)
class FaithfulnessResult:
    """One metric's score of one map, under one convention.

    ``curve[i]`` is measured at ``x[i]`` (``x_label`` says what x is: a
    fraction of pixels, a step, a percentile, a subset's attribution sum);
    ``score`` is what the convention reports for the curve (an area, a mean,
    a correlation); ``better`` says whether a lower or a higher score means
    a more faithful map (None where neither does, as for a random order).
    ``options`` holds every option the metric used, defaults filled in.
    """

    metric: str
    convention: str
    score: float
    curve: np.ndarray
    x: np.ndarray
    x_label: str
    y_label: str
    better: Optional[str]
    target: int
    options: Dict[str, Any] = field(default_factory=dict)

    def summary(self) -> str:
        """One line, e.g. "deletion (nnlens): 0.0312, lower is better"."""
        direction = f", {self.better} is better" if self.better else ""
        return f"{self.metric} ({self.convention}): {self.score:.4g}{direction}"


"""Result types shared by the methods, and one way to get a pixel map from any of them."""
from __future__ import annotations

from typing import NamedTuple, Optional

import numpy as np
import torch

__all__ = ["CamMaps", "LimeResult", "PatchMap", "pixel_map"]


class CamMaps(NamedTuple):
    """A class activation map: at the layer's resolution and upsampled to the input."""

    layer_map: torch.Tensor  # (N, 1, h, w)
    upsampled: torch.Tensor  # (N, 1, H, W)
    layer: str


class PatchMap(NamedTuple):
    """One value per patch token of a transformer (attention rollout, relevance), and upsampled."""

    patch_map: torch.Tensor  # (1, 1, h, w)
    upsampled: torch.Tensor  # (1, 1, H, W)
    grid: object  # the core.tokens.TokenGrid the patches come from


class LimeResult(NamedTuple):
    """LIME for images: per-pixel weights (each pixel gets its superpixel's coefficient)."""

    weights: torch.Tensor  # (1, 1, H, W)
    segments: np.ndarray  # (H, W) int superpixel labels 0..n-1
    coefficients: np.ndarray  # (n,)
    intercept: float
    score: float  # weighted R^2 of the local linear model
    data: Optional[np.ndarray] = None  # the on/off samples (samples, n)
    predictions: Optional[np.ndarray] = None  # the model's score on each sample
    stability: Optional[float] = None  # fraction of bootstrap resamples with the same top set
    top: int = 5  # size of that set
    resamples: int = 0  # bootstrap resamples behind ``stability``
    confidence: Optional[float] = None  # the stopping rule's target (samples="auto"), else None
    stable_top: int = 0  # the largest j <= top (or <= stable_search) whose top-j set is stable at stable_at
    stable_search: int = 0  # with top="stable": the largest set size searched (``top`` is the one found); else 0
    stable_at: float = 0.95  # the confidence ``stable_top`` is judged at

    def top_segments(self, k: int = 5) -> np.ndarray:
        """Superpixels with the largest coefficients, best first."""
        return np.argsort(-self.coefficients, kind="stable")[:k]

    @property
    def samples(self) -> int:
        """Number of samples the fit used."""
        return 0 if self.predictions is None else len(self.predictions)

    def describe(self) -> str:
        """One line on how far the ranking can be trusted, e.g.
        "top 5 superpixels stable in 96% of 200 bootstrap resamples after 400 samples", or with
        ``top="stable"`` "top 3 stable at 95% after 200 samples (in 97% of 200 bootstrap resamples)"."""
        if self.stability is None:
            return f"{self.samples} samples (stability not measured)"
        if self.stable_search:
            return self._describe_search(self.stability)
        line = (f"top {self.top} superpixels stable in {100 * self.stability:.0f}% of {self.resamples} "
                f"bootstrap resamples after {self.samples} samples")
        notes = []
        if self.confidence is not None and self.stability < self.confidence:
            notes.append(f"stopped at the cap before reaching {100 * self.confidence:.0f}%")
        if self.stable_top < self.top:
            notes.append(f"the top {self.stable_top} is stable" if self.stable_top else "no top set is stable")
        return line + (f" ({'; '.join(notes)})" if notes else "")

    def _describe_search(self, stability: float) -> str:
        level = f"{100 * self.stable_at:.0f}%"
        if not self.stable_top:
            return (f"no top set of 1 to {self.stable_search} superpixels stable at {level} after "
                    f"{self.samples} samples (the top {self.top} in {100 * stability:.0f}% of "
                    f"{self.resamples} bootstrap resamples)")
        larger = f"; no larger set up to {self.stable_search} is" if self.stable_top < self.stable_search else ""
        return (f"top {self.stable_top} stable at {level} after {self.samples} samples (in "
                f"{100 * stability:.0f}% of {self.resamples} bootstrap resamples{larger})")


def pixel_map(result) -> torch.Tensor:
    """The input-resolution map of any method's result, as a tensor (N, C or 1, H, W)."""
    if isinstance(result, (CamMaps, PatchMap)):
        return result.upsampled
    if isinstance(result, LimeResult):
        return result.weights
    if isinstance(result, tuple) and result and isinstance(result[0], torch.Tensor):
        return result[0]  # (attributions, extra) as returned with return_gap=True
    if isinstance(result, torch.Tensor):
        return result
    raise ValueError(f"expected an attribution tensor or result, got {type(result).__name__}")

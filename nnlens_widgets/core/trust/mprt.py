"""Efficient model parameter randomisation (Hedström et al. 2023; Quantus's ``EfficientMPRT``).

Two states of the model instead of a cascade: the trained model and the
model with every layer re-initialised (bottom-up, as ``randomised_copy``
does it). A map that explains the model should become much less
structured when the model is destroyed: the score is the relative rise in
the discrete entropy of the map (a 100-bin histogram of its values),
``(H_random - H_trained) / H_trained``; higher is better. With the same
map values and the same re-initialisation this equals Quantus's score
(``skip_layers=True``, its default). Beside it, ``metrics.cascading_randomization``
compares maps layer by layer.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Tuple, Union

import numpy as np
import torch

from ..attribution.gradients import prepare
from ..attribution.registry import method_function
from ..attribution.results import pixel_map
from ..guard import looking_at
from .randomise import randomised_copy

__all__ = ["EfficientMPRT", "efficient_mprt", "discrete_entropy"]


@dataclass(frozen=True)
class EfficientMPRT:
    """Result of :func:`efficient_mprt` (plain numbers and names)."""

    method: str
    target: int
    score: float  # relative entropy rise of the map; higher is better
    map_entropy: Tuple[float, float]  # (trained, randomised)
    model_entropy: Tuple[float, float]  # entropy of the softmax output, (trained, randomised)
    layers: Tuple[str, ...]  # re-initialised, in order
    approximated: Tuple[str, ...]  # layers not re-drawn exactly as Quantus would
    n_bins: int
    seed: int
    better: str = "higher"


def discrete_entropy(values: np.ndarray, n_bins: int = 100) -> float:
    """Shannon entropy (nats) of an ``n_bins`` equal-width histogram of ``values``."""
    from scipy.stats import entropy

    histogram, _ = np.histogram(np.asarray(values), bins=int(n_bins))
    return float(entropy(histogram))


def _output_entropy(model, xb: torch.Tensor) -> float:
    from scipy.stats import entropy

    with looking_at(model) as m, torch.no_grad():
        p = torch.softmax(m(xb).float(), dim=-1)[0].cpu().numpy().astype(np.float64)
    return float(entropy(p / np.abs(p).sum()))


def efficient_mprt(model, x, method: Union[str, Callable] = "gradient", target=None, *, seed: int = 42,
                   n_bins: int = 100, layer_order: str = "bottom_up", abs: bool = False, preprocess=None,
                   **method_kwargs) -> EfficientMPRT:
    """Entropy of ``method``'s map for the trained model and for a fully re-initialised copy.

    Parameters
    ----------
    model, x, target
        As for the attribution methods; the target is fixed to the trained
        model's (the randomised model is asked the same question).
    method
        A registered method name or ``fn(model, x, target=..., **method_kwargs)``.
    seed, layer_order
        Quantus's ``seed`` (each layer is re-drawn from a generator seeded
        ``seed + 1``) and ``layer_order``; the final state is the same either way.
    n_bins
        Histogram bins of the discrete entropy (Quantus's default 100).
    abs
        Take |map| first (Quantus's ``abs``).
    """
    if isinstance(n_bins, bool) or not isinstance(n_bins, int) or n_bins < 1:
        raise ValueError(f"expected n_bins as an integer >= 1, got {n_bins!r}")
    fn = method_function(method) if isinstance(method, str) else method
    xb, t = prepare(model, x, target, preprocess)

    def entropy_of(m) -> float:
        a = pixel_map(fn(m, xb, target=t, **method_kwargs)).detach().float().cpu().numpy()
        return discrete_entropy(np.abs(a) if abs else a, n_bins)

    trained = entropy_of(model)
    random = randomised_copy(model, seed, layer_order)
    randomised = entropy_of(random.model)
    score = (randomised - trained) / trained if trained != 0 else float("nan")
    name = method if isinstance(method, str) else getattr(method, "__name__", repr(method))
    return EfficientMPRT(name, t, float(score), (trained, randomised),
                         (_output_entropy(model, xb), _output_entropy(random.model, xb)),
                         tuple(random.layers), tuple(random.approximated), int(n_bins), int(seed))

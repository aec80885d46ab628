"""Deletion and insertion curves (Petsiuk et al., RISE 2018), the ``nnlens``
convention's faithfulness curves.

Pixels are ranked by the map (channels summed; ties in pixel order) and
changed most salient first in ``steps`` even steps: set to a baseline
(deletion) or put into a blurred copy (insertion); the target class's
softmax probability (or a unit's score) is read after each step, starting
from the untouched image, and the area under the curve is the trapezoid
over the fraction of pixels changed (0..1).
"""
from __future__ import annotations

import numbers
from typing import Callable, NamedTuple, Optional

import numpy as np
import torch

from ..attribution.gradients import batch_layout, prepare
from ..attribution.results import pixel_map
from ..baselines import make_baseline
from ..batching import batch_size_for
from ..guard import looking_at
from ..targets import UnitTarget, _class_scores, scores

__all__ = ["Curve", "deletion_curve", "insertion_curve", "pixel_saliency", "random_map"]


class Curve(NamedTuple):
    """Fraction of pixels changed -> target probability, and the area under it."""

    kind: str  # "deletion" or "insertion"
    fractions: np.ndarray
    scores: np.ndarray
    auc: float


def pixel_saliency(attribution, size) -> np.ndarray:
    """One value per pixel (channels summed), shape ``size`` = (H, W)."""
    m = pixel_map(attribution).detach().float().cpu()
    if m.ndim == 4:
        m = m[0]
    if m.ndim == 3:
        m = m.sum(0)
    if tuple(m.shape) != tuple(size):
        raise ValueError(f"expected a map of size {tuple(size)} to match the input, got {tuple(m.shape)}")
    return m.numpy()


def random_map(x, seed: int = 0) -> torch.Tensor:
    """A map of uniform noise shaped like ``x``: the floor any method should beat."""
    g = torch.Generator().manual_seed(seed)
    return torch.rand(tuple(torch.as_tensor(x).shape), generator=g)


def _target_probability(model, t) -> Callable[[torch.Tensor], torch.Tensor]:
    def prob(batch):
        return _class_scores(torch.softmax(model(batch), dim=1), t)

    return prob


def _curve(kind, model, x, attribution, target, steps, start_image, end_image, batch_size,
           preprocess, progress) -> Curve:
    xb, t = prepare(model, x, target, preprocess)
    if isinstance(steps, bool) or not isinstance(steps, numbers.Integral) or steps < 1:
        raise ValueError(f"expected steps as an integer >= 1, got {steps!r}")
    batch_size = batch_size_for(model, xb, batch_size, grad=False, cap=33)
    sal = pixel_saliency(attribution, xb.shape[-2:])
    h, w = sal.shape
    order = torch.as_tensor(np.argsort(-sal.ravel(), kind="stable"), device=xb.device)
    rank = torch.empty(h * w, dtype=torch.long, device=xb.device)
    rank[order] = torch.arange(h * w, device=xb.device)
    rank = rank.view(1, 1, h, w)
    counts = np.round(np.linspace(0, h * w, int(steps) + 1)).astype(int)
    start, end = start_image(xb), end_image(xb)
    values = np.empty(len(counts))
    is_class = not isinstance(t, UnitTarget) and not callable(t)
    with looking_at(model) as m, scores(m, t) as score, torch.no_grad():
        f = _target_probability(m, t) if is_class else score
        for i in range(0, len(counts), int(batch_size)):
            k = torch.as_tensor(counts[i:i + batch_size], device=xb.device).view(-1, 1, 1, 1)
            changed = rank < k  # (B, 1, H, W): the k most salient pixels
            batch = batch_layout(torch.where(changed, end, start))
            values[i:i + len(k)] = f(batch).double().cpu().numpy()
            if progress is not None:
                progress(min(1.0, (i + len(k)) / len(counts)))
    fractions = counts / float(h * w)
    return Curve(kind, fractions, values, float(np.trapezoid(values, fractions)))


def deletion_curve(model, x, attribution, target=None, steps: int = 64, baseline="zero",
                   batch_size: Optional[int] = None, preprocess=None, progress=None) -> Curve:
    """Remove pixels most-salient first (set to ``baseline``: "zero", "blur", a number,
    a tensor); the target class's probability after each step. Lower AUC is better."""
    return _curve("deletion", model, x, attribution, target, steps,
                  lambda xb: xb, lambda xb: make_baseline(xb, baseline),
                  batch_size, preprocess, progress)


def insertion_curve(model, x, attribution, target=None, steps: int = 64, blur_sigma: float = 5.0,
                    batch_size: Optional[int] = None, preprocess=None, progress=None) -> Curve:
    """Insert pixels most-salient first into a Gaussian-blurred copy (sigma ``blur_sigma``).
    Higher AUC is better."""

    def blurred(xb):
        from torchvision.transforms.functional import gaussian_blur

        k = int(2 * np.ceil(3 * blur_sigma) + 1)
        k = min(k, 2 * ((min(xb.shape[-2:]) - 1) // 2) + 1)
        return gaussian_blur(xb, [k, k], [float(blur_sigma)] * 2)

    return _curve("insertion", model, x, attribution, target, steps,
                  blurred, lambda xb: xb, batch_size, preprocess, progress)

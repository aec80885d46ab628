"""Integrated Gradients (Sundararajan et al. 2017), batched over the path.

``(x - x') * sum_k w_k grad f(x' + a_k (x - x'))`` with the points ``a_k`` and
weights ``w_k`` of an integration rule; completeness says the attributions sum
to ``f(x) - f(x')``, and the gap to that is returned so a user can see whether
there were enough steps.
"""
from __future__ import annotations

from typing import Callable, NamedTuple, Optional, Tuple

import numpy as np
import torch

from ..baselines import BASELINES, make_baseline
from ..batching import batch_size_for
from ..registry import Param
from .registry import register_method
from ..guard import looking_at
from .gradients import input_gradients
from ..preparation import prepare
from ..targets import scores

__all__ = ["integrated_gradients", "Completeness", "integration_points", "RULES"]

RULES = ("riemann_right", "riemann_left", "riemann_middle", "riemann_trapezoid", "gausslegendre")
class Completeness(NamedTuple):
    """Sum of attributions vs ``f(x) - f(baseline)``; ``relative`` = |gap| / |difference|."""

    attribution_sum: float
    score_difference: float
    gap: float
    relative: float


def integration_points(steps: int, rule: str = "gausslegendre") -> Tuple[np.ndarray, np.ndarray]:
    """Points ``a_k`` in [0, 1] and weights ``w_k`` (summing to 1) of a rule."""
    if int(steps) < 1:
        raise ValueError(f"expected at least 1 step, got {steps}")
    m = int(steps)
    if rule == "riemann_right":
        return np.arange(1, m + 1) / m, np.full(m, 1.0 / m)
    if rule == "riemann_left":
        return np.arange(0, m) / m, np.full(m, 1.0 / m)
    if rule == "riemann_middle":
        return (np.arange(0, m) + 0.5) / m, np.full(m, 1.0 / m)
    if rule == "riemann_trapezoid":
        if m < 2:
            raise ValueError("the trapezoid rule needs at least 2 steps")
        w = np.full(m, 1.0 / (m - 1))
        w[[0, -1]] /= 2
        return np.linspace(0.0, 1.0, m), w
    if rule == "gausslegendre":
        nodes, weights = np.polynomial.legendre.leggauss(m)
        return 0.5 * (nodes + 1), 0.5 * weights
    raise ValueError(f"expected an integration rule in {RULES}, got {rule!r}")


@register_method(
    "integrated_gradients", "Integrated gradients", streams=True,
    params=(Param("steps", "IG steps", 32, 2, 300, 1, description="points on the path"),
            Param("baseline", "IG baseline", "zero", choices=tuple(BASELINES),
                  description="the input the path starts from")),
)
def integrated_gradients(
    model,
    x,
    target=None,
    baseline="zero",
    steps: int = 50,
    rule: str = "gausslegendre",
    batch_size: Optional[int] = None,
    preprocess=None,
    return_gap: bool = False,
    progress: Optional[Callable[[float], None]] = None,
):
    """Integrated Gradients, shaped like the input batch ``(1, C, H, W)``.

    ``baseline``: see ``make_baseline``; ``steps`` points of integration ``rule``
    (Captum's names); the path is evaluated ``batch_size`` points per pass
    (None: as many as fit ``core.batching.MEMORY_BUDGET``, at most 64).
    With ``return_gap=True`` returns ``(attributions, Completeness)``.
    ``progress(fraction)`` is called after each batch (it may raise to stop).
    """
    xb, t = prepare(model, x, target, preprocess)
    base = make_baseline(xb, baseline)
    alphas, weights = integration_points(steps, rule)
    batch_size = batch_size_for(model, xb, batch_size, grad=True, cap=64)
    diff = xb - base
    total = torch.zeros_like(xb)
    for start in range(0, len(alphas), int(batch_size)):
        a = torch.as_tensor(alphas[start:start + batch_size], dtype=xb.dtype, device=xb.device)
        w = torch.as_tensor(weights[start:start + batch_size], dtype=xb.dtype, device=xb.device)
        shape = (-1,) + (1,) * (xb.ndim - 1)
        path = base + a.view(shape) * diff
        g = input_gradients(model, path, t)
        total += (g * w.view(shape)).sum(0, keepdim=True)
        if progress is not None:
            progress(min(1.0, (start + len(a)) / len(alphas)))
    attr = diff * total
    if not return_gap:
        return attr
    with looking_at(model) as m, scores(m, t) as score, torch.no_grad():
        ends = score(torch.cat([xb, base]))
    delta = float(ends[0] - ends[1])
    s = float(attr.sum())
    gap = s - delta
    return attr, Completeness(s, delta, gap, abs(gap) / max(abs(delta), 1e-12))

"""The Lens's model work: each panel's numbers from the core functions, nothing drawn here.

Every function takes the model and the input batch and returns plain arrays,
so the widget can run them on a worker thread and draw on the kernel's. Each
forward pass goes through the core functions, which look at the model
through ``core.guard.looking_at``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Optional, Tuple

import numpy as np
import torch

from ...core import Ablated, UnitTarget, class_probabilities, gradient, metrics, occlusion
from ...core.attribution import MethodSpec
from ...core.trust import low_target_caveat
from ..saliency.views import map_values

__all__ = ["unit_gradient", "ablated_probabilities", "attribution_map", "Trust", "trust_of",
           "occlusion_map", "occlusion_window", "top_classes"]


def unit_gradient(model, xb: torch.Tensor, layer: str, channel: int) -> np.ndarray:
    """|d mean(channel) / d input| summed over input channels: (H, W)."""
    g = gradient(model, xb, target=UnitTarget(layer, int(channel)))
    return map_values(g, "absolute")


def ablated_probabilities(model, xb: torch.Tensor, layer: str, channel: int) -> np.ndarray:
    """Class probabilities with ``channel`` of ``layer`` set to 0 everywhere: (classes,)."""
    return class_probabilities(Ablated(model, layer, {int(channel): 0.0}), xb)[0].numpy()


def attribution_map(model, xb: torch.Tensor, target: int, entry: MethodSpec,
                    params: Mapping[str, Any]) -> Tuple[np.ndarray, torch.Tensor]:
    """``entry``'s map of class ``target``: |attribution| per pixel (H, W), and the raw pixel map."""
    m = entry.pixels(entry.function(model, xb, target=int(target), **entry.call_kwargs(params)))
    return map_values(m, "absolute"), m


@dataclass(frozen=True)
class Trust:
    """Deletion AUC of a map next to that of a random map (lower: the map found what matters)."""

    auc: float
    random_auc: float
    steps: int
    caveat: Optional[str] = None  # the model gives the target under 1%: no verdict, this sentence instead

    @property
    def better_than_random(self) -> bool:
        return self.auc < self.random_auc


def trust_of(model, xb: torch.Tensor, pixel: torch.Tensor, target: int, steps: int, seed: int = 0,
             labels=None) -> Trust:
    """Delete pixels most-salient first (``metrics.deletion_curve``) for the map and a seeded random map;
    with the caveat (``trust.low_target_caveat``) when the model gives ``target`` under 1%."""
    mine = metrics.deletion_curve(model, xb, pixel, target=int(target), steps=steps)
    chance = metrics.deletion_curve(model, xb, metrics.random_map(xb, seed), target=int(target), steps=steps)
    caveat = low_target_caveat(model, xb, int(target), labels=labels)
    return Trust(float(mine.auc), float(chance.auc), int(steps), caveat)


def occlusion_window(size: Tuple[int, int]) -> Tuple[int, int]:
    """A window of about an eighth of the shorter side (at least 2 px) and half of it as stride."""
    window = max(2, min(size) // 8)
    return window, max(1, window // 2)


def occlusion_map(model, xb: torch.Tensor, target: int, window: int, stride: int,
                  should_stop=lambda: False, progress=lambda _fraction: None) -> np.ndarray:
    """Drop in P(``target``) when each window is set to 0, averaged over the windows covering
    each pixel: (H, W). Probability, as ``OcclusionExplorer`` measures by default.

    Dense: the incremental method traces the model with ``torch.fx``, which
    patches ``nn.Module.__call__`` for the whole process while it traces, so
    the Lens's other panels, running the model on other threads, would fail.
    """
    def seen(frame) -> bool:
        progress(frame.done / max(frame.total, 1))
        return not should_stop()

    def probability(out, c=int(target)):
        return out.float().softmax(1)[:, c]

    heat = occlusion(model, xb, probability, window, stride, baseline=0.0, method="dense", on_progress=seen)
    heat = heat.detach().float().cpu()
    return (heat[0] if heat.ndim == 3 else heat).numpy()


def top_classes(probs: np.ndarray, k: int, keep: Optional[int] = None) -> list:
    """Indices of the ``k`` likeliest classes, most likely first, with ``keep`` added when missing."""
    order = [int(i) for i in np.argsort(-probs, kind="stable")[:k]]
    if keep is not None and int(keep) not in order:
        order.append(int(keep))
    return order

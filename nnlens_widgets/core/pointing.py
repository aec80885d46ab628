"""The pointing game (Zhang et al. 2016): does a map's maximum fall on the object?

A hit when the pixel with the largest saliency lies on the object's mask
grown by ``tolerance`` pixels (15 px at 224 px in the paper; 3 px suits the
zoo's 64 px shapes). Any method's result goes in (a tensor shaped like the
input, ``CamMaps``, ``PatchMap``, ``LimeResult``); channels are combined
as the method's convention wants (``reduce``).
"""
from __future__ import annotations

from typing import Callable, Sequence

import numpy as np
import torch

from .attribution.results import pixel_map

__all__ = ["pointing_hit", "pointing_game", "REDUCTIONS"]

REDUCTIONS = ("positive", "absolute")


def _saliency(result, reduce: str) -> np.ndarray:
    m = pixel_map(result).detach().float().cpu()
    m = m[0] if m.ndim == 4 else m
    if m.ndim != 3:
        raise ValueError(f"expected a map shaped (1, C, H, W) or (C, H, W), got {tuple(pixel_map(result).shape)}")
    if reduce == "positive":  # evidence for the target: signed channel sum, negative part dropped
        return m.sum(0).clamp(min=0).numpy()
    if reduce == "absolute":  # saliency as in Simonyan et al.: largest magnitude over channels
        return m.abs().amax(0).numpy()
    raise ValueError(f"expected reduce in {REDUCTIONS}, got {reduce!r}")


def pointing_hit(result, mask, tolerance: int = 3, reduce: str = "positive") -> bool:
    """Whether the maximum of ``result``'s map lies on ``mask`` (H, W) grown by ``tolerance`` px.

    Parameters
    ----------
    result : a method's output (see ``attribution.pixel_map``), one image.
    mask : boolean (H, W), True on the object.
    tolerance : pixels the mask is dilated by (>= 0).
    reduce : "positive" (channels summed, negative part 0) or "absolute"
        (largest magnitude over channels).
    """
    if isinstance(tolerance, bool) or int(tolerance) != tolerance or tolerance < 0:
        raise ValueError(f"expected tolerance as an integer >= 0 (pixels), got {tolerance!r}")
    sal = _saliency(result, reduce)
    mask = np.asarray(torch.as_tensor(mask).cpu(), dtype=bool)
    if mask.shape != sal.shape:
        raise ValueError(f"expected a mask shaped like the map {sal.shape}, got {mask.shape}")
    if tolerance:
        from scipy.ndimage import binary_dilation  # slow to import: on first use

        grown = binary_dilation(mask, iterations=int(tolerance))
    else:
        grown = mask
    y, x = np.unravel_index(int(sal.argmax()), sal.shape)
    return bool(grown[y, x])


def pointing_game(
    model,
    images: torch.Tensor,
    labels: Sequence[int],
    masks: torch.Tensor,
    method: Callable,
    tolerance: int = 3,
    reduce: str = "positive",
) -> float:
    """Fraction of ``images`` (N, C, H, W) whose ``method(model, x, label)`` map points at the mask.

    ``method`` is any ``f(model, x, target) -> result``; ``labels`` the class
    each map explains; ``masks`` (N, H, W) booleans. Returns hits / N.
    """
    if len(images) != len(labels) or len(images) != len(masks) or not len(images):
        raise ValueError(
            f"expected as many labels and masks as images (at least one), got {len(images)} images, "
            f"{len(labels)} labels, {len(masks)} masks"
        )
    hits = [pointing_hit(method(model, x, int(t)), m, tolerance, reduce) for x, t, m in zip(images, labels, masks)]
    return float(np.mean(hits))

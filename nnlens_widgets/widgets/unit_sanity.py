"""The feature-visualisation sanity check (``core.featurevis_sanity``) for a picture already made.

The Lens and FeatureVisualizer both show it under the picture, once the
optimisation is done: it needs the data set (top natural examples and random
images to compare with), so without one, or with too few images, there is
nothing to check and ``None`` is returned.
"""
from __future__ import annotations

from typing import Any, Optional, Tuple

import torch

from ..core.featurevis import featurevis_sanity
from ..core.featurevis.optimization import model_input, resolve_settings

__all__ = ["vis_sanity", "SANITY_EXAMPLES"]

SANITY_EXAMPLES = 16  # top examples, and as many random images, compared with the picture


def _count(data) -> int:
    source: Any = data.dataset if isinstance(data, torch.utils.data.DataLoader) else data
    try:
        return len(source)
    except TypeError:  # an iterable of unknown length: not checked
        return 0


def vis_sanity(model, layer: str, channel: int, data, step, size: Tuple[int, int]):
    """``featurevis_sanity`` of ``step``'s first picture (a ``VisStep``), or None when ``data`` cannot tell."""
    if data is None or step is None or step.never_fired or _count(data) < 2 * SANITY_EXAMPLES:
        return None  # a unit that never fired has no picture of its own to check
    settings = resolve_settings(model, size)
    vis: Optional[torch.Tensor] = model_input(step.images[:1], settings)
    return featurevis_sanity(model, layer, int(channel), data, k=SANITY_EXAMPLES, random=SANITY_EXAMPLES, vis=vis)

"""An image for a classifier, as the widgets that explain one class need it."""
from __future__ import annotations

from typing import Tuple

import numpy as np
import torch

from ..core import class_probabilities, to_batch
from .large_pictures import reduced_image, reduction

__all__ = ["load_image"]


def load_image(model, x, preprocess=None, reduce: bool = False) -> Tuple[torch.Tensor, np.ndarray, np.ndarray]:
    """The batch (1, C, H, W), its class probabilities (numpy) and its picture (RGBA).

    ``reduce``: a picture over ``large_pictures.MAX_FRAME_SIDE`` is made
    reduced. A ValueError when ``x`` is not an image of at least 2x2 pixels or
    the model does not output class scores.
    """
    xb = to_batch(x, model, preprocess)
    if xb.ndim != 4 or min(xb.shape[-2:]) < 2:
        raise ValueError(f"expected an image input (C, H, W) of at least 2x2 pixels, got a batch of shape "
                         f"{tuple(xb.shape)}")
    probs = class_probabilities(model, xb)[0].numpy()
    return xb, probs, reduced_image(xb[0].detach().cpu().numpy(), reduction(xb.shape[-2:]) if reduce else 1)

"""The model work behind one feature's page: what switching it off does, and where it fires in the input.

Everything here calls ``core.sae`` functions on private twins of the model
(``looking_at``), so the page never changes the user's model.
"""
from __future__ import annotations

from pathlib import Path
from typing import NamedTuple, Optional

import numpy as np
import torch

from ...core import class_probabilities
from ...core.sae import FeatureFacts, SparseAutoencoder, feature_gradient, feature_map, load_feature_facts, sae_ablate
from ...core.sae.ablation import model_inputs

__all__ = ["SwitchOff", "InputLook", "facts_for", "switch_off", "look_at_input"]


class SwitchOff(NamedTuple):
    """Mean class probabilities over the feature's top images, with the model as it is and without the feature."""

    before: np.ndarray  # (K,)
    after: np.ndarray  # (K,)
    images: int


class InputLook(NamedTuple):
    """One input seen through one feature: its activation per grid cell and the gradient that drives it."""

    fires: np.ndarray  # (h, w) feature activation per position of the layer's grid
    gradient: np.ndarray  # (H, W) |d feature / d pixel| summed over colour channels
    position: int
    value: float


def switch_off(model, sae: SparseAutoencoder, images: torch.Tensor, feature: int) -> Optional[SwitchOff]:
    """``SwitchOff`` over ``images`` (None when there are none or the model gives no class scores)."""
    if len(images) == 0:
        return None
    xb = model_inputs(model, images)
    before = class_probabilities(model, xb)
    logits = sae_ablate(model, sae, xb, feature)
    if before.ndim != 2 or logits.ndim != 2:
        return None
    after = logits.float().softmax(1).cpu()
    return SwitchOff(before.mean(0).numpy(), after.mean(0).numpy(), len(images))


def look_at_input(model, sae: SparseAutoencoder, x: torch.Tensor, feature: int) -> InputLook:
    """``InputLook`` of the batch-of-one ``x`` (its grid from ``sae.positions``)."""
    values = feature_map(model, sae, x, feature)[0].numpy()
    positions = sae.positions
    h, w = positions.height, positions.width
    first = positions.count - h * w  # prefix tokens (a class token) come first
    fires = values[first:first + h * w].reshape(h, w)
    grad = feature_gradient(model, sae, x, feature)
    g = grad.gradient.abs()
    g = g.sum(0) if g.ndim == 3 else g.reshape(g.shape[-2:]) if g.ndim >= 2 else g[None]
    return InputLook(fires, g.numpy().astype(np.float32), grad.position, grad.value)


def facts_for(sae: SparseAutoencoder, facts, images: int) -> FeatureFacts:
    """``facts`` (``FeatureFacts``, its file or a scan folder) checked to be of ``sae`` over a data set of
    ``images`` images."""
    if isinstance(facts, (str, Path)):
        facts = load_feature_facts(facts)
    if not isinstance(facts, FeatureFacts):
        raise ValueError(f"expected facts as FeatureFacts, a file or a scan folder, got {type(facts).__name__}")
    if (facts.layer, facts.model_hash, facts.features) != (sae.layer, sae.model_hash, sae.features):
        raise ValueError(f"expected facts of this autoencoder (layer {sae.layer!r}, {sae.features} features, "
                         f"model {sae.model_hash[:12]}), got layer {facts.layer!r}, {facts.features} features, "
                         f"model {facts.model_hash[:12]}")
    last = int(facts.top_indices.max()) if facts.top_indices.numel() else -1
    if last >= images:
        raise ValueError(f"the facts name data image {last}, but the data has {images} images: "
                         "pass the data set that was scanned")
    return facts

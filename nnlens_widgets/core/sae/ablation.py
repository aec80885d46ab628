"""Switching autoencoder features off inside the model: the layer minus those features' decoded part.

At every position the autoencoder reads, the layer's activation ``a``
becomes ``a - sum_f z_f(a) W_dec[:, f]``; everything else (the autoencoder's
error, the other features, positions it does not read such as a skipped
class token, every other layer) stays as it was. This is saev's test of a
feature: what the model does without it.
"""
from __future__ import annotations

from typing import Callable, List, Optional

import torch
from torch import nn

from ..guard import hooked, looking_at
from ..inputs import model_device, to_batch
from ..probe import get_module
from .autoencoder import SparseAutoencoder

__all__ = ["sae_ablate", "SAEAblated", "feature_list", "model_inputs"]


def feature_list(sae: SparseAutoencoder, features) -> List[int]:
    """``features`` (an int or a sequence of ints) as a checked list of feature numbers."""
    if isinstance(features, torch.Tensor):
        features = features.reshape(-1).tolist()
    elif isinstance(features, int) or hasattr(features, "__index__"):
        features = [features]
    try:
        out = [int(f) for f in features]
    except (TypeError, ValueError):
        raise ValueError(f"expected a feature number or a list of them, got {features!r}") from None
    bad = [f for f in out if not 0 <= f < sae.features]
    if bad:
        raise ValueError(f"feature(s) {bad} out of range: the autoencoder has {sae.features} features "
                         f"(0..{sae.features - 1})")
    return out


def _check_layer(sae: SparseAutoencoder, model: nn.Module, layer: Optional[str]) -> str:
    if not isinstance(sae, SparseAutoencoder):
        raise ValueError(f"expected a SparseAutoencoder (from train_sae or load_sae), got {type(sae).__name__}")
    if layer is not None and layer != sae.layer:
        raise ValueError(f"the autoencoder reads layer {sae.layer!r}, not {layer!r}")
    get_module(model, sae.layer)  # KeyError with the closest names
    return sae.layer


def model_inputs(model: nn.Module, x, preprocess: Optional[Callable] = None) -> torch.Tensor:
    """A batch for ``model``: a float tensor ``(N, ...)`` with N > 1 as it is (checked), else ``to_batch(x)``."""
    if preprocess is None and isinstance(x, torch.Tensor) and x.ndim >= 2 and x.shape[0] > 1 \
            and x.is_floating_point():
        if not torch.isfinite(x).all():
            raise ValueError("expected finite input values, found NaN/inf")
        return x.detach().to(model_device(model))
    return to_batch(x, model, preprocess)


def _subtract(sae: SparseAutoencoder, features: List[int]):
    """Forward hook replacing the layer's output by itself minus the features' decoded part."""
    positions = sae.positions

    def hook(_module, _inputs, out):
        rows = positions.rows(out).to(sae.W_dec.device)
        part = sae.feature_part(rows, features) if features else torch.zeros_like(rows)
        return positions.minus(out, part.to(out.device))

    return hook


class SAEAblated(nn.Module):
    """``model`` with autoencoder ``features`` switched off at ``sae.layer``, as a module of its own.

    >>> probs = class_probabilities(SAEAblated(model, sae, [12]), xb)

    Its forward runs ``model`` with a hook on the layer; look at it through
    ``looking_at`` (as ``class_probabilities`` does), so the hook sits on a
    private twin and never on ``model``. Switching its mode is refused (it
    would switch the wrapped model's).
    """

    def __init__(self, model: nn.Module, sae: SparseAutoencoder, features, layer: Optional[str] = None):
        super().__init__()
        self.layer = _check_layer(sae, model, layer)
        self.features = feature_list(sae, features)
        self.model, self.sae = model, sae

    def forward(self, *args, **kwargs):
        with hooked(self.model, {self.layer: _subtract(self.sae, self.features)}):
            return self.model(*args, **kwargs)

    def train(self, mode: bool = True):
        raise TypeError("an SAEAblated view shares the wrapped model's modules: look at it with "
                        "looking_at(...) (always eval mode) instead of switching its mode")


def sae_ablate(model: nn.Module, sae: SparseAutoencoder, x, feature, layer: Optional[str] = None,
               preprocess: Optional[Callable] = None) -> torch.Tensor:
    """The model's output on ``x`` with ``feature`` (or a list of them) switched off at the autoencoder's layer.

    Parameters
    ----------
    model, sae
        The model and an autoencoder of one of its layers.
    x
        One input (anything ``to_batch`` takes) or a float batch ``(N, ...)``.
    feature
        A feature number or a list of them.
    layer
        The autoencoder's layer (default); another name is a ``ValueError``.

    Returns
    -------
    torch.Tensor
        The model's output (e.g. logits ``(N, classes)``), computed without
        gradients on a private eval-mode twin: the layer's activation minus
        ``z_f W_dec[:, f]`` at every position the autoencoder reads, the rest
        of the model unchanged.
    """
    view = SAEAblated(model, sae, feature, layer)
    xb = model_inputs(model, x, preprocess)
    with looking_at(view) as twin, torch.inference_mode():
        return twin(xb)

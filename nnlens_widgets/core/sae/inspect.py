"""One feature up close: where it fires in an image, which pixels drive it, which channels it reads."""
from __future__ import annotations

from typing import Any, Callable, Dict, NamedTuple, Optional

import torch
from torch import nn

from ..guard import hooked, looking_at
from .ablation import _check_layer, feature_list, model_inputs
from .autoencoder import SparseAutoencoder

__all__ = ["feature_map", "feature_gradient", "feature_channels", "FeatureGradient", "ChannelWeights"]


class FeatureGradient(NamedTuple):
    """The gradient of a feature at one position of one image with respect to the input pixels."""

    gradient: torch.Tensor  # like the input without its batch axis, e.g. (C, H, W)
    position: int  # the position differentiated (``LayerPositions`` numbering)
    value: float  # the feature's activation z_f there (0 if it does not fire)


class ChannelWeights(NamedTuple):
    """Channels of the layer (a token's features for a transformer) and the weights a feature gives them."""

    channels: torch.Tensor  # (n,) int64, largest |weight| first
    weights: torch.Tensor  # (n,) float32, signed


def _layer_rows(model: nn.Module, sae: SparseAutoencoder, xb: torch.Tensor) -> Dict[str, Any]:
    """Run a private twin of ``model`` on ``xb``; ``out["rows"]`` is the layer's rows ``(N, P, D)``.

    Call inside the grad mode wanted: the rows stay in the graph when gradients are on.
    """
    seen: Dict[str, Any] = {}

    def hook(_m, _i, out):
        seen["rows"] = sae.positions.rows(out)

    with looking_at(model) as twin, hooked(twin, {sae.layer: hook}):
        twin(xb)
    if "rows" not in seen:
        raise ValueError(f"layer {sae.layer!r} did not run in the model's forward pass")
    return seen


def feature_map(model: nn.Module, sae: SparseAutoencoder, x, feature: int, preprocess: Optional[Callable] = None
                ) -> torch.Tensor:
    """A feature's activation at every position of each input: ``(N, P)`` (``LayerPositions`` numbering).

    For a conv layer or a transformer's patch tokens the first ``h * w``
    positions (after the prefix tokens, if the autoencoder reads them) reshape
    to the ``h x w`` grid, ``sae.positions.grid_position`` says where each is.
    """
    _check_layer(sae, model, None)
    (f,) = feature_list(sae, feature)
    xb = model_inputs(model, x, preprocess)
    with torch.inference_mode():
        rows = _layer_rows(model, sae, xb)["rows"]
        values = sae.encode(rows.to(sae.W_enc.device))[..., f].float().cpu()
    return values.clone()  # a normal tensor, usable outside inference mode


def feature_gradient(model: nn.Module, sae: SparseAutoencoder, x, feature: int, position: Optional[int] = None,
                     preprocess: Optional[Callable] = None) -> FeatureGradient:
    """d(feature at ``position``) / d(input pixels) for one input ``x``.

    ``position`` defaults to where the feature is strongest in ``x`` (where
    its pre-activation is highest when it fires nowhere). The derivative is
    that of the pre-activation ``W_enc[f] (a - b_dec) + b_enc[f]``, which
    equals the feature's own wherever it fires (TopK's choice is locally
    constant) and still shows what would drive it where it does not. The
    model's parameters get no gradient; the model itself is not touched.
    """
    _check_layer(sae, model, None)
    (f,) = feature_list(sae, feature)
    xb = model_inputs(model, x, preprocess)
    if xb.shape[0] != 1:
        raise ValueError(f"expected one input, got a batch of {xb.shape[0]}")
    inp = xb.detach().clone().requires_grad_(True)
    with torch.enable_grad():
        rows = _layer_rows(model, sae, inp)["rows"][0].to(sae.W_enc.device)
        pre = sae.pre_activation(rows)[:, f]
        z = sae.encode(rows.detach())[:, f]
        if position is None:
            position = int(z.argmax()) if float(z.max()) > 0 else int(pre.detach().argmax())
        elif not 0 <= int(position) < len(pre):
            raise ValueError(f"position {position} is out of range: the layer has {len(pre)} positions per image")
        if not pre.requires_grad:
            raise ValueError(f"the feature does not depend on the input through layer {sae.layer!r} "
                             "(no gradient reaches the input)")
        (grad,) = torch.autograd.grad(pre[int(position)], inp)
    return FeatureGradient(grad[0].detach().clone(), int(position), float(z[int(position)]))


def feature_channels(sae: SparseAutoencoder, feature: int, n: Optional[int] = None) -> ChannelWeights:
    """The layer channels that feature ``feature``'s encoder row weighs most (by |weight|, ties by channel).

    The feature's pre-activation is ``sum_c W_enc[f, c] (a_c - b_dec_c) + b_enc[f]``,
    so these are the channels whose activity moves it most per unit.
    """
    (f,) = feature_list(sae, feature)
    row = sae.W_enc[f].detach().float().cpu()
    order = torch.sort(row.abs(), descending=True, stable=True).indices
    if n is not None:
        order = order[:max(0, int(n))]
    return ChannelWeights(order.clone(), row[order].clone())

"""What a transformer attends to: exact attention maps, rollout and relevance.

- ``attention_maps(model, x)``: every attention layer's probabilities
  ``(heads, T, T)`` for the input, recomputed from the layer's input and
  weights (``attention_layers``), so they are there even when the model
  asks its layers not to return them (torchvision calls
  ``nn.MultiheadAttention`` with ``need_weights=False``).
- ``attention_rollout`` (Abnar & Zuidema 2020): ``A' = 0.5 A + 0.5 I`` per
  layer (heads fused, rows renormalised), multiplied from the first layer to
  the last; the class token's row over the patches.
- ``transformer_attribution`` (Chefer, Gur & Wolf 2021): ``R = I``, then per
  layer ``R += mean_heads(clamp(dA * A, 0)) R`` with ``dA`` the target's
  gradient with respect to the probabilities; the class token's row.

Everything runs on a private twin of the model (``looking_at``) with hooks
that exist only during the call; the model is never changed. Rows of the
matrices are queries, columns keys; token 0 is the class token for
torchvision and timm ViTs (``tokens.TokenGrid`` says where the patches are).
"""
from __future__ import annotations

from collections import OrderedDict
from typing import Dict, List, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from .attention_layers import AttentionCall, attention_layers, output_from, probabilities
from .preparation import prepare
from .attribution.results import PatchMap
from .guard import check_model, hooked, looking_at
from .inputs import to_batch
from .targets import scores
from .tokens import TokenGrid, check_image_size, token_grid

__all__ = ["attention_maps", "attention_rollout", "rollout_matrix", "relevance_matrix",
           "transformer_attribution", "HEAD_FUSIONS"]

HEAD_FUSIONS = ("mean", "max", "min")


def _attention_names(model: nn.Module) -> List[str]:
    names = [n for n, _ in attention_layers(model)]
    if not names:
        raise ValueError(
            f"{type(model).__name__} has no attention layer nnlens can read: expected "
            "torch.nn.MultiheadAttention or timm Attention modules"
        )
    return names


def _run(m: nn.Module, xb: torch.Tensor):
    try:
        return m(xb)
    except Exception as e:  # the user's forward: report it with the input's shape
        raise ValueError(f"the model raised {type(e).__name__} on an input of shape {tuple(xb.shape)}: {e}") from e


def _ran(found: "OrderedDict[str, torch.Tensor]") -> Dict[str, torch.Tensor]:
    if not found:
        raise ValueError("no attention layer ran in the model's forward pass")
    return dict(found)


def _capture(model: nn.Module, xb: torch.Tensor) -> Dict[str, torch.Tensor]:
    """name -> (N, heads, L, S) probabilities, in the order the layers ran."""
    names = _attention_names(model)
    found: "OrderedDict[str, torch.Tensor]" = OrderedDict()

    def keep(name):
        def hook(module, args, kwargs):
            found.pop(name, None)  # a layer run twice keeps its last call, placed last
            found[name] = probabilities(module, AttentionCall.of(module, args, kwargs)).detach()

        return hook

    with looking_at(model) as m, hooked(m, {n: keep(n) for n in names}, pre=True, with_kwargs=True), \
            torch.no_grad():
        _run(m, xb)
    return _ran(found)


def attention_maps(model: nn.Module, x, preprocess=None) -> Dict[str, torch.Tensor]:
    """Attention probabilities of every attention layer for input ``x``.

    Parameters
    ----------
    model : a transformer with ``nn.MultiheadAttention`` or timm ``Attention`` layers.
    x : one input (tensor ``(C, H, W)`` / ``(1, C, H, W)``, numpy or PIL image).
    preprocess : optional callable applied to ``x`` first.

    Returns
    -------
    dict layer name -> tensor ``(heads, T, S)`` (``S = T`` for self-attention),
    ordered by depth (the order the layers run); row ``i`` is how query token
    ``i`` spreads its attention over the keys, and sums to 1. The values
    are ``softmax(Q K^T / sqrt(d_head) + mask)`` recomputed from each layer's
    input and projection weights.
    """
    check_model(model)
    xb = to_batch(x, model, preprocess)
    check_image_size(model, xb)
    return {n: a[0] for n, a in _capture(model, xb).items()}


def _fuse(a: torch.Tensor, head_fusion: str) -> torch.Tensor:
    if head_fusion == "mean":
        return a.mean(0)
    if head_fusion == "max":
        return a.amax(0)
    if head_fusion == "min":
        return a.amin(0)
    raise ValueError(f"expected head_fusion in {HEAD_FUSIONS}, got {head_fusion!r}")


def rollout_matrix(attentions: Sequence[torch.Tensor], discard_ratio: float = 0.0,
                   head_fusion: str = "mean") -> torch.Tensor:
    """Attention rollout ``A'_L ... A'_1`` of per-layer attentions ``(heads, T, T)`` (first layer first).

    Per layer: heads fused (``head_fusion``: mean, max or min); the lowest
    ``discard_ratio`` fraction of the fused entries set to 0 (the class
    token's attention to itself is kept); ``A' = 0.5 A + 0.5 I`` with rows
    renormalised to sum to 1. Returns ``(T, T)``.
    """
    if not 0.0 <= float(discard_ratio) < 1.0:
        raise ValueError(f"expected discard_ratio in [0, 1), got {discard_ratio}")
    if head_fusion not in HEAD_FUSIONS:
        raise ValueError(f"expected head_fusion in {HEAD_FUSIONS}, got {head_fusion!r}")
    if not attentions:
        raise ValueError("expected at least one attention matrix")
    result = None
    for a in attentions:
        if a.ndim != 3 or a.shape[1] != a.shape[2]:
            raise ValueError(f"expected self-attention shaped (heads, T, T), got {tuple(a.shape)}")
        fused = _fuse(a.double(), head_fusion)
        drop = int(fused.numel() * float(discard_ratio))
        if drop:
            flat = fused.flatten().clone()
            lowest = flat.topk(drop, largest=False).indices
            flat[lowest[lowest != 0]] = 0
            fused = flat.view_as(fused)
        eye = torch.eye(fused.shape[0], dtype=fused.dtype, device=fused.device)
        step = 0.5 * fused + 0.5 * eye
        step = step / step.sum(-1, keepdim=True)
        if result is not None and result.shape != step.shape:
            raise ValueError(f"expected every layer to attend over the same tokens, got {tuple(result.shape)} "
                             f"then {tuple(step.shape)}")
        result = step if result is None else step @ result
    assert result is not None  # attentions is not empty
    return result.to(attentions[0].dtype)


def relevance_matrix(attentions: Sequence[torch.Tensor], gradients: Sequence[torch.Tensor]) -> torch.Tensor:
    """Chefer et al.'s relevance ``R`` ``(T, T)`` from per-layer attentions and their gradients (first layer first).

    ``R = I``; for each layer ``R = R + mean_heads(clamp(grad * A, min=0)) @ R``.
    """
    if len(attentions) != len(gradients) or not attentions:
        raise ValueError("expected one gradient per attention matrix, and at least one layer")
    t = attentions[0].shape[-1]
    r = torch.eye(t, dtype=torch.float64, device=attentions[0].device)
    for a, g in zip(attentions, gradients):
        if a.shape != g.shape or a.ndim != 3 or a.shape[1] != a.shape[2] or a.shape[2] != t:
            raise ValueError(f"expected attentions and gradients shaped (heads, {t}, {t}), got "
                             f"{tuple(a.shape)} and {tuple(g.shape)}")
        r = r + (g.double() * a.double()).clamp(min=0).mean(0) @ r
    return r.to(attentions[0].dtype)


def _patch_map(model: nn.Module, xb: torch.Tensor, matrix: torch.Tensor, grid, prefix, upsample: str) -> PatchMap:
    g: TokenGrid = token_grid(model, xb, matrix.shape[0], grid, prefix)
    # The class token's row; a model without one (mean pooling) reads every token alike.
    row = matrix[0] if g.prefix else matrix.mean(0)
    patch = row[g.prefix:].reshape(1, 1, g.height, g.width)
    big = F.interpolate(patch, size=tuple(xb.shape[-2:]), mode=upsample,
                        **({} if upsample == "nearest" else {"align_corners": False}))
    return PatchMap(patch, big, g)


def attention_rollout(model: nn.Module, x, discard_ratio: float = 0.0, head_fusion: str = "mean",
                      preprocess=None, grid=None, prefix=None, upsample: str = "bilinear") -> PatchMap:
    """Attention rollout (Abnar & Zuidema 2020) of ``x``: how much each patch reaches the class token.

    Parameters
    ----------
    discard_ratio : fraction in [0, 1) of each layer's lowest fused attentions set to 0.
    head_fusion : "mean" (the paper), "max" or "min" over heads.
    grid, prefix : the patch grid, for models where ``token_grid`` cannot infer it.
    upsample : interpolation mode of ``PatchMap.upsampled`` ("bilinear", "nearest", ...).

    Returns
    -------
    PatchMap(patch_map (1, 1, h, w), upsampled (1, 1, H, W), grid): the
    class token's row of ``rollout_matrix`` over the patch tokens. It does
    not depend on a target class.
    """
    check_model(model)
    xb = to_batch(x, model, preprocess)
    check_image_size(model, xb)
    layers = [a[0] for a in _capture(model, xb).values()]
    return _patch_map(model, xb, rollout_matrix(layers, discard_ratio, head_fusion), grid, prefix, upsample)


def transformer_attribution(model: nn.Module, x, target=None, preprocess=None, grid=None, prefix=None,
                            upsample: str = "bilinear") -> PatchMap:
    """Gradient-weighted attention relevance (Chefer, Gur & Wolf 2021) of ``target`` for ``x``.

    The attention layers' outputs are recomputed inside the forward pass from
    probabilities kept as tensors, so the target's gradient with respect to
    each layer's probabilities is exact; then ``relevance_matrix``.

    Parameters
    ----------
    target : None (the predicted class), a class index, a callable on the
        output or a ``("layer", channel)`` unit, as everywhere (``targets``).
    grid, prefix, upsample : as in ``attention_rollout``.

    Returns
    -------
    PatchMap(patch_map (1, 1, h, w), upsampled (1, 1, H, W), grid): the class
    token's row of the relevance over the patch tokens (non-negative).
    """
    check_model(model)
    xb = to_batch(x, model, preprocess)
    check_image_size(model, xb)  # before the target is resolved: that runs the model
    xb, t = prepare(model, xb, target)
    names = _attention_names(model)
    kept: "OrderedDict[str, torch.Tensor]" = OrderedDict()

    def recompute(name):
        def hook(module, args, kwargs, _output):
            call = AttentionCall.of(module, args, kwargs)
            probs = probabilities(module, call)
            kept.pop(name, None)
            kept[name] = probs
            return output_from(module, call, probs)  # the same output, now a function of ``probs``

        return hook

    with looking_at(model) as m, hooked(m, {n: recompute(n) for n in names}, with_kwargs=True), \
            scores(m, t) as score, torch.enable_grad():
        s = score(xb)
        layers = list(_ran(kept).values())
        if not s.requires_grad:
            raise ValueError("the target's score does not depend on the attention layers")
        grads = torch.autograd.grad(s.sum(), layers, allow_unused=True)
    attentions = [a.detach()[0] for a in layers]
    gradients = [torch.zeros_like(a) if g is None else g.detach()[0] for a, g in zip(attentions, grads)]
    return _patch_map(model, xb, relevance_matrix(attentions, gradients), grid, prefix, upsample)

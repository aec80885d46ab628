"""Relevance rules for operations that are not layers, as autograd functions.

Relevance travels backwards the way zennit carries it: the "gradient" that
reaches a tensor *is* that tensor's relevance. The forward pass of every
function here is the operation itself, bit for bit; only the backward pass
is replaced:

- ``passing``: an element-wise activation hands its relevance down
  unchanged (zennit's ``Pass`` for activation modules; the identity rule of
  AttnLRP, Achtibat et al. 2024, eq. 9);
- ``split_evenly``: an element-wise product of ``k`` input-dependent factors
  (and constants) gives each factor ``1/k`` of the relevance (AttnLRP's
  uniform rule, eq. 7); a scaling by a constant passes it on whole;
- ``z_rule``: an operation that is linear in the operands that carry
  relevance (a sum, a mean, an average pool, a matrix product with fixed
  weights, a normalisation with its scale held fixed) gives each input
  ``x * d(z)/d(x) . R / z``, ``z`` stabilised like zennit's (``z + eps * sign z``,
  sign 0 = +1). With ``share = k`` the ``k`` operands of a matrix product
  (``Q @ K^T``, ``A @ V``) each get ``1/k`` of it (the uniform rule again);
- ``softmax_rule``: ``R_in = x * (R - s * sum(R))`` over the softmax's axis
  (AttnLRP, Proposition 3.1), which is ``x`` times the softmax's own vector-
  Jacobian product of ``R / s``.
"""
from __future__ import annotations

from typing import Callable, Optional, Sequence

import torch
import torch.nn.functional as F
from torch.autograd import Function

__all__ = ["stabilize", "passing", "split_evenly", "z_rule", "softmax_rule", "layer_norm_fixed_scale", "group_norm_fixed_scale",
           "rms_norm_fixed_scale"]


def stabilize(z: torch.Tensor, epsilon: float) -> torch.Tensor:
    """``z + epsilon * sign(z)`` with sign 0 = +1 (zennit's ``stabilize``)."""
    return z + epsilon * torch.where(z >= 0, 1.0, -1.0).to(z.dtype)


class _Pass(Function):
    @staticmethod
    def forward(ctx, fn, x):
        return fn(x)

    @staticmethod
    def backward(ctx, relevance):
        return None, relevance


def passing(fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    """``fn(x)``; its relevance reaches ``x`` unchanged."""
    return _Pass.apply(fn, x)


class _Split(Function):
    @staticmethod
    def forward(ctx, fn, *carriers):
        ctx.shapes = [t.shape for t in carriers]
        return fn(*carriers)

    @staticmethod
    def backward(ctx, relevance):
        k = len(ctx.shapes)
        return (None, *[relevance.sum_to_size(shape) / k for shape in ctx.shapes])


def split_evenly(fn: Callable[..., torch.Tensor], carriers: Sequence[torch.Tensor]) -> torch.Tensor:
    """``fn(*carriers)`` for an element-wise product (or quotient) of its carriers and constants: each
    carrier gets ``1/k`` of every output's relevance (summed where it was broadcast). The z-rule of an
    element-wise product without a stabiliser, so scaling by a constant passes relevance on exactly."""
    return _Split.apply(fn, *carriers)


class _ZRule(Function):
    @staticmethod
    def forward(ctx, forward_fn, backward_fn, share, epsilon, *carriers):
        ctx.backward_fn, ctx.share, ctx.epsilon = backward_fn, share, epsilon
        ctx.save_for_backward(*carriers)
        return forward_fn(*carriers)

    @staticmethod
    def backward(ctx, relevance):
        with torch.enable_grad():
            leaves = [t.detach().requires_grad_(True) for t in ctx.saved_tensors]
            z = ctx.backward_fn(*leaves)
            ratio = relevance / stabilize(z.detach(), ctx.epsilon)
            grads = torch.autograd.grad(z, leaves, ratio, allow_unused=True)
        shares = [torch.zeros_like(t) if g is None else t.detach() * g / ctx.share for t, g in zip(leaves, grads)]
        return (None, None, None, None, *shares)


def z_rule(fn: Callable[..., torch.Tensor], carriers: Sequence[torch.Tensor], epsilon: float, share: int = 1,
           linearised: Optional[Callable[..., torch.Tensor]] = None) -> torch.Tensor:
    """``fn(*carriers)`` whose relevance goes to ``carriers`` by the z-rule.

    ``fn`` must be linear in each carrier (the other operands are closed over,
    as constants); ``linearised``, when given, is the function the rule is
    taken on (e.g. a normalisation with its scale detached) while the output
    stays ``fn``'s. ``share``: how many operands of a product split the relevance.
    """
    return _ZRule.apply(fn, linearised or fn, share, epsilon, *carriers)


class _Softmax(Function):
    @staticmethod
    def forward(ctx, fn, dim, x):
        s = fn(x)
        ctx.dim = dim
        ctx.save_for_backward(x, s)
        return s

    @staticmethod
    def backward(ctx, relevance):
        x, s = ctx.saved_tensors
        logits = torch.where(torch.isfinite(x), x, torch.zeros((), dtype=x.dtype, device=x.device))  # masked: -inf
        total = relevance.sum(ctx.dim, keepdim=True)
        return None, None, logits * (relevance - s * total)


def softmax_rule(fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, dim: int) -> torch.Tensor:
    """``fn(x)`` (a softmax over ``dim``) with AttnLRP's softmax rule."""
    return _Softmax.apply(fn, dim, x)


# -- normalisations with their scale held fixed: linear in the input --------------------------
def layer_norm_fixed_scale(input, normalized_shape, weight=None, bias=None, eps=1e-5):
    """``F.layer_norm`` with the standard deviation detached (the same values, a linear map)."""
    dims = tuple(range(-len(normalized_shape), 0))
    centred = input - input.mean(dims, keepdim=True)
    y = centred / (centred.pow(2).mean(dims, keepdim=True) + eps).sqrt().detach()
    if weight is not None:
        y = y * weight
    return y + bias if bias is not None else y


def group_norm_fixed_scale(input, num_groups, weight=None, bias=None, eps=1e-5):
    """``F.group_norm`` with the standard deviation detached."""
    n, c = input.shape[:2]
    g = input.reshape(n, num_groups, -1)
    centred = g - g.mean(-1, keepdim=True)
    y = (centred / (centred.pow(2).mean(-1, keepdim=True) + eps).sqrt().detach()).reshape(input.shape)
    affine = (1, c) + (1,) * (input.ndim - 2)
    if weight is not None:
        y = y * weight.reshape(affine)
    return y + bias.reshape(affine) if bias is not None else y


def rms_norm_fixed_scale(input, normalized_shape, weight=None, eps=None):
    """``F.rms_norm`` with the root mean square detached."""
    dims = tuple(range(-len(normalized_shape), 0))
    eps = torch.finfo(input.dtype).eps if eps is None else eps
    y = input * torch.rsqrt(input.pow(2).mean(dims, keepdim=True) + eps).detach()
    return y * weight if weight is not None else y


def explicit_attention(q, k, v, attn_mask=None, dropout_p=0.0, is_causal=False, scale=None, enable_gqa=False,
                       *, epsilon: float = 1e-6):
    """``F.scaled_dot_product_attention`` (eval, no dropout) written out so its products and
    softmax carry relevance by the rules above."""
    scale = q.shape[-1] ** -0.5 if scale is None else scale
    if enable_gqa and k.shape[-3] != q.shape[-3]:
        k = k.repeat_interleave(q.shape[-3] // k.shape[-3], -3)
        v = v.repeat_interleave(q.shape[-3] // v.shape[-3], -3)
    length, source = q.shape[-2], k.shape[-2]
    mask = None
    if is_causal:
        mask = torch.ones(length, source, dtype=torch.bool, device=q.device).tril()
    if attn_mask is not None:
        mask = attn_mask if mask is None else mask & attn_mask
    if mask is not None and mask.dtype == torch.bool:
        mask = torch.zeros(mask.shape, dtype=q.dtype, device=q.device).masked_fill(~mask, float("-inf"))

    def logits_of(q_, k_):
        out = (q_ @ k_.transpose(-2, -1)) * scale
        return out + mask if mask is not None else out

    carriers = [t for t in (q, k) if t.requires_grad]
    if len(carriers) == 2:
        logits = z_rule(logits_of, [q, k], epsilon, share=2)
    elif carriers:
        logits = z_rule((lambda q_: logits_of(q_, k)) if q.requires_grad else (lambda k_: logits_of(q, k_)),
                        carriers, epsilon)
    else:
        logits = logits_of(q, k)
    probs = softmax_rule(lambda t: F.softmax(t, -1), logits, -1) if logits.requires_grad else logits.softmax(-1)
    carriers = [t for t in (probs, v) if t.requires_grad]
    if len(carriers) == 2:
        return z_rule(torch.matmul, [probs, v], epsilon, share=2)
    if carriers:
        return z_rule((lambda p_: p_ @ v) if probs.requires_grad else (lambda v_: probs @ v_), carriers, epsilon)
    return probs @ v

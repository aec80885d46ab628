"""Attention layers, and their attention probabilities recomputed from their weights.

Two kinds are understood:

- ``torch.nn.MultiheadAttention`` (torchvision's ViT blocks call it with
  ``need_weights=False``, so it never returns its probabilities): the
  projections ``in_proj_weight`` (or ``q/k/v_proj_weight``) and
  ``in_proj_bias``, ``attn_mask`` and ``key_padding_mask`` (``True`` or
  ``-inf`` = not attended), batch-first or not;
- timm's ``Attention`` (fused ``qkv`` linear layer, optional ``q_norm`` /
  ``k_norm``, ``scale``, possibly computed by ``scaled_dot_product_attention``;
  its ``attn_mask`` follows that function: ``True`` = attended).

For both, the probabilities are ``softmax(Q K^T * scale + mask)`` per head,
exactly what the layer computes internally. ``AttentionCall.of`` reads a
call's inputs (as a forward pre-hook or forward hook with kwargs sees them),
``probabilities`` gives ``(N, heads, L, S)`` with gradients, and
``output_from`` rebuilds the layer's output from given probabilities, so a
forward hook can substitute it and let gradients reach the probabilities.
"""
from __future__ import annotations

import inspect
import math
from dataclasses import dataclass
from typing import List, Optional, Tuple, cast

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["attention_layers", "is_attention", "AttentionCall", "probabilities", "output_from"]


def _is_timm_attention(module: nn.Module) -> bool:
    # Recognised by name and layout so timm need not be imported (or installed).
    cls = type(module)
    return (
        cls.__name__ == "Attention"
        and cls.__module__.startswith("timm.")
        and isinstance(getattr(module, "qkv", None), nn.Linear)
        and hasattr(module, "num_heads")
    )


def is_attention(module: nn.Module) -> bool:
    """Whether nnlens can recompute this module's attention probabilities."""
    return isinstance(module, nn.MultiheadAttention) or _is_timm_attention(module)


def attention_layers(model: nn.Module) -> List[Tuple[str, nn.Module]]:
    """``(name, module)`` of every attention layer, in ``named_modules()`` order."""
    return [(n, m) for n, m in model.named_modules() if n and is_attention(m)]


_MHA_SIGNATURE = inspect.signature(nn.MultiheadAttention.forward)


@dataclass
class AttentionCall:
    """One call's inputs, batch first: ``query`` (N, L, E), ``key``/``value`` (N, S, E),
    ``mask`` additive and broadcastable to (N, heads, L, S) or None."""

    query: torch.Tensor
    key: torch.Tensor
    value: torch.Tensor
    mask: Optional[torch.Tensor]
    unbatched: bool = False  # a (L, E) call to nn.MultiheadAttention
    seq_first: bool = False  # nn.MultiheadAttention with batch_first=False
    need_weights: bool = False
    average_weights: bool = True

    @classmethod
    def of(cls, module: nn.Module, args: tuple, kwargs: dict) -> "AttentionCall":
        if isinstance(module, nn.MultiheadAttention):
            return _mha_call(module, args, kwargs)
        return _timm_call(module, args, kwargs)


def _additive(mask: Optional[torch.Tensor], dtype: torch.dtype, masked_value) -> Optional[torch.Tensor]:
    """A boolean mask (``masked_value`` marks the blocked places) or a float mask as an additive mask."""
    if mask is None:
        return None
    if mask.dtype == torch.bool:
        return torch.zeros(mask.shape, dtype=dtype, device=mask.device).masked_fill(mask == masked_value, float("-inf"))
    return mask.to(dtype)


def _mha_call(m: nn.MultiheadAttention, args: tuple, kwargs: dict) -> AttentionCall:
    if m.bias_k is not None or m.add_zero_attn:
        raise ValueError(
            "attention probabilities of a MultiheadAttention with add_bias_kv or add_zero_attn have extra "
            "key columns and are not supported"
        )
    bound = _MHA_SIGNATURE.bind(m, *args, **kwargs)
    bound.apply_defaults()
    a = bound.arguments
    query, key, value = a["query"], a["key"], a["value"]
    unbatched = query.dim() == 2
    if unbatched:
        query, key, value = query.unsqueeze(0), key.unsqueeze(0), value.unsqueeze(0)
    elif not m.batch_first:
        query, key, value = query.transpose(0, 1), key.transpose(0, 1), value.transpose(0, 1)
    n, length, _ = query.shape
    source = key.shape[1]
    mask = _additive(a["attn_mask"], query.dtype, True)
    if mask is not None:
        mask = mask.view(1, 1, length, source) if mask.dim() == 2 else mask.view(n, m.num_heads, length, source)
    padding = _additive(a["key_padding_mask"], query.dtype, True)
    if padding is not None:
        padding = padding.view(n, 1, 1, source)
        mask = padding if mask is None else mask + padding
    return AttentionCall(query, key, value, mask, unbatched, not m.batch_first and not unbatched,
                         bool(a["need_weights"]), bool(a["average_attn_weights"]))


def _timm_call(m: nn.Module, args: tuple, kwargs: dict) -> AttentionCall:
    x = args[0] if args else kwargs["x"]
    mask = kwargs.get("attn_mask", args[1] if len(args) > 1 else None)
    causal = kwargs.get("is_causal", args[2] if len(args) > 2 else False)
    length = x.shape[1]
    if causal:
        mask = torch.full((length, length), float("-inf"), dtype=x.dtype, device=x.device).triu(1)
    else:
        mask = _additive(mask, x.dtype, False)
    return AttentionCall(x, x, x, mask)


def _heads(t: torch.Tensor, heads: int) -> torch.Tensor:
    """(N, L, heads * d) -> (N, heads, L, d)."""
    n, length, width = t.shape
    return t.view(n, length, heads, width // heads).transpose(1, 2)


def _mha_projections(m: nn.MultiheadAttention):
    e = m.embed_dim
    if m._qkv_same_embed_dim:
        wq, wk, wv = m.in_proj_weight[:e], m.in_proj_weight[e:2 * e], m.in_proj_weight[2 * e:]
    else:
        wq, wk, wv = m.q_proj_weight, m.k_proj_weight, m.v_proj_weight
    b = m.in_proj_bias
    bq, bk, bv = (None, None, None) if b is None else (b[:e], b[e:2 * e], b[2 * e:])
    return (wq, bq), (wk, bk), (wv, bv)


def _timm_qkv(m: nn.Module, x: torch.Tensor):
    n, length, _ = x.shape
    heads, qkv_proj = cast(int, m.num_heads), cast(nn.Linear, m.qkv)  # timm's Attention attributes
    qkv = F.linear(x, qkv_proj.weight, qkv_proj.bias)
    q, k, v = qkv.view(n, length, 3, heads, -1).permute(2, 0, 3, 1, 4).unbind(0)
    q_norm, k_norm = getattr(m, "q_norm", None), getattr(m, "k_norm", None)
    q = q_norm(q) if q_norm is not None else q
    k = k_norm(k) if k_norm is not None else k
    return q, k, v


def probabilities(module: nn.Module, call: AttentionCall) -> torch.Tensor:
    """Attention probabilities ``(N, heads, L, S)`` of ``call``; each row sums to 1.

    Recomputed from the layer's weights: ``softmax(Q K^T * scale + mask)``
    with ``scale = 1 / sqrt(head_dim)`` (timm: the layer's ``scale``).
    Differentiable with respect to the inputs and weights.
    """
    if isinstance(module, nn.MultiheadAttention):
        (wq, bq), (wk, bk), _ = _mha_projections(module)
        q = _heads(F.linear(call.query, wq, bq), module.num_heads)
        k = _heads(F.linear(call.key, wk, bk), module.num_heads)
        scale = 1.0 / math.sqrt(q.shape[-1])
    else:
        q, k, _ = _timm_qkv(module, call.query)
        scale = float(getattr(module, "scale", 1.0 / math.sqrt(q.shape[-1])))
    logits = (q * scale) @ k.transpose(-2, -1)
    if call.mask is not None:
        logits = logits + call.mask
    return logits.softmax(dim=-1)


def output_from(module: nn.Module, call: AttentionCall, probs: torch.Tensor):
    """The layer's output for ``call`` with attention ``probs`` (N, heads, L, S) (eval mode).

    Matches what the module returns: ``(output, weights or None)`` for
    ``nn.MultiheadAttention`` in its own layout, the output tensor for timm.
    """
    n, length = call.query.shape[:2]
    if isinstance(module, nn.MultiheadAttention):
        _, _, (wv, bv) = _mha_projections(module)
        v = _heads(F.linear(call.value, wv, bv), module.num_heads)
        mixed = (probs @ v).transpose(1, 2).reshape(n, length, -1)
        out = F.linear(mixed, module.out_proj.weight, module.out_proj.bias)
        if call.unbatched:
            out = out[0]
        elif call.seq_first:
            out = out.transpose(0, 1)
        weights = None
        if call.need_weights:
            weights = probs.mean(1) if call.average_weights else probs
            weights = weights[0] if call.unbatched else weights
        return out, weights
    _, _, v = _timm_qkv(module, call.query)
    mixed = (probs @ v).transpose(1, 2).reshape(n, length, -1)
    norm = getattr(module, "norm", None)
    mixed = norm(mixed) if norm is not None else mixed
    gate = getattr(module, "gate", None)
    if gate is not None:
        mixed = mixed * gate(call.query).sigmoid()
    proj, proj_drop = cast(nn.Module, module.proj), cast(nn.Module, module.proj_drop)
    return proj_drop(proj(mixed))

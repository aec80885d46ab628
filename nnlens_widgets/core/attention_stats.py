"""Summaries of attention probabilities: how spread out each head's attention is."""
from __future__ import annotations

import math

import torch

__all__ = ["attention_entropy"]


def attention_entropy(attention: torch.Tensor) -> torch.Tensor:
    """Mean entropy in bits of each head's attention rows.

    Parameters
    ----------
    attention : ``(heads, T, S)`` probabilities (rows sum to 1), as one layer of
        ``attention_maps`` gives them.

    Returns
    -------
    ``(heads,)`` float64: for each head, ``-sum_s p log2 p`` averaged over the
    ``T`` query rows. 0 bits: every query looks at one token; ``log2(S)``
    bits: every query spreads its attention evenly over all ``S`` tokens.
    """
    if not isinstance(attention, torch.Tensor) or attention.ndim != 3:
        shape = tuple(attention.shape) if isinstance(attention, torch.Tensor) else type(attention).__name__
        raise ValueError(f"expected attention probabilities shaped (heads, T, S), got {shape}")
    p = attention.detach().double()
    # 0 log 0 = 0: the masked keys (probability exactly 0) add nothing
    terms = torch.where(p > 0, p * torch.log(p.clamp(min=1e-300)), torch.zeros_like(p))
    return -terms.sum(-1).mean(-1) / math.log(2)

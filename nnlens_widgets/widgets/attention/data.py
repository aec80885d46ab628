"""One input's attention, computed once, so a hover only reads arrays.

``AttentionInput(model, x)`` runs the model twice (attention capture and the
class probabilities) and keeps, as numpy: every layer's probabilities,
the token grid, attention rollout and each head's entropy. Chefer et al.'s
relevance needs a backward pass per target, so it is computed on demand
(``relevance(target)``) and kept per target.
"""
from __future__ import annotations

from typing import Dict, List, Optional, Tuple

import numpy as np
import torch

from ...core import (attention_entropy, attention_layers, attention_maps, check_model, class_probabilities,
                    rollout_matrix, to_batch, token_grid, transformer_attribution)

__all__ = ["AttentionInput", "check_has_attention"]


def check_has_attention(model) -> List[str]:
    """The names of ``model``'s attention layers; a ValueError when it has none."""
    check_model(model)
    names = [n for n, _ in attention_layers(model)]
    if not names:
        raise ValueError(
            f"{type(model).__name__} has no attention layer to show: expected a transformer with "
            "torch.nn.MultiheadAttention or timm Attention layers (for a CNN use ActivationGrid or SaliencyExplorer)")
    return names


class AttentionInput:
    """Attention of every layer for one input, and what the views derive from it."""

    def __init__(self, model, x, preprocess=None):
        check_has_attention(model)
        self.model = model
        self.x = to_batch(x, model, preprocess)
        found = attention_maps(model, self.x)  # wrong image size: the core's ValueError
        self.maps: Dict[str, np.ndarray] = {n: a.float().cpu().numpy() for n, a in found.items()}
        self.names = list(self.maps)
        lengths = {a.shape[1:] for a in self.maps.values()}
        if len(lengths) != 1 or next(iter(lengths))[0] != next(iter(lengths))[1]:
            raise ValueError("expected self-attention layers that all attend over the same tokens, got maps "
                             + ", ".join(f"{n} {a.shape}" for n, a in self.maps.items()))
        self.tokens = next(iter(lengths))[0]
        self.grid = token_grid(model, self.x, self.tokens)
        self.heads = {n: a.shape[0] for n, a in self.maps.items()}
        self.max_heads = max(self.heads.values())
        self.probabilities = class_probabilities(model, self.x)[0].numpy()
        self.forward_passes = 2
        self.rollout = self.patch_part(
            rollout_matrix([torch.from_numpy(a) for a in self.maps.values()]).numpy())
        self.entropy = {n: attention_entropy(torch.from_numpy(a)).numpy() for n, a in self.maps.items()}
        self._relevance: Dict[int, np.ndarray] = {}

    # -- token geometry --------------------------------------------------
    @property
    def prefix(self) -> int:
        return self.grid.prefix

    @property
    def image_size(self) -> Tuple[int, int]:
        return int(self.x.shape[-2]), int(self.x.shape[-1])

    def token_at(self, x: float, y: float) -> Optional[int]:
        """The patch token under image pixel (x, y), or None outside the image."""
        height, width = self.image_size
        if not (0 <= x < width and 0 <= y < height):
            return None
        row = int(y * self.grid.height // height)
        col = int(x * self.grid.width // width)
        return self.prefix + row * self.grid.width + col

    def patch_of(self, token: int) -> Optional[Tuple[int, int]]:
        """(row, col) of a patch token; None for a prefix (class / register) token."""
        if token < self.prefix:
            return None
        return divmod(token - self.prefix, self.grid.width)

    def patch_rect(self, token: int) -> Optional[Tuple[float, float, float, float]]:
        """(x, y, w, h) in image pixels of a patch token."""
        patch = self.patch_of(token)
        if patch is None:
            return None
        height, width = self.image_size
        ph, pw = height / self.grid.height, width / self.grid.width
        return patch[1] * pw, patch[0] * ph, pw, ph

    def patch_part(self, row: np.ndarray) -> np.ndarray:
        """A row over all tokens (or a matrix whose class-token row is meant) as an ``h x w`` map."""
        r = np.asarray(row)
        if r.ndim == 2:  # a (T, T) matrix: the class token's row, or every token alike without one
            r = r[0] if self.prefix else r.mean(0)
        return r[self.prefix:].reshape(self.grid.height, self.grid.width)

    # -- what the views show -------------------------------------------
    def row(self, layer: str, head: Optional[int], query: int) -> np.ndarray:
        """Query ``query``'s attention over every token in ``layer``; ``head=None``: the mean over heads."""
        a = self.maps[layer]
        return a[:, query].mean(0) if head is None else a[head, query]

    def query_maps(self, query: int) -> Tuple[np.ndarray, np.ndarray]:
        """``(layers, max_heads + 1, h, w)`` maps of ``query``'s attention over the patches (the last
        column: the mean over heads), and which (layer, column) exist."""
        layers, cols = len(self.names), self.max_heads + 1
        out = np.zeros((layers, cols, self.grid.height, self.grid.width), dtype=np.float32)
        present = np.zeros((layers, cols), dtype=bool)
        for i, name in enumerate(self.names):
            rows = self.maps[name][:, query, self.prefix:]  # (heads, h*w)
            k = rows.shape[0]
            out[i, :k] = rows.reshape(k, self.grid.height, self.grid.width)
            out[i, -1] = rows.mean(0).reshape(self.grid.height, self.grid.width)
            present[i, :k] = present[i, -1] = True
        return out, present

    def has_relevance(self, target: int) -> bool:
        return target in self._relevance

    def relevance(self, target: int) -> np.ndarray:
        """Chefer et al.'s relevance of ``target`` over the patches (one forward and backward pass)."""
        if target not in self._relevance:
            found = transformer_attribution(self.model, self.x, int(target), grid=(self.grid.height, self.grid.width),
                                            prefix=self.prefix)
            self._relevance[target] = found.patch_map[0, 0].detach().float().cpu().numpy()
        return self._relevance[target]

    def clear(self) -> None:
        self.maps.clear()
        self._relevance.clear()
        self.model = None

"""What an AttentionExplorer shows, as arrays: the public read-only side of the widget."""
from __future__ import annotations

import html
from typing import Dict, List, Optional

import numpy as np

__all__ = ["AttentionReadouts"]


class AttentionReadouts:
    """Read-only properties over the explorer's cache (``_data``, an ``AttentionInput``), its
    ``layer``/``head``/``mean_heads``/``query``/``target`` traits and the grid's values."""

    @property
    def layers(self) -> List[str]:
        """The attention layers' names, first to last."""
        return list(self._data.names)

    @property
    def heads(self) -> int:
        """Number of heads of the chosen layer."""
        return self._data.heads[self.layer]

    @property
    def tokens(self) -> int:
        return self._data.tokens

    @property
    def grid(self):
        """The ``core.TokenGrid`` (patch rows and columns, prefix tokens)."""
        return self._data.grid

    @property
    def attention(self) -> Dict[str, np.ndarray]:
        """Every layer's attention probabilities (heads, T, T) as numpy, from the one cached pass."""
        return dict(self._data.maps)

    @property
    def query_maps(self) -> np.ndarray:
        """The grid's values: ``(layers, heads + 1, h, w)`` attention of ``query`` over the patches
        (last column: the mean over heads)."""
        return self._query_maps.copy()

    @property
    def selected_map(self) -> np.ndarray:
        """The enlarged map's values: the query's attention over the patches in ``layer``/``head``, (h, w)."""
        return self._data.patch_part(self._row(self.query))

    @property
    def class_token_map(self) -> np.ndarray:
        """Where the class token attends in ``layer``/``head`` (h, w) (no class token: every token's mean)."""
        return self._data.patch_part(self._row(0 if self._data.prefix else None))

    @property
    def rollout(self) -> np.ndarray:
        """Attention rollout over the patches (h, w), from the cached attention."""
        return self._data.rollout.copy()

    @property
    def relevance(self) -> Optional[np.ndarray]:
        """Chefer et al.'s relevance of ``target`` over the patches (h, w), once computed."""
        return self._data.relevance(self.target) if self._data.has_relevance(self.target) else None

    @property
    def entropy(self) -> Dict[str, np.ndarray]:
        """Mean attention entropy in bits, per layer: an array with one value per head."""
        return dict(self._data.entropy)

    @property
    def pinned_query(self) -> int:
        """The token the query returns to when the mouse leaves the image."""
        return self._pin

    @property
    def forward_passes(self) -> int:
        """Forward passes the cache took for this input (relevance passes not counted)."""
        return self._data.forward_passes

    def _head_or_mean(self) -> Optional[int]:
        return None if self.mean_heads else self.head

    def _row(self, query: Optional[int]) -> np.ndarray:
        """The chosen layer/head's row for ``query`` (None: the mean over every query)."""
        if query is None:
            a = self._data.maps[self.layer]
            return (a.mean(0) if self.mean_heads else a[self.head]).mean(0)
        return self._data.row(self.layer, self._head_or_mean(), query)

    def _heads_words(self) -> str:
        return "mean over heads" if self.mean_heads else f"head {self.head}"

    def _layer_words(self) -> str:
        return f"layer {self._data.names.index(self.layer)} (0..{len(self._data.names) - 1})"

    def _name_html(self) -> str:
        """The layer's module name, allowed to break anywhere (a long dotted name must not widen its row)."""
        return f"<span style='word-break:break-all'>{html.escape(self.layer)}</span>"

"""Rows of attention and the words that name them, for the AttentionExplorer's chosen layer and head."""
from __future__ import annotations

import html
from typing import Any, Optional

import numpy as np

__all__ = ["AttentionReadouts"]


class AttentionReadouts:
    """Reads the explorer's cache (``_data``) at its ``layer``/``head``/``mean_heads``; the explorer holds one."""

    def __init__(self, explorer: Any):
        self.explorer = explorer  # typed loosely: the explorer's module imports this one

    def head_or_mean(self) -> Optional[int]:
        return None if self.explorer.mean_heads else self.explorer.head

    def row(self, query: Optional[int]) -> np.ndarray:
        """The chosen layer/head's row for ``query`` (None: the mean over every query)."""
        e = self.explorer
        if query is None:
            a = e._data.maps[e.layer]
            return (a.mean(0) if e.mean_heads else a[e.head]).mean(0)
        return e._data.row(e.layer, self.head_or_mean(), query)

    def heads_words(self) -> str:
        return "mean over heads" if self.explorer.mean_heads else f"head {self.explorer.head}"

    def layer_words(self) -> str:
        names = self.explorer._data.names
        return f"layer {names.index(self.explorer.layer)} (0..{len(names) - 1})"

    def name_html(self) -> str:
        """The layer's module name, allowed to break anywhere (a long dotted name must not widen its row)."""
        return f"<span style='word-break:break-all'>{html.escape(self.explorer.layer)}</span>"

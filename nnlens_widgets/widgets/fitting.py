"""Keep a picture view as wide as its picture, so its text wraps under it.

A long caption would otherwise make the view as wide as the caption's one
line, and the views beside it in a wrapping row would move to the next line.
"""
from __future__ import annotations

__all__ = ["fit_to_picture"]


def fit_to_picture(view, min_px: int = 220) -> None:
    """Set ``view``'s width to its picture's width on screen (at least ``min_px``; never wider than its box)."""
    frame = view.frame
    if frame is not None:
        view.layout.width = f"{max(int(round(frame.shape[1] * view.scale)) + 4, min_px)}px"
        view.layout.max_width = "100%"

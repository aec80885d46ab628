"""Counting the frames a canvas shows, in the page: how fast a live picture really updates.

A frame counts when the FrameCanvas marks it drawn (``data-frame-id``);
a distinct frame is one whose pixels, read back from the canvas, differ
from every frame before. Counting happens in the page, so it measures what
a reader sees, not what the kernel sent.
"""
from __future__ import annotations

from typing import Any

from .scripts import script

_COUNT_FRAMES = script("count_frames")


def count_canvas_frames(page: Any, selector: str, seconds: float) -> dict:
    """``{"frames", "distinct", "seconds"}`` drawn on the canvas ``selector`` during ``seconds``."""
    return page.evaluate(_COUNT_FRAMES, {"selector": selector, "ms": int(seconds * 1000)})

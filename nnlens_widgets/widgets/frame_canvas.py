"""A canvas widget fed with exact RGBA frames as binary messages."""
from __future__ import annotations

import struct
from typing import Callable, List, Optional

import anywidget
import numpy as np
import traitlets

from .assets import asset_path

__all__ = ["FrameCanvas"]


class FrameCanvas(anywidget.AnyWidget):
    """Shows ``draw(rgba)`` pixels 1:1 (scaled only by CSS ``scale``).

    Frames travel as raw RGBA bytes with a small header (never JPEG, never
    base64), so a pixel read back in the browser equals ``.frame`` exactly.
    ``marks`` are rectangles (``dict(x, y, w, h, color, width)``) drawn on an
    overlay, so moving a selection does not resend the picture. Clicks, mouse
    moves (``track_moves=True``) and rectangle drags (``drag=True``) come back
    in image pixels; moves and drags are throttled to one per animation frame
    in the browser, newest position wins.
    """

    _esm = asset_path("frame_canvas.js")
    _frame = traitlets.Bytes(b"").tag(sync=True)
    marks = traitlets.List(traitlets.Dict()).tag(sync=True)
    scale = traitlets.Float(1.0).tag(sync=True)
    track_moves = traitlets.Bool(False).tag(sync=True)
    drag = traitlets.Bool(False).tag(sync=True)

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._pixels: Optional[np.ndarray] = None
        self._frame_id = 0
        self._click_handlers: List[Callable] = []
        self._move_handlers: List[Callable] = []
        self._drag_handlers: List[Callable] = []
        self.on_msg(self._dispatch)

    @property
    def frame(self) -> Optional[np.ndarray]:
        """The last drawn picture, (H, W, 4) uint8 (read-only view)."""
        return self._pixels

    def draw(self, rgba: np.ndarray) -> None:
        rgba = np.ascontiguousarray(rgba, dtype=np.uint8)
        if rgba.ndim != 3 or rgba.shape[2] != 4:
            raise ValueError(f"expected an RGBA picture shaped (H, W, 4), got {rgba.shape}")
        h, w = rgba.shape[:2]
        self._frame_id = (self._frame_id + 1) % 2**32
        rgba.setflags(write=False)
        self._pixels = rgba
        self._frame = struct.pack("<III", w, h, self._frame_id) + rgba.tobytes()

    def on_click(self, handler: Callable[[float, float, dict], None]) -> None:
        """Call ``handler(x, y, event)`` with image-pixel coordinates on each click."""
        self._click_handlers.append(handler)

    def on_move(self, handler: Callable[[Optional[float], Optional[float]], None]) -> None:
        """Call ``handler(x, y)`` on (throttled) mouse moves; ``(None, None)`` on leave."""
        self._move_handlers.append(handler)

    def on_drag(self, handler: Callable[[float, float, float, float, bool], None]) -> None:
        """With ``drag=True``: call ``handler(x0, y0, x1, y1, done)`` while a rectangle
        is dragged (throttled, ``done=False``) and once on release (``done=True``)."""
        self._drag_handlers.append(handler)

    def _dispatch(self, _widget, content, _buffers) -> None:
        kind = content.get("event")
        if kind == "click":
            for h in self._click_handlers:
                h(float(content["x"]), float(content["y"]), content)
        elif kind == "move":
            for h in self._move_handlers:
                h(float(content["x"]), float(content["y"]))
        elif kind == "drag":
            box = [float(content[k]) for k in ("x0", "y0", "x1", "y1")]
            for h in self._drag_handlers:
                h(*box, bool(content.get("done")))
        elif kind == "leave":
            for h in self._move_handlers:
                h(None, None)

"""A canvas widget fed with exact RGBA frames as binary messages."""
from __future__ import annotations

import logging
import math
from typing import Callable, List, Optional

import anywidget
import numpy as np
import traitlets

from .assets import asset_path
from .frame_encoding import encode_frame

__all__ = ["FrameCanvas"]

_log = logging.getLogger(__name__)


def _finite(content: dict, *keys: str) -> Optional[List[float]]:
    try:
        values = [float(content[k]) for k in keys]
    except (KeyError, TypeError, ValueError):
        return None
    return values if all(math.isfinite(v) for v in values) else None


class FrameCanvas(anywidget.AnyWidget):
    """Shows ``draw(rgba)`` pixels exactly, enlarged on screen by ``scale``.

    Frames travel at the picture's own resolution as binary messages
    (``frame_encoding``: RGBA, deflated or as a palette when that pays; never
    JPEG, never base64), so a pixel read back in the browser
    equals ``.frame`` exactly, and the browser enlarges it with
    ``image-rendering: pixelated``. ``marks`` are rectangles
    (``dict(x, y, w, h, color, width)``, in picture pixels, ``width`` in
    screen pixels) drawn on an overlay, so moving a selection does not resend
    the picture. Clicks, mouse moves (``track_moves=True``) and rectangle
    drags (``drag=True``) come back in picture pixels; moves and drags are
    throttled to one per animation frame in the browser, newest wins.
    """

    # The module source as a string: a file path would make anywidget keep every
    # canvas alive through a class-level file watcher.
    _esm = asset_path("frame_canvas.js").read_text()
    _frame = traitlets.Bytes(b"").tag(sync=True)
    marks = traitlets.List(traitlets.Dict()).tag(sync=True)
    scale = traitlets.Float(1.0).tag(sync=True)
    label = traitlets.Unicode("").tag(sync=True)
    track_moves = traitlets.Bool(False).tag(sync=True)
    drag = traitlets.Bool(False).tag(sync=True)

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._pixels: Optional[np.ndarray] = None
        self._frame_id = 0
        self._click_handlers: List[Callable] = []
        self._move_handlers: List[Callable] = []
        self._drag_handlers: List[Callable] = []
        self.on_msg(lambda _widget, content, _buffers: self.handle_event(content))

    @property
    def frame(self) -> Optional[np.ndarray]:
        """The last drawn picture, (H, W, 4) uint8 (a read-only copy)."""
        return self._pixels

    @property
    def frame_id(self) -> int:
        """Number of the last frame sent; the browser canvas's ``data-frame-id`` shows it once drawn."""
        return self._frame_id

    @traitlets.validate("scale")
    def _valid_scale(self, proposal):
        s = float(proposal["value"])
        if not (math.isfinite(s) and s > 0):
            raise ValueError(f"expected a positive scale, got {proposal['value']!r}")
        return s

    def draw(self, rgba: np.ndarray, scale: Optional[float] = None) -> None:
        """Show ``rgba`` (H, W, 4) uint8; the caller's array is copied, never changed."""
        rgba = np.asarray(rgba)
        if rgba.ndim != 3 or rgba.shape[2] != 4 or 0 in rgba.shape:
            raise ValueError(f"expected an RGBA picture shaped (H, W, 4), got {rgba.shape}")
        rgba = np.array(rgba, dtype=np.uint8, order="C", copy=True)
        rgba.setflags(write=False)
        self._frame_id = (self._frame_id + 1) % 2**32
        self._pixels = rgba
        with self.hold_sync():
            if scale is not None:
                self.scale = scale
            self._frame = encode_frame(rgba, self._frame_id)

    def clear_handlers(self) -> None:
        """Forget every handler (they may hold the widget that owns this canvas)."""
        self._click_handlers.clear()
        self._move_handlers.clear()
        self._drag_handlers.clear()

    def on_click(self, handler: Callable[[float, float, dict], None]) -> None:
        """Call ``handler(x, y, event)`` with picture-pixel coordinates on each click."""
        self._click_handlers.append(handler)

    def on_move(self, handler: Callable[[Optional[float], Optional[float]], None]) -> None:
        """Call ``handler(x, y)`` on (throttled) mouse moves; ``(None, None)`` on leave."""
        self._move_handlers.append(handler)

    def on_drag(self, handler: Callable[[float, float, float, float, bool], None]) -> None:
        """With ``drag=True``: call ``handler(x0, y0, x1, y1, done)`` while a rectangle
        is dragged (throttled, ``done=False``) and once on release (``done=True``)."""
        self._drag_handlers.append(handler)

    def handle_event(self, content) -> None:
        """Route an event as the front end sends it (``{"event": "click", "x": .., "y": ..}``,
        "move", "leave", "drag"); a malformed message is logged and dropped."""
        kind = content.get("event") if isinstance(content, dict) else None
        if kind == "leave":
            for h in list(self._move_handlers):
                h(None, None)
            return
        keys = {"click": ("x", "y"), "move": ("x", "y"), "drag": ("x0", "y0", "x1", "y1")}.get(str(kind))
        values = _finite(content, *keys) if keys else None
        if values is None:
            _log.warning("ignored a malformed canvas message: %r", content)
            return
        if kind == "click":
            for h in list(self._click_handlers):
                h(*values, content)
        elif kind == "move":
            for h in list(self._move_handlers):
                h(*values)
        else:
            for h in list(self._drag_handlers):
                h(*values, bool(content.get("done")))

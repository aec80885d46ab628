"""Text coloured character by character, rendered in the browser, with its colour bar.

- ``TextView``: the anywidget that lays the text out and paints it
  (``js/text_neurons.js``). The text and the tables (colours, the ink for
  each colour, top-5 next-character guesses) are sent once; ``show(values)``
  sends one float32 per character.
- ``ColoredTextView``: a title, a ``TextView``, a colour bar and a caption,
  as one view component that also exports itself (``static_html`` writes the
  coloured text as spans).
"""
from __future__ import annotations

import struct
from typing import Optional

import anywidget
import ipywidgets as W
import numpy as np
import traitlets

from ..render import lut
from ..render.legend import THEME, Scale, legend_html
from ..render.text_colors import colored_text_html, ink_table, value_colors, value_inks
from .assets import asset_path
from .views import title_html

__all__ = ["TextView", "ColoredTextView", "TOP"]

TOP = 5  # next-character guesses per character


class TextView(anywidget.AnyWidget):
    """The coloured text, rendered in the browser.

    The text, colour table (``_lut``), ink table (``_ink``: black or white
    for each colour, whichever contrasts more) and top-5 tables are sent once;
    ``show(values)`` sends only one float32 per character (with a version
    number the browser puts on the view's ``data-version`` after recolouring).
    """

    # The module source as a string: a file path would make anywidget keep every view alive in a file watcher.
    _esm = asset_path("text_neurons.js").read_text()
    text = traitlets.Unicode("").tag(sync=True)
    vocab = traitlets.List(traitlets.Unicode()).tag(sync=True)
    vmax = traitlets.Float(1.0).tag(sync=True)
    height_px = traitlets.Int(360).tag(sync=True)
    _values = traitlets.Bytes(b"").tag(sync=True)
    _lut = traitlets.Bytes(b"").tag(sync=True)
    _ink = traitlets.Bytes(b"").tag(sync=True)
    _top_index = traitlets.Bytes(b"").tag(sync=True)
    _top_prob = traitlets.Bytes(b"").tag(sync=True)

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.version = 0
        self.values: Optional[np.ndarray] = None
        self.cmap = "RdBu_r"

    def set_tables(self, cmap: str, top_index: Optional[np.ndarray], top_prob: Optional[np.ndarray]) -> None:
        self.cmap = cmap
        with self.hold_sync():
            self._lut = np.ascontiguousarray(lut(cmap)).tobytes()
            self._ink = np.ascontiguousarray(ink_table(cmap), dtype=np.uint8).tobytes()
            if top_index is not None:
                self._top_index = np.ascontiguousarray(top_index, dtype="<u2").tobytes()
                self._top_prob = np.ascontiguousarray(top_prob, dtype="<f4").tobytes()

    def show(self, values: np.ndarray) -> None:
        values = np.ascontiguousarray(values, dtype="<f4")
        if values.shape != (len(self.text),):
            raise ValueError(f"expected {len(self.text)} values, one per character, got shape {values.shape}")
        self.version = (self.version + 1) % 2**32
        self.values = values
        self._values = struct.pack("<I", self.version) + values.tobytes()


class ColoredTextView(W.VBox):
    """Title, coloured text, colour bar and caption (``view``: the ``TextView``)."""

    def __init__(self, text: str, *, vocab=(), height_px: int = 360, css_class: Optional[str] = None):
        self.view = TextView(text=text, vocab=list(vocab), height_px=int(height_px))
        if css_class:
            self.view.add_class(css_class)
        self._title = W.HTML()
        self._title_text = ""
        self.legend = W.HTML()
        self.caption = W.HTML()
        self._scale: Optional[Scale] = None
        super().__init__([self._title, self.view, self.legend, self.caption],
                         layout=W.Layout(max_width="100%", width="100%"))
        self.add_class("nnl-colored-text")

    def show(self, values: np.ndarray, *, scale: Scale, title: str, caption_html: str = "") -> None:
        with self.hold_sync():
            self._title_text = title
            self._title.value = title_html(title)
            self.view.vmax = float(scale.high)
            self.view.show(values)
            self._scale = scale
            self.legend.value = legend_html(scale, width=240)
            self.caption.value = (f"<div class='nnl-caption' style='color:{THEME['fg']};font-family:{THEME['font']};"
                                  f"font-size:12px'>{caption_html}</div>" if caption_html else "")

    # -- what the browser paints, computed here (tests, exports) -------
    @property
    def char_colors(self) -> Optional[np.ndarray]:
        """(T, 4) RGBA background of every character (opaque)."""
        v = self.view.values
        return None if v is None else value_colors(v, self.view.vmax, self.view.cmap)

    @property
    def char_text_colors(self) -> Optional[np.ndarray]:
        """(T, 3) RGB text colour of every character: black or white, whichever contrasts more."""
        v = self.view.values
        return None if v is None else value_inks(v, self.view.vmax, self.view.cmap)

    @property
    def frame(self) -> Optional[np.ndarray]:
        """The colouring as a picture: one pixel per character, one row per line (newline included)."""
        colors = self.char_colors
        if colors is None:
            return None
        text = self.view.text
        starts = [0] + [i + 1 for i, ch in enumerate(text) if ch == "\n"]
        if starts[-1] == len(text) and len(starts) > 1:
            starts.pop()
        ends = starts[1:] + [len(text)]
        out = np.zeros((len(starts), max(e - s for s, e in zip(starts, ends)), 4), dtype=np.uint8)
        for r, (s, e) in enumerate(zip(starts, ends)):
            out[r, : e - s] = colors[s:e]
        return out

    def static_html(self) -> str:
        if self.view.values is None:
            return ""
        body = colored_text_html(self.view.text, self.view.values, self.view.vmax, self.view.cmap)
        return (f"<section class='nnl-view' style='max-width:100%'>{self._title.value}{body}"
                f"{self.legend.value}{self.caption.value}</section>")

    def close(self) -> None:
        for child in (self._title, self.view, self.legend, self.caption):
            child.close()
        super().close()

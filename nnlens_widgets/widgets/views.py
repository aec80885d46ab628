"""The view components every widget is built from, so each picture explains itself.

- ``PictureView``: a title, a canvas (exact pixels, enlarged on screen), a
  colour bar with its numeric range and meaning, and a caption; all text is
  DOM text.
- ``TileGridView``: a ``PictureView`` of tiles (channels, filters, examples)
  with a selection box and click-to-index.
- ``HtmlView``: DOM content (charts, probability rows, coloured text) with a
  title.
- ``row`` / ``column``: boxes that wrap rather than scroll sideways.

Each view can render itself without a live front end (``static_html`` for
``save_html``; the widget's ``image/png`` is drawn from its tree of
ipywidgets by ``static_layout``), so a picture survives export.
"""
from __future__ import annotations

import base64
import html
import io
from typing import Callable, List, Optional

import ipywidgets as W
import numpy as np

from ..render.legend import THEME, Scale, legend_html
from ..render.tiling import TileLayout, fit_factor
from .checks import Escaped, text as escaped
from .frame_canvas import FrameCanvas

__all__ = ["PictureView", "TileGridView", "HtmlView", "row", "column", "title_html", "png_bytes"]

SELECTED = "#ff3b30"  # the selection box: red, readable on viridis, grey and photos


def title_html(title: str) -> str:
    """A view's title: plain text, escaped here (text already escaped by ``checks.text`` is not escaped again)."""
    return (f"<div class='nnl-title' style='font-weight:bold;color:{THEME['fg']};"
            f"font-family:{THEME['font']};font-size:13px'>{escaped(title)}</div>")


def _plain(title: str) -> str:
    """The words of a title, for a canvas label or a matplotlib title (unescaped if it came escaped)."""
    return html.unescape(title) if isinstance(title, Escaped) else str(title)


def _caption_html(text: str) -> str:
    return (f"<div class='nnl-caption' style='color:{THEME['fg']};font-family:{THEME['font']};"
            f"font-size:12px;line-height:1.35'>{text}</div>")


def png_bytes(rgba: np.ndarray) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.asarray(rgba, dtype=np.uint8), mode="RGBA").save(buf, format="PNG")
    return buf.getvalue()


def _spaced(children, margin: str):
    for child in children:
        if hasattr(child, "layout") and not child.layout.margin:
            child.layout.margin = margin
    return list(children)


def row(*children, align: str = "flex-start") -> W.Box:
    """Children side by side, wrapping onto the next line when the window is narrow."""
    return W.Box(_spaced(children, "0 16px 4px 0"),
                 layout=W.Layout(display="flex", flex_flow="row wrap", align_items=align, max_width="100%"))


def column(*children) -> W.Box:
    return W.Box(_spaced(children, "0 0 4px 0"),
                 layout=W.Layout(display="flex", flex_flow="column", max_width="100%"))


class HtmlView(W.VBox):
    """A title over DOM content (an SVG chart, probability rows, coloured text)."""

    def __init__(self, title: str = "", css_class: Optional[str] = None):
        self._title = W.HTML(title_html(title) if title else "")
        self.body = W.HTML()
        if css_class:
            self.body.add_class(css_class)
        super().__init__([self._title, self.body], layout=W.Layout(max_width="100%"))

    def set_title(self, text: str) -> None:
        self._title.value = title_html(text) if text else ""

    def show(self, body_html: str, title: Optional[str] = None) -> None:
        if title is not None:
            self.set_title(title)
        self.body.value = body_html

    def static_html(self) -> str:
        return f"<section class='nnl-view'>{self._title.value}{self.body.value}</section>"


class PictureView(W.VBox):
    """Title, canvas, colour bar and caption for one picture.

    ``show(rgba, scale=..., legend=Scale(...), caption=...)`` draws; a picture
    is sent at its own resolution and enlarged on screen by a whole factor
    (``display_px`` picks it when ``scale`` is not given). ``plain_rgb``: the
    picture shows pixels as they are (no colour map), so it needs no colour bar.
    """

    def __init__(self, title: str = "", *, display_px: int = 256, css_class: Optional[str] = None,
                 track_moves: bool = False, drag: bool = False, plain_rgb: bool = False):
        self.display_px = int(display_px)
        self.canvas = FrameCanvas(track_moves=track_moves, drag=drag)
        if css_class:
            self.canvas.add_class(css_class)
        self._title = W.HTML(title_html(title) if title else "")
        self.legend = W.HTML()
        self.caption = W.HTML()
        self._scale: Optional[Scale] = None
        self._title_text = _plain(title)
        super().__init__([self._title, self.canvas, self.legend, self.caption],
                         layout=W.Layout(max_width="100%", align_items="flex-start"))
        self.add_class("nnl-picture")
        if plain_rgb:  # the input's own pixels (a photo, an RGB filter): no colour map, so no colour bar
            self.add_class("nnl-plain-rgb")

    @property
    def frame(self) -> Optional[np.ndarray]:
        return self.canvas.frame

    @property
    def scale(self) -> float:
        return self.canvas.scale

    @property
    def title(self) -> str:
        return self._title_text

    def set_title(self, text: str) -> None:
        self._title_text = _plain(text)
        self._title.value = title_html(text) if text else ""

    def set_legend(self, scale: Optional[Scale]) -> None:
        self._scale = scale
        self.legend.value = "" if scale is None else legend_html(scale)

    def set_caption(self, text_html: str) -> None:
        """``text_html`` must already be escaped where it holds user text."""
        self.caption.value = _caption_html(text_html) if text_html else ""

    def show(self, rgba: np.ndarray, *, scale: Optional[float] = None, legend: Optional[Scale] = None,
             caption: Optional[str] = None, title: Optional[str] = None) -> None:
        if scale is None:
            scale = fit_factor(max(rgba.shape[:2]), self.display_px)
        with self.hold_sync():
            if title is not None:
                self.set_title(title)
            self.canvas.label = self._title_text
            self.canvas.draw(rgba, scale=scale)
            if legend is not None or self._scale is not None:
                self.set_legend(legend)
            if caption is not None:
                self.set_caption(caption)

    def save_png(self, path) -> None:
        """Write this picture's exact pixels (RGBA) to ``path`` as PNG."""
        if self.frame is None:
            raise ValueError("nothing has been drawn yet")
        with open(path, "wb") as f:
            f.write(png_bytes(self.frame))

    def static_html(self) -> str:
        """This view as a self-contained HTML fragment (the exact pixels as a PNG)."""
        if self.frame is None:
            return ""
        h, w = self.frame.shape[:2]
        data = base64.b64encode(png_bytes(self.frame)).decode("ascii")
        return (f"<figure class='nnl-view' style='margin:8px 16px 8px 0'>{self._title.value}"
                f"<img alt='{html.escape(self._title_text, quote=True)}' src='data:image/png;base64,{data}' "
                f"style='image-rendering:pixelated;width:{w * self.scale:.0f}px;max-width:100%'>"
                f"{self.legend.value}{self.caption.value}</figure>")

    def close(self) -> None:
        self.canvas.clear_handlers()
        for child in (self._title, self.canvas, self.legend, self.caption):
            child.close()
        super().close()


class TileGridView(PictureView):
    """A grid of tiles with a selection box; a click picks the tile under it.

    ``show_tiles(rgba, layout, first=...)`` draws a grid made by
    ``render.tiling``; ``on_pick(fn)`` calls ``fn(index)`` (index counted from
    ``first``) for a click on a tile; ``select(index)`` moves the box without
    resending the picture.
    """

    def __init__(self, title: str = "", *, display_px: int = 512, css_class: Optional[str] = None,
                 mark_color: str = SELECTED, plain_rgb: bool = False):
        super().__init__(title, display_px=display_px, css_class=css_class, plain_rgb=plain_rgb)
        self.layout_: Optional[TileLayout] = None
        self.first = 0
        self.mark_color = mark_color
        self._pick: List[Callable[[int], None]] = []
        self.canvas.on_click(self._clicked)

    def show_tiles(self, rgba: np.ndarray, layout: TileLayout, *, first: int = 0, **kwargs) -> None:
        self.layout_, self.first = layout, int(first)
        self.show(rgba, **kwargs)

    def tile_rect(self, index: int):
        """(x, y, w, h) of tile ``index`` in picture pixels, or None when not shown."""
        i = index - self.first
        if self.layout_ is None or not 0 <= i < self.layout_.count:
            return None
        return self.layout_.rect(i)

    def index_at(self, x: float, y: float) -> Optional[int]:
        i = None if self.layout_ is None else self.layout_.index_at(x, y)
        return None if i is None else self.first + i

    def select(self, *indices: int, color: Optional[str] = None, extra: Optional[list] = None) -> None:
        """Box the given tiles (``extra``: more mark dicts, e.g. other colours)."""
        marks = []
        for index in indices:
            r = self.tile_rect(index)
            if r is not None:
                marks.append(dict(x=r[0] - 0.5, y=r[1] - 0.5, w=r[2] + 1, h=r[3] + 1,
                                  color=color or self.mark_color, width=2))
        self.canvas.marks = marks + list(extra or [])

    def on_pick(self, fn: Callable[[int], None]) -> None:
        self._pick.append(fn)

    def _clicked(self, x: float, y: float, _event) -> None:
        index = self.index_at(x, y)
        if index is not None:
            for fn in list(self._pick):
                fn(index)

    def close(self) -> None:
        self._pick.clear()
        super().close()

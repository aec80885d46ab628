"""A widget drawn as the live view lays it out: the same boxes, texts, canvases and controls.

The display bundle's PNG and ``save_png`` come from the widget's own tree of
ipywidgets, walked the way the browser lays it out: a row places its
children side by side and wraps onto the next line when the width runs out,
a column stacks them, a hidden child takes no room. Canvases show their
exact frames enlarged by their ``scale`` (with their selection marks); HTML
(titles, colour bars, captions, charts) is drawn by ``static_html``, wrapped
inside its box; a control shows its description and value. So the static
picture has the live view's titles, colour bars with their real end values,
chart axes and captions, in the same places.
"""
from __future__ import annotations

import io
import re
from typing import Callable, List, Optional, Tuple

import anywidget
import ipywidgets as W
from PIL import Image, ImageDraw

from .frame_canvas import FrameCanvas
from .static_coloured_text import coloured_text_picture
from .static_controls import CONTROL_H, button_picture, control_picture, label_picture
from .static_html import html_picture, stack
from .static_text import Palette, css_px, draw_text, font, palette, text_width, wrap_words
from .text_view import TextView

__all__ = ["widget_picture", "draw_widget", "DEFAULT_WIDTH"]

#: the width of a notebook's output area in a 1280-pixel window with the file browser open
DEFAULT_WIDTH = 980
_LEAF_MARGIN = 2  # --jp-widgets-margin
# A canvas sits inline (``js/frame_canvas.js``: an inline-block) on a text line of the view's 13-pixel font,
# so its view's box is taller than the picture by the line's descent, and a line high at the least.
_CANVAS_DESCENT, _CANVAS_LINE = 3, 15


def _margins(widget) -> Tuple[int, int, int, int]:
    """(top, right, bottom, left) of ``layout.margin`` in pixels; ipywidgets' 2 pixels around a leaf."""
    raw = getattr(getattr(widget, "layout", None), "margin", None) or ""
    parts = [css_px(p, 0) or 0 for p in str(raw).split()]
    if not parts:
        # boxes and our anywidget views (canvases, the coloured text) have none
        if isinstance(widget, (W.Box, anywidget.AnyWidget)):
            return (0, 0, 0, 0)
        if isinstance(widget, W.ToggleButtons):  # its buttons fill the row's height; they keep the side margins
            return (0, _LEAF_MARGIN, 0, _LEAF_MARGIN)
        return (_LEAF_MARGIN,) * 4
    if len(parts) == 1:
        parts = parts * 4
    elif len(parts) == 2:
        parts = parts * 2
    elif len(parts) == 3:
        parts = parts + [parts[1]]
    return parts[0], parts[1], parts[2], parts[3]


def _hidden(widget) -> bool:
    layout = getattr(widget, "layout", None)
    return layout is not None and (layout.display == "none" or layout.visibility == "hidden")


def _box_width(widget, avail: int) -> int:
    """The room a child may take: its layout's width or max-width where given in pixels."""
    layout = getattr(widget, "layout", None)
    for key in ("width", "max_width"):
        px = css_px(getattr(layout, key, None), avail) if layout is not None else None
        if px:
            avail = min(avail, px)
    return max(avail, 40)


# -- leaves -------------------------------------------------------------------
def _canvas(canvas: FrameCanvas, avail: int, theme: Palette) -> Optional[Image.Image]:
    frame = canvas.frame
    if frame is None:
        return None
    scale = float(canvas.scale)
    h, w = frame.shape[:2]
    shown_w, shown_h = max(1, round(w * scale)), max(1, round(h * scale))
    if shown_w > avail:  # max-width: 100% in the browser
        shown_w, shown_h = avail, max(1, round(shown_h * avail / shown_w))
    picture = Image.fromarray(frame, "RGBA").resize((shown_w, shown_h), Image.Resampling.NEAREST)
    ratio = shown_w / w
    draw = ImageDraw.Draw(picture)
    for mark in canvas.marks:
        try:
            x, y, mw, mh = (float(mark[k]) * ratio for k in ("x", "y", "w", "h"))
        except (KeyError, TypeError, ValueError):
            continue
        colour = mark.get("color", "#ff3b30")
        draw.rectangle([x, y, x + mw - 1, y + mh - 1], outline=colour, width=int(mark.get("width", 2)))
    box = Image.new("RGBA", (shown_w, max(shown_h + _CANVAS_DESCENT, _CANVAS_LINE)), (0, 0, 0, 0))
    box.paste(picture, (0, 0))
    return box


def _text_line(words: str, theme: Palette, size: int = 13, bold: bool = False,
               avail: int = DEFAULT_WIDTH) -> Optional[Image.Image]:
    if not words:
        return None
    face = font(size, bold)
    lines = wrap_words(words, face, avail)
    out = Image.new("RGBA", (min(avail, max(text_width(s, face) for s in lines) + 1), 18 * len(lines) + 4),
                    (0, 0, 0, 0))
    draw = ImageDraw.Draw(out)
    for i, line in enumerate(lines):
        draw_text(draw, (0, 18 * i + 14), line, fill=theme.fg, font=face, anchor="ls")
    return out



def _output(widget: W.Output, avail: int, theme: Palette) -> Optional[Image.Image]:
    parts: List[Optional[Image.Image]] = []
    for out in widget.outputs:
        data = out.get("data", {}) if isinstance(out, dict) else {}
        if "image/png" in data:
            raw = data["image/png"]
            import base64

            blob = base64.b64decode(raw) if isinstance(raw, str) else raw
            parts.append(Image.open(io.BytesIO(blob)).convert("RGBA"))
        elif "text/html" in data:
            parts.append(html_picture(data["text/html"], avail, theme))
        elif "text/plain" in data or out.get("text"):
            parts.append(_text_line(str(data.get("text/plain", out.get("text", ""))), theme, 12, avail=avail))
    return stack([p for p in parts if p is not None])


# -- boxes --------------------------------------------------------------------
def _direction(box: W.Box) -> str:
    if isinstance(box, W.GridBox) or box.layout.display == "grid":
        return "grid"
    flow = str(box.layout.flex_flow or "")
    if "column" in flow or (isinstance(box, W.VBox) and "row" not in flow):
        return "column"
    return "row"


def _grid_columns(box: W.Box) -> int:
    template = str(box.layout.grid_template_columns or "")
    m = re.search(r"repeat\(\s*(\d+)", template)
    return int(m.group(1)) if m else max(1, len(template.split()))


def _placed(children, avail: int, theme: Palette, draw: Callable,
            column: bool = False) -> List[Tuple[Image.Image, Tuple[int, ...]]]:
    """Each shown child drawn with its margins; in a ``column`` an auto-width button stretches across it."""
    out: List[Tuple[Image.Image, Tuple[int, ...]]] = []
    stretching = []
    for child in children:
        if _hidden(child):
            continue
        top, right, bottom, left = _margins(child)
        picture = draw(child, _box_width(child, max(40, avail - left - right)), theme)  # margins outside the box
        if picture is not None:
            least = css_px(getattr(child.layout, "min_width", None), avail) or 0
            if picture.width < least:  # a min-width keeps its room (a column of labels lines up)
                wider = Image.new("RGBA", (least, picture.height), (0, 0, 0, 0))
                wider.alpha_composite(picture, (0, 0))
                picture = wider
            out.append((picture, (top, right, bottom, left)))
            if column and isinstance(child, W.Button) and child.layout.width == "auto":
                stretching.append((len(out) - 1, child))
    across = max((left + p.width + right for p, (_t, right, _b, left) in out), default=0)
    for i, child in stretching:
        _top, right, _bottom, left = out[i][1]
        out[i] = (button_picture(child, avail, theme, stretch_to=across - left - right), out[i][1])
    return out


def _flow(items, avail: int, centre: bool = False) -> Optional[Image.Image]:
    """Items left to right, wrapping onto a new line when ``avail`` is used up (CSS flex-wrap);
    ``centre``: each item centred in its line's height (``align-items: center``), else at its top."""
    if not items:
        return None
    lines: List[List] = [[]]
    x = 0
    for picture, (top, right, bottom, left) in items:
        w = left + picture.width + right
        if lines[-1] and x + w > avail:
            lines.append([])
            x = 0
        lines[-1].append((picture, x + left, top, top + picture.height + bottom))
        x += w
    width = max(min(avail, max(x + p.width for p, x, _t, _h in line)) for line in lines)
    heights = [max(h for *_rest, h in line) for line in lines]
    out = Image.new("RGBA", (max(width, 1), sum(heights)), (0, 0, 0, 0))
    y = 0
    for line, h in zip(lines, heights):
        for picture, x, top, outer in line:
            out.alpha_composite(picture, (x, y + top + ((h - outer) // 2 if centre else 0)))
        y += h
    return out


def _column(items) -> Optional[Image.Image]:
    if not items:
        return None
    width = max(left + p.width + right for p, (_t, right, _b, left) in items)
    height = sum(top + p.height + bottom for p, (top, _r, bottom, _l) in items)
    out = Image.new("RGBA", (max(width, 1), max(height, 1)), (0, 0, 0, 0))
    y = 0
    for picture, (top, _right, bottom, left) in items:
        out.alpha_composite(picture, (left, y + top))
        y += top + picture.height + bottom
    return out


def _grid(items, columns: int, gap: int) -> Optional[Image.Image]:
    if not items:
        return None
    rows = [items[i:i + columns] for i in range(0, len(items), columns)]
    col_w = [max((r[c][0].width for r in rows if c < len(r)), default=0) for c in range(columns)]
    row_h = [max(p.height for p, _m in r) for r in rows]
    out = Image.new("RGBA", (sum(col_w) + gap * (columns - 1), sum(row_h) + gap * (len(rows) - 1)), (0, 0, 0, 0))
    y = 0
    for r, h in zip(rows, row_h):
        x = 0
        for c, (picture, _m) in enumerate(r):
            out.alpha_composite(picture, (x, y))
            x += col_w[c] + gap
        y += h + gap
    return out


def draw_widget(widget, avail: int, theme: Palette) -> Optional[Image.Image]:
    """``widget`` drawn in at most ``avail`` pixels across (transparent background), None when it shows nothing."""
    if _hidden(widget):
        return None
    if isinstance(widget, FrameCanvas):
        return _canvas(widget, avail, theme)
    if isinstance(widget, (W.HTML, W.HTMLMath)):  # an empty one still holds its margins apart, as on the page
        return html_picture(widget.value, _box_width(widget, avail), theme, line_height=CONTROL_H) \
            or Image.new("RGBA", (1, 0))
    if isinstance(widget, TextView):
        return coloured_text_picture(widget, avail, theme)
    if isinstance(widget, W.Label):
        return label_picture(" ".join(str(widget.value).split()), theme, avail)
    if isinstance(widget, W.Output):
        return _output(widget, avail, theme)
    if isinstance(widget, W.Image):
        return Image.open(io.BytesIO(widget.value)).convert("RGBA") if widget.value else None
    if isinstance(widget, W.Box):
        avail = _box_width(widget, avail)
        direction = _direction(widget)
        if direction == "grid":
            columns, gap = _grid_columns(widget), css_px(widget.layout.grid_gap, avail) or 0
            cell = max(40, (avail - gap * (columns - 1)) // columns)
            return _grid(_placed(widget.children, cell, theme, draw_widget), columns, gap)
        items = _placed(widget.children, avail, theme, draw_widget, column=direction == "column")
        return _column(items) if direction == "column" else _flow(items, avail, widget.layout.align_items == "center")
    if isinstance(widget, W.DOMWidget) and hasattr(widget, "description"):
        return control_picture(widget, avail, theme)
    return None


def widget_picture(widget, width: int = DEFAULT_WIDTH, theme: str = "light", pad: int = 8) -> Image.Image:
    """``widget`` as the live view lays it out in ``width`` pixels, on the theme's background (RGB),
    with ``pad`` pixels of margin."""
    colours = palette(theme)
    picture = draw_widget(widget, int(width), colours)
    if picture is None:
        raise ValueError("nothing has been drawn yet")
    # a widget's box fills the output area's width, as on the page
    out = Image.new("RGBA", (max(int(width), picture.width) + 2 * pad, picture.height + 2 * pad), colours.bg)
    out.alpha_composite(picture, (pad, pad))
    return out.convert("RGB")

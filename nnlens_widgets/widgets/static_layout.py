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
import math
import re
from typing import Callable, List, Optional, Tuple

import anywidget
import ipywidgets as W
from PIL import Image, ImageDraw

from .frame_canvas import FrameCanvas
from .static_coloured_text import coloured_text_picture
from .static_html import html_picture, stack
from .static_text import Palette, draw_text, font, palette, select_font, text_width, wrap_words
from .text_view import TextView

__all__ = ["widget_picture", "draw_widget", "DEFAULT_WIDTH"]

#: the width of a notebook's output area in a 1280-pixel window with the file browser open
DEFAULT_WIDTH = 980
_LABEL_W = 80  # ipywidgets' description column (--jp-widgets-inline-label-width)
_CONTROL_W = 300  # ipywidgets' default control width (--jp-widgets-inline-width)
_CONTROL_H = 28  # --jp-widgets-inline-height, also the line height HTML widgets give their text
_LEAF_MARGIN = 2  # --jp-widgets-margin
_NUMBER_W = 48  # a number box in an auto-width control, as the page sizes it
# a select's padding: 8 pixels before its option, 20 after it for the arrow, within a 1-pixel border
_SELECT_LEFT, _SELECT_PADDING = 8, 8 + 20 + 2
# A canvas sits inline (``js/frame_canvas.js``: an inline-block) on a text line of the view's 13-pixel font,
# so its view's box is taller than the picture by the line's descent, and a line high at the least.
_CANVAS_DESCENT, _CANVAS_LINE = 3, 15


def _px(value: Optional[str], avail: int) -> Optional[int]:
    """A CSS length in pixels (``"420px"``, ``"50%"`` of ``avail``), None for ``auto`` and the like."""
    if not value:
        return None
    m = re.fullmatch(r"\s*([\d.]+)(px|%)\s*", str(value))
    if not m:
        return None
    number = float(m.group(1))
    return int(number if m.group(2) == "px" else avail * number / 100)


def _margins(widget) -> Tuple[int, int, int, int]:
    """(top, right, bottom, left) of ``layout.margin`` in pixels; ipywidgets' 2 pixels around a leaf."""
    raw = getattr(getattr(widget, "layout", None), "margin", None) or ""
    parts = [_px(p, 0) or 0 for p in str(raw).split()]
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
        px = _px(getattr(layout, key, None), avail) if layout is not None else None
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


def _label(words: str, theme: Palette, avail: int) -> Optional[Image.Image]:
    """A ``Label``: one line as tall as a control, cut with an ellipsis where it has no room, as on the page."""
    if not words:
        return None
    face = font(13)
    words = _fitted(words, face, avail)
    out = Image.new("RGBA", (max(1, text_width(words, face) + 1), _CONTROL_H), (0, 0, 0, 0))
    draw_text(ImageDraw.Draw(out), (0, 18), words, fill=theme.fg, font=face, anchor="ls")
    return out


def _control(widget, avail: int, theme: Palette) -> Optional[Image.Image]:
    """A control as ipywidgets draws it: its description on the left, its value in a box or on a track."""
    description = str(getattr(widget, "description", "") or "")
    face = font(13)
    width = min(_px(widget.layout.width, avail) or _CONTROL_W, avail)
    if isinstance(widget, W.Checkbox) and widget.layout.width in ("auto", "max-content", "initial"):
        width = min(avail, text_width(description, face) + 24)  # as wide as its box and words
    label_w = _label_width(widget, description, face, avail)
    hugging = isinstance(widget, W.Dropdown) and widget.layout.width == "auto"
    if hugging:  # a select as wide as its widest option
        width = min(avail, label_w + _select_width(widget._options_labels))
    if isinstance(widget, (W.IntText, W.FloatText, W.BoundedIntText, W.BoundedFloatText)) \
            and widget.layout.width == "auto":  # the number box shrinks to a few digits
        width = min(avail, label_w + _NUMBER_W)
    if isinstance(widget, W.ToggleButtons):
        return _toggle_buttons(widget, avail, theme, description)
    if isinstance(widget, (W.Button, W.ToggleButton)):
        return _button(widget, avail, theme)
    width = min(avail, width if hugging else max(width, label_w + 60))
    label_w = min(label_w, width - 40)  # a narrow room: the value keeps at least 40 pixels
    out = Image.new("RGBA", (width, _CONTROL_H), (0, 0, 0, 0))
    draw = ImageDraw.Draw(out)
    if description and not isinstance(widget, W.Checkbox):  # a checkbox says its words after its box
        draw_text(draw, (label_w - 8, 18), _fitted(description, face, label_w - 8), fill=theme.fg, font=face,
                  anchor="rs")
    x0, x1 = label_w, width - 1
    if isinstance(widget, (W.IntSlider, W.FloatSlider, W.FloatLogSlider, W.SelectionSlider)):
        readout = str(widget.value if not isinstance(widget, W.SelectionSlider) else widget.value)
        track_end = max(x0 + 8, x1 - max(text_width(readout, face) + 44, 80))  # ipywidgets' readout column
        span = (float(widget.max) - float(widget.min)) if hasattr(widget, "max") else 0.0
        where = (float(widget.value) - float(widget.min)) / span if span > 0 else 0.0
        draw.rectangle([x0 + 6, 12, track_end, 15], fill=theme.border)
        hx = x0 + 6 + where * (track_end - x0 - 6)
        draw.ellipse([hx - 7, 6, hx + 7, 20], fill=theme.bg, outline=theme.border)
        draw_text(draw, (min(track_end + 44, x1 - text_width(readout, face)), 18), readout, fill=theme.fg, font=face,
                  anchor="ls")
    elif isinstance(widget, (W.FloatProgress, W.IntProgress)):
        span = float(widget.max) - float(widget.min)
        where = (float(widget.value) - float(widget.min)) / span if span > 0 else 0.0
        draw.rectangle([x0, 6, x1, 20], fill=theme.control)
        draw.rectangle([x0, 6, x0 + where * (x1 - x0), 20], fill=theme.accent)
    elif isinstance(widget, W.Checkbox):
        draw.rectangle([x0, 7, x0 + 13, 20], outline=theme.border, fill=theme.accent if widget.value else theme.bg)
        draw_text(draw, (x0 + 20, 18), description, fill=theme.fg, font=face, anchor="ls")
    else:
        value = getattr(widget, "label", None) if isinstance(widget, W.Dropdown) else getattr(widget, "value", "")
        shown = " ".join(str("" if value is None else value).split())
        if isinstance(widget, W.Dropdown):  # the row's full height; its option in the control font, its arrow
            draw.rectangle([x0, 0, x1, _CONTROL_H - 1], fill=theme.bg, outline=theme.border)
            room = x1 + 1 - x0 - _SELECT_PADDING
            draw_text(draw, (x0 + 1 + _SELECT_LEFT, 18), _fitted(shown, select_font(13), room, ""), fill=theme.fg,
                      font=select_font(13), anchor="ls")
            draw.line([(x1 - 14, 12), (x1 - 11, 15), (x1 - 8, 12)], fill=theme.fg, width=3)
        else:
            draw.rectangle([x0, 1, x1, _CONTROL_H - 2], fill=theme.bg, outline=theme.border)
            draw_text(draw, (x0 + 6, 18), _fitted(shown, face, x1 - x0 - 12, ""), fill=theme.fg, font=face,
                      anchor="ls")
    return out


def _select_width(options) -> int:
    """A select box of auto width: its widest option in the control font, its paddings and border."""
    face = select_font(13)
    return math.ceil(max([face.getlength(str(s)) for s in options] or [60.0]) + _SELECT_PADDING)


def _button(widget, avail: int, theme: Palette, stretch_to: int = 0) -> Image.Image:
    """A button as wide as its words (and icon), its layout's width, or ``stretch_to``."""
    face = font(13)
    label = " ".join(str(widget.description).split())  # the page collapses runs of spaces
    icon = 18 if getattr(widget, "icon", "") else 0
    width = min(_px(widget.layout.width, avail) or stretch_to or max(text_width(label, face) + icon + 24, 60), avail)
    out = Image.new("RGBA", (width, _CONTROL_H), (0, 0, 0, 0))
    draw = ImageDraw.Draw(out)
    pressed = isinstance(widget, W.ToggleButton) and widget.value
    draw.rectangle([0, 1, width - 1, _CONTROL_H - 2], fill=theme.border if pressed else theme.control)
    draw_text(draw, ((width + icon) / 2, 18), label, fill=theme.fg, font=face, anchor="ms")
    return out


def _fitted(words: str, face, room: int, mark: str = "\u2026") -> str:
    """``words`` cut to ``room`` pixels, ending in ``mark``, as the page cuts a label (text-overflow)."""
    if text_width(words, face) <= room:
        return words
    while words and text_width(words + mark, face) > room:
        words = words[:-1]
    return words + mark if words else ""


def _label_width(widget, description: str, face, avail: int) -> int:
    """The description column: as the style says (``initial``: the text's own width), else ipywidgets' 80."""
    if not description or isinstance(widget, (W.Checkbox, W.Button)):
        return 0
    wanted = str(getattr(getattr(widget, "style", None), "description_width", "") or "")
    if wanted == "initial" or (not wanted and widget.layout.width == "auto"):  # an auto-width control hugs its words
        return text_width(description, face) + 8
    return _px(wanted, avail) or max(_LABEL_W, text_width(description, face) + 8)


def _toggle_buttons(widget, avail: int, theme: Palette, description: str) -> Image.Image:
    """Toggle buttons as the page lays them out: a block whose description is a line of its own (an inline
    label on a control-high line) above the row of buttons."""
    face = font(13)
    labels = [str(label) for label in widget._options_labels]
    widths = [text_width(s, face) + 24 for s in labels]
    top = _CONTROL_H if description else 0
    width = min(avail, max(sum(widths) + 4 * len(widths), text_width(description, face) if description else 0))
    out = Image.new("RGBA", (max(width, 1), top + _CONTROL_H), (0, 0, 0, 0))
    draw = ImageDraw.Draw(out)
    if description:
        draw_text(draw, (0, 18), _fitted(description, face, width), fill=theme.fg, font=face, anchor="ls")
    x = 0
    for i, (label, w) in enumerate(zip(labels, widths)):
        chosen = widget.index == i
        draw.rectangle([x, top, x + w - 1, top + _CONTROL_H - 1], fill=theme.border if chosen else theme.control)
        draw_text(draw, (x + w / 2, top + 18), label, fill=theme.fg, font=face, anchor="ms")
        x += w + 4
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
            least = _px(getattr(child.layout, "min_width", None), avail) or 0
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
        out[i] = (_button(child, avail, theme, stretch_to=across - left - right), out[i][1])
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
        return html_picture(widget.value, _box_width(widget, avail), theme, line_height=_CONTROL_H) \
            or Image.new("RGBA", (1, 0))
    if isinstance(widget, TextView):
        return coloured_text_picture(widget, avail, theme)
    if isinstance(widget, W.Label):
        return _label(" ".join(str(widget.value).split()), theme, avail)
    if isinstance(widget, W.Output):
        return _output(widget, avail, theme)
    if isinstance(widget, W.Image):
        return Image.open(io.BytesIO(widget.value)).convert("RGBA") if widget.value else None
    if isinstance(widget, W.Box):
        avail = _box_width(widget, avail)
        direction = _direction(widget)
        if direction == "grid":
            columns, gap = _grid_columns(widget), _px(widget.layout.grid_gap, avail) or 0
            cell = max(40, (avail - gap * (columns - 1)) // columns)
            return _grid(_placed(widget.children, cell, theme, draw_widget), columns, gap)
        items = _placed(widget.children, avail, theme, draw_widget, column=direction == "column")
        return _column(items) if direction == "column" else _flow(items, avail, widget.layout.align_items == "center")
    if isinstance(widget, W.DOMWidget) and hasattr(widget, "description"):
        return _control(widget, avail, theme)
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

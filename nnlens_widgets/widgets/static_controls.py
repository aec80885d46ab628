"""ipywidgets controls drawn as the page draws them: a description column, a value in its box or on its
track, buttons as wide as their words, a select box as wide as its widest option."""
from __future__ import annotations

import math
from typing import Optional

import ipywidgets as W
from PIL import Image, ImageDraw

from .static_text import Palette, css_px, draw_text, font, select_font, text_width

__all__ = ["CONTROL_H", "control_picture", "label_picture", "button_picture"]

_LABEL_W = 80  # ipywidgets' description column (--jp-widgets-inline-label-width)
_CONTROL_W = 300  # ipywidgets' default control width (--jp-widgets-inline-width)
CONTROL_H = 28  # --jp-widgets-inline-height, also the line height HTML widgets give their text
_NUMBER_W = 48  # a number box in an auto-width control, as the page sizes it
# a select's padding: 8 pixels before its option, 20 after it for the arrow, within a 1-pixel border
_SELECT_LEFT, _SELECT_PADDING = 8, 8 + 20 + 2


def label_picture(words: str, theme: Palette, avail: int) -> Optional[Image.Image]:
    """A ``Label``: one line as tall as a control, cut with an ellipsis where it has no room, as on the page."""
    if not words:
        return None
    face = font(13)
    words = _fitted(words, face, avail)
    out = Image.new("RGBA", (max(1, text_width(words, face) + 1), CONTROL_H), (0, 0, 0, 0))
    draw_text(ImageDraw.Draw(out), (0, 18), words, fill=theme.fg, font=face, anchor="ls")
    return out


def control_picture(widget, avail: int, theme: Palette) -> Optional[Image.Image]:
    """A control as ipywidgets draws it: its description on the left, its value in a box or on a track."""
    description = str(getattr(widget, "description", "") or "")
    face = font(13)
    width = min(css_px(widget.layout.width, avail) or _CONTROL_W, avail)
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
        return button_picture(widget, avail, theme)
    width = min(avail, width if hugging else max(width, label_w + 60))
    label_w = min(label_w, width - 40)  # a narrow room: the value keeps at least 40 pixels
    out = Image.new("RGBA", (width, CONTROL_H), (0, 0, 0, 0))
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
            draw.rectangle([x0, 0, x1, CONTROL_H - 1], fill=theme.bg, outline=theme.border)
            room = x1 + 1 - x0 - _SELECT_PADDING
            draw_text(draw, (x0 + 1 + _SELECT_LEFT, 18), _fitted(shown, select_font(13), room, ""), fill=theme.fg,
                      font=select_font(13), anchor="ls")
            draw.line([(x1 - 14, 12), (x1 - 11, 15), (x1 - 8, 12)], fill=theme.fg, width=3)
        else:
            draw.rectangle([x0, 1, x1, CONTROL_H - 2], fill=theme.bg, outline=theme.border)
            draw_text(draw, (x0 + 6, 18), _fitted(shown, face, x1 - x0 - 12, ""), fill=theme.fg, font=face,
                      anchor="ls")
    return out


def _select_width(options) -> int:
    """A select box of auto width: its widest option in the control font, its paddings and border."""
    face = select_font(13)
    return math.ceil(max([face.getlength(str(s)) for s in options] or [60.0]) + _SELECT_PADDING)


def button_picture(widget, avail: int, theme: Palette, stretch_to: int = 0) -> Image.Image:
    """A button as wide as its words (and icon), its layout's width, or ``stretch_to``."""
    face = font(13)
    label = " ".join(str(widget.description).split())  # the page collapses runs of spaces
    icon = 18 if getattr(widget, "icon", "") else 0
    width = min(css_px(widget.layout.width, avail) or stretch_to or max(text_width(label, face) + icon + 24, 60), avail)
    out = Image.new("RGBA", (width, CONTROL_H), (0, 0, 0, 0))
    draw = ImageDraw.Draw(out)
    pressed = isinstance(widget, W.ToggleButton) and widget.value
    draw.rectangle([0, 1, width - 1, CONTROL_H - 2], fill=theme.border if pressed else theme.control)
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
    return css_px(wanted, avail) or max(_LABEL_W, text_width(description, face) + 8)


def _toggle_buttons(widget, avail: int, theme: Palette, description: str) -> Image.Image:
    """Toggle buttons as the page lays them out: a block whose description is a line of its own (an inline
    label on a control-high line) above the row of buttons."""
    face = font(13)
    labels = [str(label) for label in widget._options_labels]
    widths = [text_width(s, face) + 24 for s in labels]
    top = CONTROL_H if description else 0
    width = min(avail, max(sum(widths) + 4 * len(widths), text_width(description, face) if description else 0))
    out = Image.new("RGBA", (max(width, 1), top + CONTROL_H), (0, 0, 0, 0))
    draw = ImageDraw.Draw(out)
    if description:
        draw_text(draw, (0, 18), _fitted(description, face, width), fill=theme.fg, font=face, anchor="ls")
    x = 0
    for i, (label, w) in enumerate(zip(labels, widths)):
        chosen = widget.index == i
        draw.rectangle([x, top, x + w - 1, top + CONTROL_H - 1], fill=theme.border if chosen else theme.control)
        draw_text(draw, (x + w / 2, top + 18), label, fill=theme.fg, font=face, anchor="ms")
        x += w + 4
    return out

"""A ``TextView`` in a static picture: each character on its value's colour, lines wrapped as on the page."""
from __future__ import annotations

from typing import Optional

from PIL import Image, ImageDraw

from .static_text import Palette, draw_text, font

__all__ = ["coloured_text_picture"]

# The box ``js/text_neurons.js`` gives the text: a 1-pixel border and 4 pixels of padding inside a box
# ``height_px`` tall (border-box), 12-pixel monospace on 16-pixel lines.
_BORDER, _PADDING, _LINE = 1, 4, 16
# A span's background covers the font's content area (ascent + descent, 14 of DejaVu Sans Mono's 16-pixel
# line at 12 px), one pixel below the line's top: the lines show a thin gap of the page between them.
_BACK_TOP, _BACK_BOTTOM = 1, 14  # the first and last row it covers, from the line's top
_BASELINE = 12  # from a line's top: half the leading above the ascent


def coloured_text_picture(view, avail: int, theme: Palette) -> Optional[Image.Image]:
    """A ``TextView``: each character on its value's colour, in a box ``height_px`` tall, lines wrapped,
    the lines past the box's bottom cut at its border as the page's scrolling box cuts them."""
    from ..render.text_colors import value_colors, value_inks

    if view.values is None:
        return None
    face = font(12, mono=True)
    step_x = face.getlength("M")
    inset = _BORDER + _PADDING
    per_line = max(1, int((avail - 2 * inset) // step_x))
    backs, inks = value_colors(view.values, view.vmax, view.cmap), value_inks(view.values, view.vmax, view.cmap)
    height = int(view.height_px)
    # drawn a line taller, then cut: the last line shows as far as the scrolling box shows it
    out = Image.new("RGBA", (avail, height + _LINE), theme.bg)
    draw = ImageDraw.Draw(out)
    col, row = 0, 0
    for ch, back, ink in zip(view.text, backs, inks):
        y = inset + row * _LINE
        if y >= height - _BORDER:
            break
        x = inset + col * step_x
        draw.rectangle([round(x), y + _BACK_TOP, round(x + step_x) - 1, y + _BACK_BOTTOM],
                       fill=tuple(int(c) for c in back[:3]))
        if ch not in "\n ":
            draw_text(draw, (x, y + _BASELINE), ch, fill=tuple(int(c) for c in ink[:3]), font=face, anchor="ls")
        col += 1
        if ch == "\n" or col >= per_line:
            col, row = 0, row + 1
    out = out.crop((0, 0, avail, height))
    ImageDraw.Draw(out).rectangle([0, 0, avail - 1, height - 1], outline=theme.border, width=_BORDER)
    return out

"""A ``TextView`` in a static picture: each character on its value's colour, lines wrapped as on the page."""
from __future__ import annotations

from typing import Optional

from PIL import Image, ImageDraw

from .static_text import Palette, draw_text, font

__all__ = ["coloured_text_picture"]


def coloured_text_picture(view, avail: int, theme: Palette) -> Optional[Image.Image]:
    """A ``TextView``: each character on its value's colour, in a box ``height_px`` tall, lines wrapped."""
    from ..render.text_colors import value_colors, value_inks

    if view.values is None:
        return None
    face = font(12, mono=True)
    step_x, step_y = face.getlength("M"), 16
    per_line = max(1, int((avail - 12) // step_x))
    backs, inks = value_colors(view.values, view.vmax, view.cmap), value_inks(view.values, view.vmax, view.cmap)
    height = int(view.height_px)
    out = Image.new("RGBA", (avail, height), theme.bg)
    draw = ImageDraw.Draw(out)
    col, row = 0, 0
    for ch, back, ink in zip(view.text, backs, inks):
        y = 6 + row * step_y
        if y > height - 4:
            break
        x = 6 + col * step_x
        draw.rectangle([x, y, x + step_x, y + step_y - 1], fill=tuple(int(c) for c in back[:3]))
        if ch not in "\n ":
            draw_text(draw, (x, y + 12), ch, fill=tuple(int(c) for c in ink[:3]), font=face, anchor="ls")
        col += 1
        if ch == "\n" or col >= per_line:
            col, row = 0, row + 1
    draw.rectangle([0, 0, avail - 1, height - 1], outline=theme.border)
    return out

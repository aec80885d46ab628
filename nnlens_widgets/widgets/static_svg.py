"""Our SVG charts drawn as pixels, from the same SVG text the live view shows.

``render.charts`` and ``render.bars`` write charts from a small part
of SVG: ``line``, ``rect``, ``polyline`` and ``text`` (anchored, possibly
translated and rotated), with colours as attributes or in ``style``. This
module draws exactly that part, so the static picture of a chart is the
chart itself: its bars, axes, tick values and labels.
"""
from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from typing import Dict, Optional

from PIL import Image, ImageDraw

from .static_text import Palette, css_color, draw_text, font

__all__ = ["svg_picture"]

_NUMBER = re.compile(r"-?[\d.]+(?:e-?\d+)?")


def _style(element: ET.Element) -> Dict[str, str]:
    out = {k: v for k, v in element.attrib.items()}
    for part in element.attrib.get("style", "").split(";"):
        if ":" in part:
            key, value = part.split(":", 1)
            out[key.strip()] = value.strip()
    return out


def _num(value: Optional[str], default: float = 0.0) -> float:
    m = _NUMBER.match(value.strip()) if value else None
    return float(m.group(0)) if m else default


def _tag(element: ET.Element) -> str:
    return element.tag.rsplit("}", 1)[-1]


def _placement(transform: str, x: float, y: float):
    """(x, y, degrees clockwise) from an SVG ``transform`` of translate and rotate."""
    angle = 0.0
    for name, args in re.findall(r"(translate|rotate)\(([^)]*)\)", transform or ""):
        values = [float(v) for v in _NUMBER.findall(args)]
        if name == "translate":
            x, y = x + values[0], y + (values[1] if len(values) > 1 else 0.0)
        elif values:
            angle += values[0]
    return x, y, angle


def _text(canvas: Image.Image, element: ET.Element, style: Dict[str, str], theme: Palette) -> None:
    words = "".join(t for t in element.itertext() if t).strip()
    if not words:
        return
    x, y, angle = _placement(style.get("transform", ""), _num(style.get("x")), _num(style.get("y")))
    size = int(_num(style.get("font-size"), 11))
    family = style.get("font-family", "")
    face = font(size, bold="bold" in style.get("font-weight", ""), ui="jp-ui-font" in family or "system-ui" in family)
    colour = css_color(style.get("fill"), theme, theme.fg)
    anchor = {"middle": "ms", "end": "rs"}.get(style.get("text-anchor", ""), "ls")
    if not angle:
        draw_text(ImageDraw.Draw(canvas), (x, y), words, fill=colour, font=face, anchor=anchor)
        return
    side = int(face.getlength(words)) * 2 + size * 4
    piece = Image.new("RGBA", (side, side), (0, 0, 0, 0))
    draw_text(ImageDraw.Draw(piece), (side / 2, side / 2), words, fill=colour, font=face, anchor=anchor)
    piece = piece.rotate(-angle, resample=Image.Resampling.BICUBIC, center=(side / 2, side / 2))
    canvas.alpha_composite(piece, (int(round(x - side / 2)), int(round(y - side / 2))))


def svg_picture(markup: str, theme: Palette) -> Optional[Image.Image]:
    """An RGBA picture of ``markup`` (one ``<svg>``) at its own size, or None if it cannot be read."""
    try:
        root = ET.fromstring(markup)
    except ET.ParseError:
        return None
    width, height = int(_num(root.get("width"), 300)), int(_num(root.get("height"), 150))
    canvas = Image.new("RGBA", (max(width, 1), max(height, 1)), (0, 0, 0, 0))
    draw = ImageDraw.Draw(canvas)
    for element in root.iter():
        tag, style = _tag(element), _style(element)
        stroke = css_color(style.get("stroke"), theme)
        line_width = max(1, int(round(_num(style.get("stroke-width"), 1))))
        if tag == "line" and stroke:
            draw.line([(_num(style.get("x1")), _num(style.get("y1"))), (_num(style.get("x2")), _num(style.get("y2")))],
                      fill=stroke, width=line_width)
        elif tag == "rect":
            x, y = _num(style.get("x")), _num(style.get("y"))
            w, h = _num(style.get("width")), _num(style.get("height"))
            fill = css_color(style.get("fill"), theme, theme.fg)
            draw.rectangle([x, y, x + max(w, 1) - 1, y + max(h, 1) - 1], fill=fill, outline=stroke)
        elif tag == "polyline" and stroke:
            points = [float(v) for v in _NUMBER.findall(style.get("points", ""))]
            pairs = list(zip(points[0::2], points[1::2]))
            if len(pairs) > 1:
                draw.line(pairs, fill=stroke, width=line_width, joint="curve")
        elif tag == "text":
            _text(canvas, element, style, theme)
    return canvas

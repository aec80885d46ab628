"""Text and colours for static pictures: the live view's fonts, theme colours and wrapping.

A static picture (the display bundle's PNG, ``save_png``) draws what the
browser draws: DOM text in the JupyterLab theme's colours. The theme
variables in our HTML (``var(--jp-ui-font-color1, #1f1f1f)``) resolve here
to a light or dark palette; text is measured with the font it is drawn in
and wrapped at word boundaries inside its box, so nothing runs past it.
"""
from __future__ import annotations

import contextlib
import contextvars
import functools
import re
from dataclasses import dataclass
from typing import Iterator, List, Optional, Tuple

from PIL import ImageDraw, ImageFont

__all__ = ["Palette", "PALETTES", "palette", "font", "select_font", "covering", "text_width", "wrap_words", "css_color", "css_px", "RGBA",
           "draw_text", "cut_texts"]

RGBA = Tuple[int, int, int, int]


@dataclass(frozen=True)
class Palette:
    """JupyterLab's theme colours (``--jp-*`` variables) as RGBA."""

    name: str
    fg: RGBA
    bg: RGBA
    border: RGBA
    accent: RGBA
    error: RGBA
    control: RGBA  # the fill of an input box or a slider's track

    def variable(self, name: str) -> Optional[RGBA]:
        """The colour of a ``--jp-*`` variable this palette knows (None for any other)."""
        for part, colour in (("font-color", self.fg), ("layout-color", self.bg), ("border-color", self.border),
                             ("brand-color", self.accent), ("error-color", self.error)):
            if part in name:
                return colour
        return None


PALETTES = {
    "light": Palette("light", (31, 31, 31, 255), (255, 255, 255, 255), (158, 158, 158, 255),
                     (25, 118, 210, 255), (211, 47, 47, 255), (238, 238, 238, 255)),
    "dark": Palette("dark", (222, 222, 222, 255), (17, 17, 17, 255), (97, 97, 97, 255),
                    (66, 165, 245, 255), (239, 83, 80, 255), (48, 48, 48, 255)),
}


def palette(theme: str) -> Palette:
    if theme not in PALETTES:
        raise ValueError(f"expected a theme in {sorted(PALETTES)}, got {theme!r}")
    return PALETTES[theme]


#: the fonts a browser on Linux picks: JupyterLab's UI font stack starts with ``system-ui``, which
#: Chromium resolves through fontconfig's default sans (DejaVu, which matplotlib ships too), as it does
#: ``sans-serif`` for text that names no font; Liberation Sans (Arial's metric twin) where DejaVu is missing
_UI = ("DejaVu Sans", "Liberation Sans")
_SANS = ("DejaVu Sans",)
#: a select box keeps the browser's own control font, which Chromium on Linux resolves to Arial: its metric
#: twin Liberation Sans (measured on the page: a select is its widest option in Arial plus 30 pixels)
_CONTROL = ("Liberation Sans", "DejaVu Sans")
_MONO = ("DejaVu Sans Mono",)


def _font_path(families, bold: bool) -> str:
    from matplotlib import font_manager

    weights = (700, "bold") if bold else (400, "normal", "regular", "book")
    for family in families:
        for f in font_manager.fontManager.ttflist:  # the upright, normal-width face of that weight
            if f.name == family and f.weight in weights and f.style == "normal" and f.stretch == "normal":
                return f.fname
    return font_manager.findfont(font_manager.FontProperties(family=families[-1], weight="bold" if bold else "normal"))


@functools.lru_cache(maxsize=64)
def font(size: int = 12, bold: bool = False, mono: bool = False, ui: bool = False) -> ImageFont.FreeTypeFont:
    """The page's font at ``size`` CSS pixels: ``ui`` for text in JupyterLab's UI font, ``mono`` for code."""
    return ImageFont.truetype(_font_path(_MONO if mono else _UI if ui else _SANS, bold), size)


@functools.lru_cache(maxsize=8)
def select_font(size: int = 13) -> ImageFont.FreeTypeFont:
    """The font a select box (a ``Dropdown``) draws its options in."""
    return ImageFont.truetype(_font_path(_CONTROL, False), size)


def covering(text: str, face: ImageFont.FreeTypeFont) -> ImageFont.FreeTypeFont:
    """``face``, or DejaVu at its size where ``text`` holds a symbol (arrows, ticks, dingbats) ``face``
    may lack: Liberation Sans draws a "✓" as an empty box, DejaVu covers these blocks."""
    path = str(face.path)
    if path.endswith(("DejaVuSans.ttf", "DejaVuSans-Bold.ttf", "DejaVuSansMono.ttf", "DejaVuSansMono-Bold.ttf")):
        return face
    if any(0x2190 <= ord(ch) <= 0x2BFF for ch in text):
        return font(int(face.size), "Bold" in path)
    return face


def text_width(text: str, face: ImageFont.FreeTypeFont) -> int:
    return int(round(face.getlength(text)))


def wrap_words(text: str, face: ImageFont.FreeTypeFont, width: int) -> List[str]:
    """``text`` in lines no wider than ``width`` pixels; a word longer than a line is split by characters."""
    lines: List[str] = []
    for paragraph in text.split("\n"):
        line = ""
        for word in paragraph.split(" "):
            candidate = f"{line} {word}" if line else word
            if text_width(candidate, face) <= width:
                line = candidate
                continue
            if line:
                lines.append(line)
            while text_width(word, face) > width and len(word) > 1:  # a word wider than the box
                cut = 1
                while cut < len(word) and text_width(word[:cut + 1], face) <= width:
                    cut += 1
                lines.append(word[:cut])
                word = word[cut:]
            line = word
        lines.append(line)
    return lines


def css_px(value: Optional[str], avail: int) -> Optional[int]:
    """A CSS length in pixels (``"420px"``, ``"50%"`` of ``avail``), None for ``auto`` and the like."""
    if not value:
        return None
    m = re.fullmatch(r"\s*([\d.]+)(px|%)\s*", str(value))
    if not m:
        return None
    number = float(m.group(1))
    return int(number if m.group(2) == "px" else avail * number / 100)


_HEX = re.compile(r"#([0-9a-fA-F]{3,8})\b")
_RGB = re.compile(r"rgba?\(\s*([\d.]+)\s*,\s*([\d.]+)\s*,\s*([\d.]+)\s*(?:,\s*([\d.]+)\s*)?\)")
_NAMED = {"black": (0, 0, 0, 255), "white": (255, 255, 255, 255), "red": (255, 0, 0, 255),
          "grey": (128, 128, 128, 255), "gray": (128, 128, 128, 255), "none": (0, 0, 0, 0),
          "transparent": (0, 0, 0, 0)}


def css_color(value: Optional[str], theme: Palette, default: Optional[RGBA] = None) -> Optional[RGBA]:
    """A CSS colour (``#hex``, ``rgb()``, a name, or a ``var(--jp-..., fallback)``) as RGBA in ``theme``."""
    if not value:
        return default
    value = value.strip()
    if value.startswith("var("):
        name = value[4:].split(",", 1)[0].strip()
        known = theme.variable(name)
        if known is not None:
            return known
        rest = value[4:].split(",", 1)
        return css_color(rest[1].rstrip(") ") if len(rest) > 1 else None, theme, default)
    m = _HEX.fullmatch(value) or _HEX.match(value)
    if m:
        h = m.group(1)
        if len(h) in (3, 4):
            h = "".join(c * 2 for c in h)
        rgba = [int(h[i:i + 2], 16) for i in range(0, len(h), 2)]
        return (rgba[0], rgba[1], rgba[2], rgba[3] if len(rgba) == 4 else 255)
    m = _RGB.match(value)
    if m:
        r, g, b = (int(float(m.group(i))) for i in (1, 2, 3))
        a = float(m.group(4)) if m.group(4) is not None else 1.0
        return (r, g, b, int(round(255 * a)))
    return _NAMED.get(value.lower(), default)


_CUTS: contextvars.ContextVar[Optional[List[str]]] = contextvars.ContextVar("static_text_cuts", default=None)


def draw_text(draw: ImageDraw.ImageDraw, xy: Tuple[float, float], text: str, **options) -> None:
    """``draw.text``, noting (inside :func:`cut_texts`) a text whose ink runs past the picture's edges."""
    draw.text(xy, text, **options)
    cuts = _CUTS.get()
    if cuts is not None and text.strip():
        left, top, right, bottom = draw.textbbox(xy, text, font=options.get("font"), anchor=options.get("anchor"))
        width, height = draw.im.size
        if left < -1 or top < -1 or right > width + 1 or bottom > height + 1:
            cuts.append(text)


@contextlib.contextmanager
def cut_texts() -> Iterator[List[str]]:
    """Collect the texts drawn inside this block whose ink runs past the box they are drawn in."""
    cuts: List[str] = []
    token = _CUTS.set(cuts)
    try:
        yield cuts
    finally:
        _CUTS.reset(token)

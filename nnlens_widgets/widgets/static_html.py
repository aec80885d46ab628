"""Our HTML panels drawn as pixels: text wrapped in its box, charts as charts, legends as legends.

The live views write DOM content from a few building blocks: paragraphs of
text, colour bars (``render.legend``), probability rows
(``render.charts.probability_rows_html``), SVG charts and embedded PNGs.
``html_picture(markup, width, theme)`` draws the same markup: text wrapped
at word boundaries to fit ``width``, bold and colour kept; a colour bar from
its own gradient stops with its end values and meaning; a probability table
from its rows' ``data-p`` values; an SVG chart through ``static_svg``.
"""
from __future__ import annotations

import base64
import io
import math
import re
from dataclasses import dataclass
from typing import List, Optional

from PIL import Image, ImageDraw

from .static_markup import Node, parse
from .static_svg import svg_picture
from .static_text import RGBA, Palette, covering, css_color, draw_text, font, text_width, wrap_words

__all__ = ["html_picture", "stack"]

_BLOCKS = {"div", "p", "section", "figure", "li", "ul", "ol", "table", "tr", "h1", "h2", "h3", "h4", "h5",
           "details", "summary", "pre", "figcaption", "header", "footer", "dl", "dt", "dd"}
_HIDDEN = {"script", "style", "title", "head"}


def stack(pictures: List[Image.Image], gap: int = 2) -> Optional[Image.Image]:
    """Pictures one under another, left-aligned, on a transparent background."""
    pictures = [p for p in pictures if p is not None]
    if not pictures:
        return None
    out = Image.new("RGBA", (max(p.width for p in pictures), sum(p.height for p in pictures)
                             + gap * (len(pictures) - 1)), (0, 0, 0, 0))
    y = 0
    for p in pictures:
        out.alpha_composite(p, (0, y))
        y += p.height + gap
    return out


@dataclass
class _Run:
    text: str
    bold: bool
    colour: Optional[RGBA]
    size: int
    mono: bool = False
    line_height: float = 0.0  # pixels; 0: 1.35 x the font size
    ui: bool = False  # in JupyterLab's UI font (see ``static_text.font``)


_SPACE = re.compile(r"\s+")


class _Renderer:
    """Blocks of our markup, one under another; the text of a block flows in lines of mixed runs."""

    def __init__(self, width: int, theme: Palette, line_height: float = 0.0):
        self.width = max(int(width), 40)
        self.theme = theme
        self.line_height = line_height
        self.blocks: List[Image.Image] = []
        self.runs: List[_Run] = []

    # -- text ---------------------------------------------------------------
    def _words(self):
        """(word, run, spaced) triples, None for a line break; whitespace collapses as in HTML, and a word
        that follows the one before it with no whitespace between (``<b>0.03</b>: area``) is not ``spaced``."""
        out: list = []
        spaced = True
        for run in self.runs:
            if run.text == "\n":
                out.append(None)
                spaced = True
                continue
            if not run.text:
                continue
            for i, word in enumerate(_SPACE.split(run.text)):
                if word:
                    out.append((word, run, spaced or i > 0))
            spaced = run.text[-1].isspace()
        return out

    def flush(self) -> None:
        runs, words = self.runs, self._words()
        self.runs = []
        if not any(w is not None for w in words):
            return
        lines: List[List] = [[]]
        x, wrapped = 0.0, False
        for item in words:
            if item is None:
                lines.append([])
                x = 0.0
                continue
            word, run, spaced = item
            face = covering(word, font(run.size, run.bold, run.mono, run.ui))
            space = face.getlength(" ") if lines[-1] and spaced else 0.0
            w = face.getlength(word)
            if lines[-1] and x + space + w > self.width:
                wrapped = True
                lines.append([])
                x, space = 0.0, 0.0
            wrapped = wrapped or w > self.width
            for piece in (wrap_words(word, face, self.width) if w > self.width else [word]):
                if lines[-1] and x + space + face.getlength(piece) > self.width:
                    lines.append([])
                    x, space = 0.0, 0.0
                lines[-1].append((x + space, piece, run, face))
                x += space + face.getlength(piece)
                space = 0.0
        heights = []
        for line in lines:
            tallest = max((r for _x, _p, r, _f in line), key=lambda r: r.size, default=runs[0])
            heights.append(tallest.line_height or round(tallest.size * 1.35))
        right = max((x + f.getlength(p) for line in lines for x, p, _r, f in line), default=1)
        if wrapped:  # text that had to wrap fills its box's width, as a block does in the page
            right = self.width - 1
        picture = Image.new("RGBA", (max(1, min(self.width, int(right) + 1)), max(1, round(sum(heights)))),
                            (0, 0, 0, 0))
        draw = ImageDraw.Draw(picture)
        top = 0.0
        for line, h in zip(lines, heights):
            for x, piece, run, face in line:
                baseline = _baseline(top, h, run.size)
                draw_text(draw, (x, baseline), piece, fill=run.colour or self.theme.fg, font=face, anchor="ls")
            top += h
        self.blocks.append(picture)

    def inline(self, node: "Node | str", bold: bool, colour: Optional[RGBA], size: int, mono: bool,
               line_height: float, ui: bool) -> None:
        if isinstance(node, str):
            self.runs.append(_Run(node, bold, colour, size, mono, line_height, ui))
            return
        self.element(node, bold, colour, size, mono, line_height, ui)

    # -- elements -----------------------------------------------------------
    def element(self, node: Node, bold: bool, colour: Optional[RGBA], size: int, mono: bool,
                line_height: float = 0.0, ui: bool = False) -> None:
        tag, style = node.tag, node.style
        if tag in _HIDDEN or style.get("display") == "none":
            return
        if tag == "br":
            self.runs.append(_Run("\n", bold, colour, size, mono, line_height, ui))
            return
        family = style.get("font-family", "")
        ui = ui or "jp-ui-font" in family or "system-ui" in family
        bold = bold or tag in ("b", "strong", "th", "h1", "h2", "h3", "h4") or "bold" in style.get("font-weight", "")
        colour = css_color(style.get("color"), self.theme, colour)
        size = int(float(re.sub(r"[^\d.]", "", style.get("font-size", "")) or size))
        mono = mono or tag in ("code", "pre", "tt") or "monospace" in style.get("font-family", "")
        line_height = _line_height(style.get("line-height"), size, line_height)
        special = self.special(node, line_height)
        if special is not None:
            self.flush()
            if special.width > self.width:  # max-width: 100%, as the page shows a wide chart
                special = special.resize((self.width, max(1, round(special.height * self.width / special.width))),
                                         Image.Resampling.LANCZOS)
            if tag in ("svg", "img") and style.get("display") not in ("block", "flex"):
                special = _on_its_line(special, line_height, size)
            self.blocks.append(special)
            return
        block = tag in _BLOCKS or style.get("display") in ("block", "flex")
        if block:
            self.flush()
        room, first = self.width, len(self.blocks)
        if block:
            self._space(style.get("margin-top"))
        if block and style.get("max-width", "").strip().endswith("px"):  # a narrower block wraps its text sooner
            self.width = max(40, min(room, int(_px(style["max-width"], room))))
        border = re.match(r"\s*([\d.]+)px\s+solid\s+(.+)", style.get("border-left", "")) if block else None
        indent = int(_px(style.get("padding-left"), 0)) + (int(float(border.group(1))) if border else 0)
        self.width = max(40, self.width - indent)
        for child in node.children:
            self.inline(child, bold, colour, size, mono, line_height, ui)
        if block:
            self.flush()
        self.width = room
        inner = stack(self.blocks[first:], gap=0) if indent else None
        if inner is not None:  # the block's own pictures moved right, its border beside them
            moved = Image.new("RGBA", (inner.width + indent, inner.height), (0, 0, 0, 0))
            moved.alpha_composite(inner, (indent, 0))
            if border:
                edge = css_color(border.group(2).strip(), self.theme, self.theme.border)
                ImageDraw.Draw(moved).rectangle([0, 0, int(float(border.group(1))) - 1, inner.height - 1], fill=edge)
            self.blocks[first:] = [moved]
        if block:
            self._space(style.get("margin-bottom"))

    def _space(self, length: Optional[str]) -> None:
        """An empty band as tall as a block's margin, where its style gives one in pixels."""
        height = round(_px(length, 0))
        if height > 0:
            self.blocks.append(Image.new("RGBA", (1, height), (0, 0, 0, 0)))

    def special(self, node: Node, line_height: float) -> Optional[Image.Image]:
        if node.tag == "svg":
            return svg_picture(node.raw, self.theme)
        if node.tag == "img" and node.attrs.get("src", "").startswith("data:image/png;base64,"):
            picture = Image.open(io.BytesIO(base64.b64decode(node.attrs["src"].split(",", 1)[1]))).convert("RGBA")
            return picture
        if node.has_class("nnl-legend"):
            return self.legend(node)
        if node.has_class("nnl-prob-table"):
            return self.probabilities(node, line_height)
        return None

    def legend(self, node: Node) -> Image.Image:
        """A colour bar drawn from its own gradient stops, its end values and meaning."""
        bar = node.find("nnl-legend-bar")
        found = re.findall(r"rgb\([^)]*\)", bar.style.get("background", "")) if bar is not None else []
        stops = [c for c in (css_color(s, self.theme) for s in found) if c is not None]
        width = min(self.width, int(_px(node.style.get("max-width"), 180)))
        face = font(12, ui=True)
        low = node.find("nnl-legend-low")
        high = node.find("nnl-legend-high")
        labels_row = low is not None and next((c for c in _ancestors_with(node, low)), None)
        middle = [c for c in labels_row.children if isinstance(c, Node) and c not in (low, high)] \
            if isinstance(labels_row, Node) else []
        # its 2-pixel top margin and 12-pixel bar, then lines as tall as its own line-height (1.3 em)
        line = _line_height(node.style.get("line-height"), 12, 0.0) or 12 * 1.35
        bar_bottom = 14
        baseline = _baseline(bar_bottom, line, 12)
        out = Image.new("RGBA", (width, math.floor(bar_bottom + line)), (0, 0, 0, 0))  # the notes: baselines floored
        draw = ImageDraw.Draw(out)
        if stops:
            for x in range(width - 2):
                pos = x / max(width - 3, 1) * (len(stops) - 1)
                i = min(int(pos), len(stops) - 2) if len(stops) > 1 else 0
                t = pos - i
                a, b = stops[i], stops[min(i + 1, len(stops) - 1)]
                draw.line([(x + 1, 3), (x + 1, 12)], fill=tuple(int(round(a[k] + (b[k] - a[k]) * t)) for k in range(4)))
            draw.rectangle([0, 2, width - 1, 13], outline=self.theme.border)
        fg = self.theme.fg
        if low is not None:
            draw_text(draw, (0, baseline), low.text(), fill=fg, font=face, anchor="ls")
        if high is not None:
            draw_text(draw, (width - 1, baseline), high.text(), fill=fg, font=face, anchor="rs")
        if middle:
            draw_text(draw, (width / 2, baseline), middle[0].text(), fill=fg, font=face, anchor="ms")
        rest = [c for c in node.children if isinstance(c, Node) and c is not bar and c is not labels_row]
        notes = [html_picture_of(c, width, self.theme, 12, line, ui=True) for c in rest]
        return stack([out] + [n for n in notes if n is not None], gap=0) or out

    def probabilities(self, node: Node, line_height: float) -> Image.Image:
        """One row per class (name, bar over a 0..100% axis, the number) from the rows' ``data-p``.

        A row is as tall as the line height it inherits (ipywidgets' HTML widget: 28 pixels).
        """
        face, bold_face, small = font(12, ui=True), font(12, bold=True, ui=True), font(11, ui=True)
        mono, bold_mono = font(12, mono=True), font(12, bold=True, mono=True)
        rows = node.find_all("nnl-prob-row")
        title = next((c for c in node.children if isinstance(c, Node) and not c.has_class("nnl-prob-row")), None)
        name_w = max([70] + [text_width(r.attrs.get("data-label", ""), face) for r in rows]) + 6
        bar_w = 140
        numbers = [r.find("nnl-prob") for r in rows]
        num_w = max([40] + [text_width(n.text(), bold_mono) for n in numbers if n is not None]) + 6
        width = name_w + bar_w + 6 + num_w
        row_h = max(17, int(round(line_height)))
        mid = row_h // 2 - 8  # rows centre their 17-pixel content in the line
        height = row_h * len(rows) + 30
        out = Image.new("RGBA", (width, height), (0, 0, 0, 0))
        draw = ImageDraw.Draw(out)
        fg = self.theme.fg
        heading = html_picture_of(title, min(max(width, 200), self.width), self.theme, 12, line_height, ui=True) \
            if title is not None else None
        before_grey = (138, 138, 138, 255)
        for i, (r, number) in enumerate(zip(rows, numbers)):
            y = i * row_h + mid
            strong = "bold" in r.style.get("font-weight", "")
            draw_text(draw, (0, y + 12), r.attrs.get("data-label", ""), fill=fg, font=bold_face if strong else face,
                      anchor="ls")
            x0 = name_w
            draw.line([(x0, y + 1), (x0, y + 13)], fill=fg)
            before = r.find("nnl-bar-before")
            p = _float(r.attrs.get("data-p"))
            if before is not None:
                draw.rectangle([x0 + 1, y + 2, x0 + 1 + bar_w * _float(before.attrs.get("data-p")), y + 6],
                               fill=before_grey)
                draw.rectangle([x0 + 1, y + 7, x0 + 1 + bar_w * p, y + 12], fill=self.theme.accent)
            else:
                draw.rectangle([x0 + 1, y + 3, x0 + 1 + bar_w * p, y + 12], fill=self.theme.accent)
            if number is not None:
                draw_text(draw, (x0 + bar_w + 6, y + 12), number.text(), fill=fg, font=bold_mono if strong else mono,
                          anchor="ls")
        y = row_h * len(rows) + 2
        draw.line([(name_w, y), (name_w + bar_w, y)], fill=fg)
        for frac, label in ((0.0, "0"), (0.5, "50%"), (1.0, "100%")):
            anchor = {0.0: "ls", 0.5: "ms", 1.0: "rs"}[frac]
            draw_text(draw, (name_w + bar_w * frac, y + 13), label, fill=fg, font=small, anchor=anchor)
        key = [c for c in node.children if isinstance(c, Node) and "thin grey" in c.text()]
        notes = [html_picture_of(c, self.width, self.theme, 11, 0.0, ui=True) for c in key]
        return stack([p for p in [heading, out] + notes if p is not None]) or out


def _ancestors_with(root: Node, target: Node):
    """The child of ``root`` (at any depth's top level) that holds ``target``."""
    for child in root.children:
        if isinstance(child, Node) and (child is target or _holds(child, target)):
            yield child


def _holds(node: Node, target: Node) -> bool:
    return any(c is target or (isinstance(c, Node) and _holds(c, target)) for c in node.children)


def _px(value: Optional[str], default: float) -> float:
    m = re.match(r"\s*([\d.]+)px", value or "")
    return float(m.group(1)) if m else default


def _baseline(top: float, line_height: float, size: int) -> int:
    """Where Chromium puts a line's baseline: the font's box (DejaVu's ascent 0.928 and descent 0.236 em,
    each rounded to whole pixels) centred in the line, half the leading rounded down, on a whole pixel."""
    ascent, descent = round(size * 0.928), round(size * 0.236)
    return math.floor(top + (line_height - ascent - descent) // 2 + ascent)


def _on_its_line(picture: Image.Image, line_height: float, size: int) -> Image.Image:
    """An inline chart or image sits on its line's baseline: the line's descent shows under it (the font's
    descent and the lower half of the leading, rounded up; ``line-height: normal`` has no leading)."""
    ascent, descent = round(size * 0.928), round(size * 0.236)
    leading = max(0.0, line_height - ascent - descent) if line_height else 0.0
    below = math.ceil(leading - leading // 2) + descent
    out = Image.new("RGBA", (picture.width, picture.height + below), (0, 0, 0, 0))
    out.alpha_composite(picture.convert("RGBA"), (0, 0))
    return out


def _float(value: Optional[str]) -> float:
    try:
        return min(max(float(value or 0.0), 0.0), 1.0)
    except ValueError:
        return 0.0


def _line_height(value: Optional[str], size: int, inherited: float) -> float:
    """A CSS ``line-height`` in pixels (``1.3`` times the font size, ``28px``); the inherited one otherwise."""
    if not value:
        return inherited
    m = re.fullmatch(r"\s*([\d.]+)\s*(px)?\s*", value)
    if not m:
        return inherited
    return float(m.group(1)) if m.group(2) else float(m.group(1)) * size


def html_picture_of(node: Node, width: int, theme: Palette, size: int = 13,
                    line_height: float = 0.0, ui: bool = False) -> Optional[Image.Image]:
    renderer = _Renderer(width, theme)
    renderer.element(node, False, None, size, False, line_height, ui)
    renderer.flush()
    return stack(renderer.blocks, gap=0)


def html_picture(markup: str, width: int, theme: Palette, size: int = 13,
                 line_height: float = 0.0) -> Optional[Image.Image]:
    """``markup`` drawn no wider than ``width`` pixels (transparent background), or None when it shows nothing.

    ``line_height``: the line height text inherits, in pixels (ipywidgets' HTML widget: 28).
    """
    if not markup or not markup.strip():
        return None
    return html_picture_of(parse(markup), width, theme, size, line_height)

"""Our HTML as a small tree: enough of a parser for the markup the views write.

``parse`` keeps elements, attributes and text; an ``<svg>`` element is kept
whole as text (``Node.raw``) for ``static_svg`` to draw.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Dict, List, Optional

__all__ = ["Node", "parse"]

_VOID = {"br", "img", "hr", "meta", "input", "wbr", "col"}


@dataclass
class Node:
    tag: str
    attrs: Dict[str, str] = field(default_factory=dict)
    children: List["Node | str"] = field(default_factory=list)
    raw: str = ""  # an <svg> element's own markup

    @property
    def style(self) -> Dict[str, str]:
        out = {}
        for part in self.attrs.get("style", "").split(";"):
            if ":" in part:
                key, value = part.split(":", 1)
                out[key.strip().lower()] = value.strip()
        return out

    def has_class(self, name: str) -> bool:
        return name in self.attrs.get("class", "").split()

    def text(self) -> str:
        return " ".join(" ".join(c.split()) if isinstance(c, str) else c.text() for c in self.children).strip()

    def find(self, css_class: str) -> Optional["Node"]:
        for child in self.children:
            if isinstance(child, Node):
                if child.has_class(css_class):
                    return child
                found = child.find(css_class)
                if found is not None:
                    return found
        return None

    def find_all(self, css_class: str) -> List["Node"]:
        out: List[Node] = []
        for child in self.children:
            if isinstance(child, Node):
                out.extend([child] if child.has_class(css_class) else child.find_all(css_class))
        return out


class _TreeBuilder(HTMLParser):
    """A small tree of the markup; an ``<svg>`` element is kept whole as text for ``static_svg``."""

    def __init__(self, markup: str):
        super().__init__(convert_charrefs=True)
        self.markup = markup
        self.line_starts = [0]
        for line in markup.split("\n"):
            self.line_starts.append(self.line_starts[-1] + len(line) + 1)
        self.root = Node("root")
        self.stack = [self.root]
        self.svg_start = 0
        self.svg_depth = 0  # open elements inside an <svg>, the <svg> itself counted

    def _offset(self) -> int:
        line, col = self.getpos()
        return self.line_starts[line - 1] + col

    def handle_starttag(self, tag, attrs):
        if self.svg_depth:
            self.svg_depth += 1
            return
        node = Node(tag, {k: v or "" for k, v in attrs})
        self.stack[-1].children.append(node)
        if tag == "svg":
            self.svg_start, self.svg_depth = self._offset(), 1
            self.stack.append(node)
        elif tag not in _VOID:
            self.stack.append(node)

    def handle_endtag(self, tag):
        if self.svg_depth:
            self.svg_depth -= 1
            if self.svg_depth == 0:
                end = self.markup.find(">", self._offset()) + 1
                self.stack[-1].raw = self.markup[self.svg_start:end]
                self.stack.pop()
            return
        for i in range(len(self.stack) - 1, 0, -1):
            if self.stack[i].tag == tag:
                del self.stack[i:]
                return

    def handle_startendtag(self, tag, attrs):
        if not self.svg_depth:
            self.stack[-1].children.append(Node(tag, {k: v or "" for k, v in attrs}))

    def handle_data(self, data):
        if not self.svg_depth:
            self.stack[-1].children.append(data)


def parse(markup: str) -> Node:
    builder = _TreeBuilder(markup)
    builder.feed(markup)
    builder.close()
    return builder.root

"""What a view cannot know, said in plain sentences beside it.

A widget registers one ``WarningsView`` among its views, so the sentences
are shown in the live view, written by ``save_html`` and drawn in the PNG
like any other view; ``widget.warnings`` reads them back as a tuple. Each
part of a widget (the layer's tiles, the target, the feature visualisation)
owns one *source* and replaces only its own sentences.
"""
from __future__ import annotations

from typing import Dict, Iterable, Tuple

from ..render.legend import THEME
from .checks import text
from .views import HtmlView

__all__ = ["WarningsView", "constant_sentences", "lime_stability_warning"]


class WarningsView(HtmlView):
    """The sentences of every source, in the order the sources first spoke; hidden when there are none."""

    def __init__(self, css_class: str = "nnl-warnings"):
        super().__init__("", css_class=css_class)
        self._by_source: Dict[str, Tuple[str, ...]] = {}
        self.layout.display = "none"

    @property
    def sentences(self) -> Tuple[str, ...]:
        seen: Dict[str, None] = {}  # one sentence said by two sources is shown once
        for said in self._by_source.values():
            seen.update(dict.fromkeys(said))
        return tuple(seen)

    def set(self, source: str, sentences: Iterable[str]) -> None:
        """Replace what ``source`` says (an empty iterable withdraws it)."""
        said = tuple(str(s) for s in sentences if s)
        if self._by_source.get(source, ()) == said:
            return
        if said:
            self._by_source[source] = said
        else:
            self._by_source.pop(source, None)
        self._redraw()

    def clear(self) -> None:
        self._by_source.clear()
        self._redraw()

    def _redraw(self) -> None:
        sentences = self.sentences
        if not sentences:
            self.show("", title="")
            self.layout.display = "none"
            return
        items = "".join(f"<li>{text(s)}</li>" for s in sentences)
        self.show(f"<ul style='margin:0;padding-left:18px;color:{THEME['fg']};font-family:{THEME['font']};"
                  f"font-size:12px;line-height:1.35;border-left:3px solid {THEME['error']};"
                  f"max-width:900px'>{items}</ul>",
                  title=f"\u26a0 what this view cannot tell ({len(sentences)})")
        self.layout.display = "flex"


def lime_stability_warning(result) -> str:
    """"top-5 not stable at 95%: ..." for a LIME result whose top set is not stable, else ""."""
    stability, top = getattr(result, "stability", None), getattr(result, "top", 0)
    if stability is None or not top:
        return ""
    level = float(getattr(result, "confidence", None) or getattr(result, "stable_at", None) or 0.95)
    if float(stability) >= level:
        return ""
    return (f"top-{top} not stable at {100 * level:.0f}%: the same {top} superpixels come out on top in only "
            f"{100 * float(stability):.0f}% of {getattr(result, 'resamples', 0)} bootstrap resamples, so "
            "another run may rank other superpixels first")


def constant_sentences(constant) -> Tuple[str, ...]:
    """A ``core.ConstantChannels`` in words: one sentence a channel, or one for them all when many."""
    if len(constant.channels) <= 3:
        return tuple(f"{s} (drawn hatched, not in the colour map)" for s in constant.warnings)
    by_value: Dict[float, list] = {}
    for c, v in zip(constant.channels, constant.values):
        by_value.setdefault(v, []).append(str(c))
    groups = "; ".join(f"{v:.4g} in channel{'s' if len(cs) > 1 else ''} {', '.join(cs)}"
                       for v, cs in by_value.items())
    return (f"{len(constant.channels)} of the {constant.total} channels of {constant.layer} are constant for "
            f"{constant.source} (drawn hatched, not in the colour map): {groups}",)

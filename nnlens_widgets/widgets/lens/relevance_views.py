"""Views of a layer's relevance for a class: which channels carry it, ranked, each bar's name a button.

``RelevanceShareView`` shows the channels with the largest share of the
class's relevance at a layer (CRP's ``channel_relevance``) as a ranked bar
chart with a value axis; the name beside each bar is a button that picks the
channel, so the chart links to the other views like a click on a tile. The
chart keeps its numbers, so a static picture and a saved page draw it too
(with the names in the chart itself).
"""
from __future__ import annotations

from typing import Callable, List, Optional, Sequence

import ipywidgets as W
import numpy as np

from ...render.bars import bar_chart_svg
from ...render.legend import THEME, fmt
from ..base import text
from ..chart_views import RankingView

__all__ = ["RelevanceShareView", "share_rows", "ROW_PX"]

ROW_PX = 30  # one bar (and its button, at the theme's button height) per row
_CHART_PX = 300


def share_rows(scores: np.ndarray, count: int) -> List[int]:
    """The ``count`` channels with the largest relevance, largest first (ties by the lower channel)."""
    order = np.argsort(-np.asarray(scores, dtype=float), kind="stable")
    return [int(c) for c in order[:count]]


class RelevanceShareView(RankingView):
    """A ranked bar chart of channels' shares of a class's relevance; ``on_pick(fn)`` hears ``fn(channel)``."""

    def __init__(self, title: str = "", css_class: Optional[str] = None):
        super().__init__(title, css_class=css_class)
        self._buttons = W.VBox(layout=W.Layout(padding="4px 0 0 0", width="96px", min_width="96px"))
        self.caption = W.HTML()
        self._channels: List[int] = []
        self._picked: List[Callable[[int], None]] = []
        self._named_svg = ""
        self.children = (self._title, W.HBox([self._buttons, self.body], layout=W.Layout(max_width="100%")),
                         self.caption)
        self.add_class("nnl-relevance-share")

    def on_pick(self, fn: Callable[[int], None]) -> None:
        self._picked.append(fn)

    @property
    def channels(self) -> List[int]:
        """The channels charted, top to bottom."""
        return list(self._channels)

    def show_shares(self, channels: Sequence[int], shares: Sequence[float], *, selected: Optional[int], title: str,
                    value_label: str, caption_html: str) -> None:
        """One bar per channel (``shares`` in percent, signed), ``selected`` in bold and its button pressed."""
        names = [f"channel {c}" for c in channels]
        values = [float(v) for v in shares]
        self._channels = [int(c) for c in channels]
        row = self._channels.index(selected) if selected in self._channels else None
        self._named_svg = bar_chart_svg(values, names, value_label=value_label, horizontal=True,
                                        width=_CHART_PX + 90, row_px=ROW_PX, selected=row,
                                        css_class="nnl-relevance-bars")
        with self.hold_sync():
            self.show_ranking(names, values, value_label=value_label, title=title)  # keeps the numbers for pictures
            # live: the names are the buttons on the left, so the chart leaves them out
            self.body.value = bar_chart_svg(values, [""] * len(names), value_label=value_label, horizontal=True,
                                            width=_CHART_PX, row_px=ROW_PX, selected=row,
                                            css_class="nnl-relevance-bars")
            self._buttons.children = [self._button(c, c == selected) for c in self._channels]
            self.caption.value = (f"<div class='nnl-caption' style='color:{THEME['fg']};font-family:{THEME['font']};"
                                  f"font-size:12px;line-height:1.35;max-width:400px'>{caption_html}</div>")

    def select(self, channel: int) -> None:
        """Press the button of ``channel`` (no other change: the bars stay)."""
        for c, button in zip(self._channels, self._buttons.children):
            button.button_style = "info" if c == channel else ""

    def note(self, message: str, title: Optional[str] = None) -> None:
        """A sentence instead of the chart (while computing, or why there is none)."""
        self._data = None
        self._channels = []
        self._named_svg = ""
        self._buttons.children = []
        self.show(f"<i class='nnl-waiting'>{text(message)}</i>", title=title)
        self.caption.value = ""

    def _button(self, channel: int, pressed: bool) -> W.Button:
        button = W.Button(description=f"channel {channel}", tooltip=f"pick channel {channel}",
                          button_style="info" if pressed else "",
                          layout=W.Layout(height=f"{ROW_PX - 2}px", width="92px", margin="1px 0", padding="0 4px"))
        button.add_class("nnl-relevance-pick")
        button.on_click(lambda _b, c=channel: [fn(c) for fn in list(self._picked)])
        return button

    def static_html(self) -> str:
        if not self._named_svg:
            return super().static_html()
        return f"<section class='nnl-view'>{self._title.value}{self._named_svg}{self.caption.value}</section>"

    def close(self) -> None:
        self._picked.clear()
        for button in self._buttons.children:
            button.close()
        super().close()


def share_caption(layer: str, scores: np.ndarray, score: float, class_name: str, shown: int,
                  picked: Optional[int] = None) -> str:
    """What the bars are a share of, how much of the class's score reaches the layer (conservation), and
    how much speaks against the class."""
    total = float(scores.sum())
    top = float(np.sort(scores)[::-1][:shown].sum())
    against = float(scores[scores < 0].sum())
    reach = f"{100 * total / score:.1f}% of its score {fmt(score)}" if score else "its score is 0"
    parts = [f"All {len(scores)} channels of {layer} receive {fmt(total)} relevance for {class_name} ({reach})."]
    if total:
        parts.append(f"The {shown} charted carry {100 * top / total:.1f}% of it.")
        if against < 0:
            parts.append(f"Channels with negative relevance ({100 * against / total:.1f}% in all) speak against "
                         f"{class_name}.")
        if picked is not None:
            parts.append(f"Channel {picked} (picked): {100 * float(scores[picked]) / total:.1f}%.")
    return text(" ".join(parts)) + "<br>Click a channel's name to pick it."

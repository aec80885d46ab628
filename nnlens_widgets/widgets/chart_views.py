"""Chart views that keep their numbers, so a static picture draws them as charts too.

``HtmlView`` shows DOM content and, without a live front end, its plain
text; these views also remember what they plot and draw it with matplotlib
for the widget's ``image/png`` and ``save_png``: class probabilities before
and now, and a ranking of items by a signed value.
"""
from __future__ import annotations

import html
import re
from typing import Any, Optional, Sequence, Tuple

import numpy as np

from ..render.charts import probability_rows_html
from ..render.bars import bar_chart_svg
from .views import HtmlView

__all__ = ["ProbabilityView", "RankingView"]

_BEFORE, _NOW = "#9e9e9e", "#1976d2"


def _plain(markup: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", markup))


class _BarChartView(HtmlView):
    """A view that keeps what it shows (``_data``) and draws it as horizontal bars in static pictures.

    Subclasses draw their bars in ``_plot(ax)`` and return the row names
    (top to bottom) and the value axis label; the axes are dressed here.
    """

    def __init__(self, title: str = "", css_class: Optional[str] = None):
        super().__init__(title, css_class=css_class)
        self._data: Any = None  # what the subclass shows, as it draws it

    def _plot(self, ax) -> Tuple[Sequence[str], str]:
        raise NotImplementedError

    def draw_static(self, fig, cell) -> None:
        if self._data is None:
            return super().draw_static(fig, cell)
        ax = fig.add_subplot(cell)
        names, value_label = self._plot(ax)
        ax.set_yticks(np.arange(len(names)), names, fontsize=7)
        ax.invert_yaxis()
        ax.set_xlabel(value_label, fontsize=7)
        ax.tick_params(labelsize=6)
        ax.set_title(_plain(self._title.value), fontsize=9)


class ProbabilityView(_BarChartView):
    """One row per class: its name, the probability now (blue) over before (grey), on a 0..100% axis."""

    def show_probabilities(self, labels: Sequence[str], now, before, *, highlight: Optional[int] = None,
                           indices: Optional[Sequence[int]] = None, caption: str = "probability") -> None:
        self._data = ([str(s) for s in labels], np.asarray(now, float), np.asarray(before, float))
        self.show(probability_rows_html(labels, now, before=before, highlight=highlight, indices=indices,
                                        title=caption))

    def _plot(self, ax) -> Tuple[Sequence[str], str]:
        labels, now, before = self._data
        y = np.arange(len(labels))
        ax.barh(y - 0.2, before, height=0.4, color=_BEFORE, label="before")
        ax.barh(y + 0.2, now, height=0.4, color=_NOW, label="now")
        ax.set_xlim(0, 1)
        ax.legend(fontsize=6, loc="lower right")
        return labels, "probability"


class RankingView(_BarChartView):
    """Items ranked by a signed value: a labelled horizontal bar chart with an axis."""

    def show_ranking(self, names: Sequence[str], values, *, value_label: str, intro_html: str = "",
                     title: Optional[str] = None) -> None:
        self._data = ([str(n) for n in names], np.asarray(values, float), value_label)
        self.show(intro_html + bar_chart_svg(values, names, value_label=value_label, horizontal=True), title=title)

    def clear(self) -> None:
        self._data = None
        self.show("", title="")

    def _plot(self, ax) -> Tuple[Sequence[str], str]:
        names, values, value_label = self._data
        ax.barh(np.arange(len(names)), values, color=["#e4572e" if v < 0 else "#2f8fd8" for v in values])
        ax.axvline(0, color="black", linewidth=0.8)
        return names, value_label

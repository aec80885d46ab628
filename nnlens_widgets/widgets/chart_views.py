"""Chart views that keep their numbers: class probabilities before and now, and a ranking of
items by a signed value, drawn as DOM charts (which the static pictures draw as charts too)."""
from __future__ import annotations

from typing import Any, Optional, Sequence

import numpy as np

from ..render.charts import probability_rows_html
from ..render.bars import bar_chart_svg
from .views import HtmlView

__all__ = ["ProbabilityView", "RankingView"]


class _BarChartView(HtmlView):
    """A view that keeps what it shows (``_data``) as numbers, next to its chart."""

    def __init__(self, title: str = "", css_class: Optional[str] = None):
        super().__init__(title, css_class=css_class)
        self._data: Any = None  # what the subclass shows, as it draws it


class ProbabilityView(_BarChartView):
    """One row per class: its name, the probability now (blue) over before (grey), on a 0..100% axis."""

    def show_probabilities(self, labels: Sequence[str], now, before, *, highlight: Optional[int] = None,
                           indices: Optional[Sequence[int]] = None, caption: str = "probability") -> None:
        self._data = ([str(s) for s in labels], np.asarray(now, float), np.asarray(before, float))
        self.show(probability_rows_html(labels, now, before=before, highlight=highlight, indices=indices,
                                        title=caption))


class RankingView(_BarChartView):
    """Items ranked by a signed value: a labelled horizontal bar chart with an axis."""

    def show_ranking(self, names: Sequence[str], values, *, value_label: str, intro_html: str = "",
                     title: Optional[str] = None) -> None:
        self._data = ([str(n) for n in names], np.asarray(values, float), value_label)
        self.show(intro_html + bar_chart_svg(values, names, value_label=value_label, horizontal=True), title=title)

    def clear(self) -> None:
        self._data = None
        self.show("", title="")

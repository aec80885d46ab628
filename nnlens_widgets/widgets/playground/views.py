"""The playground's three pictures: the decision map, the network diagram and the loss curves.

Each is a view of ``widgets.views`` with what it needs beyond a picture:
the map reports clicks in plane coordinates, the diagram has its column
titles above it (DOM text placed over the columns) and two colour bars
(neurons, weights) and reports what the mouse points at, the loss chart
keeps its numbers so a static picture draws it as a chart too.
"""
from __future__ import annotations

import html
from typing import Any, Callable, List, Optional, Sequence, Tuple

import ipywidgets as W
import numpy as np

from ...core.playground import LossHistory
from ...render.charts import SERIES_COLORS, line_chart_svg
from ...render.legend import THEME, Scale, fmt, legend_html
from ...render.network_diagram import DiagramLayout, Hit
from ..views import HtmlView, PictureView

__all__ = ["DecisionView", "DiagramView", "LossView", "MAP_PX"]

MAP_PX = 300  # the decision map on screen
LEGENDS_PX = 410  # the diagram's two colour bars side by side
CHART_W, CHART_H = 300, 190
CHART_POINTS = 300  # at most this many records drawn per curve


class DecisionView(PictureView):
    """The decision map; ``on_click(fn)`` calls ``fn(x, y)`` with plane coordinates."""

    def __init__(self):
        super().__init__("decision map: the predicted class", display_px=MAP_PX, css_class="nnl-playground-map")
        self.layout.max_width = f"{MAP_PX + 20}px"  # the key and caption wrap under the map
        self.extent: Tuple[float, float, float, float] = (-6.0, 6.0, -6.0, 6.0)
        self.class_names: Sequence[str] = ()
        self._clicks: list = []
        self.canvas.on_click(self._clicked)

    def on_click(self, fn: Callable[[float, float], None]) -> None:
        self._clicks.append(fn)

    def plane_point(self, px: float, py: float) -> Tuple[float, float]:
        """Plane coordinates of a picture position (pixel ``i`` is ``linspace(x0, x1, size)[i]``)."""
        size = self.frame.shape[1] if self.frame is not None else 2
        x0, x1, y0, y1 = self.extent
        return (x0 + (px - 0.5) / (size - 1) * (x1 - x0), y0 + (py - 0.5) / (size - 1) * (y1 - y0))

    def _clicked(self, x: float, y: float, _event) -> None:
        for fn in list(self._clicks):
            fn(*self.plane_point(x, y))

    def close(self) -> None:
        self._clicks.clear()
        super().close()


def _header_html(layout: DiagramLayout, labels: Sequence[Tuple[str, str]]) -> str:
    """Column titles, each centred over its column (positions in % so they follow a narrowed canvas)."""
    spans = []
    for x, (top, bottom) in zip(layout.x, labels):
        centre = (x + layout.tile / 2) / layout.width * 100
        spans.append(f"<span style='position:absolute;left:{centre:.2f}%;transform:translateX(-50%);"
                     f"text-align:center;white-space:nowrap;line-height:1.25'>{html.escape(top)}"
                     f"<br>{html.escape(bottom)}</span>")
    return (f"<div class='nnl-diagram-head' style='position:relative;width:{layout.width}px;max-width:100%;"
            f"height:32px;color:{THEME['fg']};font-family:{THEME['font']};font-size:11px'>{''.join(spans)}</div>")


class DiagramView(PictureView):
    """The network diagram, its column titles and two colour bars; reports the neuron or weight pointed at."""

    def __init__(self):
        super().__init__("the network: neurons over the map, weights as lines",
                         display_px=600, css_class="nnl-playground-diagram", track_moves=True)
        self.head = W.HTML()
        self.diagram: Optional[DiagramLayout] = None
        self._hover: list = []
        self._pick: list = []
        self._legends: Tuple[Optional[Scale], Optional[Scale]] = (None, None)
        self.children = (self._title, self.head, self.canvas, self.legend, self.caption)
        self.canvas.on_move(self._moved)
        self.canvas.on_click(lambda x, y, _e: self._picked(x, y))

    def on_hover(self, fn: Callable[[Optional[Hit]], None]) -> None:
        self._hover.append(fn)

    def on_pick(self, fn: Callable[[Optional[Hit]], None]) -> None:
        self._pick.append(fn)

    def set_layout(self, layout: DiagramLayout, labels: Sequence[Tuple[str, str]]) -> None:
        self.diagram = layout
        self.layout.max_width = f"{max(layout.width, LEGENDS_PX) + 8}px"  # the caption wraps under the diagram
        self.head.value = _header_html(layout, labels)

    def set_legends(self, neurons: Scale, weights: Scale) -> None:
        """Both colour bars; HTML is sent only when a range or meaning changed."""
        if (neurons, weights) != self._legends:
            self._legends = (neurons, weights)
            self.legend.value = (f"<div style='display:flex;flex-wrap:wrap;gap:4px 24px'>"
                                 f"{legend_html(neurons)}{legend_html(weights)}</div>")

    def mark_all(self, marks: Sequence[Tuple[Hit, str]]) -> None:
        """Outline the neurons of each ``(hit, colour)`` (a weight outlines its two ends)."""
        boxes = []
        if self.diagram is not None:
            for hit, colour in marks:
                cells = [hit.index] if hit.kind == "neuron" else [(hit.index[0], hit.index[2]),
                                                                  (hit.index[0] + 1, hit.index[1])]
                for column, unit in cells:
                    x, y, w, h = self.diagram.rect(column, unit)
                    boxes.append(dict(x=x - 2, y=y - 2, w=w + 4, h=h + 4, color=colour, width=2))
        if boxes != self.canvas.marks:
            self.canvas.marks = boxes

    def _hit(self, x, y) -> Optional[Hit]:
        return None if x is None or self.diagram is None else self.diagram.hit(x, y)

    def _moved(self, x, y) -> None:
        hit = self._hit(x, y)
        for fn in list(self._hover):
            fn(hit)

    def _picked(self, x, y) -> None:
        hit = self._hit(x, y)
        for fn in list(self._pick):
            fn(hit)

    def close(self) -> None:
        self._hover.clear()
        self._pick.clear()
        self.head.close()
        super().close()


class LossView(HtmlView):
    """Train and test loss against steps, with labelled axes; drawn as a chart in static pictures too."""

    def __init__(self):
        super().__init__("loss", css_class="nnl-playground-loss")
        self._history: Optional[LossHistory] = None
        self.layout.max_width = f"{CHART_W + 20}px"

    def show_history(self, history: LossHistory, title: str) -> None:
        shown = history.thinned(CHART_POINTS)
        self._history = shown
        train, test = history.last
        series: List[Tuple[str, Sequence[float], Any, str]] = [
            (f"train: {fmt(train)}", shown.steps, shown.train, SERIES_COLORS[0])]
        if any(np.isfinite(shown.test)):
            series.append((f"test: {fmt(test)}", shown.steps, shown.test, SERIES_COLORS[1]))
        last = max(shown.steps[-1], 10) if shown.steps else 10
        per, unit = (1000, "thousands of steps") if last >= 1000 else (1, "steps")  # tick labels stay short
        series = [(name, [s / per for s in steps], values, colour) for name, steps, values, colour in series]
        finite = [v for s in series for v in s[2] if np.isfinite(v)]
        top = max(finite) if finite else 1.0
        self.show(line_chart_svg(series, x_label=f"{unit} (one mini-batch each)", y_label="loss (cross-entropy)",
                                 width=CHART_W, height=CHART_H, x_range=(0, last / per * 1.07),  # room for the last tick's label
                                 y_range=(0.0, max(top, 1e-3))), title=title)


def loss_title(history: LossHistory, steps: int) -> str:
    return f"loss after {steps:,} step{'' if steps == 1 else 's'}"

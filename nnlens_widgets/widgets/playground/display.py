"""How the playground shows a frame: its three pictures, the readout and the progress line.

``PlaygroundDisplay`` holds the views and draws ``Frame``s into them; it
keeps the last frame so that pointing at a neuron or a weight is answered
from it at once, without running the network. A picture whose pixels did
not change is not sent again.
"""
from __future__ import annotations

from typing import List, Optional

import ipywidgets as W
import numpy as np

from ...render.legend import THEME, fmt
from ...render.network_diagram import Hit
from ...render.playground_map import decision_key_html
from ..base import text
from .controls import progress_html
from .frames import MAP_SIZE, Frame, Scene, accuracy_text, frame_changed
from .readout import readout_html
from .views import DecisionView, DiagramView, LossView, loss_title

__all__ = ["PlaygroundDisplay"]

PIN_COLOUR, HOVER_COLOUR = "#ff3b30", "#f0a000"


class PlaygroundDisplay:
    """The decision map, the diagram, the loss chart, the readout and the warnings."""

    def __init__(self):
        self.map = DecisionView()
        self.diagram = DiagramView()
        self.loss = LossView()
        self.readout = W.HTML(readout_html(None, None, (), (), False))
        self.warning = W.HTML()
        self.progress = W.HTML()
        self.progress.add_class("nnl-playground-progress")
        self.last: Optional[Frame] = None
        self._scene: Optional[Scene] = None
        self.hovered: Optional[Hit] = None
        self.pinned: Optional[Hit] = None

    # -- frames -------------------------------------------------------------------------------
    def draw(self, frame: Frame) -> None:
        """Show ``frame`` (under the widget's lock): its map, and the rest when it has it."""
        if frame.scene is not self._scene:
            self._show_scene(frame.scene)
        if frame_changed(self.map.frame, frame.decision):
            self.map.show(frame.decision, scale=2)
        more = frame.detail
        if more is None:
            return
        self.last = frame
        if frame_changed(self.diagram.frame, more.diagram):
            self.diagram.show(more.diagram, scale=1)
        self.diagram.set_legends(more.neuron_scale, more.weight_scale)
        self.loss.show_history(more.history, loss_title(more.history, frame.steps))
        train, test = more.history.last
        losses = f"loss {fmt(train)}" + ("" if not np.isfinite(test) else f" / {fmt(test)}")
        self.progress.value = progress_html(frame.steps, losses + " (train / test)", accuracy_text(more.accuracy))
        self.show_readout()

    def _show_scene(self, scene: Scene) -> None:
        self._scene = scene
        data = scene.data
        self.map.extent, self.map.class_names = scene.extent, data.names
        counts = np.bincount(data.labels, minlength=data.classes).tolist()
        self.map.legend.value = decision_key_html(data.names, counts)
        x0, x1, y0, y1 = scene.extent
        self.map.set_caption(text(f"x {fmt(x0)}..{fmt(x1)} left to right, y {fmt(y0)}..{fmt(y1)} top to bottom; "
                                  f"{int((~data.test).sum())} training and {int(data.test.sum())} test points "
                                  f"({MAP_SIZE}x{MAP_SIZE} grid)."))
        self.diagram.set_layout(scene.layout, scene.column_titles())
        self.diagram.set_caption(text("Each square: a neuron's output over the plane of the decision map "
                                      "(same axes). Each line: a weight, from left to right."))
        self.hovered = self.pinned = None

    # -- pointing -----------------------------------------------------------------------------
    def hover(self, hit: Optional[Hit]) -> None:
        if hit != self.hovered:
            self.hovered = hit
            self.show_readout()

    def pick(self, hit: Optional[Hit]) -> None:
        self.pinned = None if hit is None or hit == self.pinned else hit
        self.show_readout()

    def show_readout(self) -> None:
        frame = self.last
        shown = self.hovered or self.pinned
        if frame is None or frame.detail is None:
            return
        self.readout.value = readout_html(shown, frame.detail.pictures, frame.scene.activations, frame.scene.data.names,
                                          frame.scene.scaled, pinned=shown is not None and shown == self.pinned)
        marks = [(self.pinned, PIN_COLOUR)] if self.pinned else []
        if self.hovered and self.hovered != self.pinned:
            marks.append((self.hovered, HOVER_COLOUR))
        self.diagram.mark_all(marks)

    def show_warnings(self, warnings: List[str]) -> None:
        self.warning.value = "".join(
            f"<div role='status' style='color:{THEME['fg']};border-left:4px solid #f0a000;padding-left:6px;"
            f"font-family:{THEME['font']};font-size:12px'>{text(w)}</div>" for w in warnings)

    def close(self) -> None:
        self.last = None
        for w in (self.readout, self.warning, self.progress):
            w.close()

"""The playground's controls, grouped as a teacher reads them: run, training, data, network, clicks.

``PlaygroundControls`` makes the controls and the rows that hold them; the
widget binds each to its trait (``controls_by_trait``). The network's
per-layer controls (neurons and activation of each hidden layer) are
remade when the number of layers changes; a change in one of them calls
``on_layers(hidden, activations)``.
"""
from __future__ import annotations

from typing import Callable, Dict, List, Optional, Sequence, Tuple

import ipywidgets as W

from ...core.playground import ACTIVATIONS, MAX_CLASSES, MAX_LAYERS, MAX_NEURONS, MIN_CLASSES
from ..base import text
from ..views import row

__all__ = ["ACTIVATION_TIP", "PlaygroundControls"]

ACTIVATION_TIP = "\n".join(spec.help for spec in ACTIVATIONS.values())
REMOVE = -1  # the click choice that removes points


def _auto(**kwargs) -> W.Layout:
    return W.Layout(width="auto", **kwargs)


def _slider(width: int = 270) -> W.Layout:
    return W.Layout(width=f"{width}px", max_width="100%")


class PlaygroundControls:
    """Every control of the playground, and the rows they sit in."""

    def __init__(self, datasets: Sequence[str], on_layers: Callable[[Tuple[int, ...], Tuple[str, ...]], None]):
        self._on_layers = on_layers
        self.filling = False  # True while the layer controls are refilled from the traits
        self.play = W.ToggleButton(description="play", icon="play", tooltip="train continuously (press again to pause)",
                                   layout=_auto())
        self.play.add_class("nnl-playground-play")
        self.step = W.Button(description="one step", icon="step-forward", tooltip="one SGD step on one mini-batch",
                             layout=_auto())
        self.rewind = W.Button(description="rewind", icon="undo",
                               tooltip="back to the first weights: the same run again gives the same losses",
                               layout=_auto())
        self.learning_rate = W.FloatLogSlider(base=10, min=-5, max=1, step=0.1, description="learning rate",
                                              readout_format=".2g", continuous_update=False, layout=_slider())
        self.batch_size = W.IntSlider(min=1, max=256, description="batch size", continuous_update=False,
                                      layout=_slider())
        self.regularization = W.Dropdown(options=[("none", "none"), ("L1: |w|", "L1"), ("L2: w\u00b2/2", "L2")],
                                         description="regularisation", layout=_auto())
        self.reg_rate = W.BoundedFloatText(min=0.0, max=10.0, step=0.001, description="rate",
                                           tooltip="the penalty's weight in the loss", layout=W.Layout(width="140px"))
        self.dataset = W.Dropdown(options=list(datasets), description="data", layout=_auto())
        self.noise = W.FloatSlider(min=0.0, max=0.5, step=0.05, description="noise", readout_format=".2f",
                                   continuous_update=False, layout=_slider(220))
        self.test_fraction = W.FloatSlider(min=0.0, max=0.9, step=0.05, description="test share",
                                           readout_format=".0%", continuous_update=False, layout=_slider(240))
        self.classes = W.IntSlider(min=MIN_CLASSES, max=MAX_CLASSES, description="classes", continuous_update=False,
                                   layout=_slider(200))
        self.seed = W.BoundedIntText(min=0, max=2**32 - 1, description="seed", tooltip="new points and first weights",
                                     layout=W.Layout(width="170px"))
        self.layers = W.IntSlider(min=0, max=MAX_LAYERS, description="hidden layers", continuous_update=False,
                                  layout=_slider(240))
        self.click = W.Dropdown(description="a click on the map", layout=_auto())
        self.click.add_class("nnl-playground-click")
        self.layer_box = W.Box(layout=W.Layout(display="flex", flex_flow="row wrap", max_width="100%"))
        self._layer_controls: List[Tuple[W.BoundedIntText, W.Dropdown]] = []

    def controls_by_trait(self) -> Dict[str, W.Widget]:
        """The controls that mirror one trait each (bound two ways by the widget)."""
        return {"learning_rate": self.learning_rate, "batch_size": self.batch_size, "reg_rate": self.reg_rate,
                "dataset": self.dataset, "noise": self.noise, "test_fraction": self.test_fraction,
                "classes": self.classes, "seed": self.seed, "playing": self.play}

    def rows(self, progress: W.Widget) -> List[W.Widget]:
        penalty = W.HBox([self.regularization, self.reg_rate])  # the rate belongs to the penalty: they wrap together
        return [row(self.play, self.step, self.rewind, progress, align="center"),
                row(self.learning_rate, self.batch_size, penalty, align="center"),
                row(self.dataset, self.noise, self.test_fraction, self.classes, self.seed, align="center"),
                row(self.layers, self.layer_box, align="center"),
                row(self.click, align="center")]

    # -- the network's layers ------------------------------------------------------------
    def show_layers(self, hidden: Sequence[int], activations: Sequence[str]) -> None:
        """Controls for these layers (remade only when their number changes)."""
        self.filling = True
        try:
            self.layers.value = len(hidden)
            if len(self._layer_controls) != len(hidden):
                self._remake(len(hidden))
            for (neurons, act), n, a in zip(self._layer_controls, hidden, activations):
                neurons.value, act.value = int(n), a
        finally:
            self.filling = False

    def _remake(self, count: int) -> None:
        old = [w for pair in self._layer_controls for w in pair]
        self._layer_controls = []
        boxes = []
        for i in range(1, count + 1):
            neurons = W.BoundedIntText(min=1, max=MAX_NEURONS, description=f"layer {i}: neurons",
                                       tooltip=f"neurons in hidden layer {i} (1 to {MAX_NEURONS})",
                                       layout=W.Layout(width="150px"))
            neurons.style.description_width = "initial"
            act = W.Dropdown(options=list(ACTIVATIONS), tooltip=ACTIVATION_TIP, layout=W.Layout(width="90px"))
            act.add_class("nnl-playground-activation")
            for control in (neurons, act):
                control.observe(self._layer_changed, "value")
            self._layer_controls.append((neurons, act))
            boxes.append(W.HBox([neurons, act], layout=W.Layout(margin="0 12px 4px 0")))
        self.layer_box.children = boxes
        for w in old:
            w.close()

    def _layer_changed(self, _change) -> None:
        if not self.filling:
            self._on_layers(tuple(n.value for n, _ in self._layer_controls),
                            tuple(a.value for _, a in self._layer_controls))

    def layer_count_changed(self, count: int, hidden: Sequence[int], activations: Sequence[str]) -> None:
        """The slider asked for ``count`` layers: drop the last ones or repeat the last (4 tanh without one)."""
        hidden, activations = list(hidden), list(activations)
        while len(hidden) < count:
            hidden.append(hidden[-1] if hidden else 4)
            activations.append(activations[-1] if activations else "tanh")
        self._on_layers(tuple(hidden[:count]), tuple(activations[:count]))

    def own_points(self, own: bool) -> None:
        """Your own points have no noise and a fixed number of classes: those controls are off."""
        self.noise.disabled = self.classes.disabled = own

    # -- clicks on the map ----------------------------------------------------------------
    def show_classes(self, names: Sequence[str], chosen: Optional[int]) -> None:
        options = [(f"adds a point of class {name}", i) for i, name in enumerate(names)]
        self.filling = True
        try:
            self.click.options = options + [("removes the point under it", REMOVE)]
            self.click.value = REMOVE if chosen is None else chosen
        finally:
            self.filling = False

    def close(self) -> None:
        for w in [w for pair in self._layer_controls for w in pair]:
            w.close()
        self._layer_controls = []
        self._on_layers = None  # type: ignore[assignment]


def progress_html(steps: int, losses: str, accuracy: str) -> str:
    return f"<span>step {steps:,} \u00b7 {text(losses)} \u00b7 accuracy: {text(accuracy)}</span>"

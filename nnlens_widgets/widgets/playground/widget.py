"""``nl.Playground``: train a small network on points of the plane and watch every neuron learn."""
from __future__ import annotations

import time
from typing import Any, Dict, List, Optional, Sequence

import numpy as np
import traitlets

from ...core.playground import (
    OWN, DataSource, LossHistory, PointSet, Trainer, check_activations, check_classes, check_hidden, nearest_point,
)
from ..base import LensWidget
from ..examples import Example
from ..views import column, row
from .controls import REMOVE, PlaygroundControls
from .display import PlaygroundDisplay
from .frames import MAP_SIZE, Scene, make_frame, make_scene
from .loop import TrainingLoop, Turns, train_in_stretches
from .session import playground_state, restore_session
from .settings import CHECKED, check_trait

__all__ = ["Playground"]

CLICK_REACH_PX = 4  # a click removes a point at most this many map pixels away
DETAIL_S = 0.2  # while playing, the diagram, loss chart and readout are redrawn at most 5 times a second


class Playground(LensWidget):
    """TensorFlow Playground in a notebook, on real torch.

    - **data**: ``dataset`` is one of the Playground's shapes (``"circle"``,
      ``"xor"``, ``"gauss"``, ``"spiral"``; ``noise`` 0..0.5; ``classes``
      2..6) or ``"own"``: your ``points`` (an (N, 2) array or tensor with
      ``labels``, an (N, 3) one, a DataFrame or a CSV file with columns x, y,
      label). A ``test_fraction`` of the points are test points. Click the
      map to add a point of ``point_class`` (or, with ``click_removes``,
      to remove one), or call ``add_point`` / ``remove_point``.
    - **network**: ``hidden`` (up to 8 layers of up to 16 neurons) with an
      ``activation`` per layer (``"tanh"``, ``"relu"``, ``"sigmoid"``,
      ``"linear"``, ``"step"``; step learns with a straight-through
      gradient); two classes use one output (sigmoid), more a softmax.
    - **training**: mini-batch SGD, ``learning_rate``, ``batch_size``,
      ``regularization`` (None, ``"L1"``, ``"L2"``) at ``reg_rate``, all
      changeable while it trains. ``play()`` / ``pause()`` (or ``playing``),
      ``step()``, ``train(steps)`` (returns the ``LossHistory`` it added),
      ``rewind()`` (the first weights and batch order again, bit for bit).
    - **pictures**: the decision map with the points (``frame``), the
      network with each neuron's output over the map and its weights as
      lines (point at one for its value and formula), the loss curves.
    - ``model`` is a copy of the network as it is now, a plain
      ``nn.Sequential`` for any other widget; ``state()`` and
      ``Playground.from_state(state)`` keep and restore a session.

    Random numbers come from the playground's own generators, from ``seed``.
    """

    _frame_view = "_map"

    dataset = traitlets.Unicode("circle")
    hidden = traitlets.Any((4, 4))
    activation = traitlets.Any("tanh")
    learning_rate = traitlets.Float(0.03)
    batch_size = traitlets.Int(10)
    regularization = traitlets.Any(None)
    reg_rate = traitlets.Float(0.0)
    noise = traitlets.Float(0.0)
    test_fraction = traitlets.Float(0.5)
    seed = traitlets.Int(0)
    classes = traitlets.Int(2)
    playing = traitlets.Bool(False)
    point_class = traitlets.Int(0)
    click_removes = traitlets.Bool(False)

    @classmethod
    def small_example(cls) -> Example:
        """A small untrained model (and input) to try the widget on."""
        return Example(None, None, {"dataset": "xor", "hidden": (3,)})

    def __init__(self, points=None, labels=None, dataset: str = "circle", hidden: Sequence[int] = (4, 4),
                 activation: Any = "tanh", classes: Any = None, learning_rate: float = 0.03, batch_size: int = 10,
                 regularization: Optional[str] = None, reg_rate: float = 0.0, noise: float = 0.0,
                 test_fraction: float = 0.5, seed: int = 0, *, fps: float = 25.0, **kwargs):
        super().__init__(None, **kwargs)
        self._source = DataSource(points, labels, classes if points is not None else None)
        if points is not None and dataset == "circle":
            dataset = OWN
        builtin_names = None if points is not None else check_classes(classes if classes is not None else 2)
        self._builtin_names = builtin_names
        self.warnings: List[str] = []
        self._turns = Turns()
        self._detail_at = 0.0
        hidden = check_hidden(hidden)
        values = dict(dataset=self._source.check(dataset), hidden=hidden, activation=activation,
                      classes=len(builtin_names) if builtin_names else len(self._source.own[2]),  # type: ignore[index]
                      seed=seed, noise=noise, test_fraction=test_fraction, learning_rate=learning_rate,
                      batch_size=batch_size, regularization=regularization, reg_rate=reg_rate)
        for name, value in values.items():  # validated, no observer yet
            setattr(self, name, value)
        self._trainer = self._new_trainer()
        self._scene = self._new_scene()
        self.add_class("nnl-playground")
        self._display = shown = PlaygroundDisplay()
        self._map = self._view("map", shown.map)
        self._view("network", shown.diagram)
        self._view("loss", shown.loss)
        self._ui = PlaygroundControls(self._source.datasets(), self._guarded(self._layers_from_controls))
        self._loop = TrainingLoop(self._train_until, self._make_frame, self._display.draw, self._loop_failed,
                                  self._lock, fps)
        self._wire()
        self._display.draw(self._make_frame())  # the first pictures now: frame and views are there on return
        self._finish([*self._ui.rows(shown.progress), shown.warning,
                      row(column(shown.diagram, shown.readout), column(shown.map, shown.loss))])

    # -- wiring ------------------------------------------------------------------------------
    def _wire(self) -> None:
        ui = self._ui
        self._bind(**ui.controls_by_trait())
        self._control("regularization", ui.regularization)
        self._control("click", ui.click)
        self._control("layers", ui.layers)
        for name, button in (("step", ui.step), ("rewind", ui.rewind)):
            self._control(name, button)
        traitlets.link((self, "regularization"), (ui.regularization, "value"),
                       transform=(lambda v: v or "none", lambda v: None if v == "none" else v))
        ui.step.on_click(self._guarded(lambda _b: self.step()))
        ui.rewind.on_click(self._guarded(lambda _b: self.rewind()))
        ui.layers.observe(self._guarded(lambda c: None if ui.filling else ui.layer_count_changed(
            c["new"], self.hidden, self._activations())), "value")
        ui.click.observe(self._guarded(self._click_choice), "value")
        ui.show_layers(self.hidden, self._activations())
        ui.show_classes(self._trainer.data.names, self.point_class)
        self._display.map.on_click(self._guarded(self._clicked))
        self._display.diagram.on_hover(self._guarded(self._display.hover))
        self._display.diagram.on_pick(self._guarded(self._display.pick))
        self._on(self._settings_changed, "learning_rate", "batch_size", "regularization", "reg_rate")
        self._on(self._network_changed, "hidden", "activation")
        self._on(self._data_changed, "dataset", "noise", "classes", "test_fraction", "seed")
        self._on(self._on_playing, "playing")
        self._on(lambda _c: ui.show_classes(self._trainer.data.names, None if self.click_removes else self.point_class),
                 "point_class", "click_removes")
        ui.own_points(self.dataset == OWN)

    @traitlets.validate(*CHECKED)
    def _valid(self, proposal):
        return check_trait(self, proposal["trait"].name, proposal["value"])

    # -- building ------------------------------------------------------------------------------
    def _activations(self) -> tuple:
        return check_activations(self.activation, len(self.hidden))

    def _new_points(self) -> PointSet:
        data = self._source.make(self.dataset, self.noise, self.classes, self.test_fraction, self.seed)
        if self.dataset != OWN and self._builtin_names and len(self._builtin_names) == self.classes:
            data = PointSet(data.points, data.labels, data.test, tuple(self._builtin_names))
        return data

    def _new_trainer(self) -> Trainer:
        return Trainer(self._new_points(), self.hidden, self._activations(), learning_rate=self.learning_rate,
                       batch_size=self.batch_size, regularization=self.regularization, reg_rate=self.reg_rate,
                       seed=self.seed, scale=self._source.scale(self.dataset), lock=self._turns)

    def _new_scene(self) -> Scene:
        return make_scene(self._trainer.data, self._source.extent(self.dataset), self.dataset == OWN,
                          self._trainer.hidden, self._trainer.activations)

    # -- changes ------------------------------------------------------------------------------
    def _settings_changed(self, change) -> None:
        self._trainer.set(**{change["name"]: change["new"]})

    def _layers_from_controls(self, hidden, activations) -> None:
        with self.hold_trait_notifications():
            self.hidden = hidden
            self.activation = activations[0] if len(set(activations)) == 1 else activations

    def _network_changed(self, _change) -> None:
        count = len(self.hidden)
        if not isinstance(self.activation, str) and len(self.activation) != count:
            names = list(self.activation)[:count] + [self.activation[-1]] * (count - len(self.activation))
            self.activation = tuple(names)  # one per layer again; this observer runs once more
            return
        with self._turns:
            wanted = self._activations()
            if tuple(self.hidden) != self._trainer.hidden:
                self._trainer.rebuild(self.hidden, wanted)
            else:
                for layer, (now, new) in enumerate(zip(self._trainer.activations, wanted), start=1):
                    if now != new:
                        self._trainer.set_activation(layer, new)
            self._scene = self._new_scene()
        self._ui.show_layers(self.hidden, wanted)
        self._loop.request_frame()

    def _data_changed(self, _change) -> None:
        if self.dataset == OWN and self.classes != len(self._source.own[2]):  # type: ignore[index]
            self.classes = len(self._source.own[2])  # type: ignore[index]  # this observer runs once more
            return
        with self._turns:
            self._trainer = self._new_trainer()
            self._scene = self._new_scene()
        if self.point_class >= self.classes:
            self.point_class = self.classes - 1
        self._ui.show_classes(self._trainer.data.names, None if self.click_removes else self.point_class)
        self._ui.own_points(self.dataset == OWN)
        self._loop.request_frame()

    def _on_playing(self, change) -> None:
        if change["new"]:
            self._loop.play()
        else:
            self._loop.pause()
            self._loop.request_frame()  # everything as it stopped (while playing, the diagram lags the map)
        self._ui.play.description, self._ui.play.icon = ("pause", "pause") if change["new"] else ("play", "play")

    def _click_choice(self, change) -> None:
        if self._ui.filling:
            return
        if change["new"] == REMOVE:
            self.click_removes = True
        else:
            with self.hold_trait_notifications():
                self.click_removes = False
                self.point_class = change["new"]

    # -- points ---------------------------------------------------------------------------------
    @property
    def points(self) -> np.ndarray:
        """The points now, (N, 2) float32 plane coordinates (a copy)."""
        return self._trainer.data.points.copy()

    @property
    def labels(self) -> np.ndarray:
        """Each point's class index, (N,) int64 (a copy); names in ``class_names``."""
        return self._trainer.data.labels.copy()

    @property
    def test_points(self) -> np.ndarray:
        """(N,) bool: True for a test point."""
        return self._trainer.data.test.copy()

    @property
    def class_names(self) -> tuple:
        return self._trainer.data.names

    @property
    def extent(self) -> tuple:
        """The map's box of the plane, ``(x0, x1, y0, y1)`` (give it to ``PlaneView(pg.model, extent=...)``)."""
        return self._scene.extent

    def add_point(self, x: float, y: float, label: int, test: bool = False) -> None:
        """Add a point of class ``label`` at (x, y): a training point unless ``test``."""
        self._set_points(self._trainer.data.with_point((x, y), label, test))

    def remove_point(self, index: int) -> None:
        """Remove point ``index`` (points of at least 2 classes, and a training point, must stay)."""
        self._set_points(self._trainer.data.without(index))

    def _set_points(self, data: PointSet) -> None:
        with self._turns:
            self._trainer.set_data(data)
            self._scene = self._new_scene()
        if self.dataset == OWN:
            self._source.remember(data)
        self._loop.request_frame()

    def _clicked(self, x: float, y: float) -> None:
        if not self.click_removes:
            self.add_point(x, y, self.point_class)
            return
        x0, x1, _, _ = self._scene.extent
        index = nearest_point(self._trainer.data.points, (x, y), CLICK_REACH_PX * (x1 - x0) / (MAP_SIZE - 1))
        if index is not None:
            self.remove_point(index)

    # -- training -------------------------------------------------------------------------------
    def play(self) -> None:
        """Train continuously, drawing as it goes (the play button)."""
        self.playing = True

    def pause(self) -> None:
        self.playing = False

    def step(self) -> None:
        """One SGD step on the next mini-batch, then draw."""
        self.train(1)

    def train(self, steps: int) -> LossHistory:
        """``steps`` SGD steps now, in this thread; the loss records they added (train and test, every 10 steps)."""
        with self._turns:
            history = self._trainer.train(steps)
        self._after_training()
        return history

    def rewind(self) -> None:
        """Back to the first weights and batch order: the same run again gives the same losses, bit for bit."""
        with self._turns:
            self._trainer.rewind()
        self._set_warnings([])
        self._loop.request_frame()

    @property
    def steps(self) -> int:
        """SGD steps since the start (or the last rewind)."""
        return self._trainer.steps

    @property
    def history(self) -> LossHistory:
        """Every loss record since the start (or the last rewind), a copy."""
        with self._turns:
            return self._trainer.history.copy()

    def _train_until(self, deadline: float) -> None:
        """On the loop's thread: train until ``deadline`` (see ``loop.train_in_stretches``)."""
        if not train_in_stretches(self._turns, lambda: self._trainer, lambda: self._loop.playing, deadline):
            self._diverged()

    def _after_training(self) -> None:
        if not np.isfinite(self._trainer.history.last[0]):
            self._diverged()
        self._loop.request_frame()

    def _diverged(self) -> None:
        self.set_trait("playing", False) if self.playing else None
        self._loop.pause()
        self._set_warnings([f"The training loss is no longer a number (learning rate {self.learning_rate:g} is too "
                            "large for this network): lower it and press rewind."])

    def _set_warnings(self, warnings: List[str]) -> None:
        self.warnings = list(warnings)
        self._display.show_warnings(self.warnings)

    def _make_frame(self):
        with self._turns:
            trainer, scene = self._trainer, self._scene
        now = time.perf_counter()
        detail = not self._loop.playing or now - self._detail_at >= DETAIL_S
        self._detail_at = now if detail else self._detail_at
        return make_frame(trainer, scene, self._turns, detail)

    def _loop_failed(self, exc: BaseException) -> None:
        self._show_error(exc)
        if self.playing:
            self.set_trait("playing", False)

    # -- verbs and contract -------------------------------------------------------------------------
    def refresh(self) -> None:
        """Draw the network as it is now."""
        self._loop.request_frame()

    def stop(self) -> None:
        """Pause training (the contract's stop)."""
        self.playing = False

    def wait(self, timeout: Optional[float] = 60.0) -> bool:
        """Until the last change is drawn (playing: until one more frame is); False on timeout."""
        return self._loop.wait(timeout)

    @property
    def model(self):
        """A copy of the network as it is now: a plain ``nn.Sequential`` (None once closed)."""
        if self._closed or not hasattr(self, "_trainer"):
            return None
        return self._trainer.export()

    @property
    def frames_drawn(self) -> int:
        """Frames drawn so far (each a new decision map, diagram and loss chart)."""
        return self._loop.frames + 1

    def state(self) -> Dict[str, Any]:
        """Everything needed to go on exactly from here, as a JSON-ready dict."""
        with self._turns:
            return playground_state(self, self._trainer, self._source)

    @classmethod
    def from_state(cls, state: Dict[str, Any], **kwargs) -> "Playground":
        """A playground that goes on exactly where ``state`` (from ``state()``) left off."""
        return restore_session(cls, state, **kwargs)

    def _release(self) -> None:
        if hasattr(self, "_loop"):
            self._loop.close()
        if hasattr(self, "_ui"):
            self._ui.close()
        if hasattr(self, "_display"):
            self._display.close()

    def _state_caption(self) -> str:
        data = self._trainer.data
        return " ".join([f"Playground: {self.dataset} data ({len(data)} points, {data.classes} classes), network "
                         f"2-{'-'.join(map(str, self._trainer.hidden))}-{self._trainer.outputs}, "
                         f"{self._trainer.steps} steps", *self.warnings])

    def _export_extra_html(self) -> str:
        return self._display.warning.value  # save_html shows the warnings too

"""One frame of the playground: the numbers of one training moment, and the pictures made from them.

A ``Scene`` holds what stays put between frames (the points as marks, the
diagram's layout, class names); it is rebuilt when the data or the shape of
the network changes. ``make_frame`` takes the numbers while the network is
held still, then draws without holding it, so training goes on meanwhile.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import List, Optional, Sequence, Tuple

import numpy as np

from ...core.playground import (
    ACTIVATIONS, EXTENT, LossHistory, NetPictures, PointSet, Trainer, decision_probabilities, net_pictures,
)
from ...render.legend import Scale
from ...render.network_diagram import DiagramLayout, draw_diagram
from ...render.plane import DIVERGING, signed_rgba
from ...render.playground_map import PointMarks, decision_rgba, probability_rgba
from .views import CHART_POINTS

__all__ = ["MAP_SIZE", "Frame", "Scene", "make_frame", "make_scene"]

MAP_SIZE = 150  # points per side of the decision map's grid (shown enlarged twice)
NEURON_RANGE = 1.0  # every neuron's square spans -1..1, as in the Playground
INPUT_RANGE = EXTENT[1]  # what the first layer sees: the built-in plane, or your points scaled onto it


@dataclass(frozen=True)
class Scene:
    """What the frames of one data set and one network shape share."""

    data: PointSet
    extent: Tuple[float, float, float, float]
    scaled: bool
    marks: PointMarks
    layout: DiagramLayout
    activations: Tuple[str, ...]

    @property
    def outputs(self) -> int:
        return self.layout.sizes[-1] if self.data.classes > 2 else 1

    def column_titles(self) -> List[Tuple[str, str]]:
        hidden = [(f"layer {i}", act) for i, act in enumerate(self.activations, start=1)]
        return [("input", "x, y")] + hidden + [("output", "P(class)")]


def make_scene(data: PointSet, extent, scaled: bool, hidden: Sequence[int], activations: Sequence[str]) -> Scene:
    outputs_shown = 1 if data.classes == 2 else data.classes  # two classes: one tile, the small decision map
    layout = DiagramLayout([2, *hidden, outputs_shown])
    marks = PointMarks(data.points, data.labels, data.test, extent, MAP_SIZE, data.classes)
    return Scene(data, tuple(extent), scaled, marks, layout, tuple(activations))  # type: ignore[arg-type]


@dataclass(frozen=True)
class Detail:
    """What a frame shows beside the map: the diagram and its numbers, the losses, the accuracy."""

    pictures: NetPictures
    history: LossHistory
    accuracy: Tuple[float, float]
    diagram: np.ndarray
    neuron_scale: Scale
    weight_scale: Scale


@dataclass(frozen=True)
class Frame:
    """The decision map after ``steps`` steps, and (not in every frame while playing) the rest."""

    scene: Scene
    steps: int
    decision: np.ndarray
    detail: Optional[Detail]


def nice_ceiling(value: float) -> float:
    """The smallest of 1, 1.5, 2, 3, 5, 7.5 times a power of ten that is >= ``value`` (steady colour bars)."""
    if not math.isfinite(value) or value <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    return next(m * power for m in (1, 1.5, 2, 3, 5, 7.5, 10) if m * power >= value * (1 - 1e-9))


def _neuron_scale(activations: Sequence[str]) -> Scale:
    """-1..1 for every neuron, as in the Playground: the range of tanh; relu and linear outputs beyond it
    take the end colour (one range for all, so squares compare; a range from the largest output would
    wash every other square out)."""
    bounded = all(ACTIVATIONS[a].low is not None and ACTIVATIONS[a].high is not None for a in activations)
    beyond = "" if bounded else "; beyond: the end colour"
    return Scale(DIVERGING, -NEURON_RANGE, NEURON_RANGE,
                 f"neuron output over the map{beyond} (inputs x, y: \u22126..6)", middle="0")


def _weight_scale(pictures: NetPictures) -> Scale:
    m = nice_ceiling(max(float(np.abs(w).max()) for w in pictures.weights))
    return Scale(DIVERGING, -m, m, "weight: line colour; thicker and more opaque with larger |weight|",
                 middle="0")


def _tiles(scene: Scene, pictures: NetPictures, neuron_max: float) -> List[np.ndarray]:
    k = scene.data.classes
    tiles = [signed_rgba(pictures.inputs, vmax=INPUT_RANGE)]
    tiles += [signed_rgba(layer, vmax=neuron_max) for layer in pictures.neurons]
    if k == 2:
        tiles.append(decision_rgba(np.moveaxis(pictures.outputs, 0, -1))[None])
    else:
        tiles.append(np.stack([probability_rgba(pictures.outputs[c], c, k) for c in range(k)]))
    return tiles


def make_frame(trainer: Trainer, scene: Scene, lock, detail: bool = True) -> Frame:
    """The frame of the network as it is now; ``lock`` holds training still while the numbers are taken.

    Without ``detail`` only the decision map is made: while playing, the map
    is drawn in every frame, the diagram and the charts less often (they
    cost more to make and to show, and change less from frame to frame).
    """
    with lock:
        net = trainer.snapshot()
        history = trainer.history.thinned(CHART_POINTS) if detail else None
        steps = trainer.steps
    if not detail:
        decision = scene.marks.stamp(decision_rgba(decision_probabilities(net, scene.extent, MAP_SIZE)))
        return Frame(scene, steps, decision, None)
    pictures = net_pictures(net, scene.extent, MAP_SIZE, scene.layout.tile)
    neuron_scale = _neuron_scale(scene.activations)
    weight_scale = _weight_scale(pictures)
    diagram = draw_diagram(scene.layout, _tiles(scene, pictures, neuron_scale.high), pictures.weights,
                           weight_scale.high, DIVERGING)
    more = Detail(pictures, history, trainer.accuracy(net), diagram, neuron_scale, weight_scale)  # type: ignore[arg-type]
    return Frame(scene, steps, scene.marks.stamp(decision_rgba(pictures.probabilities)), more)


def accuracy_text(accuracy: Tuple[float, float]) -> str:
    train, test = accuracy
    out = f"train {train:.0%}"
    return out + ("" if not np.isfinite(test) else f", test {test:.0%}")


def frame_changed(old: Optional[np.ndarray], new: np.ndarray) -> bool:
    return old is None or old.shape != new.shape or not np.array_equal(old, new)

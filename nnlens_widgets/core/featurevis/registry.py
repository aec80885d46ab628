"""Every feature-visualisation objective described once, so widgets and users pick them by name.

An objective kind registers itself where it is defined
(``@register_objective(...)`` in ``objectives.py``): its name, title, what
its arguments pick (``reads``), its tunable parameters (``core.registry.Param``,
from which a widget builds its controls) and whether it is a penalty (a
positive amount to subtract). This module imports no objective, so nothing
here can form an import cycle.

``reads`` says how the objective is made:

- ``"channel"``: ``make(layer, channel, **params)``, one channel of a layer;
- ``"direction"``: ``make(layer, vector, **params)``, a direction in a layer's channel space;
- ``"class"``: ``make(index, **params)``, one output of the model;
- ``"layer"``: ``make(layer, **params)``, a whole layer (e.g. the diversity of a batch);
- ``"image"``: ``make(**params)``, the image itself (e.g. total variation).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Tuple, TypeVar

from ..registry import Param, Registry

__all__ = ["OBJECTIVES", "ObjectiveSpec", "READS", "register_objective", "objective_spec", "make_objective"]

READS = ("channel", "direction", "class", "layer", "image")

MakeObjective = TypeVar("MakeObjective", bound=Callable[..., Any])


@dataclass(frozen=True)
class ObjectiveSpec:
    """An objective kind: ``function(*picks, **params) -> Objective``."""

    name: str
    title: str
    function: Callable
    reads: str
    params: Tuple[Param, ...] = ()
    penalty: bool = False  # a positive amount to subtract from the score
    description: str = ""

    def defaults(self) -> dict:
        return {p.name: p.default for p in self.params}

    def make(self, *picks, **params):
        """The objective for ``picks`` (see ``reads``) with ``params`` checked against their ranges."""
        known = {p.name: p for p in self.params}
        unknown = sorted(set(params) - set(known))
        if unknown:
            raise ValueError(f"objective {self.name!r} has no parameter(s) {unknown}; "
                             f"its parameters: {sorted(known) or 'none'}")
        values = self.defaults()
        values.update({name: known[name].check(value) for name, value in params.items()})
        return self.function(*picks, **values)


OBJECTIVES: Registry[ObjectiveSpec] = Registry("objective")


def register_objective(name: str, title: str, *, reads: str, params: Tuple[Param, ...] = (),
                       penalty: bool = False, description: str = "") -> Callable[[MakeObjective], MakeObjective]:
    """Decorator registering ``function`` under ``name`` in ``OBJECTIVES``; returns it unchanged."""
    if reads not in READS:
        raise ValueError(f"expected reads in {READS}, got {reads!r}")

    def add(function: MakeObjective) -> MakeObjective:
        OBJECTIVES.add(name, ObjectiveSpec(name, title, function, reads, tuple(params), bool(penalty),
                                           description or (function.__doc__ or "").strip().split("\n")[0]))
        return function

    return add


def objective_spec(name: str) -> ObjectiveSpec:
    """The spec of an objective kind; a ValueError naming the known kinds otherwise."""
    return OBJECTIVES[name]


def make_objective(name: str, *picks, **params):
    """``objective_spec(name).make(*picks, **params)``: e.g. ``make_objective("channel", "conv3", 5)``."""
    return OBJECTIVES[name].make(*picks, **params)

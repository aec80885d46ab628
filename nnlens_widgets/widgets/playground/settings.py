"""The playground's traits, checked in one place: a bad value raises a ValueError naming what is allowed.

``check_trait(widget, name, value)`` is the widget's one validator; it
returns the value to keep (normalised: a tuple of layer sizes, one
activation name or a tuple of them, floats).
"""
from __future__ import annotations

from typing import Any

from ...core.playground import (
    MAX_CLASSES, MIN_CLASSES, OWN, check_activations, check_hidden, check_settings, derived_seeds,
)
from ..base import check_number

__all__ = ["CHECKED", "check_trait"]


def _activation(widget, value):
    names = check_activations(value, len(widget.hidden))
    return value if isinstance(value, str) else names


def _classes(widget, value):
    own = widget._source.own
    if widget.dataset == OWN and own is not None and value != len(own[2]):
        raise ValueError(f"your points have {len(own[2])} classes; the number of classes changes only "
                         "for the built-in data sets")
    if not MIN_CLASSES <= value <= MAX_CLASSES:
        raise ValueError(f"expected classes in {MIN_CLASSES}..{MAX_CLASSES}, got {value}")
    return value


def _point_class(widget, value):
    trainer = getattr(widget, "_trainer", None)
    count = trainer.data.classes if trainer is not None else MAX_CLASSES
    if not 0 <= value < count:
        raise ValueError(f"expected point_class in 0..{count - 1} (one of the {count} classes), got {value}")
    return value


def _seed(_widget, value):
    derived_seeds(value)
    return int(value)


def _setting(name):
    return lambda _widget, value: check_settings(**{name: value})[name]


_CHECKS = {
    "dataset": lambda widget, value: widget._source.check(value),
    "hidden": lambda _widget, value: check_hidden(value),
    "activation": _activation,
    "learning_rate": _setting("learning_rate"),
    "batch_size": _setting("batch_size"),
    "regularization": _setting("regularization"),
    "reg_rate": _setting("reg_rate"),
    "noise": lambda _widget, value: check_number(value, "noise", 0.0, 0.5),
    "test_fraction": lambda _widget, value: check_number(value, "test_fraction", 0.0, 0.9),
    "seed": _seed,
    "classes": _classes,
    "point_class": _point_class,
}
CHECKED = tuple(_CHECKS)


def check_trait(widget, name: str, value: Any) -> Any:
    return _CHECKS[name](widget, value)

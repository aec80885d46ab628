"""The shared traits, each declared once: a widget lists the ones it has among its bases.

``class ActivationGrid(LayerTrait, ChannelTrait, InputTrait, LensWidget)``
reads as what the widget is about. Each class below holds one trait and the
validator that hands a proposed value to the widget's own hook
(``_check_layer``, ``_check_channel``, ``_check_target``, ``_load_input``),
so one name means one thing everywhere and any two widgets sharing it link.
A widget without a notion of layer, channel, target or input has no such
trait (a ``PlaneView`` has no ``target``, a ``Playground`` none of them).

A hook returns the value to keep (it may normalise it) or raises a
``ValueError``/``KeyError`` naming what was expected: the old value stays.
"""
from __future__ import annotations

from typing import Any, Dict

import traitlets

__all__ = ["LayerTrait", "ChannelTrait", "TargetTrait", "InputTrait", "SHARED_TRAITS"]

#: The shared trait names, in the order the contract lists them.
SHARED_TRAITS = ("layer", "channel", "target", "input")


class LayerTrait(traitlets.HasTraits):
    """``layer``: a module name as in ``model.named_modules()``."""

    layer = traitlets.Unicode(help="a module name as in model.named_modules()")

    @traitlets.validate("layer")
    def _valid_layer(self, proposal: Dict[str, Any]) -> str:
        return self._check_layer(proposal["value"])

    def _check_layer(self, value: str) -> str:
        raise NotImplementedError(f"{type(self).__name__} must say which layers it takes (_check_layer)")


class ChannelTrait(traitlets.HasTraits):
    """``channel``: a channel (unit, filter, cell) of the widget's layer."""

    channel = traitlets.Int(0, help="a channel (unit, filter, cell) of layer")

    @traitlets.validate("channel")
    def _valid_channel(self, proposal: Dict[str, Any]) -> int:
        return self._check_channel(proposal["value"])

    def _check_channel(self, value: int) -> int:
        raise NotImplementedError(f"{type(self).__name__} must say which channels it takes (_check_channel)")


class TargetTrait(traitlets.HasTraits):
    """``target``: what a map explains (a class index)."""

    target = traitlets.Int(0, help="the class a map explains")

    @traitlets.validate("target")
    def _valid_target(self, proposal: Dict[str, Any]) -> int:
        return self._check_target(proposal["value"])

    def _check_target(self, value: int) -> int:
        raise NotImplementedError(f"{type(self).__name__} must say which targets it takes (_check_target)")


class _InputValue(traitlets.Any):
    """Any value but None: ``None`` goes to ``_load_input`` and is refused like any bad input."""

    allow_none = False


class InputTrait(traitlets.HasTraits):
    """``input``: what the widget looks at, as the model sees it; assign another to look at that.

    ``_load_input(x)`` checks and prepares ``x`` (preprocessing, batch axis,
    device), shows it and returns the value to keep. The value kept is the
    prepared one, so link ``input`` between widgets with the same
    preprocessing (or none).
    """

    input = _InputValue(None, help="the input shown, as the model sees it")

    @traitlets.validate("input")
    def _valid_input(self, proposal: Dict[str, Any]) -> Any:
        value = proposal["value"]
        if value is not None and value is self.__dict__.get("_input_loaded"):
            return value  # what the widget loaded itself (see _keep_input)
        return self._load_input(value)

    def _load_input(self, value: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must say how it loads an input (_load_input)")

    def _keep_input(self, loaded: Any) -> None:
        """Record an input the widget has already loaded (when built) without loading it again."""
        self.__dict__["_input_loaded"] = loaded
        try:
            self.set_trait("input", loaded)
        finally:
            self.__dict__["_input_loaded"] = None

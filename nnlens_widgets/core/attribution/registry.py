"""Every attribution method described once, so widgets and users pick methods by name.

A method registers itself where it is defined (``@register_method(...)``):
its name, title, parameters (with defaults and ranges, from which a widget
builds its controls), whether it streams progress, and, for the methods
that are one gradient pass per input row, which ReLU rule they use (so
SmoothGrad can batch them). This module imports no method, so nothing here
can form an import cycle.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional, Tuple

from ..registry import Param, Registry

__all__ = ["METHODS", "MethodSpec", "GradientRule", "register_method", "method_function", "method_spec"]


@dataclass(frozen=True)
class GradientRule:
    """A method whose map is one input gradient per row: its ReLU rule, times the input or not."""

    relu: Optional[str] = None
    times_input: bool = False


@dataclass(frozen=True)
class MethodSpec:
    """An attribution method: ``function(model, x, target=..., **params) -> result``."""

    name: str
    title: str
    function: Callable
    params: Tuple[Param, ...] = ()
    streams: bool = False  # accepts progress=fn(fraction), called as the work proceeds
    gradient: Optional[GradientRule] = None
    description: str = ""

    def defaults(self) -> dict:
        return {p.name: p.default for p in self.params}


METHODS: Registry[MethodSpec] = Registry("attribution method")


def register_method(name: str, title: str, *, params: Tuple[Param, ...] = (), streams: bool = False,
                    gradient: Optional[GradientRule] = None, description: str = ""):
    """Decorator registering ``function`` under ``name`` in ``METHODS``; returns it unchanged."""

    def add(function: Callable) -> Callable:
        METHODS.add(name, MethodSpec(name, title, function, tuple(params), streams, gradient,
                                     description or (function.__doc__ or "").strip().split("\n")[0]))
        return function

    return add


def method_spec(method) -> MethodSpec:
    """The spec of a method given by name, by spec or by its registered function."""
    if isinstance(method, MethodSpec):
        return method
    if isinstance(method, str):
        return METHODS[method]
    for spec in METHODS.values():
        if spec.function is method:
            return spec
    raise ValueError(f"{method!r} is not a registered attribution method; known: {', '.join(METHODS)}")


def method_function(name: str) -> Callable:
    """The function for a method name; ValueError listing the known names otherwise."""
    return METHODS[name].function

"""Every attribution method described once, so widgets and users pick methods by name.

A method registers itself where it is defined (``@register_method(...)``,
or ``register_cam`` for a CAM variant): its name, title, parameters (with
defaults and ranges, from which a widget builds its controls), whether it
streams progress, whether it takes a layer, how its result becomes a pixel
map and, for the methods that are one gradient pass per input row, which
ReLU rule they use (so SmoothGrad can batch them).

``METHODS`` imports the modules listed in ``METHOD_MODULES`` the first time
it is read, so a method is there however the package was imported; a test
checks that every module that registers a method is listed. This module
imports no method, so nothing here can form an import cycle.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Mapping, Optional, Tuple

import torch

from ..registry import Param, Registry
from .results import pixel_map

__all__ = ["METHODS", "METHOD_MODULES", "MethodSpec", "GradientRule", "register_method", "method_function",
           "method_spec"]

#: the modules whose import registers methods, in the order widgets list them
METHOD_MODULES = (
    "nnlens_widgets.core.attribution.gradients", "nnlens_widgets.core.attribution.integrated",
    "nnlens_widgets.core.attribution.smooth", "nnlens_widgets.core.attribution.cam",
    "nnlens_widgets.core.attribution.lime", "nnlens_widgets.core.relevance.lrp",
)


@dataclass(frozen=True)
class GradientRule:
    """A method whose map is one input gradient per row: its ReLU rule, times the input or not."""

    relu: Optional[str] = None
    times_input: bool = False


@dataclass(frozen=True)
class MethodSpec:
    """An attribution method: ``function(model, x, target=..., **params) -> result``.

    ``takes_layer``: the function accepts ``layer=name`` (a CAM), so a target
    inside the network is explained at its own layer. ``to_pixels``: the
    result as an input-resolution map ``(N, C or 1, H, W)``.
    """

    name: str
    title: str
    function: Callable
    params: Tuple[Param, ...] = ()
    streams: bool = False  # accepts progress=fn(fraction), called as the work proceeds
    gradient: Optional[GradientRule] = None
    description: str = ""
    takes_layer: bool = False
    to_pixels: Callable[[Any], torch.Tensor] = field(default=pixel_map, compare=False)

    def defaults(self) -> Dict[str, Any]:
        return {p.name: p.default for p in self.params}

    def pixels(self, result) -> torch.Tensor:
        """``result`` (what ``function`` returned) as a pixel map on the CPU, float."""
        return self.to_pixels(result).detach().float().cpu()

    def call_kwargs(self, params: Mapping[str, Any], unit_layer: Optional[str] = None) -> Dict[str, Any]:
        """The keyword arguments to call ``function`` with: ``params``, and for a target inside
        the network (``unit_layer``) a layer-taking method's layer set to the target's own (the
        default layer may come after the target and not depend on it)."""
        kwargs = dict(params)
        if unit_layer is not None and self.takes_layer:
            kwargs.setdefault("layer", unit_layer)
        return kwargs


METHODS: Registry[MethodSpec] = Registry("attribution method", METHOD_MODULES,
                                         origin=lambda spec: getattr(spec.function, "__module__", ""))


def register_method(name: str, title: str, *, params: Tuple[Param, ...] = (), streams: bool = False,
                    gradient: Optional[GradientRule] = None, description: str = "", takes_layer: bool = False,
                    to_pixels: Callable[[Any], torch.Tensor] = pixel_map):
    """Decorator registering ``function`` under ``name`` in ``METHODS``; returns it unchanged."""

    def add(function: Callable) -> Callable:
        METHODS.add(name, MethodSpec(name, title, function, tuple(params), streams, gradient,
                                     description or (function.__doc__ or "").strip().split("\n")[0],
                                     takes_layer, to_pixels))
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

"""Which attribution methods an explorer offers, and their parameter values.

Every method registered in ``core.attribution.METHODS`` is offered, described
by its ``MethodSpec`` (title, ``Param``s, whether it streams progress); a
``(title, function)`` pair from the caller joins them under its title. The
parameter values of all methods are one dict, ``{method: {param: value}}``,
checked here against the specs.
"""
from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple

from ..core.attribution import METHODS
from ..core.registry import Param

__all__ = ["MethodEntry", "offered_methods", "check_params", "params_key", "call_kwargs"]


@dataclass(frozen=True)
class MethodEntry:
    """One method an explorer can show: ``function(model, x, target=..., **params)``."""

    key: str  # the registered name, or the title of a (title, function) pair
    title: str
    function: Callable
    params: Tuple[Param, ...] = ()
    streams: bool = False  # accepts progress=fn(fraction)
    takes_layer: bool = False  # accepts layer=name (a CAM): given the target's layer for a channel target

    def defaults(self) -> Dict[str, Any]:
        return {p.name: p.default for p in self.params}


def _takes_layer(function: Callable) -> bool:
    try:
        return "layer" in inspect.signature(function).parameters
    except (TypeError, ValueError):  # a callable without a signature
        return False


def _registered() -> Dict[str, MethodEntry]:
    return {spec.name: MethodEntry(spec.name, spec.title, spec.function, tuple(spec.params), spec.streams,
                                   _takes_layer(spec.function))
            for spec in METHODS.values()}


def _is_pair(m) -> bool:
    return isinstance(m, tuple) and len(m) == 2 and isinstance(m[0], str) and callable(m[1])


def offered_methods(methods: Optional[Sequence]) -> Tuple[Dict[str, MethodEntry], List[str]]:
    """Every method on offer (registered ones in registration order, then the caller's
    pairs) and the keys picked at the start (``methods``; None: every registered one)."""
    offered = _registered()
    if methods is None:
        return offered, list(offered)
    if isinstance(methods, str) or _is_pair(methods):
        methods = [methods]
    picked: List[str] = []
    for m in methods:
        if isinstance(m, str):
            METHODS[m]  # an unknown name: ValueError listing the known ones
            key = m
        elif _is_pair(m):
            key = m[0]
            if key in offered:
                raise ValueError(f"a method called {key!r} is already registered; give your function another title")
            offered[key] = MethodEntry(key, key, m[1], takes_layer=_takes_layer(m[1]))
        else:
            raise ValueError(f"expected methods as names ({', '.join(METHODS)}) or (title, function) pairs, "
                             f"got {m!r}")
        if key in picked:
            raise ValueError(f"expected distinct methods, got {key!r} twice")
        picked.append(key)
    return offered, picked


def check_params(offered: Mapping[str, MethodEntry], value: Mapping) -> Dict[str, Dict[str, Any]]:
    """``value`` completed with defaults and checked by each ``Param``; a ValueError (or a
    KeyError for an unknown method) naming what is allowed otherwise."""
    if not isinstance(value, Mapping):
        raise ValueError(f"expected params as {{method: {{parameter: value}}}}, got {type(value).__name__}")
    out = {key: entry.defaults() for key, entry in offered.items() if entry.params}
    for key, given in value.items():
        if key not in offered:
            raise ValueError(f"unknown method {key!r} in params; methods with parameters: {', '.join(out)}")
        specs = {p.name: p for p in offered[key].params}
        if not isinstance(given, Mapping):
            raise ValueError(f"expected params[{key!r}] as {{parameter: value}}, got {given!r}")
        for name, v in given.items():
            if name not in specs:
                known = ", ".join(specs) or "none"
                raise ValueError(f"unknown parameter {name!r} of {key}; its parameters: {known}")
            out[key][name] = specs[name].check(v)
    return out


def params_key(values: Mapping[str, Any]) -> tuple:
    """A hashable form of one method's parameter values (part of a map's cache key)."""
    return tuple(sorted(values.items()))


def call_kwargs(entry: MethodEntry, params: Mapping[str, Any], unit_layer: Optional[str]) -> Dict[str, Any]:
    """The keyword arguments ``entry`` is called with: its parameters, and for a target
    inside the network (``unit_layer``) a CAM's layer set to the target's own layer (the
    default, the last spatial layer, may come after the target and not depend on it)."""
    kwargs = dict(params)
    if unit_layer is not None and entry.takes_layer:
        kwargs.setdefault("layer", unit_layer)
    return kwargs

"""Which attribution methods an explorer offers, and their parameter values.

Every method registered in ``core.attribution.METHODS`` is offered, described
by its ``MethodSpec`` (title, ``Param``s, whether it streams progress, takes
a layer, how its result becomes a pixel map); a ``(title, function)`` pair
from the caller joins them as a spec of its own (no parameters, no layer), and
a ``MethodSpec`` joins as it is. The parameter values of all methods are one
dict, ``{method: {param: value}}``, checked here against the specs.
"""
from __future__ import annotations

from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from ...core.attribution import METHODS, MethodSpec

__all__ = ["offered_methods", "check_params", "params_key"]


def _is_pair(m) -> bool:
    return isinstance(m, tuple) and len(m) == 2 and isinstance(m[0], str) and callable(m[1])


def offered_methods(methods: Optional[Sequence]) -> Tuple[Dict[str, MethodSpec], List[str]]:
    """Every method on offer (registered ones in registration order, then the caller's
    pairs and specs) and the keys picked at the start (``methods``; None: every registered one)."""
    offered = dict(METHODS.items())
    if methods is None:
        return offered, list(offered)
    if isinstance(methods, (str, MethodSpec)) or _is_pair(methods):
        methods = [methods]
    picked: List[str] = []
    for m in methods:
        if isinstance(m, str):
            METHODS[m]  # an unknown name: ValueError listing the known ones
            key = m
        elif _is_pair(m) or isinstance(m, MethodSpec):
            spec = m if isinstance(m, MethodSpec) else MethodSpec(m[0], m[0], m[1])
            key = spec.name
            if key in offered and offered[key] is not spec:
                raise ValueError(f"a method called {key!r} is already registered; give your function another title")
            offered[key] = spec
        else:
            raise ValueError(f"expected methods as names ({', '.join(METHODS)}), (title, function) pairs "
                             f"or MethodSpecs, got {m!r}")
        if key in picked:
            raise ValueError(f"expected distinct methods, got {key!r} twice")
        picked.append(key)
    return offered, picked


def check_params(offered: Mapping[str, MethodSpec], value: Mapping) -> Dict[str, Dict[str, Any]]:
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

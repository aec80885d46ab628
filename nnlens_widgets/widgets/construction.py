"""Building a widget: nothing left behind when a constructor fails."""
from __future__ import annotations

import functools
from typing import Callable, Dict, List

import ipywidgets as W

__all__ = ["closed_on_failure", "descendants"]


def closed_on_failure(init: Callable) -> Callable:
    """``init`` that closes a half-built widget, and every control it made, when it raises.

    ipywidgets registers each widget as soon as its comm opens, so a
    constructor that refuses an argument would otherwise leave the half-built
    widget, its controls (whose callbacks point back at it) and the model it
    holds alive in that registry for the rest of the session.
    """

    @functools.wraps(init)
    def init_or_close(self, *args, **kwargs):
        try:
            init(self, *args, **kwargs)
        except BaseException:
            try:
                self.close()
            except Exception:  # noqa: BLE001 - half-built: close what exists below
                pass
            for widget in _made_by(self):
                widget.close()
            W.Widget.close(self)
            self._closed = True  # a later close() (on collection) has nothing left to do
            raise

    return init_or_close


def _made_by(owner: W.Widget) -> List[W.Widget]:
    """The ipywidgets an object holds, directly or through its own helpers and containers."""
    found: Dict[int, W.Widget] = {}
    seen = set()
    stack = list(vars(owner).values())
    while stack:
        obj = stack.pop()
        if id(obj) in seen or obj is owner:
            continue
        seen.add(id(obj))
        if isinstance(obj, W.Widget):
            found[id(obj)] = obj
            stack.extend(getattr(obj, "children", ()))
        elif isinstance(obj, (list, tuple, set)):
            stack.extend(obj)
        elif isinstance(obj, dict):
            stack.extend(obj.values())
        elif type(obj).__module__.startswith("nnlens_widgets.widgets") and hasattr(obj, "__dict__"):
            stack.extend(vars(obj).values())
    return list(found.values())


def descendants(widget: W.Widget) -> List[W.Widget]:
    """Every widget inside ``widget``'s children, at any depth."""
    out: List[W.Widget] = []
    stack = list(getattr(widget, "children", ()))
    while stack:
        w = stack.pop()
        out.append(w)
        stack.extend(getattr(w, "children", ()))
    return out

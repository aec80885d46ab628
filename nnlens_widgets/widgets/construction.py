"""Building a widget: keywords checked before anything is made, and nothing left behind on failure."""
from __future__ import annotations

import difflib
import functools
import inspect
from typing import Any, Callable, Dict, List, Mapping

import ipywidgets as W

__all__ = ["check_keywords", "closed_on_failure", "descendants"]


def check_keywords(widget: W.Widget, kwargs: Mapping[str, Any]) -> None:
    """A TypeError naming each keyword neither the constructor nor a trait takes, and the closest one.

    Every widget passes its unnamed keywords on to ipywidgets, which sets the
    ones that are traits (``layout=...``) and would drop any other without a
    word (``window`` misspelt as ``windw`` keeping the default window).
    """
    unknown = [key for key in kwargs if not widget.has_trait(key)]
    if not unknown:
        return
    params = inspect.signature(type(widget).__init__).parameters
    named = [p.name for p in params.values()
             if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) and p.name != "self"]
    public = [t for t in widget.trait_names() if not t.startswith("_") and t not in named]
    own = sorted(set(public) - set(W.VBox.class_trait_names()))
    words = []
    for key in unknown:
        close = difflib.get_close_matches(key, named + own + sorted(public), n=1)
        words.append(f"{key!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
    raise TypeError(f"{type(widget).__name__}() got unexpected keyword argument(s) {', '.join(words)}; "
                    f"it takes: {', '.join(named)}" + (f"; and its traits: {', '.join(own)}" if own else ""))


def closed_on_failure(init: Callable) -> Callable:
    """``init`` that closes a half-built widget, and every control it made, when it raises.

    The widget's own traits given as keywords (``NeuronAblation(..., target=2)``)
    are set once the outermost constructor has built it: checked against its
    model and drawn like any later change, and never overwritten by a default.

    ipywidgets registers each widget as soon as its comm opens, so a
    constructor that refuses an argument would otherwise leave the half-built
    widget, its controls (whose callbacks point back at it) and the model it
    holds alive in that registry for the rest of the session.
    """

    @functools.wraps(init)
    def init_or_close(self, *args, **kwargs):
        outermost = "_late_traits" not in self.__dict__
        if outermost:
            self.__dict__["_late_traits"] = {}  # filled by the base with traits given as keywords
        try:
            init(self, *args, **kwargs)
            if outermost:  # set now that the widget can check them (ranges, layers) and draw them
                for name, value in self.__dict__.pop("_late_traits").items():
                    setattr(self, name, value)
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

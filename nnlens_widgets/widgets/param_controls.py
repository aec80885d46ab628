"""Controls built from parameter specs (``core.registry.Param``), so a new method's
parameters get a slider or a dropdown without touching any widget."""
from __future__ import annotations

from typing import Any, Callable, Dict, Mapping

import ipywidgets as W

from ..core.registry import Param
from .base import text

__all__ = ["param_control", "ParamPanel"]


def param_control(param: Param) -> W.Widget:
    """A dropdown for a choice, a slider for a number with a range, a text box otherwise."""
    common = dict(description=param.title, tooltip=param.description or None,
                  style={"description_width": "initial"})
    if param.kind == "choice":
        return W.Dropdown(options=[(str(c), c) for c in param.choices], value=param.default,
                          layout=W.Layout(width="auto"), **common)
    low, high = param.low, param.high
    if param.kind == "int":
        if low is not None and high is not None:
            return W.IntSlider(min=int(low), max=int(high), step=int(param.step or 1),
                               value=int(param.default), continuous_update=False, **common)
        return W.IntText(value=int(param.default), **common)
    if low is not None and high is not None:
        step = float(param.step) if param.step else (float(high) - float(low)) / 100
        return W.FloatSlider(min=float(low), max=float(high), step=step,
                             value=float(param.default), continuous_update=False, **common)
    return W.FloatText(value=float(param.default), **common)


class ParamPanel(W.VBox):
    """One row per method with parameters: its title and a control per parameter.

    ``on_change(method, name, value)`` is called when a control moves;
    ``show(values)`` puts ``{method: {name: value}}`` on the controls.
    """

    def __init__(self, methods: Mapping[str, Any], on_change: Callable[[str, str, Any], None]):
        self.controls: Dict[str, W.Widget] = {}
        self._rows: Dict[str, W.Widget] = {}
        rows = []
        for key, entry in methods.items():
            if not entry.params:
                continue
            controls = []
            for p in entry.params:
                control = param_control(p)
                control.add_class(f"nnl-param-{p.name}")
                control.observe(lambda change, k=key, n=p.name: on_change(k, n, change["new"]), "value")
                self.controls[f"{key}.{p.name}"] = control
                controls.append(control)
            title = W.HTML(f"<b>{text(entry.title)}</b>", layout=W.Layout(min_width="fit-content"))
            self._rows[key] = W.Box([title] + controls,
                                    layout=W.Layout(display="flex", flex_flow="row wrap",
                                                    align_items="center", max_width="100%"))
            rows.append(self._rows[key])
        super().__init__(rows, layout=W.Layout(max_width="100%"))

    def show(self, values: Mapping[str, Mapping[str, Any]]) -> None:
        for key, params in values.items():
            for name, value in params.items():
                control = self.controls.get(f"{key}.{name}")
                if control is not None and control.value != value:
                    control.value = value

    def show_only(self, keys) -> None:
        """Show the rows of the methods in ``keys`` (the others are not picked)."""
        for key, row_ in self._rows.items():
            row_.layout.display = "flex" if key in keys else "none"

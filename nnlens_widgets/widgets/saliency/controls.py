"""The saliency explorer's controls, built from what is on offer: the target
pickers, one checkbox per method, the display choices and the method
parameters (from their specs). Wiring them to the widget's state is the
widget's job."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Dict, List, Mapping, Tuple

import ipywidgets as W

from ...core.attribution import MethodSpec
from ..param_controls import ParamPanel

__all__ = ["SaliencyControls", "SIGN_LABELS", "bind_vmax"]

SIGN_LABELS = [("|value|", "absolute"), ("positive", "positive"), ("negative", "negative"),
               ("both signs", "both")]
_AUTO = {"button_width": "auto"}
_WIDE = {"width": "auto"}


@dataclass
class SaliencyControls:
    mode: W.ToggleButtons
    target: W.Dropdown
    layer: W.Dropdown
    channel: W.IntSlider
    boxes: Dict[str, W.Checkbox]
    sign: W.ToggleButtons
    opacity: W.FloatSlider
    clip: W.FloatSlider
    scale: W.ToggleButtons
    vmax: W.FloatText
    params: ParamPanel
    params_box: W.VBox
    compute: W.Button
    trust: W.Button
    ticking: bool = False

    @classmethod
    def build(cls, offered: Mapping[str, MethodSpec], layers: Mapping[str, tuple],
              class_options: List[Tuple[str, int]], on_param) -> "SaliencyControls":
        mode = W.ToggleButtons(style=_AUTO, layout=_WIDE,
                               options=[("a class", "class"), ("a channel of a layer", "channel")])
        target = W.Dropdown(description="class", options=class_options, layout=W.Layout(width="auto"))
        target.add_class("nnl-class-dropdown")
        layer = W.Dropdown(description="layer", layout=W.Layout(width="auto"), options=[
            (f"{name} ({'x'.join(map(str, shape[1:]))})", name) for name, shape in layers.items()])
        channel = W.IntSlider(description="channel", min=0, max=0, continuous_update=False)
        channel.add_class("nnl-channel-slider")
        boxes = {key: W.Checkbox(description=entry.title, indent=False, layout=W.Layout(width="auto"))
                 for key, entry in offered.items()}
        sign = W.ToggleButtons(options=SIGN_LABELS, style=_AUTO, layout=_WIDE)
        sign.add_class("nnl-sign")
        opacity = W.FloatSlider(description="overlay opacity", min=0.0, max=1.0, step=0.05)
        opacity.add_class("nnl-opacity-slider")
        clip = W.FloatSlider(description="colour saturates at percentile", min=50.0, max=100.0, step=0.5,
                             continuous_update=False, layout=W.Layout(width="440px", max_width="100%"))
        scale = W.ToggleButtons(style=_AUTO, layout=_WIDE,
                                options=[("each map its own", "own"), ("one for all maps", "shared")])
        vmax = W.FloatText(description="saturates at", value=1.0, layout=W.Layout(width="auto"))
        params = ParamPanel(offered, on_param)
        params_box = collapsible("method parameters", params)
        compute = W.Button(description="Compute maps", icon="refresh", layout=W.Layout(width="auto"),
                           tooltip="compute the maps still missing (e.g. after Stop)")
        compute.add_class("nnl-compute-button")
        trust = W.Button(description="Trust report", icon="check", layout=W.Layout(width="auto"),
                         tooltip="deletion / insertion curves and the randomisation check of every map")
        trust.add_class("nnl-trust-button")
        return cls(mode, target, layer, channel, boxes, sign, opacity, clip, scale, vmax, params, params_box,
                   compute, trust)

    def show_target(self, mode: str, has_layers: bool) -> None:
        """The class picker for a class target; layer and channel for a channel target."""
        channel = mode == "channel"
        self.target.layout.display = "none" if channel else "flex"
        for control in (self.layer, self.channel):
            control.layout.display = "flex" if channel else "none"
        self.mode.disabled = not has_layers

    def show_methods(self, picked, tunable: bool) -> None:
        """Tick the picked methods' boxes and show their parameter rows."""
        self.ticking = True  # the boxes follow the widget here: their own handler must not answer
        try:
            for key, box in self.boxes.items():
                box.value = key in picked
        finally:
            self.ticking = False
        self.params.show_only(picked)
        self.params_box.layout.display = "flex" if tunable else "none"

    def ticked(self) -> List[str]:
        return [key for key, box in self.boxes.items() if box.value]

    def named(self) -> Dict[str, W.Widget]:
        """Every control by the name the widget lists it under (``controls``)."""
        out: Dict[str, W.Widget] = {
            "target_mode": self.mode, "target": self.target, "layer": self.layer, "channel": self.channel,
            "sign": self.sign, "opacity": self.opacity, "clip_percentile": self.clip, "scale": self.scale,
            "vmax": self.vmax, "refresh": self.compute, "trust_report": self.trust,
        }
        out.update({f"methods.{key}": box for key, box in self.boxes.items()})
        out.update({f"params.{name}": control for name, control in self.params.controls.items()})
        return out


def bind_vmax(owner, scale: W.ToggleButtons, box: W.FloatText, shared_value: Callable[[], float],
              guard: Callable[[Callable], Callable]) -> None:
    """Keep ``owner.vmax`` (None: each map its own scale) and its two controls in step.

    Choosing "one for all maps" fixes ``vmax`` at ``shared_value()``; the box
    then edits it and always shows the value in use, never a rejected one.
    """

    def chosen(change) -> None:
        if change["new"] == "own":
            owner.vmax = None
        elif owner.vmax is None:
            owner.vmax = shared_value()

    def typed(change) -> None:
        if owner.vmax is None or change["new"] == owner.vmax:
            return
        try:
            owner.vmax = change["new"]
        except ValueError:
            box.value = owner.vmax
            raise

    def show(_change=None) -> None:
        shared = owner.vmax is not None
        scale.value = "shared" if shared else "own"
        if shared:
            box.value = owner.vmax
        box.layout.display = "flex" if shared else "none"

    scale.observe(guard(chosen), "value")
    box.observe(guard(typed), "value")
    owner.observe(guard(show), "vmax")
    show()


def collapsible(title: str, body: W.Widget) -> W.VBox:
    """A toggle button that shows or hides ``body`` (an accordion's header text is too faint
    in JupyterLab's themes to read: 4.2:1 to 4.4:1)."""
    toggle = W.ToggleButton(description=title, icon="sliders", value=False, layout=W.Layout(width="auto"))
    body.layout.display = "none"

    def flip(change) -> None:
        body.layout.display = "flex" if change["new"] else "none"

    toggle.observe(flip, "value")
    return W.VBox([toggle, body], layout=W.Layout(max_width="100%"))

"""Switch a layer's channels off (or pin one to a value) and watch the prediction change."""
from __future__ import annotations

import html
from typing import Dict, Optional, Sequence

import ipywidgets as W
import numpy as np
import torch
import traitlets
from torch import nn

from ..core import ActivationCache
from ..core.ablation import ablate, ablation_effects
from ..core.guard import looking_at
from ..render import channel_grid, channel_maps
from .base import LensWidget
from .frame_canvas import FrameCanvas

__all__ = ["NeuronAblation", "probability_bars_html"]

_OFF_MARK = dict(color="#111111", width=3)
_SELECTED_MARK = dict(color="#ff3b30", width=2)


def probability_bars_html(labels: Sequence[str], before: np.ndarray, after: np.ndarray) -> str:
    """Rows of paired bars (before grey, after blue) with the numbers; widths are percentages."""
    rows = []
    for label, b, a in zip(labels, before, after):
        rows.append(
            f"<tr class='nnl-prob-row' data-label='{html.escape(str(label), quote=True)}'>"
            f"<td style='padding-right:6px;white-space:nowrap'>{html.escape(str(label))}</td>"
            "<td style='width:220px'>"
            f"<div class='nnl-bar-before' data-p='{b:.6f}' style='height:7px;background:#b8b8b8;width:{100 * b:.2f}%'></div>"
            f"<div class='nnl-bar-after' data-p='{a:.6f}' style='height:7px;background:#3b6fd8;width:{100 * a:.2f}%'></div>"
            "</td>"
            f"<td style='font-family:monospace;padding-left:6px'>{b:.3f} &rarr; {a:.3f}</td></tr>"
        )
    return (
        "<table class='nnl-prob-table' style='border-collapse:collapse'>"
        "<tr><th></th><th style='text-align:left'>before (grey) / after (blue)</th><th></th></tr>"
        + "".join(rows) + "</table>"
    )


class NeuronAblation(LensWidget):
    """The channel grid of a layer; click tiles to switch channels off and see the output change.

    - click a tile: switch that channel off (zero) or back on, and select it;
      switched-off tiles are framed in black, the selected one in red;
    - "pin" sets the selected channel to the slider's value instead
      (clamping, or amplifying with a large value);
    - top-k class probabilities before and after, as bars, updated on every change;
    - "rank" scores every channel by how much switching it off alone lowers
      the target class's logit (``core.ablation_effects``, batched, with
      progress and Stop); "switch off top n" applies the ranking in one click;
    - "reset" switches everything back on.

    The model runs only inside ``core.ablate`` blocks: it is never changed.
    Traits: ``layer``, ``off`` (list of switched-off channels), ``channel``
    (selected), ``pinned`` (bool), ``pin_value``, ``target``.
    """

    layer = traitlets.Unicode()
    off = traitlets.List(traitlets.Int())
    channel = traitlets.Int(0)
    pinned = traitlets.Bool(False)
    pin_value = traitlets.Float(0.0)
    target = traitlets.Int(0)

    def __init__(
        self,
        model: nn.Module,
        x,
        layer: Optional[str] = None,
        labels: Optional[Sequence[str]] = None,
        preprocess=None,
        top_k: int = 5,
        grid_px: int = 420,
        cmap: str = "viridis",
        **kwargs,
    ):
        if not isinstance(model, nn.Module):
            raise ValueError(f"expected a torch.nn.Module, got {type(model).__name__}")
        self._model = model
        self._cache = ActivationCache(model, x, preprocess)
        self._x = self._cache.x
        self._before = self._probabilities({})
        classes = len(self._before)
        if labels is not None and len(labels) != classes:
            raise ValueError(f"got {len(labels)} labels for a model with {classes} outputs")
        self.labels = [str(l) for l in labels] if labels is not None else [str(i) for i in range(classes)]
        self.top_k = int(top_k)
        self._cmap = cmap
        self._grid_px = int(grid_px)
        self._after = self._before
        self.effects = None  # the last ranking (core.AblationEffects)
        first = layer if layer is not None else self._default_layer()
        self._cache.info(first)
        super().__init__(**kwargs)
        self.add_class("nnl-neuron-ablation")

        self._layer_dd = W.Dropdown(
            description="layer", layout=W.Layout(width="420px"),
            options=[(i.label(), i.name) for i in self._channel_layers()],
        )
        self._layer_dd.add_class("nnl-layer-dropdown")
        self._grid_canvas = FrameCanvas()
        self._grid_canvas.add_class("nnl-grid-canvas")
        self._pin_box = W.Checkbox(description="pin selected channel to", indent=False,
                                   layout=W.Layout(width="190px"))
        self._pin_box.add_class("nnl-pin")
        self._value_slider = W.FloatSlider(min=-10.0, max=10.0, step=0.1, continuous_update=True,
                                           layout=W.Layout(width="300px"))
        self._value_slider.add_class("nnl-value-slider")
        self._bars = W.HTML()
        self._bars.add_class("nnl-prob-bars")
        self._selection = W.HTML()
        self._target_dd = W.Dropdown(description="class", options=list(zip(self.labels, range(classes))),
                                     layout=W.Layout(width="220px"))
        self._rank_button = W.Button(description="rank channels", icon="sort-amount-desc")
        self._rank_button.add_class("nnl-rank")
        self._top_n = W.BoundedIntText(value=3, min=1, max=1, description="top n",
                                       layout=W.Layout(width="140px"))
        self._off_top_button = W.Button(description="switch off top n", disabled=True)
        self._off_top_button.add_class("nnl-off-top")
        self._ranking = W.HTML()
        self._ranking.add_class("nnl-ranking")
        self._reset_button = W.Button(description="reset", icon="undo")
        self._reset_button.add_class("nnl-reset")

        self.set_trait("target", int(np.argmax(self._before)))
        self.set_trait("layer", first)
        self._load_layer()
        for trait, control in (("layer", self._layer_dd), ("pinned", self._pin_box), ("target", self._target_dd)):
            W.link((self, trait), (control, "value"))
        # not a plain link: a value set in code beyond the slider's range widens the range instead of being clamped
        self._value_slider.observe(lambda c: setattr(self, "pin_value", c["new"]), "value")
        self.observe(self._show_pin_value, "pin_value")
        self.observe(self._guarded(self._on_layer), "layer")
        self.observe(self._guarded(self._on_ablation), ["off", "pinned", "pin_value"])
        self.observe(self._guarded(self._on_channel), "channel")
        self.observe(self._guarded(self._on_target), "target")
        self._grid_canvas.on_click(self._guarded(self._on_grid_click))
        self._rank_button.on_click(self._guarded(lambda _b: self.rank()))
        self._off_top_button.on_click(self._guarded(lambda _b: self.switch_off_top(self._top_n.value)))
        self._reset_button.on_click(self._guarded(lambda _b: self.reset()))
        self._draw_bars()

        pin_row = W.HBox([self._pin_box, self._value_slider])
        rank_row = W.HBox([self._target_dd, self._rank_button, self._top_n, self._off_top_button])
        right = W.VBox([self._selection, pin_row, self._bars, self._reset_button])
        self._finish([self._layer_dd, W.HBox([self._grid_canvas, right]), rank_row, self._ranking])

    # -- public --------------------------------------------------------
    @property
    def model(self) -> nn.Module:
        return self._model

    @property
    def frame(self) -> Optional[np.ndarray]:
        """The tile grid as drawn, (H, W, 4) uint8."""
        return self._grid_canvas.frame

    @property
    def channels(self) -> int:
        return self._maps.shape[0]

    @property
    def probabilities(self):
        """(before, after): the output probabilities without and with the current ablation."""
        return self._before.copy(), self._after.copy()

    @property
    def replacement(self) -> Dict[int, float]:
        """channel -> value the layer's output is set to (the switched-off channels and the pin)."""
        values = {c: 0.0 for c in self.off}
        if self.pinned:
            values[self.channel] = float(self.pin_value)
        return values

    def tile_rect(self, channel: int):
        """(x, y, w, h) of ``channel``'s tile on the grid canvas."""
        return self._grid.layout.rect(channel)

    def toggle(self, channel: int) -> None:
        """Switch ``channel`` off, or back on if it is off; it becomes the selected channel."""
        channel = self._valid(channel)
        self.channel = channel
        self.off = sorted(set(self.off) ^ {channel})

    def reset(self) -> None:
        """Everything back on, nothing pinned."""
        with self.hold_trait_notifications():
            self.pinned = False
            self.off = []

    def rank(self) -> None:
        """Rank every channel by the target logit's drop when it alone is off (background, stoppable)."""
        model, x, layer, target = self._model, self._x, self.layer, self.target

        def work(job):
            def progress(done, total):
                job.check()
                job.progress(done / total, f"ablated {done} of {total} channels")

            try:  # the fast way first: the part before the layer runs once per pass
                return ablation_effects(model, x, layer, target, on_progress=progress, expand="layer")
            except ValueError:
                return ablation_effects(model, x, layer, target, on_progress=progress, expand="input")

        def draw(effects):
            if layer == self.layer and target == self.target:
                self.effects = effects
                self._draw_ranking()

        self._run_in_background(work, draw)

    def switch_off_top(self, n: int) -> None:
        """Switch off the ``n`` channels whose ablation lowers the target most (after ``rank``)."""
        if self.effects is None:
            raise ValueError("rank the channels first (the 'rank channels' button or .rank())")
        self.off = sorted(set(self.off) | set(self.effects.ranking(int(n))))

    # -- model runs ----------------------------------------------------
    def _probabilities(self, replacement: Dict[int, float], layer: str = "") -> np.ndarray:
        with looking_at(self._model) as model, torch.inference_mode():
            if replacement:
                with ablate(model, layer, replacement):
                    out = model(self._x)
            else:
                out = model(self._x)
        if not isinstance(out, torch.Tensor) or out.ndim != 2 or out.shape[0] != 1:
            raise ValueError(
                "NeuronAblation expects a classifier whose output is logits shaped (1, classes), got "
                + (f"shape {tuple(out.shape)}" if isinstance(out, torch.Tensor) else type(out).__name__)
            )
        return out[0].float().softmax(0).cpu().numpy()

    def _on_ablation(self, _change=None) -> None:
        replacement, layer = self.replacement, self.layer
        self._draw_marks()

        def work(_job):
            return self._probabilities(replacement, layer)

        def draw(after):
            if layer == self.layer and replacement == self.replacement:
                self._after = after
                self._draw_bars()

        self._run_in_background(work, draw)

    # -- layers and channels --------------------------------------------
    def _channel_layers(self):
        infos = [self._cache.infos[n] for n in self._cache.tensor_layers]
        return [i for i in infos if len(i.shape) in (2, 3, 4)]

    def _default_layer(self) -> str:
        """The last layer with spatial maps (C, H, W) bigger than 1x1, else the first with channels."""
        infos = self._channel_layers()
        if not infos:
            raise ValueError(f"{type(self._model).__name__} has no layer with channels to ablate")
        maps = [i.name for i in infos if len(i.shape) == 4 and i.shape[2] * i.shape[3] > 1]
        return maps[-1] if maps else infos[0].name

    @traitlets.validate("layer")
    def _valid_layer(self, proposal):
        name = proposal["value"]
        info = self._cache.info(name)
        if len(info.shape) not in (2, 3, 4):
            raise ValueError(f"layer {name!r} output {info.shape} has no channel axis to ablate")
        return name

    def _valid(self, channel: int) -> int:
        c = int(channel)
        if not 0 <= c < self.channels:
            raise ValueError(f"expected a channel in 0..{self.channels - 1} for layer {self.layer!r}, got {c}")
        return c

    @traitlets.validate("channel")
    def _valid_channel(self, proposal):
        return self._valid(proposal["value"])

    @traitlets.validate("off")
    def _valid_off(self, proposal):
        return sorted({self._valid(c) for c in proposal["value"]})

    def _load_layer(self) -> None:
        self._maps = channel_maps(self._cache[self.layer].cpu().numpy())
        self._grid = channel_grid(self._maps, "channel", self._cmap, 0, None, self._grid_px)
        self._grid_canvas.draw(self._grid.rgba)
        self._top_n.max = self.channels
        # the pin slider spans a few times the layer's largest activation, both signs
        reach = float(np.ceil(3 * max(1e-3, float(np.abs(self._maps).max())) * 10) / 10)
        reach = max(reach, abs(self.pin_value))
        self._value_slider.max, self._value_slider.min = reach, -reach
        self._value_slider.step = reach / 100
        self._value_slider.value = self.pin_value
        with self.hold_trait_notifications():
            self.set_trait("channel", min(self.channel, self.channels - 1))
            self.set_trait("off", [])
            self.set_trait("pinned", False)
        self.effects = None
        self._after = self._before
        self._off_top_button.disabled = True
        self._ranking.value = ""
        self._draw_marks()

    def _on_layer(self, _change) -> None:
        self._load_layer()
        self._draw_bars()

    def _show_pin_value(self, change) -> None:
        value, slider = float(change["new"]), self._value_slider
        if value > slider.max:
            slider.max = value
        if value < slider.min:
            slider.min = value
        slider.value = value

    def _on_channel(self, _change) -> None:
        self._draw_marks()
        if self.pinned:
            self._on_ablation()

    def _on_target(self, _change) -> None:
        self.effects = None
        self._off_top_button.disabled = True
        self._ranking.value = ""

    def _on_grid_click(self, x: float, y: float, _event) -> None:
        i = self._grid.layout.index_at(x, y)
        if i is not None:
            self.toggle(i)

    # -- drawing (never runs the model) --------------------------------
    def _draw_marks(self) -> None:
        marks = []
        for c, style in [(c, _OFF_MARK) for c in self.off] + [(self.channel, _SELECTED_MARK)]:
            x, y, w, h = self.tile_rect(c)
            marks.append(dict(x=x - 1, y=y - 1, w=w + 2, h=h + 2, **style))
        self._grid_canvas.marks = marks
        state = "off" if self.channel in self.off else "on"
        pin = f", pinned to {self.pin_value:g}" if self.pinned else ""
        self._selection.value = (
            f"<b>{html.escape(self.layer)}</b> channel <b>{self.channel}</b> of {self.channels}: {state}{pin}"
            f"<br>{len(self.off)} channel(s) switched off"
        )

    def _draw_bars(self) -> None:
        k = min(self.top_k, len(self._before))
        rows = list(np.argsort(-self._before, kind="stable")[:k])
        rows += [i for i in np.argsort(-self._after, kind="stable")[:k] if i not in rows]
        self._bars.value = probability_bars_html(
            [self.labels[i] for i in rows], self._before[rows], self._after[rows]
        )

    def _draw_ranking(self) -> None:
        e = self.effects
        order = e.ranking(10)
        change = dict(zip(e.channels.tolist(), e.change.tolist()))
        rows = "".join(
            f"<tr><td>channel {c}</td><td style='font-family:monospace;padding-left:8px'>{change[c]:+.4f}</td></tr>"
            for c in order
        )
        self._ranking.value = (
            f"<b>{html.escape(self.labels[self.target])}</b> logit {e.base_score:.3f}; change when one channel is off:"
            f"<table>{rows}</table>"
        )
        self._off_top_button.disabled = False

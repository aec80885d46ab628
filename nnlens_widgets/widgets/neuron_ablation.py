"""Switch a layer's channels off (or pin one to a value) and watch the prediction change."""
from __future__ import annotations

from typing import Dict, Iterable, List, Optional

import ipywidgets as W
import numpy as np
import traitlets

from ..core import ActivationCache, Ablated, ablation_effects, class_probabilities
from ..render import channel_maps, fmt, image_rgba, lut
from .base import LensWidget, check_count, check_index, check_number, labels_for, text
from .chart_views import ProbabilityView, RankingView
from .fitting import fit_to_picture
from .switch_grid import PinSlider, SwitchGridView
from .views import HtmlView, PictureView, column, row

__all__ = ["NeuronAblation"]

RANKED = 10  # channels shown in the ranking chart


class NeuronAblation(LensWidget):
    """The channel grid of a layer; click tiles to switch channels off and see the output change.

    - click a tile: switch that channel off (zero) or back on, and select it;
    - "pin" sets the selected channel to the slider's value instead;
    - the likeliest classes' probabilities before and now, named, on a
      0..100% axis, updated on every change;
    - ``rank()`` scores every channel by how much switching it off alone
      changes the ``target`` class's logit (``core.ablation_effects``, with
      progress and Stop), shown as a labelled chart; "switch off top n"
      applies it; ``reset()`` switches all back on; ``refresh()`` recomputes.

    The model runs only as ``core.Ablated`` views through ``looking_at``: it
    is never changed. Traits: ``layer``, ``channel`` (selected), ``off``
    (switched-off channels), ``pinned``, ``pin_value``, ``target`` (the class
    whose logit the ranking follows), ``top_k`` (classes listed), ``cmap``.
    """

    _frame_view = "_grid_view"  # ``frame``: the channel grid as drawn (one pixel per activation)

    layer = traitlets.Unicode()
    channel = traitlets.Int(0)
    off = traitlets.List(traitlets.Int())
    pinned = traitlets.Bool(False)
    pin_value = traitlets.Float(0.0)
    target = traitlets.Int(0)
    top_k = traitlets.Int(5)
    cmap = traitlets.Unicode("viridis")

    def __init__(self, model, x, *, layer: Optional[str] = None, labels: Optional[Iterable] = None,
                 preprocess=None, top_k: int = 5, grid_px: int = 420, cmap: str = "viridis", **kwargs):
        super().__init__(model, **kwargs)
        # predictions get their own latest-wins worker: a click while channels are ranked must not stop the ranking
        self._predict = self._new_worker()
        self._preprocess = preprocess
        self._grid_px = check_count(grid_px, "grid_px", 16, 4096)
        self._cache = ActivationCache(self._model, x, preprocess)
        self._before = class_probabilities(self._model, self._cache.x)[0].numpy()
        self._labels = labels_for(labels, len(self._before))
        self._after = self._before
        self._maps: Optional[np.ndarray] = None
        self.effects = None  # the last ranking (core.AblationEffects)
        self.top_k = top_k
        self.cmap = cmap
        first = layer if layer is not None else self._default_layer()
        self.set_trait("layer", first)
        self.set_trait("target", int(np.argmax(self._before)))
        self.add_class("nnl-neuron-ablation")

        auto = dict(layout=W.Layout(width="auto", max_width="100%"))
        self._layer_dd = _css(W.Dropdown(description="layer", **auto), "nnl-layer-dropdown")
        self._pin_box = _css(W.Checkbox(description="pin selected channel to", indent=False, **auto), "nnl-pin")
        self._value_slider = _css(PinSlider(), "nnl-value-slider")
        self._target_dd = _css(W.Dropdown(description="rank by class", **auto), "nnl-target")
        self._rank_button = self._control("rank", _css(W.Button(description="rank channels",
                                                                icon="sort-amount-desc", **auto), "nnl-rank"))
        self._top_n = self._control("top_n", W.BoundedIntText(value=3, min=1, max=10**6, description="top n", **auto))
        self._off_top_button = self._control("switch_off_top", _css(W.Button(
            description="switch off top n", disabled=True, **auto), "nnl-off-top"))
        self._reset_button = self._control("reset", _css(W.Button(description="reset", icon="undo", **auto),
                                                         "nnl-reset"))

        self._input_view = self._view("input", PictureView("input", display_px=96, css_class="nnl-input-canvas",
                                                                   plain_rgb=True))
        self._grid_view = self._view("grid", SwitchGridView("channels", display_px=grid_px,
                                                          css_class="nnl-grid-canvas"))
        self._bars = self._view("probabilities", ProbabilityView("prediction", css_class="nnl-prob-bars"))
        self._ranking = self._view("ranking", RankingView(css_class="nnl-ranking"))
        self._selection = self._view("selection", HtmlView(css_class="nnl-selection"))

        self._fill_options()
        self._load_layer()
        self._draw_input()
        self._bind(layer=self._layer_dd, pinned=self._pin_box, target=self._target_dd)
        self._control("pin_value", self._value_slider)
        # not a plain link: a value set in code beyond the slider's range widens the range instead of being clamped
        self._value_slider.observe(self._guarded(lambda c: setattr(self, "pin_value", c["new"])), "value")
        self._on(self._show_pin_value, "pin_value")
        self._on(lambda _c: self._on_layer(), "layer")
        self._on(lambda _c: self._on_ablation(), "off", "pinned", "pin_value")
        self._on(self._on_channel, "channel")
        self._on(lambda _c: self._forget_ranking(), "target")
        self._on(lambda _c: self._draw_bars(), "top_k")
        self._on(lambda _c: self._draw_grid(), "cmap")
        self._grid_view.on_pick(self._guarded(self.toggle))
        self._rank_button.on_click(self._guarded(lambda _b: self.rank()))
        self._off_top_button.on_click(self._guarded(lambda _b: self.switch_off_top(self._top_n.value)))
        self._reset_button.on_click(self._guarded(lambda _b: self.reset()))
        self._draw_bars()

        self._finish([
            row(self._layer_dd),
            row(self._grid_view, column(self._input_view, self._selection, row(self._pin_box, self._value_slider),
                                        self._bars, self._reset_button)),
            row(self._target_dd, self._rank_button, self._top_n, self._off_top_button),
            self._ranking,
        ])

    # -- public --------------------------------------------------------
    @property
    def input(self):
        """The input batch (1, C, ...). Assign a new input to look at it (the switches are kept)."""
        return self._cache.x

    @input.setter
    def input(self, x) -> None:
        self._reload(ActivationCache(self._model, x, self._preprocess))  # validates, may raise

    @property
    def labels(self) -> List[str]:
        """The class names (``str()`` of each label given, or the class index)."""
        return list(self._labels)

    @property
    def layers(self):
        """The layers whose channels can be switched off, as ``core.LayerInfo``."""
        return [i for i in (self._cache.infos[n] for n in self._cache.tensor_layers) if i.has_channels]

    @property
    def channels(self) -> int:
        return 0 if self._maps is None else self._maps.shape[0]

    @property
    def probabilities(self):
        """(before, now): the class probabilities without and with the current switches."""
        return self._before.copy(), self._after.copy()

    @property
    def replacement(self) -> Dict[int, float]:
        """channel -> value the layer's output is set to (the switched-off channels and the pin)."""
        values = {c: 0.0 for c in self.off}
        if self.pinned:
            values[self.channel] = float(self.pin_value)
        return values

    def tile_rect(self, channel: int):
        """(x, y, w, h) of ``channel``'s tile in grid pixels."""
        return self._grid_view.tile_rect(channel)

    def toggle(self, channel: int) -> None:
        """Switch ``channel`` off, or back on if it is off; it becomes the selected channel."""
        channel = self._valid_channel_index(channel)
        with self.hold_trait_notifications():
            self.channel = channel
            self.off = sorted(set(self.off) ^ {channel})

    def reset(self) -> None:
        """Everything back on, nothing pinned."""
        with self.hold_trait_notifications():
            self.pinned = False
            self.off = []

    def refresh(self) -> None:
        """Recompute: activations, probabilities before and now (e.g. after the weights changed)."""
        self._reload(ActivationCache(self._model, self._cache.x))

    def rank(self) -> None:
        """Rank every channel by the change of the ``target`` logit when it alone is off (background, stoppable)."""
        model, x, layer, target = self._model, self._cache.x, self.layer, self.target

        def work(job):
            def progress(done, total):
                job.check()
                job.progress(done / total, f"switched off {done} of {total} channels, one at a time")

            try:  # the fast way first: the part before the layer runs once per pass
                return ablation_effects(model, x, layer, target, on_progress=progress, expand="layer")
            except ValueError:
                return ablation_effects(model, x, layer, target, on_progress=progress, expand="input")

        def draw(effects):
            if layer == self.layer and target == self.target and x is self._cache.x:
                self.effects = effects
                self._draw_ranking()

        self._run_in_background(work, draw)

    def wait(self, timeout: Optional[float] = 60.0) -> bool:
        """Block until the prediction and any ranking are up to date; False on timeout."""
        return self._predict.wait(timeout) and super().wait(timeout)

    def stop(self) -> None:
        """Stop the ranking in progress (and a pending prediction)."""
        self._predict.cancel()
        super().stop()

    def switch_off_top(self, n: int) -> None:
        """Switch off the ``n`` channels whose removal lowers the target most (after ``rank``)."""
        if self.effects is None:
            raise ValueError("rank the channels first (the 'rank channels' button or .rank())")
        n = check_count(n, "n", 1, self.channels)
        self.off = sorted(set(self.off) | set(self.effects.ranking(n)))

    # -- validation -----------------------------------------------------
    def _valid_channel_index(self, value) -> int:
        return check_index(value, self.channels, "a channel", f" for layer {self.layer!r}")

    @traitlets.validate("layer")
    def _valid_layer(self, proposal):
        name = proposal["value"]
        info = self._cache.info(name)  # KeyError with the closest names / ValueError
        if not info.has_channels:
            why = f"runs {info.calls} times per pass" if info.calls > 1 else f"outputs {info.shape}"
            raise ValueError(f"layer {name!r} {why}: no channel axis to switch off; "
                             f"layers with channels: {', '.join(i.name for i in self.layers[:12])}")
        return name

    @traitlets.validate("channel")
    def _valid_channel(self, proposal):
        return self._valid_channel_index(proposal["value"])

    @traitlets.validate("off")
    def _valid_off(self, proposal):
        return sorted({self._valid_channel_index(c) for c in proposal["value"]})

    @traitlets.validate("pin_value")
    def _valid_pin_value(self, proposal):
        return check_number(proposal["value"], "pin_value")

    @traitlets.validate("target")
    def _valid_target(self, proposal):
        return check_index(proposal["value"], len(self._labels), "a target class")

    @traitlets.validate("top_k")
    def _valid_top_k(self, proposal):
        return min(check_count(proposal["value"], "top_k", 1), len(self._before))  # at most every class

    @traitlets.validate("cmap")
    def _valid_cmap(self, proposal):
        lut(proposal["value"])  # KeyError naming matplotlib colormaps
        return proposal["value"]

    # -- layers and switches --------------------------------------------
    def _default_layer(self) -> str:
        """The deepest layer with spatial maps, else the first layer with channels."""
        infos = self.layers
        if not infos:
            raise ValueError(f"{type(self._model).__name__} has no layer with channels to switch off")
        spatial = [i for i in infos if i.is_spatial]
        return max(spatial, key=lambda i: i.finished).name if spatial else infos[0].name

    def _fill_options(self) -> None:
        self._layer_dd.options = [(i.label(), i.name) for i in self.layers]
        order = np.argsort(-self._before, kind="stable")  # likeliest classes first
        self._target_dd.options = [(f"{self._labels[i]} ({100 * self._before[i]:.1f}%)", int(i)) for i in order]

    def _load_layer(self, keep_switches: bool = False) -> None:
        self._maps = channel_maps(self._cache[self.layer].cpu().numpy())
        n = self.channels
        self._top_n.max = n
        self._value_slider.span(float(np.abs(self._maps).max()), self.pin_value)
        keep = keep_switches and all(c < n for c in self.off) and self.channel < n
        with self.hold_trait_notifications():
            self.set_trait("channel", self.channel if keep else min(self.channel, n - 1))
            if not keep:
                self.set_trait("off", [])
                self.set_trait("pinned", False)
        self._draw_grid()

    def _reload(self, cache: ActivationCache) -> None:
        before = class_probabilities(self._model, cache.x)[0].numpy()
        if len(before) != len(self._labels):
            raise ValueError(f"the model gives {len(before)} classes for this input, {len(self._labels)} before")
        with self._lock:
            self._work.cancel()
            self._predict.cancel()
            self._cache.clear()
            self._cache, self._before, self._after = cache, before, before
            self._forget_ranking()
            self._fill_options()
            self._draw_input()
            self._load_layer(keep_switches=True)
            self._draw_bars()
        self._clear_error()
        self._on_ablation()

    def _on_layer(self) -> None:
        self._forget_ranking()
        self._after = self._before
        self._load_layer()
        self._draw_bars()

    def _show_pin_value(self, change) -> None:
        self._value_slider.show(float(change["new"]))

    def _on_channel(self, _change) -> None:
        self._draw_marks()
        if self.pinned:
            self._on_ablation()

    def _forget_ranking(self) -> None:
        self.effects = None
        self._off_top_button.disabled = True
        self._ranking.clear()

    def _on_ablation(self) -> None:
        replacement, layer, x = self.replacement, self.layer, self._cache.x
        self._draw_marks()
        model = Ablated(self._model, layer, replacement)

        def work(_job):
            return class_probabilities(model, x)[0].numpy()

        def draw(after):
            if layer == self.layer and replacement == self.replacement and x is self._cache.x:
                self._after = after
                self._draw_bars()
                self._clear_error()

        self._predict.submit(work, draw)

    # -- drawing (never runs the model) --------------------------------
    def _draw_grid(self) -> None:
        self._grid_view.show_channels(self._maps, self.cmap, self._grid_px,
                                      f"{self.layer}: {self.channels} channels (click to switch off / on)")
        fit_to_picture(self._grid_view)
        self._draw_marks()

    def _draw_marks(self) -> None:
        self._grid_view.mark(self.channel, self.off)
        state = "off" if self.channel in self.off else "on"
        pin = f", pinned to {fmt(self.pin_value)}" if self.pinned else ""
        self._selection.show(
            f"<div style='font-size:12px'><b>{text(self.layer)}</b> channel <b>{self.channel}</b> of "
            f"{self.channels}: {state}{pin}<br>{len(self.off)} channel(s) switched off</div>")

    def _draw_bars(self) -> None:
        k = min(self.top_k, len(self._before))
        rows = [int(i) for i in np.argsort(-self._before, kind="stable")[:k]]
        rows += [int(i) for i in np.argsort(-self._after, kind="stable")[:k] if i not in rows]
        self._bars.show_probabilities([self._labels[i] for i in rows], self._after[rows], self._before[rows],
                                      highlight=self.target, indices=rows,
                                      caption="probability of each class, before and with the switches")

    def _draw_ranking(self) -> None:
        e = self.effects
        order = e.ranking(RANKED)
        change = dict(zip(e.channels.tolist(), e.change.tolist()))
        name = self._labels[self.target]
        self._ranking.show_ranking(
            [f"channel {c}" for c in order], [change[c] for c in order],
            value_label=f"change in the logit of {name} (that channel alone off)",
            intro_html=f"<div style='font-size:12px'>logit of <b>{text(name)}</b> with nothing off: "
                       f"{fmt(e.base_score)}; the {len(order)} of {len(change)} channels whose removal "
                       "lowers it most:</div>",
            title=f"ranking: channels that support {name}")
        self._off_top_button.disabled = False

    def _draw_input(self) -> None:
        x = self._cache.x[0].detach().cpu().numpy()
        image = x.ndim == 3 and x.shape[0] in (1, 3)
        self._input_view.layout.display = "flex" if image else "none"
        if image:
            self._input_view.show(image_rgba(x), title="input",
                                  caption=f"{x.shape[2]}x{x.shape[1]} px, {x.shape[0]} channel(s)")

    def _release(self) -> None:
        self._predict.close()
        if hasattr(self, "_cache"):  # a constructor that failed on its input has none
            self._cache.clear()
        self._maps = None
        self.effects = None

    def _state_caption(self) -> str:
        return f"NeuronAblation: {self.layer}, {len(self.off)} channel(s) off"


def _css(widget: W.Widget, css_class: str) -> W.Widget:
    widget.add_class(css_class)
    return widget

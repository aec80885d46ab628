"""One model, one input, every view of it linked: pick a unit or a class anywhere, see it everywhere."""
from __future__ import annotations

from typing import Any, Dict, Iterable, List, Mapping, Optional

import ipywidgets as W
import numpy as np
import traitlets

from ..core import ActivationCache, class_probabilities
from ..render import channel_maps, image_rgba
from .base import LensWidget, check_count, check_index, labels_for
from .data_views import DataView
from .unit_traits import LayerChannelTraits
from .lens_state import STATE_VERSION, check_state, input_hash, state_script, versions, weights_hash
from .lens_jobs import LensBackground
from .lens_views import LensPanels
from .lens_work import top_classes
from .param_controls import ParamPanel
from .saliency_methods import check_params, offered_methods
from .target_choices import class_options
from .views import column, row

__all__ = ["Lens"]


class Lens(LayerChannelTraits, LensBackground, LensWidget):
    """A model explored through linked views of one input.

    - the input and the model's top classes; the target dropdown picks the
      class the attribution explains;
    - every channel of ``layer`` as tiles: a click picks the unit
      (``channel``);
    - the unit: its activation over the input, the input pixels that drive
      it (gradient), the picture it wants (feature visualisation, streamed),
      its top examples in ``data`` (one scan per layer, in the background;
      click one to make it the input) and what switching it off does to the
      class probabilities;
    - the target: an attribution map (any method of
      ``core.attribution.METHODS``) with a trust badge (deletion AUC against
      a random map), and an occlusion map on demand (``occlude()``).

    Panels read from the activation cache are drawn at once and never run
    the model; the others run in the background, newest choice first.
    ``state()`` records the view; ``Lens.from_state`` reopens it.

    Traits: ``layer``, ``channel``, ``target``, ``method``, ``vis_seed``.
    """

    layer = traitlets.Unicode()
    channel = traitlets.Int(0)
    target = traitlets.Int(0)
    method = traitlets.Unicode("gradient")
    vis_seed = traitlets.Int(0)

    def __init__(self, model, x, *, data=None, labels: Optional[Iterable] = None, preprocess=None,
                 layer: Optional[str] = None, channel: Optional[int] = None, target: Optional[int] = None,
                 method: str = "gradient",
                 method_params: Optional[Mapping] = None, vis_seed: int = 0, vis_steps: int = 128,
                 top_k: int = 5, examples: int = 8, trust_steps: int = 16, grid_px: int = 320,
                 picture_px: int = 160, **kwargs):
        super().__init__(model, **kwargs)
        self._preprocess = preprocess
        self.top_k = check_count(top_k, "top_k", 1, 50)
        self.examples_k = check_count(examples, "examples", 1, 64)
        self.vis_steps = check_count(vis_steps, "vis_steps", 1, 100000)
        self.trust_steps = check_count(trust_steps, "trust_steps", 2, 1024)
        self._grid_px = check_count(grid_px, "grid_px", 16, 4096)
        self._offered, _ = offered_methods(None)
        self._params = check_params(self._offered, method_params or {})
        self._data = None if data is None else DataView(data, "data")
        self._cache = self._new_cache(x)
        self._probs = class_probabilities(self._model, self._cache.x)[0].numpy()
        self._names = labels_for(labels, len(self._probs))
        self._layers = [n for n in self._cache.tensor_layers if self._cache.infos[n].is_spatial]
        if not self._layers:
            raise ValueError(f"{type(model).__name__} has no layer with channel maps (N, C, h, w) for this input")
        self._version = 0  # bumped with each new input: results keyed by it never mix inputs
        self._results: Dict[tuple, Any] = {}  # (what, version, ...) -> a background result
        self._drawn: Dict[str, tuple] = {}  # panel -> the key of the result it shows
        self._scans: Dict[str, Any] = {}  # layer -> TopExamples (data only: kept across inputs)
        self._maps: Optional[np.ndarray] = None
        self._shown: tuple = ()
        self._example_indices: List[int] = []
        self._scanning: Optional[str] = None  # the layer whose scan is in flight
        self._occluding = False
        self._workers = {name: self._new_worker(on_progress=progress, on_idle=idle)
                         for name, progress, idle in (("vis", None, None),
                                                      ("scan", self._scan_progress, self._scan_idle),
                                                      ("occlusion", self._occlusion_progress, None))}
        self.add_class("nnl-lens")
        self._panels = LensPanels(self._view, grid_px, picture_px)
        self._build_controls()
        first = layer if layer is not None else self._layers[-1]
        self._check_layer(first)
        self.set_trait("layer", first)
        self.set_trait("target", int(np.argmax(self._probs)) if target is None else target)
        self.set_trait("method", method)
        self.set_trait("vis_seed", vis_seed)
        self._params_panel.show(self._params)
        self._params_panel.show_only([self.method])
        self._bind(layer=self._layer_dd, channel=self._channel_slider, method=self._method_dd,
                   vis_seed=self._seed_box)
        # not a plain link: refilling a dropdown's options selects its first one, which must not
        # become the target
        self._control("target", self._target_dd)
        self._refill_targets()
        self._target_dd.observe(self._guarded(self._target_picked), "value")
        self._on(self._on_layer, "layer")
        self._on(lambda _c: self._show_unit(), "channel")
        self._on(self._on_target, "target")
        self._on(self._on_method, "method")
        self._on(lambda _c: self._start_vis(), "vis_seed")
        self._panels.channels.on_pick(self._guarded(lambda c: setattr(self, "channel", c)))
        self._panels.examples.on_pick(self._guarded(self._pick_example))
        self._draw_input()
        self._maps = channel_maps(self._cache.maps(first).cpu().numpy())
        self._channel_slider.max = self._maps.shape[0] - 1
        # by default the unit that responds most to this input (its mean over positions)
        self.set_trait("channel", int(np.argmax(self._maps.mean(axis=(1, 2)))) if channel is None else channel)
        self._load_layer(first)
        p = self._panels
        self._finish([
            row(self._layer_dd, self._channel_slider, self._target_dd),
            row(self._method_dd, self._params_panel, self._seed_box, self._occlude_button),
            row(p.input, p.classes, p.attribution, p.occlusion),
            row(p.channels, p.activation, p.unit_gradient),
            row(p.feature_vis, column(p.examples, p.scan_row), p.ablation),
        ])

    def _build_controls(self) -> None:
        full = W.Layout(width="auto", max_width="100%")
        self._layer_dd = W.Dropdown(description="layer", layout=full,
                                    options=[(self._cache.infos[n].label(), n) for n in self._layers])
        self._channel_slider = W.IntSlider(description="channel", min=0, max=0,
                                           layout=W.Layout(width="300px", max_width="100%"))
        self._target_dd = W.Dropdown(description="target class", layout=full)
        self._refilling = False
        self._refill_targets()
        self._method_dd = W.Dropdown(description="attribution", layout=full,
                                     options=[(e.title, k) for k, e in self._offered.items()])
        self._params_panel = ParamPanel(self._offered, self._guarded(self._on_param))
        self._seed_box = W.BoundedIntText(description="picture seed", min=0, max=2**31 - 1,
                                          layout=W.Layout(width="160px"))
        self._occlude_button = W.Button(description="occlusion map", icon="th",
                                        tooltip="cover each part of the input in turn (many model runs)")
        self._occlude_button.on_click(self._guarded(lambda _b: self.occlude()))
        self._control("occlude", self._occlude_button)
        for name, control in self._params_panel.controls.items():
            self._control(name, control)

    # -- public --------------------------------------------------------------
    @property
    def model(self):
        return self._model

    @property
    def input(self):
        """The input batch (1, C, H, W) as the model sees it. Assign an image to look at another."""
        return self._cache.x

    @input.setter
    def input(self, x) -> None:
        cache = self._new_cache(x)  # validates, may raise: nothing changed yet
        probs = class_probabilities(self._model, cache.x)[0].numpy()
        if len(probs) != len(self._names):
            raise ValueError(f"expected an input the model gives {len(self._names)} class scores, got {len(probs)}")
        missing = [n for n in self._layers if n not in cache.infos or not cache.infos[n].is_spatial]
        if missing:
            raise ValueError(f"expected an input of the same shape: layer(s) {', '.join(missing)} change shape")
        with self._lock:
            for name in ("vis", "occlusion"):
                self._workers[name].cancel()
            self._work.cancel()
            self._cache.clear()
            self._cache, self._probs = cache, probs
            self._version += 1
            self._results.clear()
            self._shown = ()
            self._refill_targets()
            self._draw_input()
            self._load_layer(self.layer)
            if self._occluding:  # the occlusion map follows the input as it follows the target
                self._start_occlusion()

    @property
    def layers(self) -> List[str]:
        """The layers offered: those with channel maps (N, C, h, w)."""
        return list(self._layers)

    @property
    def channels(self) -> int:
        return int(self._cache.infos[self.layer].shape[1])

    @property
    def probabilities(self) -> np.ndarray:
        """P(class) for the input (a copy)."""
        return self._probs.copy()

    @property
    def method_params(self) -> Dict[str, Dict[str, Any]]:
        """{method: {parameter: value}} for every method with parameters (a copy)."""
        return {k: dict(v) for k, v in self._params.items()}

    @property
    def forward_passes(self) -> int:
        """Forward passes that filled the activation cache of the current input."""
        return self._cache.forward_passes

    @property
    def scanned(self) -> Optional[Any]:
        """The top-examples scan (``core.TopExamples``) of the current layer, once done."""
        return self._scans.get(self.layer)

    def occlude(self) -> None:
        """Compute the occlusion map of ``target`` (in the background); it then follows the target."""
        self._occluding = True
        self._start_occlusion()

    # -- validation ----------------------------------------------------------
    def _new_cache(self, x) -> ActivationCache:
        return ActivationCache(self._model, x, self._preprocess)

    def _check_layer(self, name: str) -> str:
        if name not in self._layers:
            self._cache.info(name)  # KeyError with the closest names, or why it is no layer
            raise ValueError(f"expected a layer with channel maps (N, C, h, w), one of {self._layers}; "
                             f"got {name!r}")
        return name

    @traitlets.validate("target")
    def _valid_target(self, proposal):
        return check_index(proposal["value"], len(self._names), "a target class")

    def _refill_targets(self) -> None:
        """The likeliest classes, and the target wherever it ranks, as the dropdown's choices."""
        self._refilling = True
        try:
            self._target_dd.options = class_options(self._probs, self._names, self.top_k, keep=[self.target])
            self._target_dd.value = self.target
        finally:
            self._refilling = False

    def _target_picked(self, change) -> None:
        if not self._refilling and change["new"] is not None:
            self.target = change["new"]

    @traitlets.validate("method")
    def _valid_method(self, proposal):
        if proposal["value"] not in self._offered:
            raise ValueError(f"expected a method in {list(self._offered)}, got {proposal['value']!r}")
        return proposal["value"]

    @traitlets.validate("vis_seed")
    def _valid_seed(self, proposal):
        return check_count(proposal["value"], "vis_seed", 0, 2**31 - 1)

    # -- reacting ------------------------------------------------------------
    def _on_layer(self, change) -> None:
        name, cache = change["new"], self._cache
        if cache.has(name):
            self._load_layer(name)
            return
        self._panels.waiting(self._panels.channels, f"reading {name}…")
        self._run_in_background(lambda job: cache[name],
                                lambda _a: cache is self._cache and self.layer == name and self._load_layer(name))

    def _load_layer(self, name: str) -> None:
        self._maps = channel_maps(self._cache.maps(name).cpu().numpy())
        n = self._maps.shape[0]
        with self.hold_trait_notifications():
            self._channel_slider.max = n - 1
            self.set_trait("channel", min(self.channel, n - 1))
        self._panels.draw_channels(self._maps, name, self._grid_px)
        self._show_unit(force=True)

    def _on_target(self, _change) -> None:
        if self._target_dd.value != self.target:  # set in code: the dropdown shows it too
            self._refill_targets()
        self._draw_classes()
        self._start_panels()
        if self._occluding:
            self._start_occlusion()

    def _on_method(self, change) -> None:
        self._params_panel.show_only([change["new"]])
        self._start_panels()

    def _on_param(self, method: str, name: str, value) -> None:
        self._params = check_params(self._offered, {**self._params, method: {**self._params[method], name: value}})
        if method == self.method:
            self._start_panels()

    def _pick_example(self, i: int) -> None:
        if 0 <= i < len(self._example_indices):
            self.input = self._data.images([self._example_indices[i]])[0]

    # -- cheap panels: drawn at once from the cache --------------------------
    def _photo(self) -> np.ndarray:
        return image_rgba(self._cache.x[0].detach().cpu().numpy())

    def _draw_input(self) -> None:
        self._panels.draw_input(self._photo(), tuple(self._cache.x.shape))
        self._draw_classes()

    def _draw_classes(self) -> None:
        self._panels.draw_classes(self._names, self._probs, top_classes(self._probs, self.top_k, self.target),
                                  self.target)

    def _show_unit(self, force: bool = False) -> None:
        key = (self._version, self.layer, self.channel)
        if self._maps is None or (key == self._shown and not force):
            return
        self._shown = key
        p = self._panels
        p.channels.select(self.channel)
        p.draw_activation(self._photo(), self._maps, self.layer, self.channel)
        self._draw_examples()
        self._start_scan(self.layer)  # once per layer; again only if a scan was stopped
        self._start_panels()
        self._start_vis()

    def _draw_examples(self) -> None:
        p = self._panels
        if self._data is None:
            p.examples.set_title("top examples")
            p.waiting(p.examples, "no data set given (Lens(..., data=images)) to find examples in")
            return
        scan = self._scans.get(self.layer)
        if scan is None:
            p.waiting(p.examples, f"scanning the data for {self.layer}…")
            return
        indices, values, _ = scan.top(self.channel, k=self.examples_k)
        self._example_indices = [int(i) for i in indices]
        p.draw_examples(self._data.images(self._example_indices), values.numpy(), self._example_indices,
                        self.layer, self.channel, scan.count)

    # -- state ---------------------------------------------------------------
    def state(self) -> Dict[str, Any]:
        """What this view shows, as a plain dict (reopen it with ``Lens.from_state``)."""
        return {
            "version": STATE_VERSION, "layer": self.layer, "channel": int(self.channel),
            "target": int(self.target), "target_name": self._names[self.target], "method": self.method,
            "method_params": self.method_params, "vis_seed": int(self.vis_seed), "vis_steps": self.vis_steps,
            "trust_steps": self.trust_steps, "top_k": self.top_k, "examples": self.examples_k,
            "occlusion": self._occluding, "input_shape": list(self._cache.x.shape),
            "input_hash": input_hash(self._cache.x), "weights_hash": weights_hash(self._model),
            "versions": versions(),
        }

    @classmethod
    def from_state(cls, model, x, state: Mapping[str, Any], *, data=None, labels=None, preprocess=None,
                   **kwargs) -> "Lens":
        """The view ``state`` recorded, on ``model`` and ``x``; a ValueError naming what differs
        when the model's weights or the input are not those it was saved with."""
        from ..core import to_batch

        check_state(state, weights_hash(model), input_hash(to_batch(x, model, preprocess)))
        options = {k: state[k] for k in ("vis_steps", "trust_steps", "top_k", "examples") if k in state}
        lens = cls(model, x, data=data, labels=labels, preprocess=preprocess, layer=state["layer"],
                   channel=state["channel"], target=state["target"], method=state["method"],
                   method_params=state["method_params"], vis_seed=state["vis_seed"], **{**options, **kwargs})
        if state.get("occlusion"):
            lens.occlude()
        return lens

    def _export_extra_html(self) -> str:
        return state_script(self.state())

    def _state_caption(self) -> str:
        return f"Lens: {self.layer} channel {self.channel}, target {self._names[self.target]}, {self.method}"

    def _release(self) -> None:
        for worker in self._workers.values():
            worker.close()
        self._cache.clear()
        self._results.clear()
        self._scans.clear()
        self._maps = None
        self._data = None

"""Several attribution methods side by side on one image, with a trust report."""
from __future__ import annotations

from typing import Dict, Iterable, List, Optional, Sequence

import ipywidgets as W
import numpy as np
import torch
import traitlets

from ..core import metrics
from ..core.attribution import UnitTarget, spatial_layers
from ..render.attribution_maps import SIGNS
from ..render.tiling import fit_factor
from .base import LensWidget, check_count, check_index, check_number, labels_for, text
from .image_input import load_image
from .labelled import labelled
from .saliency_cache import ResultCache
from .saliency_controls import SaliencyControls, bind_vmax
from .saliency_methods import call_kwargs, check_params, offered_methods, params_key
from .saliency_views import MethodCard, shared_vmax
from .saliency_work import Step, run_steps
from .target_choices import check_spatial_layer, class_options
from .views import PictureView, row

__all__ = ["SaliencyExplorer"]


class SaliencyExplorer(LensWidget):
    """Attribution maps for one image, each beside its overlay, with a trust report.

    Every method in ``nl.core.METHODS`` is offered (tick the ones to show);
    ``methods`` picks the first ones (names, or ``(title, function)`` pairs
    such as ``("Occlusion", nl.core.Captum(Occlusion, ...))``; default: every
    registered method). Each method's parameters get controls built from its
    spec, in the "method parameters" panel.

    Target: a class (``target``), or a channel of a layer (``target_mode =
    "channel"``, ``layer``, ``channel``: the channel's mean). Display: which
    sign to show, overlay opacity, the percentile where colour saturates
    (``clip_percentile``), or one fixed scale for every map (``vmax``). Maps
    are computed in the background, fastest first, each drawn when ready;
    display changes never run the model. ``trust_report()`` adds, per map,
    deletion / insertion curves and the cascading-randomisation check.

    Traits: ``methods``, ``params`` ({method: {parameter: value}}), ``target``,
    ``target_mode`` ("class" | "channel"), ``layer``, ``channel``, ``sign``,
    ``opacity``, ``clip_percentile``, ``vmax`` (None: each map its own scale).
    """

    methods = traitlets.List(traitlets.Unicode())
    params = traitlets.Dict()
    target = traitlets.Int(0)
    target_mode = traitlets.Enum(("class", "channel"), default_value="class")
    layer = traitlets.Unicode("")
    channel = traitlets.Int(0)
    sign = traitlets.Enum(SIGNS, default_value="absolute")
    opacity = traitlets.Float(0.8)
    clip_percentile = traitlets.Float(99.0)
    vmax = traitlets.Float(None, allow_none=True)

    def __init__(self, model, x, *, methods: Optional[Sequence] = None, labels: Optional[Iterable] = None,
                 preprocess=None, target: Optional[int] = None, layer: Optional[str] = None, top_k: int = 5,
                 pane_px: int = 160, autorun: bool = True, **kwargs):
        super().__init__(model, **kwargs)
        self._offered, picked = offered_methods(methods)
        self._preprocess = preprocess
        self._x, self._probs, self._photo = load_image(self._model, x, self._preprocess)
        n = len(self._probs)
        self._labels = labels_for(labels, n)
        self._top_k = min(check_count(top_k, "top_k", 1), n)
        self._pane_px = check_count(pane_px, "pane_px", 16, 2048)
        self._scale = fit_factor(max(self._x.shape[-2:]), self._pane_px)
        self._layers = dict(spatial_layers(self._model, self._x))  # name -> output shape
        self._cache = ResultCache()  # maps and reports of targets and parameters visited earlier
        self._frames: Dict[str, np.ndarray] = {}
        self.add_class("nnl-saliency-explorer")
        with self.hold_trait_notifications():
            self.methods = picked
            self.params = {}
            self.target = int(self._probs.argmax()) if target is None else target
            if layer is not None or self._layers:
                self.layer = layer if layer is not None else list(self._layers)[-1]
        self._build_controls()
        self._on(self._on_layer, "layer")
        self._on(lambda _c: self._on_target(), "target", "target_mode", "layer", "channel")
        self._on(self._on_methods, "methods")
        self._on(self._on_params, "params")
        self._on(lambda _c: self._redraw(), "sign", "opacity", "clip_percentile", "vmax")
        self._c.show_target(self.target_mode, bool(self._layers))
        self._on_methods(None)
        if autorun:
            self.refresh()

    def _build_controls(self) -> None:
        c = self._c = SaliencyControls.build(self._offered, self._layers, self._class_options(),
                                             self._guarded(self.set_param))
        c.channel.max = max(self._channels() - 1, 0)
        for box in c.boxes.values():
            box.observe(self._guarded(lambda _c: self._on_boxes()), "value")
        bind_vmax(self, c.scale, c.vmax, self._shared_vmax, self._guarded)
        c.compute.on_click(lambda _b: self._guarded(self.refresh)())
        c.trust.on_click(lambda _b: self._guarded(self.trust_report)())
        for name, control in c.named().items():
            self._control(name, control)
        self._bind(target_mode=c.mode, target=c.target, sign=c.sign, opacity=c.opacity, clip_percentile=c.clip)
        if self._layers:  # a dropdown with no options cannot hold a layer name
            self._bind(layer=c.layer, channel=c.channel)
        self._input_view = self._view("input", PictureView("input", css_class="nnl-saliency-input", plain_rgb=True))
        self._cards = {key: MethodCard(key, entry.title, self._scale) for key, entry in self._offered.items()}
        self._view_method = {}  # view name -> the method it belongs to
        for key, card in self._cards.items():
            card.fit(int(self._x.shape[-1]))
            self._view(key, card.picture)
            self._view(f"{key} trust", card.trust)
            self._view_method.update({key: key, f"{key} trust": key})
        self._draw_input()
        self._finish([
            row(labelled("explain", c.mode), c.target, c.layer, c.channel),
            row(W.HTML("<b>methods</b>"), *c.boxes.values()),
            row(labelled("show", c.sign), c.opacity, c.clip),
            row(labelled("colour scale", c.scale), c.vmax),
            row(c.params_box, c.compute, c.trust),
            row(self._input_view, *self._cards.values()),
        ])

    # -- public ----------------------------------------------------------------
    @property
    def input(self) -> torch.Tensor:
        """The input batch (1, C, H, W). Assign a new image to explain it instead."""
        return self._x

    @input.setter
    def input(self, x) -> None:
        xb, probs, photo = load_image(self._model, x, self._preprocess)
        if len(probs) != len(self._labels):
            raise ValueError(f"expected the model to output {len(self._labels)} classes for the new input, "
                             f"got {len(probs)}")
        layers = dict(spatial_layers(self._model, xb))
        with self._lock:
            self._work.cancel()
            self._x, self._probs, self._photo, self._layers = xb, probs, photo, layers
            self._scale = fit_factor(max(xb.shape[-2:]), self._pane_px)
            self._release()
            self._c.target.options = self._class_options()
            for card in self._cards.values():
                card.scale = self._scale
                card.fit(int(xb.shape[-1]))
            self._draw_input()
            if self.layer not in layers and layers:
                self.layer = list(layers)[-1]
            self._redraw()
        self.refresh()

    @property
    def offered(self) -> List[str]:
        """Every method that can be picked (registered ones, then the caller's functions)."""
        return list(self._offered)

    @property
    def explained(self):
        """What the maps explain, as given to the methods: a class index or a ``UnitTarget``."""
        if self.target_mode == "channel":
            return UnitTarget(self.layer, int(self.channel))
        return int(self.target)

    @property
    def maps(self) -> Dict[str, torch.Tensor]:
        """The current target's pixel maps computed so far, by picked method."""
        maps = self._cache.maps
        return {k: maps[self._key(k)] for k in self.methods if self._key(k) in maps}

    @property
    def reports(self) -> Dict[str, "metrics.TrustReport"]:
        """The current maps' trust reports computed so far, by picked method."""
        reports = self._cache.reports
        return {k: reports[self._key(k)] for k in self.methods if self._key(k) in reports}

    @property
    def frames(self) -> Dict[str, np.ndarray]:
        """Each picked method's picture (``[map | overlay]``) as drawn, RGBA."""
        return {k: self._frames[k] for k in self.methods if k in self._frames}

    @property
    def frame(self) -> Optional[np.ndarray]:
        """The drawn method pictures side by side, RGBA."""
        drawn = list(self.frames.values())
        return np.concatenate(drawn, axis=1) if drawn else None

    @property
    def views(self):
        """The input and the picked methods' views (pictures and trust reports), in display order."""
        return {name: v for name, v in self._views.items() if self._view_method.get(name) in (None, *self.methods)}

    @property
    def probabilities(self) -> np.ndarray:
        """The model's class probabilities for the input."""
        return self._probs.copy()

    @property
    def busy(self) -> bool:
        """True while work is running or waiting to run."""
        return self._work.busy

    def set_param(self, method: str, name: str, value) -> None:
        """Set one parameter of one method (checked by its spec), e.g. ``("smoothgrad", "noise", 0.2)``."""
        self.params = {**self.params, method: {**self.params.get(method, {}), name: value}}

    def refresh(self):
        """Compute the picked methods' missing maps in the background, fastest first."""
        return self._start(trust=False)

    def stop(self) -> None:
        """Stop the run; the maps it had not reached say so."""
        super().stop()
        with self._lock:
            for key in self.methods:
                if self._key(key) not in self._cache.maps:
                    self._draw_method(key, "stopped before this map was computed: press Compute maps")

    def trust_report(self):
        """Compute every picked map's trust report in the background (after any missing map)."""
        return self._start(trust=True)

    # -- validation ---------------------------------------------------------------
    @traitlets.validate("methods")
    def _valid_methods(self, proposal):
        keys = list(proposal["value"])
        for key in keys:
            if key not in self._offered:
                raise ValueError(f"unknown method {key!r}; offered: {', '.join(self._offered)}")
        if len(set(keys)) != len(keys):
            raise ValueError(f"expected distinct methods, got {keys}")
        return [k for k in self._offered if k in keys]  # shown in the order offered

    @traitlets.validate("params")
    def _valid_params(self, proposal):
        return check_params(self._offered, proposal["value"])

    @traitlets.validate("target")
    def _valid_target(self, proposal):
        t = check_index(proposal["value"], len(self._probs), "a target class")
        dd = self._c.target if hasattr(self, "_c") else None
        if dd is not None and t not in [v for _, v in dd.options]:  # beyond the top k: list it too
            dd.options = self._class_options(keep=(t,))
        return t

    @traitlets.validate("target_mode")
    def _valid_mode(self, proposal):
        if proposal["value"] == "channel" and not self._layers:
            raise ValueError("the model has no layer with a spatial map to pick a channel from")
        return proposal["value"]

    @traitlets.validate("layer")
    def _valid_layer(self, proposal):
        return check_spatial_layer(self._model, self._layers, proposal["value"])

    @traitlets.validate("channel")
    def _valid_channel(self, proposal):
        return check_index(proposal["value"], self._channels(), "a channel", f" for layer {self.layer!r}")

    @traitlets.validate("opacity")
    def _valid_opacity(self, proposal):
        return float(np.clip(check_number(proposal["value"], "opacity"), 0.0, 1.0))

    @traitlets.validate("clip_percentile")
    def _valid_clip(self, proposal):
        return check_number(proposal["value"], "clip_percentile", 50.0, 100.0)

    @traitlets.validate("vmax")
    def _valid_vmax(self, proposal):
        v = proposal["value"]
        if v is not None and not check_number(v, "vmax") > 0:
            raise ValueError(f"expected a positive vmax (or None: each map its own scale), got {v}")
        return None if v is None else float(v)

    # -- state ----------------------------------------------------------------------
    def _class_options(self, keep=()):
        keep = tuple(keep) + ((self.target,) if self.target < len(self._probs) else ())
        return class_options(self._probs, self._labels, self._top_k, keep)

    def _channels(self) -> int:
        shape = self._layers.get(self.layer)
        return int(shape[1]) if shape is not None else 1

    def _target_key(self) -> tuple:
        if self.target_mode == "channel":
            return ("channel", self.layer, int(self.channel))
        return ("class", int(self.target))

    def _key(self, method: str) -> tuple:
        return (method, self._target_key(), params_key(self.params.get(method, {})))

    def _score_label(self) -> str:
        if self.target_mode == "channel":
            return f"mean of {self.layer} channel {self.channel}"
        return f"P({self._labels[self.target]})"

    # -- reacting to controls -------------------------------------------------------
    def _on_layer(self, _change) -> None:
        n = self._channels()
        if self.channel >= n:
            self.set_trait("channel", n - 1)
        self._c.channel.max = n - 1

    def _on_target(self) -> None:
        self._c.show_target(self.target_mode, bool(self._layers))
        self._redraw()
        self.refresh()

    def _on_boxes(self) -> None:
        if not self._c.ticking:
            self.methods = self._c.ticked()

    def _on_methods(self, change) -> None:
        self._c.show_methods(self.methods, any(self._offered[k].params for k in self.methods))
        for key, card in self._cards.items():
            card.layout.display = "flex" if key in self.methods else "none"
        self._redraw()
        if change is not None:
            self.refresh()

    def _on_params(self, _change) -> None:
        self._c.params.show(self.params)
        self._redraw()
        self.refresh()

    def _shared_vmax(self) -> float:
        return shared_vmax(self.maps.values(), self.sign, self.clip_percentile)

    # -- background work ------------------------------------------------------------
    def _start(self, trust: bool):
        unit_layer = self.layer if self.target_mode == "channel" else None
        steps = [Step(self._offered[k], self._key(k), call_kwargs(self._offered[k], self.params.get(k, {}),
                                                                  unit_layer)) for k in self.methods]
        cache = self._cache
        model, x, target = self._model, self._x, self.explained

        def work(job):
            with self._lock:  # results of other weights go (each try: the user may be training)
                cache.keep_for(job.stamp)
                missing = sorted((s for s in steps if s.key not in cache.maps), key=lambda s: s.entry.streams)
                reports = [s for s in steps if trust and s.key not in cache.reports]

            def keep(store, step, value):
                def draw():
                    store(step.key, *value)
                    self._draw_method(step.entry.key)
                self._draw_if_current(job, draw)

            run_steps(job, model, x, target, missing, reports, lambda s: cache.maps.get(s.key),
                      lambda s, result: keep(cache.put_map, s, (result, tuple(x.shape[-2:]))),
                      lambda s, report: keep(cache.put_report, s, (report,)),
                      lambda s, message: keep(cache.fail, s, (message,)))

        job = self._run_in_background(work, lambda _r: None)
        with self._lock:
            self._redraw()  # the cards still waiting say so
        return job

    # -- drawing (never runs the model) -------------------------------------------
    def _redraw(self) -> None:
        for key in self.methods:
            self._draw_method(key)

    def _draw_method(self, method: str, waiting: Optional[str] = None) -> None:
        card, key = self._cards[method], self._key(method)
        m = self._cache.maps.get(key)
        if m is None:
            self._frames.pop(method, None)
            waiting = waiting or ("computing..." if self.busy else "not computed yet: press Compute maps")
            card.show_waiting(self._photo, self._cache.failures.get(key, waiting))
            card.clear_trust()
            return
        stability = self._cache.stability.get(key)
        self._frames[method] = card.show_map(m, self._photo, self.sign, self.opacity, self.clip_percentile,
                                             self.vmax, stability)
        report = self._cache.reports.get(key)
        if report is None:
            card.clear_trust()
        else:
            card.show_trust(report, self._score_label(), self.target_mode == "class", stability)

    def _draw_input(self) -> None:
        h, w = self._x.shape[-2:]
        self._input_view.layout.max_width = f"{max(140, int(w) * self._scale)}px"
        top = int(np.argmax(self._probs))
        self._input_view.show(self._photo, scale=self._scale, title="input", caption=text(
            f"{w}x{h} px; the model says {self._labels[top]} ({100 * self._probs[top]:.1f}%)"))

    def _release(self) -> None:
        if hasattr(self, "_cache"):  # a constructor that failed on its input has none
            self._cache.clear()
        self._frames = {}

    def _state_caption(self) -> str:
        what = (f"{self.layer} channel {self.channel}" if self.target_mode == "channel"
                else f"class {self._labels[self.target]}")
        return f"SaliencyExplorer: {len(self.methods)} method(s) explaining {what}"

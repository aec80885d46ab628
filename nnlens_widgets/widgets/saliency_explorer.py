"""Several attribution methods side by side on one image, with a trust report."""
from __future__ import annotations

from typing import Callable, Dict, List, Optional, Sequence, Tuple, Union

import ipywidgets as W
import numpy as np
import torch
import traitlets
from torch import nn

from ..core import metrics
from ..core.attribution import METHODS, UnitTarget, method_function, pixel_map, spatial_layers
from ..core.attribution.gradients import prepare
from ..core.predictions import class_probabilities
from ..render import SIGNS, blend, heatmap_rgba, image_rgba, line_plot, upscale
from ..render.tiling import fit_factor
from .base import LensWidget
from .frame_canvas import FrameCanvas

__all__ = ["SaliencyExplorer", "DEFAULT_METHODS"]

DEFAULT_METHODS = (
    "gradient", "input_x_gradient", "guided_backprop", "deconvnet", "integrated_gradients",
    "smoothgrad", "grad_cam", "guided_grad_cam", "lime",
)
_TITLES = {
    "gradient": "Gradient", "input_x_gradient": "Input × gradient",
    "guided_backprop": "Guided backprop", "deconvnet": "Deconvnet",
    "integrated_gradients": "Integrated gradients", "smoothgrad": "SmoothGrad",
    "grad_cam": "Grad-CAM", "guided_grad_cam": "Guided Grad-CAM", "lime": "LIME",
}
# which method parameters each method reads (so changing one re-runs only those)
_PARAMS = {
    "integrated_gradients": ("steps", "baseline"),
    "smoothgrad": ("samples", "noise"),
    "lime": ("lime_samples",),
}
_DELETION, _INSERTION = (214, 39, 40), (31, 119, 180)
_CACHE_SIZE = 128  # maps kept for targets / parameters visited earlier


class SaliencyExplorer(LensWidget):
    """Attribution maps for one image, each as a heat map and as an overlay.

    ``methods``: names from ``nl.core.METHODS`` (default: all of them) or
    ``(title, function)`` pairs, e.g. ``("Occlusion", nl.core.Captum(Occlusion, ...))``.
    ``labels``: class names for the target picker.

    Target: one of the top-k classes, or a neuron (layer + channel: the
    channel's mean). Display: sign (positive / negative / absolute / both),
    opacity, and "no normalisation" (every map at the fixed ``vmax`` instead
    of its own maximum). Method parameters (IG steps, SmoothGrad samples and
    noise, LIME samples) sit in a collapsible panel. Maps are computed in the
    background, fastest first, each drawn when ready; the progress bar's Stop
    ends the run, and display controls keep working from cached maps (they
    never run the model). "Trust report" adds, per map, deletion / insertion
    AUC and the cascading-randomisation similarity, with the curves plotted.

    Traits: ``target_mode`` ("class" | "neuron"), ``target_class``, ``layer``,
    ``channel``, ``sign``, ``opacity``, ``normalize``, ``vmax``, ``steps``,
    ``baseline`` (IG), ``samples``, ``noise``, ``lime_samples``.
    """

    target_mode = traitlets.Enum(("class", "neuron"), default_value="class")
    target_class = traitlets.Int(0)
    layer = traitlets.Unicode("")
    channel = traitlets.Int(0)
    sign = traitlets.Enum(SIGNS, default_value="absolute")
    opacity = traitlets.Float(0.6)
    normalize = traitlets.Bool(True)
    vmax = traitlets.Float(1.0)
    steps = traitlets.Int(32)
    baseline = traitlets.Enum(("zero", "blur", "uniform", "white"), default_value="zero")
    samples = traitlets.Int(25)
    noise = traitlets.Float(0.15)
    lime_samples = traitlets.Int(300)

    def __init__(
        self,
        model: nn.Module,
        image,
        methods: Optional[Sequence[Union[str, Tuple[str, Callable]]]] = None,
        labels: Optional[Sequence[str]] = None,
        preprocess=None,
        top_k: int = 5,
        pane_px: int = 160,
        **kwargs,
    ):
        self._methods = self._resolve_methods(methods)
        xb, predicted = prepare(model, image, None, preprocess)
        if xb.ndim != 4:
            raise ValueError(f"expected an image input (C,H,W), got a batch of shape {tuple(xb.shape)}")
        self._model, self._x = model, xb
        probs = class_probabilities(model, xb)[0]
        n_classes = probs.numel()
        if labels is not None and len(labels) != n_classes:
            raise ValueError(f"expected {n_classes} labels (one per class), got {len(labels)}")
        self._labels = list(labels) if labels is not None else [str(i) for i in range(n_classes)]
        self._probs = probs.cpu().numpy()
        self._layers = [(n, s) for n, s in spatial_layers(model, xb)]
        self._factor = fit_factor(max(xb.shape[-2:]), pane_px)
        self._image = upscale(image_rgba(xb[0].detach().cpu().numpy()), self._factor)
        self._maps: Dict[tuple, torch.Tensor] = {}  # (method, target, params) -> pixel map
        self._reports: Dict[tuple, metrics.TrustReport] = {}
        self._frames: Dict[str, np.ndarray] = {}
        super().__init__(**kwargs)
        self.add_class("nnl-saliency-explorer")
        self.set_trait("target_class", int(predicted))
        if self._layers:
            self.set_trait("layer", self._layers[-1][0])

        # target picker
        order = np.argsort(-self._probs)[: max(1, int(top_k))]
        self._class_dd = W.Dropdown(
            options=[(f"{self._labels[i]} ({self._probs[i]:.2f})", int(i)) for i in order],
            description="class", layout=W.Layout(width="260px"))
        self._class_dd.add_class("nnl-class-dropdown")
        self._mode_tb = W.ToggleButtons(options=[("class", "class"), ("neuron", "neuron")],
                                        style={"button_width": "70px"})
        self._mode_tb.add_class("nnl-target-mode")
        self._layer_dd = W.Dropdown(options=[(f"{n} {'x'.join(map(str, s[1:]))}", n) for n, s in self._layers],
                                    description="layer", layout=W.Layout(width="300px"))
        self._layer_dd.add_class("nnl-layer-dropdown")
        self._channel_slider = W.IntSlider(description="channel", min=0, max=self._channels() - 1,
                                           continuous_update=False)
        self._channel_slider.add_class("nnl-channel-slider")
        self._neuron_box = W.HBox([self._layer_dd, self._channel_slider])
        # display
        self._sign_tb = W.ToggleButtons(options=list(SIGNS), style={"button_width": "72px"})
        self._sign_tb.add_class("nnl-sign")
        self._opacity_slider = W.FloatSlider(description="opacity", min=0.0, max=1.0, step=0.05,
                                             continuous_update=True)
        self._opacity_slider.add_class("nnl-opacity-slider")
        self._norm_cb = W.Checkbox(description="normalise each map", indent=False,
                                   layout=W.Layout(width="170px"))
        self._norm_cb.add_class("nnl-normalize")
        self._vmax_text = W.FloatText(description="vmax", layout=W.Layout(width="150px"))
        # method parameters
        self._steps_slider = W.IntSlider(description="IG steps", min=2, max=300, continuous_update=False)
        self._baseline_dd = W.Dropdown(options=["zero", "blur", "uniform", "white"], description="IG baseline")
        self._samples_slider = W.IntSlider(description="SG samples", min=1, max=200, continuous_update=False)
        self._noise_slider = W.FloatSlider(description="SG noise", min=0.0, max=0.5, step=0.01,
                                           continuous_update=False)
        self._lime_slider = W.IntSlider(description="LIME samples", min=10, max=3000, step=10,
                                        continuous_update=False)
        params = W.VBox([self._steps_slider, self._baseline_dd, self._samples_slider, self._noise_slider, self._lime_slider])
        self._params = W.Accordion(children=[params], selected_index=None)
        self._params.set_title(0, "method parameters")
        self._trust_button = W.Button(description="Trust report", icon="check",
                                      tooltip="deletion / insertion AUC and the randomisation check")
        self._trust_button.add_class("nnl-trust-button")
        self._trust_button.on_click(self._guarded(lambda _b: self.run_trust_report()))
        self._compute_button = W.Button(description="Compute", icon="refresh",
                                        tooltip="compute the maps still missing (e.g. after Stop)")
        self._compute_button.add_class("nnl-compute-button")
        self._compute_button.on_click(self._guarded(lambda _b: self.refresh()))

        # one column per method: title, [heat | overlay], badge, curves
        self._canvases: Dict[str, FrameCanvas] = {}
        self._badges: Dict[str, W.HTML] = {}
        self._curves: Dict[str, FrameCanvas] = {}
        columns = []
        for name, _fn in self._methods:
            canvas, badge, curve = FrameCanvas(), W.HTML(), FrameCanvas()
            canvas.add_class("nnl-saliency-map")
            canvas.add_class(f"nnl-method-{name.lower().replace(' ', '-')}")
            badge.add_class("nnl-trust-badge")
            curve.add_class("nnl-trust-curves")
            curve.layout.display = "none"
            self._canvases[name], self._badges[name], self._curves[name] = canvas, badge, curve
            title = W.HTML(f"<b>{_TITLES.get(name, name)}</b>")
            columns.append(W.VBox([title, canvas, badge, curve], layout=W.Layout(margin="0 8px 8px 0")))
        self._panel = W.Box(columns, layout=W.Layout(flex_flow="row wrap"))

        for trait, control in (("target_mode", self._mode_tb), ("target_class", self._class_dd),
                               ("layer", self._layer_dd), ("channel", self._channel_slider),
                               ("sign", self._sign_tb), ("opacity", self._opacity_slider),
                               ("normalize", self._norm_cb), ("vmax", self._vmax_text),
                               ("steps", self._steps_slider), ("baseline", self._baseline_dd),
                               ("samples", self._samples_slider),
                               ("noise", self._noise_slider), ("lime_samples", self._lime_slider)):
            W.link((self, trait), (control, "value"))
        self._neuron_box.layout.display = "none"
        self._layer_dd.disabled = self._channel_slider.disabled = not self._layers
        self.observe(self._guarded(self._on_target), ["target_mode", "target_class", "channel"])
        self.observe(self._guarded(self._on_layer), "layer")
        self.observe(self._guarded(self._on_params), ["steps", "baseline", "samples", "noise", "lime_samples"])
        self.observe(self._guarded(lambda _c: self._redraw()), ["sign", "opacity", "normalize", "vmax"])

        top = W.HBox([self._mode_tb, self._class_dd, self._neuron_box])
        look = W.HBox([self._sign_tb, self._opacity_slider, self._norm_cb, self._vmax_text])
        self._finish([top, look, W.HBox([self._params, self._compute_button, self._trust_button]), self._panel])
        self.refresh()

    # -- public ----------------------------------------------------------------
    @property
    def model(self) -> nn.Module:
        return self._model

    @property
    def methods(self) -> List[str]:
        return [n for n, _ in self._methods]

    @property
    def target(self):
        """The target the maps explain: a class index or a ``UnitTarget``."""
        if self.target_mode == "neuron":
            if not self._layers:
                raise ValueError("the model has no layer with a spatial map to pick a neuron from")
            return UnitTarget(self.layer, int(self.channel))
        return int(self.target_class)

    @property
    def maps(self) -> Dict[str, torch.Tensor]:
        """The current target's pixel maps computed so far, by method."""
        out = {}
        for name, _ in self._methods:
            m = self._maps.get(self._key(name))
            if m is not None:
                out[name] = m
        return out

    @property
    def reports(self) -> Dict[str, "metrics.TrustReport"]:
        out = {}
        for name, _ in self._methods:
            r = self._reports.get(self._key(name))
            if r is not None:
                out[name] = r
        return out

    @property
    def frames(self) -> Dict[str, np.ndarray]:
        """Each method's picture ([heat map | overlay]) as drawn, RGBA."""
        return dict(self._frames)

    @property
    def frame(self) -> Optional[np.ndarray]:
        """All drawn method pictures side by side, RGBA."""
        drawn = [self._frames[n] for n, _ in self._methods if n in self._frames]
        return np.concatenate(drawn, axis=1) if drawn else None

    def refresh(self):
        """(Re)compute the missing maps in the background; returns the job."""
        return self._run_in_background(lambda job: self._compute(job, trust=False), lambda _r: None)

    def run_trust_report(self):
        """Compute every map's trust report in the background (after any missing map)."""
        return self._run_in_background(lambda job: self._compute(job, trust=True), lambda _r: None)

    # -- methods and keys -----------------------------------------------------
    @staticmethod
    def _resolve_methods(methods):
        if methods is None:
            methods = DEFAULT_METHODS
        if isinstance(methods, str):
            methods = [methods]
        out = []
        for m in methods:
            if isinstance(m, str):
                out.append((m, method_function(m)))  # unknown name -> ValueError listing METHODS
            elif isinstance(m, tuple) and len(m) == 2 and isinstance(m[0], str) and callable(m[1]):
                out.append(m)
            else:
                raise ValueError(
                    f"expected methods as names ({', '.join(METHODS)}) or (title, function) pairs, got {m!r}"
                )
        if not out:
            raise ValueError("expected at least one method")
        if len({n for n, _ in out}) != len(out):
            raise ValueError(f"expected distinct method names, got {[n for n, _ in out]}")
        return out

    def _method_kwargs(self, name: str) -> dict:
        if name == "integrated_gradients":
            return {"steps": int(self.steps), "baseline": self.baseline}
        if name == "smoothgrad":
            return {"samples": int(self.samples), "noise": float(self.noise)}
        if name == "lime":
            return {"samples": int(self.lime_samples)}
        return {}

    def _key(self, name: str) -> tuple:
        params = tuple(getattr(self, p) for p in _PARAMS.get(name, ()))
        return (name, self.target, params)

    def _channels(self) -> int:
        shapes = dict(self._layers)
        return shapes[self.layer][1] if self.layer in shapes else 1

    # -- background work ------------------------------------------------------
    def _compute(self, job, trust: bool):
        target = self.target
        todo = [(n, fn, self._key(n), self._method_kwargs(n)) for n, fn in self._methods]
        missing = [t for t in todo if t[2] not in self._maps]
        reports = [t for t in todo if trust and t[2] not in self._reports]
        total = len(missing) + 3 * len(reports)  # a trust report costs about three maps
        done = 0

        def stage(text):
            def report(fraction, _text=""):
                job.check()
                job.progress((done + fraction * (3 if text.startswith("trust") else 1)) / max(total, 1), text)
            return report

        for name, fn, key, kwargs in missing:
            job.progress(done / max(total, 1), name)
            kw = dict(kwargs)
            if name in ("integrated_gradients", "smoothgrad", "lime"):
                kw["progress"] = stage(name)
            result = fn(self._model, self._x, target=target, **kw)
            job.check()
            with self._lock:
                if not job.cancelled:
                    self._maps[key] = pixel_map(result).detach().cpu()
                    while len(self._maps) > _CACHE_SIZE:  # oldest first: dicts keep insertion order
                        self._maps.pop(next(iter(self._maps)))
                    self._draw_method(name)
            done += 1
        for name, fn, key, kwargs in reports:
            report = metrics.trust_report(
                self._model, self._x, fn, target, attribution=self._maps.get(key),
                progress=stage(f"trust: {name}"), **kwargs)
            job.check()
            with self._lock:
                if not job.cancelled:
                    self._reports[key] = report
                    while len(self._reports) > _CACHE_SIZE:
                        self._reports.pop(next(iter(self._reports)))
                    self._draw_method(name)
            done += 3
        return None

    # -- reacting to controls -----------------------------------------------
    def _on_target(self, change) -> None:
        self._neuron_box.layout.display = "flex" if self.target_mode == "neuron" else "none"
        self._class_dd.layout.display = "none" if self.target_mode == "neuron" else "flex"
        self._redraw()
        self.refresh()

    def _on_layer(self, change) -> None:
        self._channel_slider.max = self._channels() - 1
        if self.target_mode == "neuron":
            self._on_target(change)

    def _on_params(self, change) -> None:
        self._redraw()
        self.refresh()

    @traitlets.validate("layer")
    def _valid_layer(self, proposal):
        names = [n for n, _ in self._layers]
        if proposal["value"] not in names:
            raise ValueError(f"expected a layer with a spatial map, one of {names}; got {proposal['value']!r}")
        return proposal["value"]

    @traitlets.validate("channel")
    def _valid_channel(self, proposal):
        c, n = int(proposal["value"]), self._channels()
        if not 0 <= c < n:
            raise ValueError(f"expected a channel in 0..{n - 1} for layer {self.layer!r}, got {c}")
        return c

    @traitlets.validate("target_class")
    def _valid_class(self, proposal):
        c, n = int(proposal["value"]), len(self._labels)
        if not 0 <= c < n:
            raise ValueError(f"expected a class in 0..{n - 1}, got {c}")
        dd = getattr(self, "_class_dd", None)
        if dd is not None and c not in [v for _, v in dd.options]:  # beyond the top k: list it too
            dd.options = list(dd.options) + [(f"{self._labels[c]} ({self._probs[c]:.2f})", c)]
        return c

    @traitlets.validate("opacity")
    def _valid_opacity(self, proposal):
        return float(np.clip(proposal["value"], 0.0, 1.0))

    @traitlets.validate("vmax")
    def _valid_vmax(self, proposal):
        v = float(proposal["value"])
        if not v > 0 or not np.isfinite(v):
            raise ValueError(f"expected a positive vmax, got {v}")
        return v

    # -- drawing (never runs the model) ---------------------------------------
    def _display_map(self, m: torch.Tensor) -> np.ndarray:
        m = m[0] if m.ndim == 4 else m
        if self.sign == "absolute":
            return m.abs().sum(0).numpy()
        return m.sum(0).numpy()

    def _redraw(self) -> None:
        for name, _ in self._methods:
            self._draw_method(name)

    def _draw_method(self, name: str) -> None:
        key = self._key(name)
        m = self._maps.get(key)
        canvas = self._canvases[name]
        h, w = self._image.shape[:2]
        if m is None:
            heat = np.zeros((h, w, 4), dtype=np.uint8)
            heat_pane = np.full((h, w, 4), 235, dtype=np.uint8)
        else:
            values = self._display_map(m)
            heat = upscale(heatmap_rgba(values, self.sign, vmax=None if self.normalize else self.vmax),
                           self._factor)
            heat_pane = blend(np.full((h, w, 4), 255, dtype=np.uint8), heat, 1.0)
        gap = np.full((h, 4, 4), 255, dtype=np.uint8)
        picture = np.concatenate([heat_pane, gap, blend(self._image, heat, self.opacity)], axis=1)
        self._frames[name] = picture
        canvas.draw(picture)
        self._draw_trust(name, key)

    def _draw_trust(self, name: str, key: tuple) -> None:
        report = self._reports.get(key)
        badge, curve = self._badges[name], self._curves[name]
        if report is None:
            badge.value = ""
            curve.layout.display = "none"
            return
        sanity = report.sanity
        rho = "" if sanity is None else f" · random-model ρ {sanity.mean_spearman:.2f}, SSIM {sanity.mean_ssim:.2f}"
        badge.value = (
            f"<span class='nnl-badge' title='{report.summary()}' style='font-size:11px'>"
            f"deletion AUC <b>{report.deletion.auc:.3f}</b> · insertion AUC "
            f"<b>{report.insertion.auc:.3f}</b>{rho}</span>"
        )
        width = self._frames[name].shape[1] if name in self._frames else 160
        curve.draw(line_plot(
            [(report.deletion.fractions, report.deletion.scores),
             (report.insertion.fractions, report.insertion.scores)],
            [_DELETION, _INSERTION], width=min(width, 320), height=80))
        curve.layout.display = "block"

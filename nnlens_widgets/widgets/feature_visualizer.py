"""What a unit wants: its optimised image forming live, beside its top dataset examples."""
from __future__ import annotations

from typing import Dict, List, Optional, Sequence, Tuple

import ipywidgets as W
import numpy as np
import torch
import torchvision.transforms.v2.functional  # noqa: F401 - the image transforms: loaded with the widget, not mid-run
import traitlets
from torch import nn

from ..core import layers as list_layers
from ..core.featurevis import channel, diversity, feature_vis, resolve_settings
from ..core.featurevis.param import PARAMETERISATIONS
from ..core.top_examples import TopExamples, _inputs_of, activating_region, top_examples
from ..render import rgb_grid
from .base import LensWidget
from .frame_canvas import FrameCanvas

__all__ = ["FeatureVisualizer", "DataView", "images_picture", "examples_picture"]


class DataView:
    """Random access to the inputs of a tensor, Dataset or DataLoader (its dataset, in order)."""

    def __init__(self, data):
        if isinstance(data, torch.utils.data.DataLoader):
            data = data.dataset
        if isinstance(data, torch.Tensor):
            if data.ndim != 4:
                raise ValueError(f"expected data images shaped (N, C, H, W), got shape {tuple(data.shape)}")
        elif not (hasattr(data, "__getitem__") and hasattr(data, "__len__")):
            raise ValueError(f"expected data as a tensor (N, C, H, W), a Dataset or a DataLoader, got {type(data).__name__}")
        if len(data) == 0:
            raise ValueError("expected a non-empty data set, got no examples")
        self.data = data
        self.input_shape = tuple(self.images([0]).shape[1:])

    def __len__(self):
        return len(self.data)

    def images(self, indices: Sequence[int]) -> torch.Tensor:
        if isinstance(self.data, torch.Tensor):
            return self.data[torch.as_tensor(list(indices), dtype=torch.long)]
        return torch.stack([torch.as_tensor(_inputs_of(self.data[int(i)])) for i in indices])


def _as_hwc(images: torch.Tensor) -> np.ndarray:
    """(N, C, H, W) in [0, 1] -> (N, H, W, 3) float (grey repeated; other ranges min-max scaled)."""
    a = images.detach().float().cpu()
    lo, hi = float(a.min()), float(a.max())
    if lo < 0 or hi > 1:
        a = (a - lo) / (hi - lo) if hi > lo else torch.zeros_like(a)
    a = a.permute(0, 2, 3, 1).numpy()
    if a.shape[-1] == 1:
        a = np.repeat(a, 3, axis=-1)
    elif a.shape[-1] != 3:
        a = np.repeat(a.mean(-1, keepdims=True), 3, axis=-1)
    return a


def images_picture(images: torch.Tensor, target_px: int = 256):
    """Tile a batch of images into one RGBA picture; returns the ``ChannelGrid``."""
    return rgb_grid(_as_hwc(images), target_px=target_px, min_tile_px=32)


def examples_picture(images: torch.Tensor, boxes: Sequence[Tuple[int, int, int, int]],
                     target_px: int = 288, color: str = "#ff3b30"):
    """Tile example images; each box ``(x0, y0, x1, y1)`` (input pixels) becomes an outline mark."""
    grid = images_picture(images, target_px)
    marks = []
    for i, (x0, y0, x1, y1) in enumerate(boxes):
        oy, ox = grid.layout.origin(i)
        f = grid.factor
        marks.append(dict(x=ox + x0 * f, y=oy + y0 * f, w=(x1 - x0) * f, h=(y1 - y0) * f, color=color, width=2))
    return grid, marks


def layer_choices(model: nn.Module, input_shape) -> Dict[str, tuple]:
    """Layer name -> output shape (per sample) for every layer with channels (2-D or 4-D outputs)."""
    probe_x = torch.zeros((1,) + tuple(input_shape))
    return {i.name: i.shape[1:] for i in list_layers(model, probe_x)
            if i.is_tensor and len(i.shape) in (2, 4) and i.calls == 1}


class FeatureVisualizer(LensWidget):
    """Feature visualisation of one channel of a layer, live, with its top dataset examples.

    - layer dropdown and channel slider;
    - the optimised image forms on the left canvas (streamed every ``every``
      steps; progress and Stop below); Start runs again with the settings
      (steps, lr, parameterisation, transforms, diversity batch);
    - with ``data``: the ``k`` most activating examples of the channel on the
      right, each with the region that drives the activation outlined (one
      scan per layer, kept);
    - finished images are cached per (layer, channel, settings): coming back
      to a unit shows its image at once, with no new run.

    ``autorun``: start optimising whenever the unit or a setting changes
    (otherwise only on Start). Input size: ``input_size``, else the data's
    image size, else ``model.input_size`` / 128 px.

    Traits: ``layer``, ``channel``, ``steps``, ``lr``, ``param``,
    ``transforms``, ``batch``, ``running`` (read only).
    """

    layer = traitlets.Unicode()
    channel = traitlets.Int(0)
    steps = traitlets.Int(128)
    lr = traitlets.Float(0.05)
    param = traitlets.Enum(PARAMETERISATIONS, default_value="fourier")
    transforms = traitlets.Enum(("standard", "none"), default_value="standard")
    batch = traitlets.Int(1)
    running = traitlets.Bool(False, read_only=True)

    def __init__(self, model: nn.Module, layer: Optional[str] = None, data=None, input_size=None,
                 every: int = 8, k: int = 9, autorun: bool = True, seed: int = 0,
                 vis_px: int = 256, examples_px: int = 288, steps: int = 128, **kwargs):
        if not isinstance(model, nn.Module):
            raise ValueError(f"expected a torch.nn.Module, got {type(model).__name__}")
        self._model = model
        self._data = DataView(data) if data is not None else None
        if input_size is None and self._data is not None:
            input_size = self._data.input_shape[1:]
        self._settings = resolve_settings(model, input_size)
        self._input_shape = (self._settings.channels,) + self._settings.size
        if self._data is not None and self._data.input_shape != self._input_shape:
            raise ValueError(f"data images are shaped {self._data.input_shape} but input_size gives "
                             f"{self._input_shape}; pass a matching input_size")
        self._layers = layer_choices(model, self._input_shape)
        if not self._layers:
            raise ValueError(f"{type(model).__name__} has no layer with channels to visualise")
        first = layer if layer is not None else next(iter(self._layers))
        self._check_layer(first)
        self.every, self.k, self.seed, self.autorun = int(every), int(k), int(seed), bool(autorun)
        self._vis_px, self._examples_px = int(vis_px), int(examples_px)
        self._vis_cache: Dict[tuple, object] = {}
        self._scans: Dict[str, TopExamples] = {}
        self._regions: Dict[tuple, list] = {}
        self.runs = 0  # optimisation runs started (cache hits start none)
        self.frames_streamed = 0
        super().__init__(**kwargs)
        self.add_class("nnl-feature-visualizer")

        self._layer_dd = W.Dropdown(options=[(f"{n} {'x'.join(map(str, s))}", n) for n, s in self._layers.items()],
                                    description="layer", layout=W.Layout(width="360px"))
        self._layer_dd.add_class("nnl-layer-dropdown")
        self._channel_slider = W.IntSlider(description="channel", min=0, max=0, continuous_update=False,
                                           layout=W.Layout(width="360px"))
        self._channel_slider.add_class("nnl-channel-slider")
        self._steps_box = W.BoundedIntText(min=1, max=100000, description="steps", layout=W.Layout(width="160px"))
        self._lr_box = W.BoundedFloatText(min=1e-5, max=10.0, step=0.01, description="lr", layout=W.Layout(width="160px"))
        self._param_dd = W.Dropdown(options=list(PARAMETERISATIONS), description="basis", layout=W.Layout(width="180px"))
        self._tf_dd = W.Dropdown(options=["standard", "none"], description="transforms", layout=W.Layout(width="200px"))
        self._batch_box = W.BoundedIntText(min=1, max=8, description="batch", layout=W.Layout(width="140px"),
                                           tooltip="images optimised together, pushed apart by a diversity term")
        self._start = W.Button(description="Start", icon="play", layout=W.Layout(width="90px"))
        self._start.add_class("nnl-start")
        self._vis_canvas = FrameCanvas()
        self._vis_canvas.add_class("nnl-vis-canvas")
        self._examples_canvas = FrameCanvas()
        self._examples_canvas.add_class("nnl-examples-canvas")
        self._info = W.HTML()
        self._info.add_class("nnl-vis-info")
        self._examples_info = W.HTML()

        with self.hold_trait_notifications():
            self.set_trait("layer", first)
            self.steps = int(steps)
        self._set_channel_range()
        for trait, control in (("layer", self._layer_dd), ("channel", self._channel_slider),
                               ("steps", self._steps_box), ("lr", self._lr_box), ("param", self._param_dd),
                               ("transforms", self._tf_dd), ("batch", self._batch_box)):
            W.link((self, trait), (control, "value"))
        self.observe(self._guarded(self._on_layer), "layer")
        self.observe(self._guarded(self._on_unit), "channel")
        self.observe(self._guarded(self._on_settings), ["steps", "lr", "param", "transforms", "batch"])
        self._start.on_click(self._guarded(lambda _b: self.start(force=True)))

        settings = W.HBox([self._steps_box, self._lr_box, self._param_dd, self._tf_dd, self._batch_box, self._start])
        left = W.VBox([W.HTML("<b>optimised image</b>"), self._vis_canvas, self._info])
        panels = [left]
        if self._data is not None:
            panels.append(W.VBox([W.HTML(f"<b>top {self.k} dataset examples</b>"), self._examples_canvas,
                                  self._examples_info]))
        self._finish([W.HBox([self._layer_dd, self._channel_slider]), settings, W.HBox(panels)])
        self._blank()
        if self.autorun or self._data is not None:
            self.start(force=self.autorun)

    # -- public --------------------------------------------------------
    @property
    def model(self) -> nn.Module:
        return self._model

    @property
    def frame(self) -> Optional[np.ndarray]:
        """The optimised image(s) as drawn, (H, W, 4) uint8."""
        return self._vis_canvas.frame

    @property
    def examples_frame(self) -> Optional[np.ndarray]:
        return self._examples_canvas.frame

    @property
    def examples_marks(self) -> List[dict]:
        return list(self._examples_canvas.marks)

    @property
    def channels(self) -> int:
        return int(self._layers[self.layer][0])

    @property
    def layers(self) -> List[str]:
        return list(self._layers)

    def top_examples(self) -> Optional[TopExamples]:
        """The scan of the current layer (None before it is done or without data)."""
        return self._scans.get(self.layer)

    def result(self):
        """The finished :class:`~nnlens_widgets.core.VisStep` of the current unit and settings, if cached."""
        return self._vis_cache.get(self._key())

    def start(self, force: bool = True) -> None:
        """Show the current unit: from the cache at once, else optimise (``force``) in the background."""
        self._clear_error()
        self._draw_examples()
        cached = self._vis_cache.get(self._key())
        if cached is not None:
            self._work.cancel()  # nothing older may draw over it
            self._draw_vis(cached, cached=True)
            return
        scan_needed = self._data is not None and self.layer not in self._scans
        if not force and not scan_needed:
            return
        key, layer, unit = self._key(), self.layer, self.channel
        opts = dict(steps=self.steps, lr=self.lr, param=self.param, transforms=self.transforms, batch=self.batch)
        if force:
            self.runs += 1
            self._info.value = "starting&hellip;"

        def work(job):
            self.set_trait("running", True)
            try:
                if scan_needed:
                    self._scan(job, layer)
                if not force:
                    return None
                return self._optimise(job, layer, unit, opts)
            finally:
                self.set_trait("running", False)

        def draw(state):
            if state is not None:
                self._vis_cache[key] = state
                if key == self._key():
                    self._draw_vis(state)

        self._run_in_background(work, draw)

    # -- background work (worker thread) --------------------------------
    def _scan(self, job, layer):
        job.progress(0.0, f"scanning {len(self._data)} examples for {layer}")
        result = top_examples(self._model, self._data.data, layer, k=self.k,
                              progress=lambda f, t: job.progress(f, f"{layer}: {t}"),
                              should_stop=lambda: job.cancelled)
        with self._lock:
            self._scans[layer] = result
            if not job.cancelled and self.layer == layer:
                self._draw_examples()

    def _optimise(self, job, layer, unit, opts):
        objective = channel(layer, unit)
        batch = opts["batch"]
        if batch > 1:
            objective = objective - 1e2 * diversity(layer)  # lucent's weight for a diverse batch
        last = None
        size = self._settings.size
        for state in feature_vis(self._model, objective, every=self.every, input_size=size,
                                 seed=self.seed, should_stop=lambda: job.cancelled, **opts):
            job.check()
            last = state
            job.progress(state.step / state.steps, f"step {state.step}/{state.steps}")
            with self._lock:
                if not job.cancelled and not state.done:
                    self._draw_vis(state)
        job.check()
        return last

    # -- reacting to controls ------------------------------------------
    def _check_layer(self, name):
        if name not in self._layers:
            from ..core import get_module

            get_module(self._model, name)  # KeyError with the closest names
            raise ValueError(f"layer {name!r} has no channels to visualise (or runs more than once); "
                             f"pick one of: {', '.join(list(self._layers)[:12])}")

    @traitlets.validate("layer")
    def _valid_layer(self, proposal):
        self._check_layer(proposal["value"])
        return proposal["value"]

    @traitlets.validate("channel")
    def _valid_channel(self, proposal):
        c = int(proposal["value"])
        n = int(self._layers[self.layer][0]) if self.layer else 1
        if not 0 <= c < n:
            raise ValueError(f"expected a channel in 0..{n - 1} for layer {self.layer!r}, got {c}")
        return c

    @traitlets.validate("steps", "batch")
    def _valid_positive(self, proposal):
        v = int(proposal["value"])
        if v < 1:
            raise ValueError(f"expected {proposal['trait'].name} >= 1, got {v}")
        return v

    @traitlets.validate("lr")
    def _valid_lr(self, proposal):
        v = float(proposal["value"])
        if not v > 0:
            raise ValueError(f"expected a learning rate > 0, got {v}")
        return v

    def _set_channel_range(self):
        n = self.channels
        with self.hold_trait_notifications():
            self._channel_slider.max = n - 1
            if self.channel >= n:
                self.set_trait("channel", n - 1)

    def _on_layer(self, _change):
        self._work.cancel()
        self._set_channel_range()
        self._blank()
        self.start(force=self.autorun)

    def _on_unit(self, _change):
        self.start(force=self.autorun)

    def _on_settings(self, _change):
        self.start(force=self.autorun)

    # -- drawing -------------------------------------------------------
    def _key(self):
        return (self.layer, self.channel, self.steps, round(self.lr, 8), self.param, self.transforms,
                self.batch, self.seed, self._settings.size)

    def _blank(self):
        h, w = self._settings.size
        grey = torch.full((1, 1, h, w), 0.5)
        self._vis_canvas.draw(images_picture(grey, self._vis_px).rgba)

    def _draw_vis(self, state, cached: bool = False):
        self._vis_canvas.draw(images_picture(state.images, self._vis_px).rgba)
        self.frames_streamed += 0 if cached else 1
        where = "cached" if cached else ("done" if state.done else "running")
        self._info.value = (f"<b>{self.layer}</b> channel <b>{self.channel}</b> &middot; step {state.step}/"
                            f"{state.steps} &middot; mean activation {state.score:.4g} &middot; {where}")

    def _draw_examples(self):
        scan = self._scans.get(self.layer)
        if self._data is None or scan is None:
            return
        unit = self.channel
        idx, values, locs = scan.top(unit=unit)
        key = (self.layer, unit)
        images = self._data.images(idx.tolist())
        if key not in self._regions:
            self._regions[key] = [activating_region(self._model, images[i], self.layer, tuple(locs[i].tolist()),
                                                    unit=unit) for i in range(len(idx))]
        grid, marks = examples_picture(images, self._regions[key], self._examples_px)
        self._examples_canvas.draw(grid.rgba)
        self._examples_canvas.marks = marks
        self._examples_info.value = (f"max activation {float(values[0]):.4g} (best) &ndash; "
                                     f"{float(values[-1]):.4g} (#{len(idx)}), of {scan.count} examples")

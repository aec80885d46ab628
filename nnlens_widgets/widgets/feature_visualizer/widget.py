"""What a channel wants: its optimised image forming live, beside its top dataset examples."""
from __future__ import annotations

from typing import Any, Dict, Optional, Tuple

import ipywidgets as W
import numpy as np
import torchvision.transforms.v2.functional  # noqa: F401 - the image transforms: loaded with the widget, not mid-run
import traitlets

from ...core import TopExamples
from ...core.featurevis import OBJECTIVES, PARAMETERISATIONS, diversity, resolve_settings
from ..checks import tensor_shape
from ..base import LensWidget, check_choice, check_count, check_index, check_number, text
from ..examples import Example, image_net
from ..traits import ChannelTrait, LayerTrait
from ..data_views import DataView
from .relevance_examples import RelevanceExamples
from ..unit_runs import (
    VisOptions, adopted_scans, channel_layers, channel_measures, check_channel_layer, stream_run, unit_objectives,
)
from .pictures import draw_blank, draw_picture
from .top_examples import draw_top_examples, find_examples, scan_layer
from .quiz import attach_quiz, quiz_results
from ..unit_sanity import vis_sanity
from ..view_warnings import WarningsView
from ..views import PictureView, TileGridView, row

__all__ = ["FeatureVisualizer"]

TRANSFORMS = (("random pad, jitter, scale, rotate", "standard"), ("none", "none"))

SETTING_RANGES = {"steps": (1, 100000), "batch": (1, 8), "lr": (1e-5, 10.0), "seconds": (0.0, 60.0)}


class FeatureVisualizer(LayerTrait, ChannelTrait, LensWidget):
    """What one channel of a layer wants: an image optimised for it, live, beside its top dataset examples.

    - layer dropdown, channel slider, objective (``core.featurevis.OBJECTIVES``: mean, peak, centre neuron);
    - the optimised image forms on the left, streamed every ``every`` steps over at least ``seconds`` (so it can be
      watched; 0: full speed), with progress and Stop; Run (``refresh()``) optimises with the settings (steps,
      learning rate, image basis, transforms, images per batch);
    - with ``data``: the ``k`` data images with the highest peak activation of the channel on the right, each with the
      input region driving its peak outlined (one scan per layer, kept; ``top_examples`` takes scans already made of
      ``data``, e.g. ``nl.core.load_top_examples(folder)``), and the picture's ``core.featurevis_sanity``;
    - both sides state the channel's mean and peak activation read off the images as shown (and the objective's);
    - ``warnings``: the unit never fired, or its picture fails the sanity check; ``quiz=True`` (with ``data``): a
      forced-choice quiz (``feature_visualizer.quiz``) scored per kind of reference (``quiz_results()``).

    Finished images are cached per (layer, channel, objective, settings). ``autorun``: optimise whenever the channel
    or a setting changes (otherwise only on Run). Image size: ``input_size``, else the data's image size, else
    ``model.input_size``, else 128 px.

    Traits: ``layer``, ``channel``, ``objective``, ``steps``, ``lr``, ``param``, ``transforms``, ``batch``,
    ``seconds``, ``running`` (read only).
    """

    objective = traitlets.Unicode("channel")
    steps = traitlets.Int(256)
    lr = traitlets.Float(0.05)
    param = traitlets.Unicode("fourier")
    transforms = traitlets.Unicode("standard")
    batch = traitlets.Int(1)
    seconds = traitlets.Float(4.0)
    running = traitlets.Bool(False, read_only=True)

    @classmethod
    def small_example(cls) -> Example:
        """A small untrained model (and input) to try the widget on."""
        return Example(image_net(), None, {"layer": "relu2", "steps": 4, "seconds": 0, "input_size": 16,
                                                 "autorun": False})

    def __init__(self, model, *, layer: Optional[str] = None, data=None, channel: int = 0,
                 objective: str = "channel", steps: int = 256, lr: float = 0.05, param: str = "fourier",
                 transforms: str = "standard", batch: int = 1, seconds: float = 4.0, input_size=None,
                 every: int = 8, k: int = 9, seed: int = 0, autorun: bool = True, top_examples=None,
                 vis_px: int = 256, examples_px: int = 256, quiz: bool = False, **kwargs):
        super().__init__(model, **kwargs)
        self._vis_cache: Dict[tuple, Tuple[Any, dict, Any]] = {}  # key -> (last state, measures, sanity)
        self._scans: Dict[str, TopExamples] = {}
        self._examples: Dict[tuple, dict] = {}
        self._shown: Dict[str, dict] = {}
        self._data = DataView(data) if data is not None else None
        if input_size is None and self._data is not None:
            input_size = self._data.input_shape[1:]
        self._settings = resolve_settings(self._model, input_size)
        shape = (self._settings.channels,) + self._settings.size
        if self._data is not None and self._data.input_shape != shape:
            raise ValueError(f"data images are shaped {self._data.input_shape} but input_size gives {shape}; "
                             "pass a matching input_size")
        self._layers = channel_layers(self._model, shape)
        if not self._layers:
            raise ValueError(f"{type(self._model).__name__} has no layer with channels to visualise")
        self._every = check_count(every, "every", 1, 100000)
        self._k = check_count(k, "k", 1, 100)
        self._seed = check_count(seed, "seed", 0, 2**31 - 1)
        self._autorun = bool(autorun)
        self._runs = self._frames = 0
        self._adjusting = False
        self._scans.update(adopted_scans(top_examples, self._data, self._layers, self._check_layer))
        ks = {scan.k for scan in self._scans.values()}
        if len(ks) == 1:  # the panel shows as many as were scanned
            self._k = ks.pop()
        self.add_class("nnl-feature-visualizer")

        self.layer = layer if layer is not None else next(iter(self._layers))
        for name, value in dict(channel=channel, objective=objective, steps=steps, lr=lr, param=param,
                                transforms=transforms, batch=batch, seconds=seconds).items():
            setattr(self, name, value)  # validated one by one
        self._build_controls(vis_px, examples_px)
        self._relevance.adopt(adopted_scans(top_examples, self._data, self._layers, self._check_layer, by="relevance"))
        self._quiz = attach_quiz(self, self._data, self._seed) if quiz else None  # below the pictures
        self._on(self._on_layer, "layer")
        self._on(self._on_change, "channel", "objective", "steps", "lr", "param", "transforms", "batch")
        self._show(optimise=self._autorun)

    def _build_controls(self, vis_px: int, examples_px: int) -> None:
        auto = W.Layout(width="auto", max_width="100%")
        self._layer_dd = W.Dropdown(description="layer", options=[(i.label(), n) for n, i in self._layers.items()],
                                    layout=auto)
        self._layer_dd.add_class("nnl-layer-dropdown")
        self._channel_slider = W.IntSlider(description="channel", min=0, max=self.channels - 1,
                                           continuous_update=False, layout=W.Layout(width="360px", max_width="100%"))
        self._channel_slider.add_class("nnl-channel-slider")
        objective_dd = W.Dropdown(description="objective", layout=auto,
                                  options=[(OBJECTIVES[n].title, n) for n in unit_objectives()])
        self._bind(
            layer=self._layer_dd, channel=self._channel_slider, objective=objective_dd,
            steps=W.BoundedIntText(description="steps", min=1, max=100000, layout=W.Layout(width="170px")),
            lr=W.BoundedFloatText(description="learning rate", min=1e-5, max=10.0, step=0.01,
                                  layout=W.Layout(width="200px")),
            param=W.Dropdown(description="image basis", options=list(PARAMETERISATIONS), layout=auto),
            transforms=W.Dropdown(description="transforms", options=list(TRANSFORMS), layout=auto),
            batch=W.BoundedIntText(description="images", min=1, max=8, layout=W.Layout(width="140px"),
                                   tooltip="images optimised together, pushed apart by a diversity term"),
            seconds=W.BoundedFloatText(description="watch over (s)", min=0.0, max=60.0, step=0.5,
                                       layout=W.Layout(width="190px"),
                                       tooltip="spread each run over at least this long (0: full speed)"),
        )
        run = self._control("run", W.Button(description="Run", icon="play", layout=W.Layout(width="auto")))
        run.add_class("nnl-run")
        run.on_click(self._guarded(lambda _b: self.refresh()))
        c = self.controls
        self._image_view = self._view("image", PictureView("optimised image", display_px=vis_px,
                                                           css_class="nnl-vis-canvas", plain_rgb=True))
        panels = [self._image_view]
        if self._data is not None:
            self._examples_view = self._view("examples", TileGridView(
                f"top {self._k} data images", display_px=examples_px, css_class="nnl-examples-canvas",
                plain_rgb=True))
            panels.append(self._examples_view)
        self._relevance = RelevanceExamples(self._model, self._data, self._k, examples_px)
        panels += [self._relevance.view] if self._data is not None else []  # hidden until compare_relevance()
        self._warnings = self._view("warnings", WarningsView())  # the unit never fired; the sanity check
        self._finish([
            self._warnings,
            row(self._layer_dd, self._channel_slider, c["objective"]),
            row(c["steps"], c["lr"], c["param"], c["transforms"], c["batch"], c["seconds"], run),
            row(*panels),
        ])

    # -- public --------------------------------------------------------
    @property
    def channels(self) -> int:
        """How many channels the current layer has."""
        return int(tensor_shape(self._layers[self.layer])[1])

    @property
    def layers(self):
        """The layers offered, as ``core.LayerInfo``."""
        return list(self._layers.values())

    @property
    def k(self) -> int:
        return self._k

    @property
    def runs(self) -> int:
        """Optimisation runs started (a cached image starts none)."""
        return self._runs

    @property
    def frames_streamed(self) -> int:
        """Pictures of runs in progress drawn so far."""
        return self._frames

    @property
    def frame(self) -> Optional[np.ndarray]:
        """The optimised image(s) as drawn, (H, W, 4) uint8."""
        return self._image_view.frame

    @property
    def examples_frame(self) -> Optional[np.ndarray]:
        return self._examples_view.frame if self._data is not None else None

    @property
    def examples_marks(self):
        """The boxes outlining each example's driving region, in picture pixels."""
        return list(self._examples_view.canvas.marks) if self._data is not None else []

    @property
    def measures(self) -> Dict[str, dict]:
        """What the captions state: ``{"image": {...}, "examples": {...}}``, each measure -> values."""
        return {side: {name: np.array(v) for name, v in m.items()} for side, m in self._shown.items()}

    @property
    def warnings(self):
        """What the picture cannot show, as sentences (the unit never fired; it fails the sanity check)."""
        return self._warnings.sentences

    def quiz_results(self) -> dict:
        """The quiz's scores per kind of reference (``quiz=True``), see ``UnitQuiz.results``."""
        return quiz_results(self._quiz)

    def top_examples(self) -> Optional[TopExamples]:
        """The scan of the current layer (None before it is done or without data)."""
        return self._scans.get(self.layer)

    def compare_relevance(self, target: Optional[int]) -> None:
        """Beside the top examples by activation, the data images where the channel is most relevant for
        class ``target`` (RelMax, one scan per layer; None: each image's predicted class)."""
        self._view("relevance_examples", self._relevance.ask(target))
        self._show(optimise=self._autorun)

    def result(self):
        """The finished ``VisStep`` of the current channel, objective and settings, if cached."""
        cached = self._vis_cache.get(self._key())
        return None if cached is None else cached[0]

    def refresh(self) -> None:
        """Show the current channel: from the cache at once, else optimise it in the background."""
        self._show(optimise=True)

    # -- validation -----------------------------------------------------
    def _check_layer(self, name: str) -> str:
        return check_channel_layer(self._model, self._layers, name, "to visualise")

    def _check_channel(self, value: int) -> int:
        return check_index(value, self.channels, "a channel", f" for layer {self.layer!r}")

    @traitlets.validate("objective")
    def _valid_objective(self, proposal):
        return check_choice(proposal["value"], unit_objectives(), "an objective")

    @traitlets.validate("steps", "batch", "lr", "seconds")
    def _valid_setting(self, proposal):
        name, value = proposal["trait"].name, proposal["value"]
        low, high = SETTING_RANGES[name]
        if name in ("steps", "batch"):
            return check_count(value, name, low, high)
        return check_number(value, "learning rate" if name == "lr" else name, low, high)

    @traitlets.validate("param", "transforms")
    def _valid_choice(self, proposal):
        name = proposal["trait"].name
        choices = PARAMETERISATIONS if name == "param" else [v for _, v in TRANSFORMS]
        return check_choice(proposal["value"], list(choices), name)

    # -- reacting --------------------------------------------------------
    def _on_layer(self, _change) -> None:
        n = self.channels
        self._adjusting = True  # the channel follows the new layer's range: one redraw, not two
        try:
            self._channel_slider.max = n - 1
            if self.channel >= n:
                self.channel = n - 1
        finally:
            self._adjusting = False
        self._show(optimise=self._autorun)

    def _on_change(self, _change) -> None:
        if not self._adjusting:
            self._show(optimise=self._autorun)

    def _options(self) -> VisOptions:
        return VisOptions(self._settings.size, self.steps, round(self.lr, 8), self.param, self.transforms,
                          self.batch, self._seed)

    def _key(self) -> tuple:
        return (self.layer, self.channel, self.objective, self._options())

    def _show(self, optimise: bool) -> None:
        """Draw what is known at once; compute in the background what is missing."""
        key = self._key()
        layer, channel, objective, options = key
        cached = self._vis_cache.get(key)
        if cached is not None:
            self._draw_image(*cached, "cached")
        else:
            self._warnings.set("vis", ())
            self._draw_blank(self._image_view, f"{text(layer)}, channel {channel} &middot; "
                             + ("starting…" if optimise else "not run yet: press Run"))
        scan = self._scans.get(layer)
        scanned = scan is None or channel in scan.units
        need_scan = self._data is not None and scan is None
        need_examples = self._data is not None and scanned and key[:3] not in self._examples
        if self._data is not None:
            if not scanned:
                self._draw_blank(self._examples_view, f"channel {channel} is not among the channels scanned "
                                 f"for {text(layer)}")
            elif need_examples:
                self._draw_blank(self._examples_view, "scanning the data…" if need_scan else "measuring…")
            else:
                self._draw_examples(key[:3])
        relevance = self._relevance.missing(layer, channel)
        self._relevance.draw(layer, channel)
        run = optimise and cached is None
        if not (need_scan or need_examples or run or relevance):
            self._work.cancel()  # nothing older may draw over what is shown
            return
        self._runs += int(run)

        def work(job):
            self.set_trait("running", True)
            try:
                if need_scan:
                    self._scan(job, layer)
                if need_examples:
                    self._measure_examples(job, key[:3])
                if relevance:
                    self._relevance.compute(job, layer, channel)
                    self._draw_if_current(job, lambda: self._relevance.draw(*self._key()[:2]))
                return self._optimise(job, key) if run else None
            finally:
                self.set_trait("running", False)

        def draw(result):
            if result is not None:
                self._vis_cache[key] = result
                if key == self._key():
                    self._draw_image(*result, "done")

        self._run_in_background(work, draw)

    # -- background work (worker thread) --------------------------------
    def _scan(self, job, layer: str) -> None:
        assert self._data is not None, "scans need data"
        self._scans[layer] = scan_layer(self._model, self._data, layer, self._k, job)

    def _measure_examples(self, job, key: tuple) -> None:
        assert self._data is not None, "examples need data"
        self._examples[key] = find_examples(self._model, self._data, self._scans[key[0]], key, job)
        self._draw_if_current(job, lambda: self._draw_examples(key) if key == self._key()[:3] else None)

    def _optimise(self, job, key: tuple):
        layer, channel, objective_name, options = key
        objective = OBJECTIVES[objective_name].make(layer, channel)
        if options.batch > 1:
            objective = objective - 1e2 * diversity(layer)  # lucent's weight for a diverse batch

        def on_frame(state):
            if not state.done:
                measures = channel_measures(self._model, state.images, layer, channel, objective_name,
                                            self._settings)
                self._draw_if_current(job, lambda: self._draw_image(state, measures, None, "running"))

        last = stream_run(self._model, objective, options, job, every=self._every, seconds=self.seconds,
                          on_frame=on_frame)
        data = None if self._data is None or objective_name != "channel" or last.stopped else self._data.data
        sanity = vis_sanity(self._model, layer, channel, data, last, self._settings.size)
        return last, channel_measures(self._model, last.images, layer, channel, objective_name,
                                      self._settings), sanity

    # -- drawing ---------------------------------------------------------
    def _draw_image(self, state, measures: dict, sanity, where: str) -> None:
        """``sanity``: ``core.featurevis_sanity`` of the finished picture (None while running, without data)."""
        self._warnings.set("vis", tuple(state.warnings) + (tuple(sanity.warnings) if sanity is not None else ()))
        self._frames += where == "running"
        self._shown["image"] = measures
        draw_picture(self._image_view, state, measures, sanity, where, self.layer, self.channel,
                     self._settings.size, self._maximised())

    def _draw_blank(self, view, note: str) -> None:
        """A grey stand-in of the input's size, so no picture of other settings stays shown."""
        self._shown.pop("image" if view is self._image_view else "examples", None)
        draw_blank(view, self._settings.channels, self._settings.size, note)

    def _draw_examples(self, key: tuple) -> None:
        found = self._examples[key]
        self._shown["examples"] = found["measures"]
        tie = draw_top_examples(self._examples_view, found, self._scans[key[0]].count, key[0], key[1],
                                suffix=" by activation" if self._relevance.asked else "")
        self._warnings.set("examples", (tie,) if tie else ())

    def _maximised(self) -> str:
        """The measure the objective maximises (the channel objective maximises the mean)."""
        return {"channel": "mean"}.get(self.objective, self.objective)

    def _release(self) -> None:
        for cache in (self._vis_cache, self._scans, self._examples, self._shown):
            cache.clear()
        self._relevance.release()
        self._data = None

    def _state_caption(self) -> str:
        return f"FeatureVisualizer: {self.layer}, channel {self.channel}, {OBJECTIVES[self.objective].title}"

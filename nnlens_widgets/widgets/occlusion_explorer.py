"""Occlusion: where does covering the image hurt the class score?"""
from __future__ import annotations

import threading
from typing import Dict, Iterable, List, Optional, Tuple

import ipywidgets as W
import numpy as np
import scipy.ndimage  # noqa: F401 - partial maps and the blurred baseline use these:
import torch
import torchvision.transforms.functional  # noqa: F401 - loaded with the widget, not inside a computation
import traitlets

from ..core import BASELINES, make_baseline, occlusion_stream
from ..core.incremental import prepare_incremental, worth_tracing
from ..render.attribution_maps import DIVERGING, overlay_rgba
from ..render.legend import Scale
from ..render.tiling import fit_factor
from .base import LensWidget, check_choice, check_count, check_index, check_number, labels_for, text
from .examples import Example, image_net, image
from .traits import InputTrait, TargetTrait
from .image_input import load_image
from .labelled import labelled
from .occlusion_readout import PatchScores, hover_html, map_measure, readout_html
from .large_pictures import reduced, reduced_image, reduction, reduction_note
from .target_choices import class_options
from .views import HtmlView, PictureView, column, row

__all__ = ["OcclusionExplorer"]

MOVING, PINNED = "#ffffff", "#ffcc00"  # patch outline: white while it follows the mouse, amber pinned


class OcclusionExplorer(TargetTrait, InputTrait, LensWidget):
    """The image with its occlusion map, and a patch that follows the mouse.

    - The map shows how much covering each spot (a ``window``-sized patch
      filled with the ``baseline``) lowers the target class's probability
      (``score="probability"``) or its logit (``score="logit"``): red where
      covering hurts, blue where it helps, over a grey copy of the image. It
      fills in coarse to fine while it is computed (progress, Stop); changing
      window, stride, baseline, target or score recomputes it.
    - Moving the mouse over the picture covers the patch under it; the
      probabilities beside it update at once (newest position wins) and the
      input view shows exactly what the model sees; under them the map's value
      at the pixel and that one window's drop, in one unit (``hover_values``,
      see ``occlusion_readout``). A click pins the patch,
      another unpins it. A patch cancels a running map; it is restarted when
      the mouse leaves the picture (or press "Compute map").
    - ``.heatmap`` (H, W tensor: the last finished map), ``.frame`` (RGBA).

    Traits: ``target``, ``window``, ``stride``, ``baseline`` (a name in
    ``nl.core.BASELINES``), ``score``, ``opacity``.
    """

    window = traitlets.Int(1)
    stride = traitlets.Int(1)
    baseline = traitlets.Unicode("zero")
    score = traitlets.Enum(("probability", "logit"), default_value="probability")
    opacity = traitlets.Float(0.8)

    @classmethod
    def small_example(cls) -> Example:
        """A small untrained model (and input) to try the widget on."""
        return Example(image_net(), image(), {"window": 4, "stride": 4, "autorun": False})

    def __init__(self, model, x, *, labels: Optional[Iterable] = None, preprocess=None,
                 target: Optional[int] = None, window: Optional[int] = None, stride: Optional[int] = None,
                 baseline: str = "zero", score: str = "probability", opacity: float = 0.8, top_k: int = 5,
                 display_px: int = 384, autorun: bool = True, **kwargs):
        super().__init__(model, **kwargs)
        self._x, probs, self._photo = load_image(self._model, x, preprocess, reduce=True)  # see large_pictures
        self._reduce = reduction(self._x.shape[-2:])
        self._probs = self._shown_probs = torch.from_numpy(probs)
        n = self._probs.numel()
        self._labels = labels_for(labels, n)
        self._preprocess = preprocess
        self._top_k = min(check_count(top_k, "top_k", 1), n)
        display_px = check_count(display_px, "display_px", 32, 4096)
        side = self._side()
        window = max(2, side // 8) if window is None else check_count(window, "window", 1, side)
        stride = max(1, window // 2) if stride is None else check_count(stride, "stride", 1, side)
        target = int(self._probs.argmax()) if target is None else check_index(target, n, "a target class")
        self._heat: Optional[torch.Tensor] = None
        self._heat_key: Optional[tuple] = None
        self._shown: Optional[Tuple[torch.Tensor, str]] = None  # heat drawn (maybe partial) and its note
        self._patch: Optional[Tuple[int, int, int, int]] = None
        self._centre: Optional[Tuple[float, float]] = None  # where the patch was asked for
        self._pinned, self._patch_scores = False, PatchScores()
        self._hover: Optional[Tuple[Optional[float], float]] = None  # (map at the pixel, the window's drop)
        self._baselines: Dict[str, torch.Tensor] = {}  # baseline name -> its filled input
        self.add_class("nnl-occlusion-explorer")
        with self.hold_trait_notifications():
            self.window, self.stride, self.target = window, stride, target
            self.baseline, self.score, self.opacity = baseline, score, opacity

        self._target_dd = W.Dropdown(description="target", options=self._target_options(),
                                     layout=W.Layout(width="auto", max_width="100%"))
        self._score_tb = W.ToggleButtons(options=[("probability", "probability"), ("logit", "logit")],
                                         tooltips=["softmax probability of the target class",
                                                   "the target class's raw score"],
                                         style={"button_width": "auto"}, layout=W.Layout(width="auto"))
        self._baseline_dd = W.Dropdown(description="patch fill",
                                       options=[(spec.title, name) for name, spec in BASELINES.items()],
                                       layout=W.Layout(width="auto"))
        self._window_slider = W.IntSlider(description="window (px)", min=1, max=side, continuous_update=False)
        self._stride_slider = W.IntSlider(description="stride (px)", min=1, max=side, continuous_update=False)
        self._opacity_slider = W.FloatSlider(description="map opacity", min=0.0, max=1.0, step=0.05)
        self._opacity_slider.add_class("nnl-opacity-slider")
        self._compute_btn = W.Button(description="Compute map", icon="refresh",
                                     tooltip="recompute the occlusion map", layout=W.Layout(width="auto"))
        self._compute_btn.add_class("nnl-compute")
        self._compute_btn.on_click(lambda _b: self._guarded(self.refresh)())
        self._control("refresh", self._compute_btn)

        self._map_view = self._view("map", PictureView("occlusion map", display_px=display_px,
                                                       css_class="nnl-occlusion-canvas", track_moves=True))
        self._input_view = self._view("input", PictureView("input", display_px=max(64, display_px // 2),
                                                           css_class="nnl-occlusion-input", plain_rgb=True))
        self._readout = self._view("probabilities", HtmlView(css_class="nnl-probs"))
        self._display_px = display_px
        self._fit_map_view()
        self._bind(target=self._target_dd, score=self._score_tb, baseline=self._baseline_dd,
                   window=self._window_slider, stride=self._stride_slider, opacity=self._opacity_slider)
        self._on(lambda _c: self._on_settings(), "window", "stride", "baseline", "target", "score")
        self._on(lambda _c: self._draw_map(), "opacity")
        self._map_view.canvas.on_move(self._guarded(self._on_move))
        self._map_view.canvas.on_click(self._guarded(self._on_click))

        self._draw_input()
        self._show_probabilities(self._probs)
        self._draw_map()
        self._keep_input(self._x)
        self._finish([
            row(self._target_dd, labelled("map of the drop in", self._score_tb), self._baseline_dd),
            row(self._window_slider, self._stride_slider, self._opacity_slider, self._compute_btn),
            row(self._map_view, column(self._input_view, self._readout)),
        ])
        if autorun:
            self.refresh()

    def _load_input(self, x):
        """Check, prepare and show a new input (``widget.input = x``); returns the batch kept as ``input``."""
        xb, probs, photo = load_image(self._model, x, self._preprocess, reduce=True)  # validates, may raise
        probs = torch.from_numpy(probs)
        if probs.numel() != len(self._labels):
            raise ValueError(f"expected the model to output {len(self._labels)} classes for the new input, "
                             f"got {probs.numel()}")
        with self._lock:
            self._work.cancel()
            self._x, self._probs, self._photo, self._shown_probs = xb, probs, photo, probs
            self._reduce = reduction(xb.shape[-2:])
            self._heat, self._heat_key, self._shown = None, None, None
            self._patch, self._centre, self._pinned = None, None, False
            self._baselines.clear()
            self._map_view.canvas.marks = []
            side = self._side()
            for slider in (self._window_slider, self._stride_slider):
                slider.max = side
            with self.hold_trait_notifications():
                self.window, self.stride = min(self.window, side), min(self.stride, side)
            self._target_dd.options = self._target_options()
            self._fit_map_view()
            self._draw_input()
            self._show_probabilities(self._probs)
            self._draw_map()
        self.refresh()
        return self._x

    @property
    def heatmap(self) -> Optional[torch.Tensor]:
        """The last finished occlusion map (H, W) for the current settings, else None."""
        return self._heat if self._heat_key == self._settings() else None

    @property
    def frame(self) -> Optional[np.ndarray]:
        """The map over the grey image as drawn, (H, W, 4) uint8 (inputs over 1024 px: see large_pictures)."""
        return self._map_view.frame

    @property
    def probabilities(self) -> torch.Tensor:
        """Class probabilities in the readout (for the patched image while a patch is placed)."""
        return self._shown_probs

    @property
    def patch(self) -> Optional[Tuple[int, int, int, int]]:
        """The covered box ``(y0, y1, x0, x1)`` (end exclusive), or None."""
        return self._patch

    @property
    def hover_values(self) -> Optional[Tuple[Optional[float], float]]:
        """(map at the patch's centre pixel or None, that one window's drop), in the map's unit; or None."""
        return self._hover

    @property
    def pinned(self) -> bool:
        return self._pinned

    @property
    def busy(self) -> bool:
        """True while work is running or waiting to run."""
        return self._work.busy

    def patch_box(self, x: float, y: float) -> Tuple[int, int, int, int]:
        """The window-sized box ``(y0, y1, x0, x1)`` centred on picture pixel (x, y), kept inside."""
        h, w = self._x.shape[-2:]
        y0 = int(np.clip(round(y - self.window / 2), 0, h - self.window))
        x0 = int(np.clip(round(x - self.window / 2), 0, w - self.window))
        return y0, y0 + self.window, x0, x0 + self.window

    def place_patch(self, x: float, y: float) -> None:
        """Cover the window centred on picture pixel (x, y), as a mouse move does."""
        self._place_patch(x, y, background=False)

    def clear_patch(self) -> None:
        """Remove the patch (and unpin it)."""
        self._pinned = False
        self._leave()

    def refresh(self) -> None:
        """(Re)compute the occlusion map in the background, streaming partial maps."""
        model, x, key = self._model, self._x, self._settings()  # the map is computed at, and kept under, these
        score_of, baseline, window, stride = self._score_function(), self._baseline_tensor(), self.window, self.stride
        if threading.current_thread() is threading.main_thread() and worth_tracing(model, x):
            prepare_incremental(model)  # the map is made on the worker; torch.fx traces only here

        def work(job):
            frame = None
            for frame in occlusion_stream(model, x, score_of, window, stride, baseline):
                job.check()
                job.progress(frame.done / frame.total, f"{frame.done} of {frame.total} windows")
                if not frame.final:
                    heat = frame.heatmap.mean(0)
                    note = f"partial map: {frame.done} of {frame.total} windows"
                    self._draw_if_current(job, lambda: self._draw_map(heat, note))
            return frame.heatmap.mean(0), frame.total

        def done(result):
            self._heat, total = result
            self._heat_key = key
            self._draw_map(self._heat, f"{total} windows")

        self._run_in_background(work, done)
        with self._lock:
            if self._shown is None:
                self._draw_map()  # says the map is being computed

    # -- validation -----------------------------------------------------
    @traitlets.validate("window", "stride")
    def _valid_size(self, proposal):
        return check_count(proposal["value"], proposal["trait"].name, 1, self._side())

    def _check_target(self, value: int) -> int:
        t = check_index(value, self._probs.numel(), "a target class")
        dd = getattr(self, "_target_dd", None)
        if dd is not None and t not in [v for _, v in dd.options]:  # beyond the top k: list it too
            dd.options = self._target_options(keep=(t,))
        return t

    @traitlets.validate("baseline")
    def _valid_baseline(self, proposal):
        return check_choice(proposal["value"], list(BASELINES), "a baseline")

    @traitlets.validate("opacity")
    def _valid_opacity(self, proposal):
        return float(np.clip(check_number(proposal["value"], "opacity"), 0.0, 1.0))

    # -- internals -----------------------------------------------------
    def _fit_map_view(self) -> None:
        """As wide as the enlarged picture (at least 260 px): the caption wraps under it."""
        shown_px = fit_factor(max(self._photo.shape[:2]), self._display_px) * int(self._photo.shape[1])
        self._map_view.layout.max_width = f"{max(shown_px, 260)}px"

    def _side(self) -> int:
        return int(min(self._x.shape[-2:]))

    def _target_options(self, keep=()) -> List[Tuple[str, int]]:
        keep = tuple(keep) + ((self.target,) if self._probs.numel() > self.target else ())
        return class_options(self._probs.numpy(), self._labels, self._top_k, keep)

    def _settings(self) -> tuple:
        return (self.target, self.window, self.stride, self.baseline, self.score)

    def _score_function(self):
        """What the map measures: the target's logit, or its softmax probability."""
        if self.score == "logit":
            return self.target
        return lambda out, c=self.target: out.float().softmax(1)[:, c]

    def _baseline_tensor(self) -> torch.Tensor:
        if self.baseline not in self._baselines:
            self._baselines[self.baseline] = make_baseline(self._x, self.baseline)
        return self._baselines[self.baseline]

    def _on_settings(self) -> None:
        self._shown = None
        self._draw_map()
        if self._centre is not None:  # the patch and readout follow the new window / fill at once
            self._place_patch(*self._centre, background=False)
        else:
            self._show_probabilities(self._probs)
        self.refresh()

    def _what(self) -> str:
        name = self._labels[self.target]
        return f"P({name})" if self.score == "probability" else f"the logit of {name}"

    def _draw_map(self, heat: Optional[torch.Tensor] = None, note: Optional[str] = None) -> None:
        if heat is not None:
            self._shown = (heat, note or "")
        elif self._shown is None and self._heat is not None and self.heatmap is not None:
            self._shown = (self._heat, "")
        view, what = self._map_view, self._what()
        if self._shown is None:
            blank = np.zeros(self._photo.shape[:2], dtype=np.float32)
            view.show(overlay_rgba(self._photo, blank, "both", 1.0, self.opacity),
                      title=f"occlusion map: drop in {what}", legend=None,
                      caption=text("computing the map..." if self.busy else "no map yet: press Compute map"))
            return
        heat, note = self._shown
        values = reduced(heat.numpy(), self._reduce)
        vmax = float(heat.abs().max()) or 1.0  # an all-zero map: any positive range
        fill = BASELINES[self.baseline].title
        caption = (f"red: covering that spot lowers {what}; blue: raises it. Window {self.window} px, "
                   f"stride {self.stride} px, patch filled with: {fill}." + (f" {note}." if note else "")
                   + reduction_note(self._x.shape[-2:], self._reduce))
        view.show(overlay_rgba(self._photo, values, "both", vmax, self.opacity),
                  title=f"occlusion map: drop in {what}",
                  legend=Scale(DIVERGING, -vmax, vmax, map_measure(what), opacity=True, middle="0"),
                  caption=text(caption))

    def _draw_input(self, patched: Optional[torch.Tensor] = None, where: str = "") -> None:
        x = self._x if patched is None else patched
        h, w = x.shape[-2:]
        fill = BASELINES[self.baseline].title
        caption = f"the patch filled with: {fill}" if where else f"{w}x{h} px, no patch"
        self._input_view.show(reduced_image(x[0].detach().cpu().numpy(), self._reduce),
                              title="input with the patch" if where else "input", caption=text(caption))

    def _on_move(self, x: Optional[float], y: Optional[float]) -> None:
        if x is None:
            self._leave()
        elif not self._pinned and y is not None:
            self._place_patch(x * self._reduce, y * self._reduce)  # frame pixels -> input pixels

    def _on_click(self, x: float, y: float, _event) -> None:
        self._pinned = not self._pinned
        if self._pinned or self._centre is None:
            self._place_patch(x * self._reduce, y * self._reduce)
        else:  # unpinned where it was: only the outline's colour changes
            self._place_patch(*self._centre)

    def _leave(self) -> None:
        if self._pinned:
            return
        self._work.cancel()  # a patch still being computed must not land after the leave
        self._patch = self._centre = None
        self._map_view.canvas.marks = []
        self._draw_input()
        self._show_probabilities(self._probs)
        if self.heatmap is None:
            self.refresh()  # a patch cancelled the map: finish it

    def _place_patch(self, x: float, y: float, background: bool = True) -> None:
        """Cover the window centred on (x, y); the readout follows (in the background for mouse moves)."""
        y0, y1, x0, x1 = box = self.patch_box(x, y)
        self._patch, self._centre = box, (float(x), float(y))
        f = self._reduce  # the outline in the frame's pixels
        self._map_view.canvas.marks = [dict(x=x0 / f - 0.5, y=y0 / f - 0.5, w=(x1 - x0) / f + 1,
                                            h=(y1 - y0) / f + 1, color=PINNED if self._pinned else MOVING, width=2)]
        model, xb, fill = self._model, self._x, self._baseline_tensor()
        where = f"patch at x {x0}..{x1 - 1}, y {y0}..{y1 - 1}" + (" (pinned)" if self._pinned else "")
        t, logit, h, w = self.target, self.score == "logit", self._x.shape[-2], self._x.shape[-1]
        px, py = int(np.clip(round(x), 0, w - 1)), int(np.clip(round(y), 0, h - 1))
        work = lambda job: self._patch_scores.covered(model, xb, fill, box, t, logit)  # noqa: E731

        def draw(result):
            covered, probs, drop = result
            shown = self._shown[0] if self._shown is not None else None
            self._hover = (None if shown is None else float(shown[py, px]), drop)
            self._draw_input(covered, where)
            self._show_probabilities(probs, where, (px, py))

        if background:
            self._run_in_background(work, draw)
        else:
            self._work.cancel()  # an older patch still running must not land after this one
            draw(work(None))

    def _show_probabilities(self, probs: torch.Tensor, where: str = "", pixel=None) -> None:
        self._shown_probs, self._hover = probs, None if pixel is None else self._hover
        hover = "" if self._hover is None else hover_html(self._what(), *self._hover, self.window, *pixel)
        self._readout.show(readout_html(self._labels, probs, self._probs, self.target, self._top_k, where) + hover)

    def _release(self) -> None:
        self._heat = self._shown = None
        self._baselines = {}  # a constructor that failed on its input has none yet

    def _state_caption(self) -> str:
        return f"OcclusionExplorer: drop in {self._what()}, window {self.window}, stride {self.stride}"

"""Occlusion: where does covering the image hurt the class score?"""
from __future__ import annotations

import html
from typing import List, Optional, Sequence

import ipywidgets as W
import numpy as np
import scipy.ndimage  # noqa: F401 - partial maps and the blurred baseline use these:
import torch
import torchvision.transforms.functional  # noqa: F401 - loaded with the widget, not inside a computation
import traitlets
from torch import nn

from ..core import evaluating, make_baseline, occlusion_stream, to_batch
from ..render import blend, heatmap_rgba, image_rgba, upscale
from ..render.tiling import fit_factor
from .base import LensWidget
from .frame_canvas import FrameCanvas

__all__ = ["OcclusionExplorer"]

BASELINES = (("zero", 0.0), ("channel mean", "mean"), ("blurred image", "blur"))


class OcclusionExplorer(LensWidget):
    """The image with its occlusion heat map, and a patch that follows the mouse.

    - The map (red: covering this region lowers the target's probability, or
      its logit with ``score="logit"``) fills in coarse to fine while it is
      computed, with progress and a Stop button; changing window, stride,
      baseline, target or score recomputes it.
    - Moving the mouse over the image covers the patch under it (window-sized,
      baseline-filled) and the top-k class probabilities update at once
      (newest position wins; a running map is cancelled: press "Compute map"
      to restart it). A click pins the patch there; another click unpins.
    - ``.heatmap`` (H, W tensor, the last finished map) and ``.frame`` (RGBA).
    """

    window = traitlets.Int()
    stride = traitlets.Int()
    baseline = traitlets.Unicode("zero")
    target = traitlets.Int()
    score = traitlets.Enum(("probability", "logit"), default_value="probability")
    opacity = traitlets.Float(0.6)

    def __init__(
        self,
        model: nn.Module,
        image,
        labels: Optional[Sequence[str]] = None,
        preprocess=None,
        window: Optional[int] = None,
        stride: Optional[int] = None,
        top_k: int = 5,
        display_px: int = 384,
        compute: bool = True,
        **kwargs,
    ):
        if not isinstance(model, nn.Module):
            raise ValueError(f"expected a torch.nn.Module, got {type(model).__name__}")
        self._model = model
        self._x = to_batch(image, model, preprocess)
        if self._x.ndim != 4:
            raise ValueError(f"expected an image input (1, C, H, W), got {tuple(self._x.shape)}")
        self._probs = self._probabilities(self._x)[0]
        n_classes = self._probs.shape[0]
        if labels is not None and len(labels) != n_classes:
            raise ValueError(f"expected {n_classes} labels (one per model output), got {len(labels)}")
        self._labels = list(labels) if labels is not None else [str(i) for i in range(n_classes)]
        self._top_k = min(top_k, n_classes)
        h, w = self._x.shape[-2:]
        self._factor = fit_factor(max(h, w), display_px)
        self._image_rgba = image_rgba(self._x[0].cpu().numpy())
        self._heat: Optional[torch.Tensor] = None
        self._patch_at: Optional[tuple] = None
        self._pinned = False
        self._baselines = {}
        super().__init__(**kwargs)
        self.add_class("nnl-occlusion-explorer")
        side = min(h, w)
        self.set_trait("window", window or max(2, side // 8))
        self.set_trait("stride", stride or max(1, self.window // 2))
        self.set_trait("target", int(self._probs.argmax()))

        ranked = self._probs.argsort(descending=True).tolist()  # likeliest classes first
        self._target_dd = W.Dropdown(
            options=[(f"{self._labels[i]} ({self._probs[i]:.1%})", i) for i in ranked],
            description="target")
        self._window_slider = W.IntSlider(description="window", min=1, max=side, continuous_update=False)
        self._stride_slider = W.IntSlider(description="stride", min=1, max=side, continuous_update=False)
        self._baseline_dd = W.Dropdown(options=[b for b, _ in BASELINES], description="baseline")
        self._score_tb = W.ToggleButtons(options=["probability", "logit"],
                                         style={"button_width": "80px"})
        self._opacity_slider = W.FloatSlider(description="opacity", min=0.0, max=1.0, step=0.05)
        self._opacity_slider.add_class("nnl-opacity-slider")
        self._compute_btn = W.Button(description="Compute map", icon="refresh")
        self._compute_btn.add_class("nnl-compute")
        self._compute_btn.on_click(lambda _b: self._guarded(self.compute)())
        self._canvas = FrameCanvas(track_moves=True)
        self._canvas.add_class("nnl-occlusion-canvas")
        self._readout = W.HTML()
        self._readout.add_class("nnl-probs")
        for trait, control in (("window", self._window_slider), ("stride", self._stride_slider),
                               ("baseline", self._baseline_dd), ("target", self._target_dd),
                               ("score", self._score_tb),
                               ("opacity", self._opacity_slider)):
            W.link((self, trait), (control, "value"))
        self.observe(self._guarded(lambda _c: self.compute()),
                     ["window", "stride", "baseline", "target", "score"])
        self.observe(self._guarded(lambda _c: self._draw()), "opacity")
        self._canvas.on_move(self._guarded(self._on_move))
        self._canvas.on_click(self._guarded(self._on_click))

        self._show_probabilities(self._probs, "no patch")
        self._draw()
        self._finish([
            W.HBox([self._target_dd, self._score_tb, self._baseline_dd, self._compute_btn]),
            W.HBox([self._window_slider, self._stride_slider, self._opacity_slider]),
            W.HBox([self._canvas, self._readout]),
        ])
        if compute:
            self.compute()

    # -- public --------------------------------------------------------
    @property
    def heatmap(self) -> Optional[torch.Tensor]:
        """The last finished occlusion map (H, W), averaged over channels."""
        return self._heat

    @property
    def frame(self) -> Optional[np.ndarray]:
        return self._canvas.frame

    @property
    def probabilities(self) -> torch.Tensor:
        """Class probabilities shown in the readout (for the patch, if one is placed)."""
        return self._shown_probs

    def compute(self) -> None:
        """(Re)compute the occlusion map in the background, streaming partial maps."""
        model, x, target = self._model, self._x, self._target_score()
        window, stride = self.window, self.stride
        baseline = dict(BASELINES)[self.baseline]

        def work(job):
            frame = None
            for frame in occlusion_stream(model, x, target, window, stride, baseline):
                job.check()
                job.progress(frame.done / frame.total, f"{frame.done}/{frame.total} windows")
                heat = frame.heatmap.mean(0)
                self._draw_if_current(job, lambda: self._draw(heat))
            return frame.heatmap.mean(0)

        def done(heat):
            self._heat = heat
            self._draw(heat)

        self._run_in_background(work, done)

    # -- internals -----------------------------------------------------
    def _target_score(self):
        """What the map measures: the target's logit, or its softmax probability."""
        if self.score == "logit":
            return self.target
        return lambda out, c=self.target: out.float().softmax(1)[:, c]

    def _probabilities(self, batch: torch.Tensor) -> torch.Tensor:
        with evaluating(self._model), torch.inference_mode():
            out = self._model(batch)
        if not isinstance(out, torch.Tensor) or out.ndim != 2:
            shape = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
            raise ValueError(f"expected the model to output class scores (N, classes), got {shape}")
        return out.float().softmax(1).cpu()

    @traitlets.validate("window", "stride")
    def _valid_size(self, proposal):
        v, side = int(proposal["value"]), min(self._x.shape[-2:])
        if not 1 <= v <= side:
            raise ValueError(f"expected a {proposal['trait'].name} in 1..{side} pixels, got {v}")
        return v

    @traitlets.validate("target")
    def _valid_target(self, proposal):
        t = int(proposal["value"])
        if not 0 <= t < self._probs.shape[0]:
            raise ValueError(f"expected a target class in 0..{self._probs.shape[0] - 1}, got {t}")
        return t

    @traitlets.validate("baseline")
    def _valid_baseline(self, proposal):
        names = [b for b, _ in BASELINES]
        if proposal["value"] not in names:
            raise ValueError(f"expected baseline in {names}, got {proposal['value']!r}")
        return proposal["value"]

    def _draw(self, heat: Optional[torch.Tensor] = None) -> None:
        heat = self._heat if heat is None else heat
        picture = self._image_rgba
        if heat is not None:
            picture = blend(picture, heatmap_rgba(heat.numpy(), "both"), self.opacity)
        self._canvas.draw(upscale(picture, self._factor))

    def _baseline_tensor(self) -> torch.Tensor:
        if self.baseline not in self._baselines:
            self._baselines[self.baseline] = make_baseline(self._x, dict(BASELINES)[self.baseline])
        return self._baselines[self.baseline]

    def _patch_box(self, cx: float, cy: float):
        """The window-sized box (y0, y1, x0, x1) centred on image pixel (cx, cy)."""
        h, w = self._x.shape[-2:]
        y0 = int(np.clip(round(cy - self.window / 2), 0, h - self.window))
        x0 = int(np.clip(round(cx - self.window / 2), 0, w - self.window))
        return y0, y0 + self.window, x0, x0 + self.window

    def _on_move(self, x: Optional[float], y: Optional[float]) -> None:
        if self._pinned:
            return
        if x is None:
            self._patch_at = None
            self._canvas.marks = []
            self._show_probabilities(self._probs, "no patch")
            return
        self._place_patch(x / self._factor, y / self._factor)

    def _on_click(self, x: float, y: float, _event) -> None:
        self._pinned = not self._pinned
        if self._pinned:
            self._place_patch(x / self._factor, y / self._factor)

    def _place_patch(self, cx: float, cy: float) -> None:
        y0, y1, x0, x1 = self._patch_box(cx, cy)
        f = self._factor
        self._patch_at = (y0, x0)
        self._canvas.marks = [dict(x=x0 * f, y=y0 * f, w=(x1 - x0) * f, h=(y1 - y0) * f,
                                   color="#ffffff" if not self._pinned else "#ffcc00", width=2)]
        model_x, fill = self._x, self._baseline_tensor()

        def work(job):
            occluded = model_x.clone()
            occluded[..., y0:y1, x0:x1] = fill[..., y0:y1, x0:x1]
            return self._probabilities(occluded)[0]

        where = f"patch at x {x0}..{x1 - 1}, y {y0}..{y1 - 1}" + (" (pinned)" if self._pinned else "")
        self._run_in_background(work, lambda probs: self._show_probabilities(probs, where))

    def _show_probabilities(self, probs: torch.Tensor, caption: str) -> None:
        self._shown_probs = probs
        top = probs.topk(self._top_k)
        rows: List[str] = []
        for p, i in zip(top.values.tolist(), top.indices.tolist()):
            change = p - float(self._probs[i])
            mark = "font-weight:bold;" if i == self.target else ""
            rows.append(
                f"<div style='{mark}display:flex;gap:6px;align-items:center'>"
                f"<span style='width:90px;overflow:hidden'>{html.escape(self._labels[i])}</span>"
                f"<span style='display:inline-block;width:{int(120 * p)}px;height:10px;"
                f"background:#4c78a8'></span><span class='nnl-prob'>{p:.1%}</span>"
                f"<span style='color:#888'>({change:+.1%})</span></div>"
            )
        self._readout.value = (f"<div style='font-size:12px;color:#555'>{html.escape(caption)}</div>"
                               + "".join(rows))

"""What any 2-input network draws over the (x, y) plane, and each of its neurons."""
from __future__ import annotations

from typing import Optional, Sequence

import ipywidgets as W
import numpy as np
import traitlets
from torch import nn

from ..core.synapses import DEFAULT_EXTENT, check_plane_model, plane_neuron_maps, plane_outputs
from ..render.plane import PLANE_MODES, draw_points, neuron_grid, plane_rgba, signed_rgba
from ..render.tiling import fit_factor, upscale
from .base import LensWidget
from .frame_canvas import FrameCanvas

__all__ = ["PlaneView"]


class PlaneView(LensWidget):
    """The outputs of a model mapping ``(N, 2)`` points to ``(N, k)`` over a grid of the plane.

    Works for any such model (a painter, a small classifier of 2-D points as
    in TensorFlow Playground, a regression surface). ``mode``: ``"rgb"``
    (3 outputs in [-1, 1]), ``"signed"`` (one output, picked by ``output``),
    ``"classes"`` (the winning output coloured by confidence) or ``"auto"``.
    Optional ``points`` ``(N, 2)`` with ``labels`` are drawn on top. Hidden
    neurons (units of every linear layer but the last) are tiled below;
    click one to enlarge it. The model is only read: call ``refresh()`` after
    training it to redraw.

    Traits: ``mode``, ``output``, ``neuron``.
    """

    mode = traitlets.Enum(PLANE_MODES, default_value="auto")
    output = traitlets.Int(0)
    neuron = traitlets.Int(0)

    def __init__(self, model: nn.Module, size: int = 128, extent: Sequence[float] = DEFAULT_EXTENT,
                 mode: str = "auto", points=None, labels=None, display_px: int = 256, **kwargs):
        self.outputs = check_plane_model(model)  # clear ValueError before anything is built
        if len(extent) != 4 or not (extent[1] > extent[0] and extent[3] > extent[2]):
            raise ValueError(f"expected extent (x0, x1, y0, y1) with x1 > x0 and y1 > y0, got {tuple(extent)}")
        self._model = model
        self.size = int(size)
        self.extent = tuple(float(v) for v in extent)
        self._points = None if points is None else np.asarray(points, dtype=np.float64).reshape(-1, 2)
        self._labels = None if labels is None else np.asarray(labels).reshape(-1)
        if self._labels is not None and self._points is not None and len(self._labels) != len(self._points):
            raise ValueError(f"expected one label per point, got {len(self._labels)} labels "
                             f"for {len(self._points)} points")
        super().__init__(**kwargs)
        self.add_class("nnl-plane-view")
        self.set_trait("mode", mode)
        self._values: Optional[np.ndarray] = None
        self._maps: Optional[np.ndarray] = None
        self._layout = None
        self._neurons = []
        self._canvas = FrameCanvas(scale=float(fit_factor(self.size, display_px)))
        self._canvas.add_class("nnl-plane-canvas")
        self._grid_canvas = FrameCanvas()
        self._grid_canvas.add_class("nnl-neuron-grid")
        self._detail_canvas = FrameCanvas()
        self._detail_canvas.add_class("nnl-neuron-detail")
        self._mode_dd = W.Dropdown(options=PLANE_MODES, description="view", layout=W.Layout(width="200px"))
        self._output_slider = W.IntSlider(description="output", min=0, max=max(self.outputs - 1, 0))
        self._info = W.HTML()
        W.link((self, "mode"), (self._mode_dd, "value"))
        W.link((self, "output"), (self._output_slider, "value"))
        self.observe(self._guarded(lambda _c: self._draw_plane()), ["mode", "output"])
        self.observe(self._guarded(lambda _c: self._draw_neuron()), "neuron")
        self._grid_canvas.on_click(self._guarded(self._on_grid_click))
        self.refresh()
        self._finish([
            W.HBox([self._mode_dd, self._output_slider]),
            W.HBox([self._canvas, W.VBox([self._grid_canvas]), W.VBox([self._detail_canvas, self._info])]),
        ])

    # -- public --------------------------------------------------------
    @property
    def model(self) -> nn.Module:
        return self._model

    @property
    def values(self) -> np.ndarray:
        """The model's outputs over the plane, ``(H, W, k)``."""
        return self._values

    @property
    def neuron_maps(self) -> np.ndarray:
        """Every hidden neuron over the plane, ``(n, H, W)``."""
        return self._maps

    @property
    def frame(self) -> Optional[np.ndarray]:
        return self._canvas.frame

    @property
    def neuron_frame(self) -> Optional[np.ndarray]:
        return self._grid_canvas.frame

    def refresh(self) -> None:
        """Run the model again over the plane (after it changed) and redraw."""
        self._values = plane_outputs(self._model, self.size, self.size, self.extent)
        try:
            self._neurons, self._maps = plane_neuron_maps(self._model, self.size, self.size, self.extent)
        except ValueError:  # no linear layers: the outputs are still worth a picture
            self._neurons, self._maps = [], None
        self._draw_plane()
        self._draw_grid()
        self._draw_neuron()

    # -- drawing -------------------------------------------------------
    def _draw_plane(self) -> None:
        output = self.output if self.mode == "signed" else None
        rgba = plane_rgba(self._values, self.mode, output)
        if self._points is not None:
            rgba = draw_points(rgba, self._points, self._labels, self.extent)
        self._canvas.draw(rgba)
        self._output_slider.layout.display = "flex" if self.outputs > 1 else "none"

    def _draw_grid(self) -> None:
        if self._maps is None or not len(self._maps):
            self._grid_canvas.layout.display = "none"
            return
        small = self._maps[:, ::max(1, self.size // 32), ::max(1, self.size // 32)]
        rgba, self._layout = neuron_grid(small, tile_px=48)
        self._grid_canvas.draw(rgba)

    def _draw_neuron(self) -> None:
        if self._maps is None or not len(self._maps):
            return
        n = int(np.clip(self.neuron, 0, len(self._maps) - 1))
        m = self._maps[n]
        self._detail_canvas.draw(upscale(signed_rgba(m, vmax=max(1.0, float(np.abs(m).max()))),
                                         fit_factor(self.size, 192)))
        x, y, w, h = self._layout.rect(n)
        self._grid_canvas.marks = [dict(x=x - 2, y=y - 2, w=w + 4, h=h + 4, color="#ffcc00", width=2)]
        self._info.value = (f"neuron <b>{self._neurons[n].label}</b> (shown: "
                            f"{self._neurons[n].module}) min {m.min():.3f} max {m.max():.3f}")

    def _on_grid_click(self, x: float, y: float, _event) -> None:
        i = self._layout.index_at(x, y) if self._layout is not None else None
        if i is not None:
            self.neuron = i

    @traitlets.validate("output")
    def _valid_output(self, proposal):
        o = int(proposal["value"])
        if not 0 <= o < self.outputs:
            raise ValueError(f"expected an output in 0..{self.outputs - 1}, got {o}")
        return o

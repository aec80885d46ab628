"""What any 2-input network draws over the (x, y) plane, and each of its hidden neurons."""
from __future__ import annotations

from typing import Iterable, List, Optional, Sequence

import ipywidgets as W
import numpy as np
import traitlets

from ..core.plane import DEFAULT_EXTENT, check_extent, check_plane_model, plane_outputs
from ..core.synapses import Neuron, hidden_neurons, plane_neuron_maps
from ..render.legend import fmt
from ..render.plane import PLANE_MODES, draw_points, plane_picture
from .base import LensWidget, check_count, check_index, labels_for, text
from .examples import Example, plane_net
from .plane_neurons import NeuronViews
from .traits import ChannelTrait, LayerTrait
from .views import PictureView, column, row

__all__ = ["PlaneView"]

MAX_SIZE = 1024  # points per side of the grid over the plane
CAPTION_PX = 280


class PlaneView(LayerTrait, ChannelTrait, LensWidget):
    """The outputs of a model mapping ``(N, 2)`` points to ``(N, k)`` over a grid of the plane.

    Works for any such model (a painter, a small classifier of 2-D points as
    in TensorFlow Playground, a regression surface).

    - ``mode``: ``"rgb"`` (3 outputs in [-1, 1] as a colour), ``"signed"``
      (one output, picked by ``output``, on a diverging scale), ``"classes"``
      (the winning output's colour, paler where less sure) or ``"auto"``
      (rgb for 3 outputs, signed for 1, classes otherwise);
    - ``points`` ``(N, 2)`` with their ``point_classes`` are drawn on top;
      ``labels`` names the outputs (class names);
    - the hidden neurons (units of every linear layer but the last) are tiled
      below on one colour scale; click one (or set ``layer`` and
      ``channel``) to enlarge it.

    The model is only read (on a private twin): call ``refresh()`` after
    training it to redraw.

    Traits: ``mode``, ``output``, ``layer``, ``channel``.
    """

    mode = traitlets.Unicode("auto")
    output = traitlets.Int(0)

    @classmethod
    def small_example(cls) -> Example:
        """A small untrained model (and input) to try the widget on."""
        return Example(plane_net(), None, {"size": 16})

    def __init__(self, model, *, size: int = 128, extent: Sequence[float] = DEFAULT_EXTENT, mode: str = "auto",
                 output: int = 0, points=None, point_classes=None, labels: Optional[Iterable] = None,
                 layer: Optional[str] = None, display_px: int = 256, **kwargs):
        super().__init__(model, **kwargs)
        self.outputs = check_plane_model(self._model)  # clear ValueError before anything is built
        self.size = check_count(size, "size (points per side)", 2, MAX_SIZE)
        self.extent = check_extent(extent)
        self._labels = labels_for(labels, self.outputs, "output")
        self._points, self._classes = self._check_points(points, point_classes)
        try:
            neurons = hidden_neurons(self._model)
        except ValueError:  # no linear layers: the outputs are still worth a picture
            neurons = []
        self._neurons = NeuronViews(neurons)
        self._values: Optional[np.ndarray] = None
        self.add_class("nnl-plane-view")
        display_px = check_count(display_px, "display_px", 16, 4096)
        self._plane = self._view("plane", PictureView("outputs", display_px=display_px, css_class="nnl-plane-canvas"))
        self._plane.layout.max_width = f"{max(display_px, CAPTION_PX)}px"  # the caption wraps under the picture
        self._view("neurons", self._neurons.grid)
        self._view("neuron", self._neurons.detail)
        modes = [("auto", "auto"), ("colour (3 outputs)", "rgb"), ("one output", "signed"),
                 ("winning class", "classes")]
        self._mode_dd = W.Dropdown(options=[(name, m) for name, m in modes if self._mode_fits(m) is None],
                                   description="show", layout=W.Layout(width="auto"))
        self._output_dd = W.Dropdown(options=[(f"{i}: {name}" if name != str(i) else str(i), i)
                                              for i, name in enumerate(self._labels)],
                                     description="output", layout=W.Layout(width="auto"))
        self.set_trait("mode", mode)
        self.set_trait("output", output)
        self._neurons.attach(self, layer)
        self._bind(mode=self._mode_dd, output=self._output_dd)
        self._on(lambda _c: self._draw_plane(), "mode", "output")
        self.refresh()
        has_neurons = bool(self._neurons.layers)
        self._neurons.grid.layout.display = self._neurons.detail.layout.display = "flex" if has_neurons else "none"
        self._finish([row(self._mode_dd, self._output_dd),
                      row(self._plane, column(self._neurons.grid), self._neurons.detail)])

    # -- public --------------------------------------------------------
    @property
    def values(self) -> Optional[np.ndarray]:
        """The model's outputs over the plane, ``(H, W, k)``."""
        return self._values

    def refresh(self) -> None:
        """Run the model again over the plane (after it changed) and redraw."""
        values = plane_outputs(self._model, self.size, self.size, self.extent)
        maps = None
        if self._neurons.layers:
            _, maps = plane_neuron_maps(self._model, self.size, self.size, self.extent)
        with self._lock:
            self._values = values
            self._draw_plane()
            if maps is not None:
                self._neurons.show(maps, self.layer, self.channel)

    @property
    def neurons(self) -> List[Neuron]:
        """The hidden neurons (``core.Neuron``), in the order of ``neuron_maps``."""
        return list(self._neurons.neurons)

    @property
    def neuron_maps(self) -> Optional[np.ndarray]:
        """Every hidden neuron over the plane, ``(n, H, W)`` (None without hidden layers)."""
        return self._neurons.maps

    def _check_layer(self, value: str) -> str:
        return self._neurons.check_layer(value)

    def _check_channel(self, value: int) -> int:
        return self._neurons.check_channel(value, self.layer)

    def _on_neuron(self) -> None:
        """Nothing more to draw after a pick (the neuron views draw it)."""

    # -- validation ------------------------------------------------------
    @traitlets.validate("output")
    def _valid_output(self, proposal):
        return check_index(proposal["value"], self.outputs, "an output")

    def _mode_fits(self, mode: str) -> Optional[str]:
        """Why ``mode`` cannot show this model's outputs (None when it can)."""
        if mode not in PLANE_MODES:
            return f"expected mode in {PLANE_MODES}, got {mode!r}"
        needs = {"rgb": (self.outputs == 3, "3 outputs"), "classes": (self.outputs >= 2, "at least 2 outputs")}
        ok, what = needs.get(mode, (True, ""))
        return None if ok else f"the {mode!r} view needs {what}; this model has {self.outputs}"

    @traitlets.validate("mode")
    def _valid_mode(self, proposal):
        problem = self._mode_fits(proposal["value"])
        if problem:
            raise ValueError(problem)
        return proposal["value"]

    def _check_points(self, points, classes):
        if points is None:
            if classes is not None:
                raise ValueError("point_classes were given without points")
            return None, None
        pts = np.asarray(points, dtype=np.float64)
        if pts.ndim != 2 or pts.shape[1] != 2 or not np.isfinite(pts).all():
            raise ValueError(f"expected points as (N, 2) finite plane coordinates, got shape {pts.shape}")
        if classes is None:
            return pts, None
        cls = np.asarray(classes).reshape(-1)
        if len(cls) != len(pts):
            raise ValueError(f"expected one class per point, got {len(cls)} classes for {len(pts)} points")
        if not np.issubdtype(cls.dtype, np.integer) or (len(cls) and not 0 <= cls.min() <= cls.max() < self.outputs):
            raise ValueError(f"expected point classes as whole numbers in 0..{self.outputs - 1}")
        return pts, cls

    # -- drawing -------------------------------------------------------
    def _resolved_mode(self) -> str:
        if self.mode != "auto":
            return self.mode
        return "rgb" if self.outputs == 3 else "signed" if self.outputs == 1 else "classes"

    def _draw_plane(self) -> None:
        mode = self._resolved_mode()
        if self._values is None:
            return  # nothing computed yet
        rgba, legend, key = plane_picture(self._values, mode, self.output, self._labels)
        if self._points is not None:
            rgba = draw_points(rgba, self._points, self._classes, self.extent,
                               classes=self.outputs if self._classes is not None else None)
        x0, x1, y0, y1 = self.extent
        where = (f"x {fmt(x0)}..{fmt(x1)} left to right, y {fmt(y0)}..{fmt(y1)} top to bottom, "
                 f"{self.size}x{self.size} points")
        dots = "" if self._points is None else f"; squares: the {len(self._points)} data points in their class's colour"
        titles = {"rgb": "outputs as colour (R, G, B)", "classes": "winning class",
                  "signed": f"output {self.output}: {self._labels[self.output]}"}
        if key:  # the winning class's colour key is this picture's legend
            key = f"<div class='nnl-legend'>{key}</div>"
        self._plane.show(rgba, title=titles[mode], legend=legend, caption=key + text(where + dots))
        self._output_dd.layout.display = "flex" if mode == "signed" and self.outputs > 1 else "none"

    def _release(self) -> None:
        self._values = None
        if hasattr(self, "_neurons"):  # a constructor that failed on its arguments has none
            self._neurons.maps = None

    def _state_caption(self) -> str:
        return f"PlaneView: {self._resolved_mode()} view of {self.outputs} output(s)"

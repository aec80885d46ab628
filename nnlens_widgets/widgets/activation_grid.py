"""Every channel of any layer for one input, deepvis style."""
from __future__ import annotations

import math
from typing import Optional

import ipywidgets as W
import numpy as np
import traitlets
from torch import nn

from ..core import ActivationCache, channel_stats
from ..render import bar_chart, channel_grid, channel_maps, channel_picture
from .base import LensWidget
from .frame_canvas import FrameCanvas

__all__ = ["ActivationGrid"]


class ActivationGrid(LensWidget):
    """Tiles of every channel of a chosen layer for input ``x``.

    - layer dropdown (every module whose output is a tensor, with its shape);
    - channel slider, and clicking a tile selects that channel;
    - enlarged view of the selected channel with min / max / mean / zeros;
    - per-channel or shared normalisation.

    Activations are computed once per input (see ``core.ActivationCache``):
    changing channel, page or normalisation never runs the model. Layers with
    more than ``page_size`` channels (default 256) are shown a page at a time;
    the page follows the selected channel. Replace the input with
    ``grid.input = new_x``.

    Traits: ``layer``, ``channel``, ``normalization`` ("channel" | "shared"),
    ``cmap``, ``page``.
    """

    layer = traitlets.Unicode()
    channel = traitlets.Int(0)
    normalization = traitlets.Enum(("channel", "shared"), default_value="channel")
    cmap = traitlets.Unicode("viridis")
    page = traitlets.Int(0)

    def __init__(
        self,
        model: nn.Module,
        x,
        layer: Optional[str] = None,
        preprocess=None,
        page_size: int = 256,
        grid_px: int = 512,
        detail_px: int = 256,
        **kwargs,
    ):
        if not isinstance(model, nn.Module):
            raise ValueError(f"expected a torch.nn.Module, got {type(model).__name__}")
        self._model = model
        self._preprocess = preprocess
        self.page_size = int(page_size)
        self._grid_px, self._detail_px = int(grid_px), int(detail_px)
        self._cache = ActivationCache(model, x, preprocess)
        self._maps: Optional[np.ndarray] = None
        self._grid = None
        first = layer if layer is not None else self._cache.tensor_layers[0]
        self._cache.info(first)  # bad name -> KeyError / ValueError before anything is built
        super().__init__(**kwargs)
        self.add_class("nnl-activation-grid")

        self._layer_dd = W.Dropdown(description="layer", layout=W.Layout(width="460px"))
        self._norm_tb = W.ToggleButtons(
            options=[("per channel", "channel"), ("shared", "shared")],
            tooltips=["each channel scaled to its own range", "one range for the whole layer"],
            style={"button_width": "100px"},
        )
        self._channel_slider = W.IntSlider(description="channel", min=0, max=0,
                                           continuous_update=True,
                                           layout=W.Layout(width="460px"))
        self._channel_slider.add_class("nnl-channel-slider")
        self._layer_dd.add_class("nnl-layer-dropdown")
        self._page_slider = W.IntSlider(description="page", min=0, max=0)
        self._grid_canvas = FrameCanvas()
        self._grid_canvas.add_class("nnl-grid-canvas")
        self._detail_canvas = FrameCanvas()
        self._detail_canvas.add_class("nnl-detail-canvas")
        self._stats = W.HTML()
        self._stats.add_class("nnl-stats")

        self._fill_layer_options()
        self.set_trait("layer", first)
        self._load_layer(first)  # synchronous first picture
        for trait, control in (("layer", self._layer_dd), ("normalization", self._norm_tb),
                               ("channel", self._channel_slider), ("page", self._page_slider)):
            W.link((self, trait), (control, "value"))
        self.observe(self._guarded(self._on_layer), "layer")
        self.observe(self._guarded(self._on_channel), "channel")
        self.observe(self._guarded(self._on_look), ["normalization", "cmap"])
        self.observe(self._guarded(self._on_page), "page")
        self._grid_canvas.on_click(self._guarded(self._on_grid_click))

        controls = W.HBox([self._layer_dd, self._norm_tb])
        sliders = W.HBox([self._channel_slider, self._page_slider])
        right = W.VBox([self._detail_canvas, self._stats])
        self._finish([controls, sliders, W.HBox([self._grid_canvas, right])])

    # -- public --------------------------------------------------------
    @property
    def model(self) -> nn.Module:
        return self._model

    @property
    def input(self):
        """The current input batch (1, C, ...). Assign a new image to replace it."""
        return self._cache.x

    @input.setter
    def input(self, x) -> None:
        cache = ActivationCache(self._model, x, self._preprocess)  # validates, may raise
        layer = self.layer if self.layer in cache.tensor_layers else cache.tensor_layers[0]
        with self._lock:
            self._work.cancel()  # a layer load for the old input must not land
            self._cache = cache
            self._fill_layer_options()
            self._clear_error()
            if layer != self.layer:
                self.layer = layer  # _on_layer draws it
            else:
                self._load_layer(layer)

    @property
    def layers(self):
        """The tensor-producing layers, as ``core.LayerInfo``."""
        return [self._cache.infos[n] for n in self._cache.tensor_layers]

    @property
    def activations(self):
        """The selected layer's output for the input, batch axis removed (a torch tensor)."""
        return self._cache[self.layer]

    @property
    def forward_passes(self) -> int:
        """How many forward passes filled the activation cache for the current input."""
        return self._cache.forward_passes

    @property
    def channels(self) -> int:
        return 0 if self._maps is None else self._maps.shape[0]

    @property
    def frame(self) -> Optional[np.ndarray]:
        """The tile grid as drawn, (H, W, 4) uint8."""
        return self._grid_canvas.frame

    @property
    def detail_frame(self) -> Optional[np.ndarray]:
        """The enlarged selected channel (bar chart for 1-D layers), (H, W, 4) uint8."""
        return self._detail_canvas.frame

    def tile_rect(self, channel: int):
        """(x, y, w, h) of ``channel``'s tile on the grid canvas, if it is on this page."""
        i = channel - self._grid.start
        return self._grid.layout.rect(i) if 0 <= i < self._grid.layout.count else None

    # -- reacting to controls ------------------------------------------
    def _fill_layer_options(self) -> None:
        self._layer_dd.options = [(i.label(), i.name) for i in self.layers]

    def _on_layer(self, change) -> None:
        name = change["new"]
        cache = self._cache
        if cache.has(name):  # captured already: no model run, draw at once
            self._load_layer(name)
            return

        def work(job):
            return cache[name]  # may run the model: off the kernel's main thread

        def draw(_acts):
            if cache is self._cache and self.layer == name:
                self._load_layer(name)

        self._run_in_background(work, draw)

    @traitlets.validate("layer")
    def _valid_layer(self, proposal):
        self._cache.info(proposal["value"])
        return proposal["value"]

    @traitlets.validate("channel")
    def _valid_channel(self, proposal):
        c = int(proposal["value"])
        if not 0 <= c < max(self.channels, 1):
            raise ValueError(
                f"expected a channel in 0..{self.channels - 1} for layer {self.layer!r}, got {c}"
            )
        return c

    def _load_layer(self, name: str) -> None:
        acts = self._cache.maps(name).cpu().numpy()  # a transformer's tokens: one h x w map per feature
        self._maps = channel_maps(acts)
        self._prefix = self._cache.prefix_tokens(name)  # (k, D) class/register tokens, or None
        n = self._maps.shape[0]
        pages = math.ceil(n / self.page_size)
        with self.hold_trait_notifications():
            self._channel_slider.max = n - 1
            self.set_trait("channel", min(self.channel, n - 1))
            self._page_slider.max = pages - 1
            self.set_trait("page", self.channel // self.page_size)
        self._page_slider.layout.display = "flex" if pages > 1 else "none"
        self._draw_grid()
        self._draw_selection()

    def _on_channel(self, change) -> None:
        page = change["new"] // self.page_size
        if page != self.page:
            self.page = page  # _on_page redraws grid and selection
            return
        self._draw_selection()

    def _on_page(self, change) -> None:
        first = change["new"] * self.page_size
        if not first <= self.channel < first + self.page_size:
            self.set_trait("channel", min(first, self.channels - 1))
        self._draw_grid()
        self._draw_selection()

    def _on_look(self, _change) -> None:
        self._draw_grid()
        self._draw_selection()

    def _on_grid_click(self, x: float, y: float, _event) -> None:
        i = self._grid.layout.index_at(x, y)
        if i is not None:
            self.channel = self._grid.start + i

    # -- drawing (never runs the model) --------------------------------
    def _draw_grid(self) -> None:
        start = self.page * self.page_size
        self._grid = channel_grid(
            self._maps, self.normalization, self.cmap, start, self.page_size, self._grid_px
        )
        self._grid_canvas.draw(self._grid.rgba)

    def _draw_selection(self) -> None:
        c = self.channel
        rect = self.tile_rect(c)
        self._grid_canvas.marks = (
            [] if rect is None
            else [dict(zip("xywh", (rect[0] - 1, rect[1] - 1, rect[2] + 2, rect[3] + 2)),
                       color="#ff3b30", width=2)]
        )
        if self._maps.shape[1:] == (1, 1):  # a 1-D layer: every unit as a bar
            picture = bar_chart(self._maps[:, 0, 0], selected=c, max_width=self._detail_px * 2)
        else:
            picture = channel_picture(self._maps, c, self.normalization, self.cmap, self._detail_px)
        self._detail_canvas.draw(picture)
        s = channel_stats(self._maps[c])
        self._stats.value = (
            f"<b>{self.layer}</b> channel <b>{c}</b> of {self.channels}<br>"
            f"min {s['min']:.4g} &middot; max {s['max']:.4g} &middot; mean {s['mean']:.4g}"
            f" &middot; zeros {100 * s['zero_fraction']:.1f}%"
            + (f"<br>class token {float(self._prefix[0, c]):.4g}" if self._prefix is not None and len(self._prefix) else "")
        )

"""Every channel of any layer for one input, deepvis style."""
from __future__ import annotations

import math
from typing import Iterable, Optional

import ipywidgets as W
import numpy as np
import traitlets

from ..core import ActivationCache, channel_stats
from ..core.dead_units import constant_in_maps
from ..render import channel_maps, channel_picture, flat_tiles_note, image_rgba
from ..render.bars import bar_chart_svg
from ..render.constant_tiles import hatch, hatch_tiles
from ..render.legend import Scale, fmt
from ..render.channels import ChannelGrid
from ..render.reduced_grid import display_grid
from .base import LensWidget, check_count, check_index, text
from .examples import Example, image_net, image
from .traits import ChannelTrait, InputTrait, LayerTrait
from .views import HtmlView, PictureView, TileGridView, column, row
from .view_warnings import WarningsView, constant_sentences

__all__ = ["ActivationGrid"]


class ActivationGrid(LayerTrait, ChannelTrait, InputTrait, LensWidget):
    """Tiles of every channel of a chosen layer for input ``x``.

    - the input the activations belong to;
    - layer dropdown (every module whose output is a tensor, with its shape);
    - channel slider, and clicking a tile selects that channel;
    - the selected channel enlarged with its colour bar and min / max / mean
      / zeros; a 1-D layer (a linear layer) shows all its units as bars,
      named by ``labels`` when there is one per unit;
    - per-channel or shared normalisation, each with its colour bar;
    - channels constant for this input drawn hatched grey, never a colour
      of the map, and named in ``warnings``.

    Activations are computed once per input (see ``core.ActivationCache``):
    changing channel, page or normalisation never runs the model. Layers with
    more than ``page_size`` channels (default 256) are shown a page at a time;
    the page follows the selected channel. Replace the input with
    ``grid.input = new_x``.

    ``frame`` is the tile grid as sent to the browser: one pixel per
    activation, or, for maps larger than their tiles are shown (resnet18's
    ``conv1``: 64 maps of 112x112), tiles reduced to their display size, each
    pixel the mean of k x k colour-scaled activations; the grid's title then
    says "tiles shown at 56x56 of 112x112; the enlarged view is exact".
    ``detail_frame`` is always the selected channel at full resolution.

    Traits: ``layer``, ``channel``, ``normalization`` ("channel" | "shared"),
    ``cmap``, ``page``.
    """

    _frame_view = "_grid_view"  # ``frame``: the tile grid as sent (see the class docstring)

    normalization = traitlets.Enum(("channel", "shared"), default_value="channel")
    cmap = traitlets.Unicode("viridis")
    page = traitlets.Int(0)

    @classmethod
    def small_example(cls) -> Example:
        """A small untrained model (and input) to try the widget on."""
        return Example(image_net(), image(), {"layer": "conv2"})

    def __init__(self, model, x, *, layer: Optional[str] = None, labels: Optional[Iterable] = None,
                 preprocess=None, page_size: int = 256, grid_px: int = 448, detail_px: int = 192,
                 **kwargs):
        super().__init__(model, **kwargs)
        self.page_size = check_count(page_size, "page_size")
        self._labels = None if labels is None else [str(label) for label in labels]
        self._preprocess = preprocess
        self._grid_px = check_count(grid_px, "grid_px", 16, 4096)
        self._cache = ActivationCache(self._model, x, preprocess)
        self._maps: Optional[np.ndarray] = None
        self._grid: Optional[ChannelGrid] = None
        first = layer if layer is not None else self._cache.tensor_layers[0]
        self._cache.info(first)  # bad name -> KeyError / ValueError before anything is built
        self.add_class("nnl-activation-grid")

        self._layer_dd = W.Dropdown(description="layer", layout=W.Layout(width="auto", max_width="100%"))
        self._layer_dd.add_class("nnl-layer-dropdown")
        self._norm_tb = W.ToggleButtons(
            options=[("per channel", "channel"), ("shared", "shared")],
            tooltips=["each channel scaled to its own range", "one range for the whole layer"],
            style={"button_width": "auto"},
        )
        self._channel_slider = W.IntSlider(description="channel", min=0, max=0, continuous_update=True,
                                           layout=W.Layout(width="420px", max_width="100%"))
        self._channel_slider.add_class("nnl-channel-slider")
        self._page_slider = W.IntSlider(description="page", min=0, max=0)

        self._input_view = self._view("input", PictureView("input", display_px=128, css_class="nnl-input-canvas",
                                                            plain_rgb=True))
        self._grid_view = self._view("grid", TileGridView("channels", display_px=grid_px,
                                                          css_class="nnl-grid-canvas"))
        self._detail_view = self._view("detail", PictureView("selected channel", display_px=detail_px,
                                                             css_class="nnl-detail-canvas"))
        self._bars_view = self._view("bars", HtmlView("units", css_class="nnl-detail-bars"))
        self._stats = self._view("stats", HtmlView(css_class="nnl-stats"))
        self._warnings = self._view("warnings", WarningsView())

        self._fill_layer_options()
        self.set_trait("layer", first)
        self._load_layer(first)  # synchronous first picture
        self._draw_input()
        self._bind(layer=self._layer_dd, normalization=self._norm_tb, channel=self._channel_slider,
                   page=self._page_slider)
        self._on(self._on_layer, "layer")
        self._on(self._on_channel, "channel")
        self._on(self._on_look, "normalization", "cmap")
        self._on(self._on_page, "page")
        self._grid_view.on_pick(self._guarded(lambda c: setattr(self, "channel", c)))

        self._keep_input(self._cache.x)
        self._finish([
            self._warnings,
            row(self._layer_dd, self._norm_tb),
            row(self._channel_slider, self._page_slider),
            row(self._input_view, self._grid_view,
                column(self._detail_view, self._bars_view, self._stats)),
        ])

    # -- public --------------------------------------------------------
    def _load_input(self, x):
        """Check, prepare and show a new input (``widget.input = x``); returns the batch kept as ``input``."""
        cache = ActivationCache(self._model, x, self._preprocess)  # validates, may raise
        layer = self.layer if self.layer in cache.tensor_layers else cache.tensor_layers[0]
        with self._lock:
            self._work.cancel()  # a layer load for the old input must not land
            self._cache.clear()
            self._cache = cache
            self._fill_layer_options()
            self._clear_error()
            self._draw_input()
            if layer != self.layer:
                self.layer = layer  # _on_layer draws it
            else:
                self._load_layer(layer)
        return self._cache.x

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
    def warnings(self):
        """What the view cannot tell, in plain sentences (e.g. channels constant for this input)."""
        return self._warnings.sentences

    @property
    def constant_channels(self):
        """The selected layer's channels that are constant for this input (``core.ConstantChannels``)."""
        return self._constant

    @property
    def channels(self) -> int:
        return 0 if self._maps is None else self._maps.shape[0]

    @property
    def detail_frame(self) -> Optional[np.ndarray]:
        """The selected channel at its own resolution, (H, W, 4) uint8 (None for 1-D layers)."""
        return self._detail_view.frame if self._detail_view.layout.display != "none" else None

    def tile_rect(self, channel: int):
        """(x, y, w, h) of ``channel``'s tile in grid pixels, if it is on this page."""
        return self._grid_view.tile_rect(channel)

    # -- validation -----------------------------------------------------
    def _check_layer(self, value: str) -> str:
        self._cache.info(value)
        return value

    def _check_channel(self, value: int) -> int:
        return check_index(value, max(self.channels, 1), "a channel",
                           f" for layer {self.layer!r}")

    @traitlets.validate("page")
    def _valid_page(self, proposal):
        pages = max(1, math.ceil(max(self.channels, 1) / self.page_size))
        return check_index(proposal["value"], pages, "a page", f" ({pages} page(s) of {self.page_size})")

    @traitlets.validate("cmap")
    def _valid_cmap(self, proposal):
        from ..render import lut

        lut(proposal["value"])  # KeyError naming matplotlib colormaps
        return proposal["value"]

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

    def _load_layer(self, name: str) -> None:
        acts = self._cache.maps(name).cpu().numpy()  # a transformer's tokens: one h x w map per feature
        self._maps = channel_maps(acts)
        self._constant = constant_in_maps(self._maps, name)
        self._warnings.set("constant", constant_sentences(self._constant))
        self._prefix = self._cache.prefix_tokens(name)  # (k, D) class/register tokens, or None
        n = self._maps.shape[0]
        pages = math.ceil(n / self.page_size)
        with self.hold_trait_notifications():
            self._channel_slider.max = n - 1
            self.set_trait("channel", min(self.channel, n - 1))
            self._page_slider.max = pages - 1
            self.set_trait("page", self.channel // self.page_size)
        self._page_slider.layout.display = "flex" if pages > 1 else "none"
        one_d = self._maps.shape[1:] == (1, 1)
        self._detail_view.layout.display = "none" if one_d else "flex"
        self._bars_view.layout.display = "flex" if one_d else "none"
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

    # -- drawing (never runs the model) --------------------------------
    def _shown_maps(self) -> np.ndarray:
        """The selected layer's channel maps (drawing starts once a layer is loaded)."""
        assert self._maps is not None, "no layer loaded yet"
        return self._maps

    def _grid_scale(self) -> Scale:
        maps = self._shown_maps()
        if self.normalization == "shared":
            return Scale(self.cmap, float(maps.min()), float(maps.max()),
                         "activation, one range for the whole layer")
        return Scale(self.cmap, 0.0, 1.0, "activation, each tile from its own min to its own max",
                     ends=("tile min", "tile max"))

    def _draw_grid(self) -> None:
        maps = self._shown_maps()
        start = self.page * self.page_size
        shown = display_grid(maps, self.normalization, self.cmap, start, self.page_size, self._grid_px)
        self._grid = hatch_tiles(shown.grid, self._constant.channels)
        n, last = self.channels, min(start + self.page_size, self.channels) - 1
        pages = f", page {self.page + 1} of {math.ceil(n / self.page_size)}" if n > self.page_size else ""
        note = flat_tiles_note(maps, start, last + 1) if self.normalization == "channel" else ""
        flat = [c for c in self._constant.channels if start <= c <= last]
        if flat:  # the flat tiles are exactly these
            note = (f"{len(flat)} hatched grey tile(s): channels constant for this input, with no range to "
                    "colour (not a colour of the map)")
        self._grid_view.show_tiles(
            self._grid.rgba, self._grid.layout, first=start, scale=self._grid.factor,
            title=f"{self.layer}: channels {start}..{last} of {n}{pages}"
                  + (f" ({shown.note()})" if shown.reduced else ""), legend=self._grid_scale(),
            caption=text(note))

    def _draw_selection(self) -> None:
        maps = self._shown_maps()
        c = self.channel
        self._grid_view.select(c)
        s = channel_stats(maps[c])
        if maps.shape[1:] == (1, 1):  # a 1-D layer: every unit as a bar
            values = maps[:, 0, 0]
            names = self._labels if self._labels is not None and len(self._labels) == len(values) else None
            self._bars_view.show(
                bar_chart_svg(values.tolist(), names, value_label="activation", selected=c),
                title=f"{self.layer}: all {len(values)} units (selected: {names[c] if names else c})")
        else:
            lo, hi = (s["min"], s["max"]) if self.normalization == "channel" else (
                float(maps.min()), float(maps.max()))
            where = "its own range" if self.normalization == "channel" else "the layer's range"
            if self._constant.is_constant(c):  # no range to colour: the hatch, and the value in words
                self._detail_view.show(hatch(*maps[c].shape), title=f"channel {c}", legend=None,
                                       caption=text(f"constant: {fmt(s['min'])} everywhere for this input"))
            else:
                picture = channel_picture(maps, c, self.normalization, self.cmap, enlarge=False)
                self._detail_view.show(picture, title=f"channel {c}", caption="",
                                       legend=Scale(self.cmap, lo, hi, f"activation of channel {c}, {where}"))
        name = self._labels[c] if self._labels is not None and len(self._labels) == self.channels else None
        self._stats.show(
            f"<div style='font-size:12px'><b>{text(self.layer)}</b> channel <b>{c}</b>"
            + (f" ({text(name)})" if name else "") + f" of {self.channels}<br>"
            f"min {fmt(s['min'])} &middot; max {fmt(s['max'])} &middot; mean {fmt(s['mean'])}"
            f" &middot; zeros {100 * s['zero_fraction']:.1f}%"
            + (f"<br>class token {fmt(float(self._prefix[0, c]))}"
               if self._prefix is not None and len(self._prefix) else "")
            + "</div>"
        )

    def _draw_input(self) -> None:
        x = self._cache.x[0].detach().cpu().numpy()
        if x.ndim == 3 and x.shape[0] in (1, 3):
            self._input_view.show(image_rgba(x), title="input",
                                  caption=f"{x.shape[2]}x{x.shape[1]} px, {x.shape[0]} channel(s)")
            self._input_view.layout.display = "flex"
        else:
            self._input_view.layout.display = "none"

    def _release(self) -> None:
        self._cache.clear()
        self._maps = None

    def _state_caption(self) -> str:
        return f"ActivationGrid: {self.layer}, channel {self.channel}"

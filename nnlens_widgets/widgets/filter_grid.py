"""The learnt filters (weights) of a conv layer."""
from __future__ import annotations

from typing import List, Optional

import ipywidgets as W
import numpy as np
import traitlets
from torch import nn

from ..core import get_module
from ..render import lut
from ..render.filters import channel_filters, color_filters, filter_tiles, weight_reach
from ..render.legend import Scale, fmt
from .base import LensWidget, check_count, check_index, text
from .examples import Example, image_net
from .traits import ChannelTrait, LayerTrait
from .fitting import fit_to_picture
from .views import HtmlView, PictureView, TileGridView, column, row

__all__ = ["FilterGrid", "conv_layers", "conv_weight"]

PICKED = "#00c853"  # the selection box: green, apart from a diverging map's red and blue and from grey


def conv_layers(model: nn.Module) -> List[str]:
    """Names of the model's ``nn.Conv2d`` modules, in ``named_modules()`` order."""
    return [n for n, m in model.named_modules() if isinstance(m, nn.Conv2d)]


def conv_weight(model: nn.Module, layer: str) -> np.ndarray:
    """A copy of the ``(out, in, kh, kw)`` weight of the Conv2d called ``layer``, float32 on the CPU."""
    module = get_module(model, layer)
    if not isinstance(module, nn.Conv2d):
        convs = conv_layers(model)
        raise ValueError(
            f"expected a Conv2d layer, but {layer!r} is {type(module).__name__}; "
            f"conv layers: {', '.join(convs[:12]) or 'none'}"
        )
    return module.weight.detach().to("cpu", copy=True).float().numpy()


class FilterGrid(LayerTrait, ChannelTrait, LensWidget):
    """Every filter (output channel) of a conv layer, on one scale for the whole layer.

    - A layer reading 3 channels (a first layer on RGB images) can show each
      filter as a colour picture of its R, G, B weights: zero weight is mid
      grey, one scale for all filters.
    - Otherwise (or with the "per input channel" toggle) each filter's weights
      on one input channel, in a diverging colormap centred on zero; the scale
      is the same for every filter and input channel, so tiles compare.
    - Click a filter (or use the channel slider) to enlarge it; beside it,
      the filter's weights on each of its input channels: click one to show
      that input channel for every filter.

    Traits: ``layer``, ``channel`` (the filter: an output channel),
    ``in_channel``, ``mode`` ("color" | "channels"), ``cmap``.
    ``refresh()`` re-reads the weights (after more training, say).
    """

    in_channel = traitlets.Int(0)
    mode = traitlets.Enum(("color", "channels"), default_value="channels")
    cmap = traitlets.Unicode("RdBu_r")

    @classmethod
    def small_example(cls) -> Example:
        """A small untrained model (and input) to try the widget on."""
        return Example(image_net(), None, {"layer": "conv2"})

    def __init__(self, model, *, layer: Optional[str] = None, cmap: str = "RdBu_r",
                 grid_px: int = 448, detail_px: int = 160, **kwargs):
        super().__init__(model, **kwargs)
        self._grid_px = check_count(grid_px, "grid_px", 16, 4096)
        self._detail_px = check_count(detail_px, "detail_px", 16, 4096)
        convs = conv_layers(self._model)
        if not convs:
            raise ValueError(f"{type(self._model).__name__} has no Conv2d layer to show")
        first = convs[0] if layer is None else layer
        self._load(first)  # bad name: KeyError / ValueError here
        self.cmap = cmap
        self.set_trait("layer", first)
        self.set_trait("mode", "color" if self.in_channels == 3 else "channels")
        self.add_class("nnl-filter-grid")

        self._layer_dd = W.Dropdown(options=[(self._layer_label(n), n) for n in convs], description="layer",
                                    layout=W.Layout(width="auto", max_width="100%"))
        self._layer_dd.add_class("nnl-layer-dropdown")
        self._mode_tb = W.ToggleButtons(
            options=[("colour", "color"), ("per input channel", "channels")],
            tooltips=["each filter's R, G, B weights as one colour picture",
                      "each filter's weights on one input channel, diverging colours"],
            style={"button_width": "auto"},
        )
        self._channel_slider = W.IntSlider(description="filter (channel)", min=0, continuous_update=True,
                                           layout=W.Layout(width="380px", max_width="100%"))
        self._channel_slider.add_class("nnl-channel-slider")
        self._in_slider = W.IntSlider(description="input channel", min=0, continuous_update=True,
                                      layout=W.Layout(width="380px", max_width="100%"))
        self._in_slider.add_class("nnl-in-channel-slider")

        self._grid_view = self._view("grid", TileGridView("filters", display_px=grid_px, css_class="nnl-grid-canvas",
                                                          mark_color=PICKED))
        self._detail_view = self._view("detail", PictureView("selected filter", display_px=detail_px,
                                                             css_class="nnl-detail-canvas"))
        self._inputs_view = self._view("inputs", TileGridView("its input channels", display_px=detail_px,
                                                              css_class="nnl-inputs-canvas", mark_color=PICKED))
        self._stats = self._view("stats", HtmlView(css_class="nnl-filter-info"))

        self._sync_controls()
        self._bind(layer=self._layer_dd, mode=self._mode_tb, channel=self._channel_slider,
                   in_channel=self._in_slider)
        self._on(self._on_layer, "layer")
        self._on(lambda _c: self._draw(), "mode", "in_channel", "cmap")
        self._on(lambda _c: self._draw_selection(), "channel")
        self._grid_view.on_pick(self._guarded(lambda c: setattr(self, "channel", c)))
        self._inputs_view.on_pick(self._guarded(self._pick_input))
        self._draw()
        self._finish([
            row(self._layer_dd, self._mode_tb),
            row(self._channel_slider, self._in_slider),
            row(self._grid_view, column(self._detail_view, self._inputs_view, self._stats)),
        ])

    # -- public --------------------------------------------------------
    @property
    def weight(self) -> np.ndarray:
        """The shown weights ``(out, in, kh, kw)``: a copy taken when the layer was chosen or refreshed."""
        return self._weight

    @property
    def channels(self) -> int:
        """How many filters (output channels) the layer has."""
        return self._weight.shape[0]

    @property
    def in_channels(self) -> int:
        """How many input channels each filter reads."""
        return self._weight.shape[1]

    @property
    def reach(self) -> float:
        """The end of the colour scale (``-reach`` to ``reach``): the 99th percentile of the layer's |w|."""
        return self._reach

    @property
    def layers(self) -> List[str]:
        """The model's Conv2d layers."""
        return conv_layers(self._model)

    @property
    def detail_frame(self) -> Optional[np.ndarray]:
        """The selected filter at its own resolution (one pixel per weight), (H, W, 4) uint8."""
        return self._detail_view.frame

    def tile_rect(self, channel: int):
        """(x, y, w, h) of filter ``channel``'s tile in grid pixels."""
        return self._grid_view.tile_rect(channel)

    def refresh(self) -> None:
        """Re-read the weights from the model and redraw."""
        with self._lock:
            self._load(self.layer)
            self._sync_controls()
            self._draw()
        self._clear_error()

    # -- validation -----------------------------------------------------
    def _check_layer(self, value: str) -> str:
        conv_weight(self._model, value)  # KeyError (closest names) / ValueError
        return value

    def _check_channel(self, value: int) -> int:
        return check_index(value, self.channels, "a filter (output channel)",
                           f" for layer {self.layer!r}")

    @traitlets.validate("in_channel")
    def _valid_in_channel(self, proposal):
        return check_index(proposal["value"], self.in_channels, "an input channel", f" for layer {self.layer!r}")

    @traitlets.validate("mode")
    def _valid_mode(self, proposal):
        if proposal["value"] == "color" and self.in_channels != 3:
            raise ValueError(f"the colour view needs a layer reading 3 channels; {self.layer!r} reads "
                             f"{self.in_channels}: use mode='channels'")
        return proposal["value"]

    @traitlets.validate("cmap")
    def _valid_cmap(self, proposal):
        lut(proposal["value"])  # KeyError naming matplotlib colormaps
        return proposal["value"]

    # -- reacting to controls ------------------------------------------
    def _layer_label(self, name: str) -> str:
        module = get_module(self._model, name)
        assert isinstance(module, nn.Conv2d), "the layers offered are Conv2d"
        out, inp, kh, kw = module.weight.shape
        return f"{name} (Conv2d, {out} filters of {inp}x{kh}x{kw})"

    def _load(self, name: str) -> None:
        self._weight = conv_weight(self._model, name)
        bias = get_module(self._model, name).bias  # a Conv2d: conv_weight checked it
        self._bias = None if not isinstance(bias, nn.Parameter) else bias.detach().to("cpu", copy=True).float().numpy()
        self._reach = weight_reach(self._weight)

    def _on_layer(self, change) -> None:
        self._load(change["new"])
        self._sync_controls()
        self.set_trait("mode", "color" if self.in_channels == 3 else "channels")
        self._draw()

    def _sync_controls(self) -> None:
        out, inp = self._weight.shape[:2]
        with self.hold_trait_notifications():
            self.set_trait("channel", min(self.channel, out - 1))
            self.set_trait("in_channel", min(self.in_channel, inp - 1))
        self._channel_slider.max = out - 1
        self._in_slider.max = max(inp - 1, 0)
        self._mode_tb.layout.display = "flex" if inp == 3 else "none"

    def _pick_input(self, index: int) -> None:
        with self.hold_trait_notifications():
            self.in_channel = index
            self.mode = "channels"  # show the picked input channel for every filter

    # -- drawing (reads the weight copy only) ---------------------------
    def _scale(self, what: str) -> Scale:
        a = self._reach
        if self.mode == "color" and what == "colour":
            return Scale("gray", -a, a, "weight (each of R, G, B); 0 = mid grey", middle="0")
        return Scale(self.cmap, -a, a, f"weight{what}; 0 = middle colour", middle="0")

    def _range_note(self) -> str:
        return (f"99% of the layer's weights lie in this range, the rest take the end colours "
                f"(largest |weight|: {fmt(np.abs(self._weight).max())}).")

    def _draw(self) -> None:
        w, a = self._weight, self._reach
        self._in_slider.layout.display = "none" if self.mode == "color" or self.in_channels == 1 else "flex"
        kh, kw = w.shape[2:]
        if self.mode == "color":
            tiles = color_filters(w, a)
            title = f"{self.layer}: {self.channels} filters, {kh}x{kw}, as colour pictures"
            caption = (f"Each filter's red, green and blue weights drawn as one colour: zero weight = mid grey, "
                       f"one scale for all filters (each colour channel from {fmt(-a)} to {fmt(a)}). {self._range_note()}")
            legend = self._scale("colour")
        else:
            k = self.in_channel
            tiles = channel_filters(w[:, k], a, self.cmap)
            of = f" on input channel {k} of {self.in_channels}" if self.in_channels > 1 else ""
            title = f"{self.layer}: {self.channels} filters, {kh}x{kw}{of}"
            caption = (f"One pixel per weight; zero = the middle colour, one scale for every filter and input "
                       f"channel ({fmt(-a)} to {fmt(a)}). {self._range_note()}")
            legend = self._scale(f" on input channel {k}" if self.in_channels > 1 else "")
        grid = filter_tiles(tiles, self._grid_px)
        self._grid_view.show_tiles(grid.rgba, grid.layout, scale=grid.factor, title=title, legend=legend,
                                   caption=text(caption))
        fit_to_picture(self._grid_view)
        self._draw_selection()

    def _draw_selection(self) -> None:
        c, w, a = self.channel, self._weight, self._reach
        self._grid_view.select(c)
        kh, kw = w.shape[2:]
        if self.mode == "color":
            picture, legend, what = color_filters(w[c:c + 1], a)[0], self._scale("colour"), "as colour"
        else:
            k = self.in_channel
            picture = channel_filters(w[c:c + 1, k], a, self.cmap)[0]
            what = f"on input channel {k}" if self.in_channels > 1 else ""
            legend = self._scale(f" on input channel {k}" if self.in_channels > 1 else "")
        self._detail_view.show(picture, title=f"filter {c} {what}".strip(), legend=legend)
        inputs = filter_tiles(channel_filters(w[c], a, self.cmap), self._detail_px)
        self._inputs_view.show_tiles(
            inputs.rgba, inputs.layout, scale=inputs.factor,
            title=f"filter {c}, per input channel ({self.in_channels})",
            legend=self._scale(""), caption=text(
                ("0, 1, 2: red, green, blue for an RGB input; " if self.in_channels == 3 else "")
                + "click one to show that input channel for every filter") if self.in_channels > 1 else "")
        for view in (self._detail_view, self._inputs_view):
            fit_to_picture(view)
        if self.mode == "channels" and self.in_channels > 1:
            self._inputs_view.select(self.in_channel)
        else:
            self._inputs_view.select()
        fw = w[c]
        bias_text = "" if self._bias is None else f" &middot; bias {fmt(float(self._bias[c]))}"
        self._stats.show(
            f"<div style='font-size:12px'><b>{text(self.layer)}</b> filter <b>{c}</b> of {self.channels}: "
            f"{self.in_channels} input channel(s) of {kh}x{kw}<br>"
            f"min {fmt(fw.min())} &middot; max {fmt(fw.max())} &middot; "
            f"L2 norm {fmt(np.sqrt((fw.astype(np.float64) ** 2).sum()))}{bias_text}</div>")

    def _release(self) -> None:
        self._weight = np.zeros((1, 1, 1, 1), dtype=np.float32)
        self._bias = None

    def _state_caption(self) -> str:
        return f"FilterGrid: {self.layer}, filter {self.channel}"

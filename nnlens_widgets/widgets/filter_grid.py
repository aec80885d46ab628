"""The learnt filters (weights) of a conv layer."""
from __future__ import annotations

from typing import Optional

import ipywidgets as W
import numpy as np
import traitlets
from torch import nn

from ..core import get_module
from ..render import channel_grid, channel_picture, rgb_grid
from .base import LensWidget
from .frame_canvas import FrameCanvas

__all__ = ["FilterGrid"]


def conv_weight(model: nn.Module, layer: str) -> np.ndarray:
    """A copy of the ``(out, in, kh, kw)`` weight of the Conv2d called ``layer``."""
    module = get_module(model, layer)
    if not isinstance(module, nn.Conv2d):
        convs = [n for n, m in model.named_modules() if isinstance(m, nn.Conv2d)]
        raise ValueError(
            f"expected a Conv2d layer, but {layer!r} is {type(module).__name__}; "
            f"conv layers: {', '.join(convs[:12]) or 'none'}"
        )
    return module.weight.detach().to("cpu", copy=True).float().numpy()


class FilterGrid(LensWidget):
    """Every filter of a conv layer.

    A layer reading 3 channels (a first layer on RGB images) shows each filter
    as a colour image: zero weight is mid-grey, the same scale for all filters.
    Other layers show each filter's slice for one input channel (slider) in a
    diverging colormap centred on zero, one scale for the whole layer so
    filters compare. Click a filter (or use the filter slider) to enlarge it.

    Traits: ``layer``, ``filter``, ``in_channel``, ``mode`` ("color" | "channels").
    Call ``refresh()`` after the weights changed (e.g. more training).
    """

    layer = traitlets.Unicode()
    filter = traitlets.Int(0)
    in_channel = traitlets.Int(0)
    mode = traitlets.Enum(("color", "channels"), default_value="channels")
    cmap = traitlets.Unicode("RdBu_r")

    def __init__(self, model: nn.Module, layer: Optional[str] = None, grid_px: int = 512,
                 detail_px: int = 192, **kwargs):
        if not isinstance(model, nn.Module):
            raise ValueError(f"expected a torch.nn.Module, got {type(model).__name__}")
        convs = [n for n, m in model.named_modules() if isinstance(m, nn.Conv2d)]
        if layer is None:
            if not convs:
                raise ValueError(f"{type(model).__name__} has no Conv2d layer to show")
            layer = convs[0]
        self._model = model
        self._weight = conv_weight(model, layer)
        self._grid_px, self._detail_px = grid_px, detail_px
        self._grid = None
        super().__init__(**kwargs)
        self.add_class("nnl-filter-grid")
        self.set_trait("layer", layer)
        self.set_trait("mode", "color" if self._weight.shape[1] == 3 else "channels")

        self._layer_dd = W.Dropdown(options=convs, value=layer, description="layer")
        self._mode_tb = W.ToggleButtons(
            options=[("colour", "color"), ("per input channel", "channels")],
            style={"button_width": "130px"},
        )
        self._in_slider = W.IntSlider(description="input ch.", min=0, continuous_update=True)
        self._in_slider.add_class("nnl-in-channel-slider")
        self._filter_slider = W.IntSlider(description="filter", min=0, continuous_update=True)
        self._filter_slider.add_class("nnl-filter-slider")
        self._grid_canvas = FrameCanvas()
        self._grid_canvas.add_class("nnl-grid-canvas")
        self._detail_canvas = FrameCanvas()
        self._detail_canvas.add_class("nnl-detail-canvas")
        self._info = W.HTML()
        self._sync_controls()
        for trait, control in (("layer", self._layer_dd), ("mode", self._mode_tb),
                               ("in_channel", self._in_slider), ("filter", self._filter_slider)):
            W.link((self, trait), (control, "value"))
        self.observe(self._guarded(self._on_layer), "layer")
        self.observe(self._guarded(lambda _c: self._draw()), ["mode", "in_channel", "cmap"])
        self.observe(self._guarded(lambda _c: self._draw_selection()), "filter")
        self._grid_canvas.on_click(self._guarded(self._on_click))
        self._draw()
        self._finish([
            W.HBox([self._layer_dd, self._mode_tb]),
            W.HBox([self._filter_slider, self._in_slider]),
            W.HBox([self._grid_canvas, W.VBox([self._detail_canvas, self._info])]),
        ])

    @property
    def weight(self) -> np.ndarray:
        """The shown weights (a copy taken when the layer was chosen or refreshed)."""
        return self._weight

    @property
    def frame(self) -> Optional[np.ndarray]:
        return self._grid_canvas.frame

    @property
    def detail_frame(self) -> Optional[np.ndarray]:
        return self._detail_canvas.frame

    def refresh(self) -> None:
        """Re-read the weights from the model and redraw."""
        self._weight = conv_weight(self._model, self.layer)
        self._sync_controls()
        self._draw()

    @traitlets.validate("layer")
    def _valid_layer(self, proposal):
        conv_weight(self._model, proposal["value"])  # raises KeyError / ValueError
        return proposal["value"]

    @traitlets.validate("mode")
    def _valid_mode(self, proposal):
        if proposal["value"] == "color" and self._weight.shape[1] != 3:
            raise ValueError(
                f"colour view needs a layer reading 3 channels; {self.layer!r} reads "
                f"{self._weight.shape[1]}"
            )
        return proposal["value"]

    def _on_layer(self, change) -> None:
        self._weight = conv_weight(self._model, change["new"])
        self._sync_controls()
        self.mode = "color" if self._weight.shape[1] == 3 else "channels"
        self._draw()

    def _sync_controls(self) -> None:
        out, inp = self._weight.shape[:2]
        self._filter_slider.max = out - 1
        self._in_slider.max = inp - 1
        self.filter = min(self.filter, out - 1)
        self.in_channel = min(self.in_channel, inp - 1)
        self._mode_tb.layout.display = "flex" if inp == 3 else "none"

    def _on_click(self, x: float, y: float, _event) -> None:
        i = self._grid.layout.index_at(x, y)
        if i is not None:
            self.filter = i

    def _draw(self) -> None:
        w = self._weight
        self._in_slider.disabled = self.mode == "color"
        if self.mode == "color":
            scale = max(float(np.abs(w).max()), 1e-12)
            self._grid = rgb_grid(0.5 + 0.5 * w.transpose(0, 2, 3, 1) / scale, self._grid_px)
        else:
            self._grid = channel_grid(w[:, self.in_channel], "shared", self.cmap,
                                      target_px=self._grid_px, symmetric=True)
        self._grid_canvas.draw(self._grid.rgba)
        self._draw_selection()

    def _draw_selection(self) -> None:
        f, w = self.filter, self._weight
        x, y, tw, th = self._grid.layout.rect(f)
        self._grid_canvas.marks = [dict(x=x - 1, y=y - 1, w=tw + 2, h=th + 2,
                                        color="#222", width=2)]
        if self.mode == "color":
            scale = max(float(np.abs(w).max()), 1e-12)
            big = rgb_grid((0.5 + 0.5 * w[f:f + 1].transpose(0, 2, 3, 1) / scale),
                           self._detail_px).rgba
        else:
            maps = w[:, self.in_channel]
            big = channel_picture(maps, f, "shared", self.cmap, self._detail_px, symmetric=True)
        self._detail_canvas.draw(big)
        fw = w[f]
        self._info.value = (
            f"<b>{self.layer}</b> filter <b>{f}</b> of {w.shape[0]}, "
            f"{w.shape[1]} input ch., {w.shape[2]}x{w.shape[3]}<br>"
            f"min {fw.min():.3g} &middot; max {fw.max():.3g} &middot; "
            f"L2 norm {np.sqrt((fw ** 2).sum()):.3g}"
        )

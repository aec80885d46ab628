"""The hidden neurons of a network over the plane, as two views shared by the plane widgets.

A neuron is picked by ``layer`` (a hidden linear layer's name) and
``channel`` (its unit); the grid shows every neuron on one colour scale, the
detail view the picked one at full resolution.
"""
from __future__ import annotations

import difflib
import math
from typing import Dict, List, Optional, Sequence

import numpy as np

from ..core.synapses import Neuron
from ..render.legend import Scale, fmt
from ..render.plane import DIVERGING, neuron_grid, neuron_range, signed_rgba
from .base import check_index, text
from .views import PictureView, TileGridView

__all__ = ["NeuronViews", "hidden_layers"]

TILE_PX = 24  # a neuron's tile in the grid, before the grid is enlarged on screen
GRID_PX = 320  # the grid is enlarged by the largest whole factor that fits this
DETAIL_PX = 192


def hidden_layers(neurons: Sequence[Neuron]) -> Dict[str, int]:
    """Hidden layer name -> number of units, in the network's order."""
    out: Dict[str, int] = {}
    for n in neurons:
        out[n.layer] = out.get(n.layer, 0) + 1
    return out


class NeuronViews:
    """The grid of every hidden neuron and the picked one enlarged, with their colour bars."""

    def __init__(self, neurons: Sequence[Neuron]):
        self.neurons: List[Neuron] = list(neurons)
        self.layers = hidden_layers(self.neurons)
        self.grid = TileGridView("hidden neurons (click one)", display_px=GRID_PX, css_class="nnl-neuron-grid")
        self.detail = PictureView("neuron", display_px=DETAIL_PX, css_class="nnl-neuron-detail")
        self.maps: Optional[np.ndarray] = None

    # -- picking ----------------------------------------------------------
    def check_layer(self, name) -> str:
        """``name`` if it is a hidden layer; a KeyError naming the hidden layers otherwise."""
        if not self.layers:
            raise ValueError("this network has no hidden layer (only one linear layer)")
        if name in self.layers:
            return name
        close = difflib.get_close_matches(str(name), list(self.layers), n=3, cutoff=0.3)
        raise KeyError(f"layer {name!r} is not a hidden linear layer of this network; expected one of "
                       + ", ".join(repr(n) for n in self.layers)
                       + (f" (closest: {', '.join(repr(n) for n in close)})" if close else ""))

    def check_channel(self, value, layer: str) -> int:
        return check_index(value, self.layers.get(layer, 0), "a channel", f" of layer {layer!r}")

    def index(self, layer: str, channel: int) -> int:
        """The position of ``layer[channel]`` among all hidden neurons."""
        for i, n in enumerate(self.neurons):
            if n.layer == layer and n.unit == channel:
                return i
        raise ValueError(f"no hidden neuron {layer}[{channel}]")

    # -- drawing ----------------------------------------------------------
    def scale(self) -> Scale:
        assert self.maps is not None, "no neuron maps drawn yet"
        vmax, meaning = neuron_range([n.activation for n in self.neurons], self.maps)
        return Scale(DIVERGING, -vmax, vmax, meaning, middle="0")

    def show(self, maps: np.ndarray, layer: str, channel: int) -> None:
        """Draw every neuron's map ``(n, H, W)`` and the picked one."""
        self.maps = maps
        if not self.neurons:
            return
        legend = self.scale()
        step = max(1, math.ceil(maps.shape[1] / TILE_PX))
        small = maps[:, ::step, ::step]
        rgba, layout = neuron_grid(small, tile_px=max(small.shape[1:]), vmax=legend.high)
        order = ", then ".join(f"{name}[0..{count - 1}]" for name, count in self.layers.items())
        self.grid.show_tiles(rgba, layout, legend=legend,
                             caption=text(f"{len(self.neurons)} neurons, row by row: {order}."))
        self.pick(layer, channel)

    def pick(self, layer: str, channel: int) -> None:
        """Box the picked neuron in the grid and draw it enlarged."""
        if self.maps is None or not self.neurons:
            return
        i = self.index(layer, channel)
        neuron, m = self.neurons[i], self.maps[i]
        legend = self.scale()
        self.grid.select(i)
        shown = "" if neuron.module == neuron.layer else f" (after {neuron.module}, {neuron.activation.lower()})"
        self.detail.show(signed_rgba(m, vmax=legend.high), legend=legend,
                         title=f"neuron {neuron.label}{shown}",
                         caption=text(f"over the plane, {m.shape[1]}x{m.shape[0]} points: "
                                      f"min {fmt(m.min())}, max {fmt(m.max())}"))

    def attach(self, owner, layer: Optional[str] = None) -> None:
        """Let ``owner`` (a widget with ``layer`` and ``channel``) pick its neuron here.

        A click on a tile sets both traits, a new layer keeps the channel
        inside it, and ``owner._on_neuron()`` runs after each pick.
        """
        if self.layers or layer is not None:  # a layer asked of a network without one is an error
            owner.set_trait("layer", layer if layer is not None else next(iter(self.layers)))
        def layer_changed(_change) -> None:
            self.follow_layer(owner)
            owner._on_neuron()

        def channel_changed(_change) -> None:
            self.pick(owner.layer, owner.channel)
            owner._on_neuron()

        owner._on(layer_changed, "layer")
        owner._on(channel_changed, "channel")
        self.grid.on_pick(owner._guarded(lambda index: self.pick_tile(owner, index)))

    def neuron_at(self, index: int) -> Neuron:
        return self.neurons[index]

    def follow_layer(self, owner) -> None:
        """After ``owner.layer`` changed: keep ``owner.channel`` in that layer and draw the pick."""
        count = self.layers[owner.layer]
        if owner.channel >= count:
            owner.set_trait("channel", count - 1)
        self.pick(owner.layer, owner.channel)

    def pick_tile(self, owner, index: int) -> None:
        """A click on tile ``index``: set ``owner.layer`` and ``owner.channel`` to that neuron."""
        neuron = self.neurons[index]
        with owner.hold_trait_notifications():  # validated together, after both are set
            owner.layer = neuron.layer
            owner.channel = neuron.unit

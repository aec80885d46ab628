"""How the synapse explorer looks: its views and controls, and how each is drawn.

``SynapseDisplay`` holds no weights of its own: the explorer hands it what
to draw. Controls it refills carry ``filling = True`` meanwhile, so their
observers can tell a refill from a person's change.
"""
from __future__ import annotations

from typing import Callable, Dict, List, Optional

import ipywidgets as W
import numpy as np
import torch

from ...core.pictures import SAMPLE_PICTURES
from ...core.synapse_space import SynapseSpace
from ...core.synapses import Neuron, Synapse
from ...render.legend import fmt
from ...render.plane import difference_rgba, difference_scale, magnitude_rgba, plane_picture, rate_scale
from ..base import check_number, text
from ..plane_neurons import NeuronViews
from .panels import BOX_COLOUR, PadPanel, RankingPanel
from .views import neuron_weight_options, weight_html
from ..views import HtmlView, PictureView, column, row

__all__ = ["SynapseDisplay", "weight_value"]

MAX_GAIN = 20.0  # the difference view amplifies small changes at most this much
SLIDER_PX = 360
LEGEND_PX = 190  # a colour bar with its labels


class SynapseDisplay:
    """The explorer's pictures, panels and controls."""

    def __init__(self, space: SynapseSpace, step: float, painting_px: int, display_px: int,
                 on_error: Callable, lock, guard: Callable[[Callable], Callable],
                 on_pad_move: Callable[[float, float], None], on_pad_pair: Callable):
        count = space.count
        self.filling = False
        self.painting = PictureView("painting (drag a rectangle)", display_px=painting_px,
                                    css_class="nnl-painting", drag=True, plain_rgb=True)
        self.picture = PictureView("picture to paint", display_px=display_px, css_class="nnl-picture-view",
                                   plain_rgb=True)
        self.side = PictureView("", display_px=display_px, css_class="nnl-side")
        for view, px in ((self.painting, painting_px), (self.picture, display_px), (self.side, display_px)):
            view.layout.max_width = f"{max(px, LEGEND_PX)}px"  # captions wrap under the picture, not beside it
        self.neurons = NeuronViews(space.neurons)
        self.ranking = RankingPanel(on_error, lock, count)
        self.pad = PadPanel(count, on_error, lock, on_pad_move, on_pad_pair, guard)

        self.synapse_box = W.BoundedIntText(description="weight #", min=0, max=count - 1,
                                            layout=W.Layout(width="auto"))
        self.synapse_box.add_class("nnl-synapse-index")
        self.slider = W.IntSlider(description=f"move (steps of {fmt(step)})", readout=False,
                                  continuous_update=True, layout=W.Layout(width=f"{SLIDER_PX}px", max_width="100%"))
        self.slider.add_class("nnl-weight-slider")
        self.readout = HtmlView("selected weight", css_class="nnl-weight")
        tips = {"reset": ("reset", "put the selected weight back to the network's value"),
                "reset_all": ("reset all", "put every weight back to the network's values"),
                "commit": ("commit", "write the moved weights into the network")}
        self.buttons = {k: W.Button(description=d, tooltip=t, layout=W.Layout(width="auto"))
                        for k, (d, t) in tips.items()}
        # Orange marks the one action that writes into the model; dark enough for white text (4.8:1).
        self.buttons["commit"].style.button_color = "#b35900"
        self.buttons["commit"].style.text_color = "white"
        self.side_toggle = W.ToggleButtons(options=[("difference", "difference"), ("where it acts", "acts")],
                                           style={"button_width": "auto"})
        self.neuron_head = W.HTML()
        self.neuron_list = W.Select(rows=8, layout=W.Layout(width="360px", max_width="100%"))
        self.neuron_list.add_class("nnl-neuron-synapses")
        self.ranking_head = W.HTML(text("pick a ranked weight to select it:"))
        self.ranking_head.layout.display = self.ranking.listing.layout.display = "none"  # until a ranking
        self.train_picture = W.Dropdown(options=[("the picture shown", "")] + [(n, n) for n in SAMPLE_PICTURES],
                                        description="train on", layout=W.Layout(width="auto"))
        self.steps = W.BoundedIntText(value=1500, min=1, max=1_000_000, description="steps",
                                      layout=W.Layout(width="auto"))
        self.restart = W.Checkbox(value=True, description="from fresh random weights", indent=False)
        self.train = W.Button(description="train", icon="play", layout=W.Layout(width="auto"))

    # -- what the explorer registers --------------------------------------------
    def views(self) -> Dict[str, W.Widget]:
        return {"painting": self.painting, "picture": self.picture, "side": self.side, "weight": self.readout,
                "neurons": self.neurons.grid, "neuron": self.neurons.detail, "ranking": self.ranking.chart,
                "pad": self.pad.view}

    def controls(self) -> Dict[str, W.Widget]:
        """Every control but the two bound to traits (``synapse``, ``side_view``)."""
        return {"offset": self.slider, "neuron_weights": self.neuron_list, "ranking": self.ranking.listing,
                "pad_x": self.pad.x_box, "pad_y": self.pad.y_box, "train_picture": self.train_picture,
                "steps": self.steps, "from_scratch": self.restart, "train": self.train, **self.buttons}

    def rows(self, outputs: int, count: int) -> List[W.Widget]:
        """The widget's rows, top to bottom (parts that cannot apply are hidden)."""
        training = row(self.train_picture, self.steps, self.restart, self.train)
        training.layout.display = "flex" if outputs == 3 else "none"
        neurons = row(self.neurons.grid, column(self.neurons.detail, self.neuron_head, self.neuron_list))
        neurons.layout.display = "flex" if self.neurons.layers else "none"
        pad = column(self.pad.view, self.pad.x_box, self.pad.y_box)
        pad.layout.display = "flex" if count > 1 else "none"
        return [row(self.painting, self.picture, column(self.side, self.side_toggle)),
                row(self.synapse_box, self.slider, *self.buttons.values()),
                self.readout,
                neurons,
                row(column(self.ranking.chart, self.ranking_head, self.ranking.listing), pad),
                training]

    # -- drawing ----------------------------------------------------------------
    def draw_painting(self, painting: np.ndarray, rmse: Optional[float], moved: int) -> None:
        rgba, legend, key = plane_picture(painting)
        state = ("no weight moved" if not moved else
                 f"{moved} weight{'s' if moved > 1 else ''} moved (not in the network until commit)")
        score = "" if rmse is None else f"RMSE {rmse:.4f} against the picture (colours 0..1)<br>"
        self.painting.show(rgba, legend=legend, caption=key + score + text(state))

    def mark_box(self, box) -> None:
        """Outline the ranked rectangle ``(x0, y0, x1, y1)`` on the painting."""
        x0, y0, x1, y1 = box
        self.painting.canvas.marks = [dict(x=x0, y=y0, w=x1 - x0, h=y1 - y0, color=BOX_COLOUR, width=2)]

    def draw_picture(self, picture: Optional[np.ndarray]) -> None:
        self.picture.layout.display = "flex" if picture is not None else "none"
        if picture is not None:
            h, w = picture.shape[:2]
            self.picture.show(np.dstack([picture, np.full((h, w), 255, np.uint8)]), caption=text(f"{w}x{h} pixels"))

    def draw_difference(self, painting: np.ndarray, original: np.ndarray) -> None:
        largest = float(np.abs(painting - original).max())
        gain = min(MAX_GAIN, 1.0 / max(largest, 1.0 / MAX_GAIN))  # small changes made visible
        self.side.show(difference_rgba(painting, original, gain), title="change from the original",
                       legend=difference_scale(gain, painting.shape[2]),
                       caption=text(f"largest change {fmt(largest)} (outputs -1..1)"))

    def draw_rate(self, rate: np.ndarray, synapse: Synapse) -> None:
        self.side.show(magnitude_rgba(rate), title=f"where weight #{synapse.index} acts",
                       legend=rate_scale(float(rate.max()), f"weight #{synapse.index}"),
                       caption=text(synapse.element))

    def show_weight(self, synapse: Synapse, now: float, was: float, step: float, reach: float,
                    dtype: torch.dtype) -> None:
        """The readout of the selected weight, and the slider at its offset in steps."""
        k = int(np.clip(round((now - was) / step), -10**9, 10**9))
        most = max(int(round(reach / step)), abs(k))
        self._fill(lambda: self._set_slider(-most, most, k))
        self.readout.show(weight_html(synapse, now, was, dtype))

    def _set_slider(self, low: int, high: int, value: int) -> None:
        self.slider.min, self.slider.max = low, high  # low <= 0 <= high: never crossed
        self.slider.value = value

    def show_picked_neuron(self, layer: str, channel: int, synapses, values: np.ndarray, dtype, selected: int) -> None:
        """List the weights into and out of the picked hidden neuron (once the neurons are drawn)."""
        if self.neurons.layers and self.neurons.maps is not None:
            neuron = self.neurons.neuron_at(self.neurons.index(layer, channel))
            self.show_neuron_weights(neuron, synapses, values, dtype, selected)

    def show_neuron_weights(self, neuron: Neuron, synapses, values: np.ndarray, dtype, selected: int) -> None:
        options = neuron_weight_options(neuron, synapses, values, dtype)
        self.neuron_head.value = text(f"weights into and out of {neuron.label} (pick one to select it):")
        self._fill(lambda: self._set_list(self.neuron_list, options, selected))

    def show_ranking(self, synapses, n: int, selected: int, version: int) -> None:
        options, _ = self.ranking.show(synapses, n, selected, version)
        self._fill(lambda: self._set_list(self.ranking.listing, options, selected))
        self.ranking_head.layout.display = self.ranking.listing.layout.display = "flex"

    @staticmethod
    def _set_list(listing: W.Select, options, selected: int) -> None:
        if list(listing.options) != list(options):
            listing.options = options
        listing.value = selected if any(v == selected for _, v in options) else None

    def _fill(self, fn) -> None:
        """Change controls without the change counting as a person's."""
        self.filling = True
        try:
            fn()
        finally:
            self.filling = False

    def close(self) -> None:
        self.ranking.close()
        self.pad.close()
        self.neurons.maps = None


def weight_value(value, dtype: torch.dtype) -> float:
    """``value`` if weights of ``dtype`` can hold it; a ValueError otherwise."""
    v, limit = check_number(value, "weight value"), float(torch.finfo(dtype).max)
    if abs(v) > limit:
        raise ValueError(f"expected a weight value in -{limit:.4g}..{limit:.4g} (what the network's "
                         f"{str(dtype).replace('torch.', '')} weights can hold), got {v:g}")
    return v

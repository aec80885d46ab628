"""What the synapse explorer shows beside its pictures: the pad with labelled axes,
the ranking as a chart and a list, and the lines that describe one weight."""
from __future__ import annotations

from typing import List, Optional, Sequence, Tuple

import ipywidgets as W
import numpy as np
import torch

from ...core.synapse_ranking import Ranking
from ...core.synapses import Neuron, Synapse
from ...render.bars import bar_chart_svg
from ...render.legend import THEME, Scale, fmt
from ...render.synapse_pad import PadGeometry
from ..base import text
from ..views import HtmlView, PictureView

__all__ = ["ChartView", "PadView", "exact", "neuron_weight_options", "ranking_chart_html", "ranking_options",
           "weight_html"]

CHART_LABEL = "inside minus outside"  # the ranking chart's value axis
AXIS_PX = 52  # room for the tick values left of the pad
AXIS_NAME_PX = 16  # the y axis's name, written upwards
_TICK = f"position:absolute;font-size:11px;white-space:nowrap;color:{THEME['fg']};font-family:{THEME['font']}"


def exact(value: float, dtype=torch.float32) -> str:
    """The shortest decimal that reads back as the stored value (no rounding hides a change)."""
    numpy_type = np.float64 if dtype == torch.float64 else np.float16 if dtype == torch.float16 else np.float32
    return np.format_float_positional(numpy_type(value), unique=True, sign=True, trim="-")


class PadView(PictureView):
    """A picture of the pad with its two axes: each weight's name and the values at the ticks."""

    def __init__(self, title: str, *, css_class: Optional[str] = None):
        super().__init__(title, display_px=0, css_class=css_class, drag=True)
        self.y_axis = W.HTML(layout=W.Layout(width=f"{AXIS_NAME_PX + AXIS_PX}px", margin="0"))
        self.x_axis = W.HTML()
        beside = W.HBox([self.y_axis, self.canvas], layout=W.Layout(align_items="center"))
        self.children = [self._title, beside, self.x_axis, self.legend, self.caption]
        self._ticks: Tuple[List[Tuple[float, str]], List[Tuple[float, str]], str, str] = ([], [], "", "")
        self.pad_scale: Optional[Scale] = None

    def show_pad(self, rgba: np.ndarray, geometry: PadGeometry, names: Tuple[str, str],
                 originals: Tuple[float, float], **kwargs) -> None:
        """Draw the pad; ticks at the two ends and the middle (the original values)."""
        offsets = (-geometry.reach, 0.0, geometry.reach)
        xt = [(geometry.x_of(o), fmt(originals[0] + o)) for o in offsets]
        yt = [(geometry.y_of(o), fmt(originals[1] + o)) for o in offsets]
        self._ticks = (xt, yt, names[0], names[1])
        self.pad_scale = kwargs.get("legend", self.pad_scale)
        size = geometry.size
        self.y_axis.value = (
            f"<div style='display:flex;align-items:center;height:{size}px'>"
            f"<div style='writing-mode:vertical-rl;transform:rotate(180deg);font-size:11px;white-space:nowrap;"
            f"width:{AXIS_NAME_PX}px;color:{THEME['fg']};font-family:{THEME['font']}'>y: {text(names[1])}</div>"
            f"<div style='position:relative;height:{size}px;width:{AXIS_PX}px'>"
            + "".join(f"<span class='nnl-pad-ytick' style='{_TICK};right:4px;top:{y:.1f}px;"
                      f"transform:translateY(-50%)'>{text(label)}</span>" for y, label in yt)
            + "</div></div>")
        self.x_axis.value = (
            f"<div style='margin-left:{AXIS_NAME_PX + AXIS_PX}px;width:{size}px'>"
            f"<div style='position:relative;height:16px;width:{size}px'>"
            + "".join(f"<span class='nnl-pad-xtick' style='{_TICK};left:{x:.1f}px;top:0;"
                      f"transform:translateX(-50%)'>{text(label)}</span>" for x, label in xt)
            + f"</div><div style='font-size:11px;white-space:nowrap;color:{THEME['fg']};"
              f"font-family:{THEME['font']}'>x: {text(names[0])}</div></div>")
        self.show(rgba, scale=1, **kwargs)

    def static_html(self) -> str:
        xt, yt, xn, yn = self._ticks
        axes = (f"<div style='font-size:11px'>x: {text(xn)} ({', '.join(text(t) for _, t in xt)}); "
                f"y: {text(yn)} ({', '.join(text(t) for _, t in yt)})</div>")
        html_ = super().static_html()
        return html_.replace("</figure>", axes + "</figure>") if html_ else ""


class ChartView(HtmlView):
    """An HTML bar chart that keeps its bars (``bars``) and its heading."""

    def __init__(self, title: str, css_class: Optional[str] = None):
        super().__init__(title, css_class=css_class)
        self.heading = title
        self.bars: Optional[Tuple[List[float], List[str], str]] = None  # values, names, value label

    def set_title(self, text_: str) -> None:
        self.heading = text_
        super().set_title(text_)


def weight_html(s: Synapse, now: float, was: float, dtype) -> str:
    """One weight: its number, element, connection and exact value (and original, if moved)."""
    moved = (f" &middot; original {exact(was, dtype)}, moved by {fmt(now - was)}" if now != was
             else " &middot; the network's value")
    return (f"<div class='nnl-weight-readout' style='font-size:13px;line-height:1.35;color:{THEME['fg']}'>"
            f"<b>#{s.index}</b> <code>{text(s.element)}</code> ({text(s.source)} &rarr; {text(s.target)}) = "
            f"<b class='nnl-weight-value'>{exact(now, dtype)}</b>{moved}</div>")


def ranking_chart_html(ranking: Ranking, synapses: Sequence[Synapse], top: Sequence[int],
                       selected: Optional[int]) -> str:
    """The top weights' scores as a labelled bar chart (the selected weight in red)."""
    where = list(top).index(selected) if selected is not None and selected in top else None
    chart = bar_chart_svg([float(ranking.score[i]) for i in top], [f"#{i}" for i in top],
                          value_label=CHART_LABEL, selected=where, width=420, height=190,
                          css_class="nnl-ranking-chart")
    return (f"{chart}<div style='font-size:12px;line-height:1.35;color:{THEME['fg']};max-width:420px'>"
            f"The top {len(top)} of {len(synapses)} weights (red: the selected one): how much more each "
            f"changes the pixels inside the rectangle than outside it (RMS rate of change per unit of "
            f"weight, outputs combined).</div>")


def ranking_options(ranking: Ranking, synapses: Sequence[Synapse], top: Sequence[int]) -> List[Tuple[str, int]]:
    """List entries for the ranked weights, best first."""
    return [(f"{place + 1}. #{i} {synapses[i].element} ({synapses[i].source} \u2192 {synapses[i].target}) "
             f"{ranking.score[i]:+.3f} = {ranking.inside[i]:.3f} in \u2212 {ranking.outside[i]:.3f} out", i)
            for place, i in enumerate(top)]


def neuron_weight_options(neuron: Neuron, synapses: Sequence[Synapse], values: np.ndarray,
                          dtype) -> List[Tuple[str, int]]:
    """List entries for a neuron's incoming and outgoing weights, with their values."""
    incoming = [s for s in synapses if s.target == neuron.label]
    outgoing = [s for s in synapses if s.source == neuron.label]
    return ([(f"in  #{s.index} {s.element} from {s.source} = {exact(values[s.index], dtype)}", s.index)
             for s in incoming]
            + [(f"out #{s.index} {s.element} to {s.target} = {exact(values[s.index], dtype)}", s.index)
               for s in outgoing])

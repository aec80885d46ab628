"""What the diagram says about the neuron or weight under the mouse: its live value and its formula.

Written from the numbers of the last frame (``core.playground.NetPictures``),
so the text and the pictures beside it are of the same training step.
Neurons are named as in the diagram: ``x``, ``y``, ``h2[3]`` (unit 3 of
layer ``hidden2``), ``out``.
"""
from __future__ import annotations

from typing import List, Optional, Sequence

import numpy as np

from ...core.playground import ACTIVATIONS, NetPictures
from ...render.legend import THEME
from ...render.network_diagram import Hit
from ..base import text

__all__ = ["HINT", "neuron_name", "readout_html", "synapse_index"]

HINT = "Point at a neuron or a weight in the diagram to see its value and formula; click one to keep it here."


def _num(v: float) -> str:
    return f"{float(v):+.4g}".replace("+", "+\u2009").replace("-", "\u2212\u2009")


def _plain(v: float) -> str:
    return f"{float(v):.4g}".replace("-", "\u2212")


def neuron_name(column: int, unit: int, columns: int, outputs: int) -> str:
    """``x``/``y`` for the inputs, ``h<layer>[<unit>]`` for hidden neurons, ``out``/``out[<c>]`` for outputs."""
    if column == 0:
        return "xy"[unit]
    if column == columns - 1:
        return "out" if outputs == 1 else f"out[{unit}]"
    return f"h{column}[{unit}]"


def synapse_index(weights: Sequence[np.ndarray], layer: int, target: int, source: int) -> int:
    """The weight's number in ``core.synapse_table`` order (what ``SynapseExplorer`` calls a synapse)."""
    before = sum(w.size + w.shape[0] for w in weights[:layer])  # each earlier layer's weights and biases
    return before + target * weights[layer].shape[1] + source


def _sum(pictures: NetPictures, layer: int, unit: int, columns: int, outputs: int) -> str:
    w, b = pictures.weights[layer][unit], pictures.biases[layer][unit]
    terms = [f"{_num(v)}\u00b7{neuron_name(layer, i, columns, outputs)}" for i, v in enumerate(w)]
    if terms and terms[0].startswith("+"):
        terms[0] = terms[0][2:]  # no sign before a first positive term
    return "z = " + " ".join(terms) + f" {_num(b)} (bias)"


def _line(label: str, body: str) -> str:
    return f"<div><b>{text(label)}</b> {body}</div>"


def readout_html(hit: Optional[Hit], pictures: Optional[NetPictures], activations: Sequence[str],
                 class_names: Sequence[str], scaled: bool, pinned: bool = False) -> str:
    """The readout for ``hit`` (None: the hint)."""
    style = (f"color:{THEME['fg']};font-family:{THEME['font']};font-size:12px;line-height:1.45;"
             f"max-width:480px;min-height:4.4em;overflow-wrap:anywhere")
    if hit is None or pictures is None:
        return f"<div class='nnl-playground-readout' style='{style}'>{text(HINT)}</div>"
    columns = len(pictures.weights) + 1
    outputs = pictures.weights[-1].shape[0]
    lines: List[str] = []
    if hit.kind == "neuron":
        column, unit = hit.index
        name = neuron_name(column, unit, columns, outputs)
        if column == 0:
            where = "scaled from the map's square onto \u22126..6" if scaled else "as the map's axis shows it"
            lines.append(_line(f"input {name}:", text(f"the point's {name} coordinate, {where}.")))
        elif column < columns - 1:
            act = activations[column - 1]
            m = pictures.neurons[column - 1][unit]
            lines.append(_line(f"neuron {name}", text(f"(unit {unit} of layer hidden{column}, {act}):")
                               + f" {name} = {text(ACTIVATIONS[act].formula)}"))
            lines.append(f"<div>{_sum(pictures, column - 1, unit, columns, outputs)}</div>")
            lines.append(f"<div>over the map: from {_plain(m.min())} to {_plain(m.max())}</div>")
        else:
            p = pictures.outputs
            if outputs == 1:
                what = f"P({text(class_names[1])}) = sigmoid(z); P({text(class_names[0])}) = 1 \u2212 sigmoid(z)"
                shown = p[1]
            else:
                what = f"P({text(class_names[unit])}) = softmax(z)[{unit}]"
                shown = p[unit]
            lines.append(_line(f"output {name}:", what))
            lines.append(f"<div>{_sum(pictures, column - 1, unit, columns, outputs)}</div>")
            lines.append(f"<div>over the map: from {_plain(shown.min())} to {_plain(shown.max())}</div>")
    else:
        layer, target, source = hit.index
        value = float(pictures.weights[layer][target, source])
        module = "output" if layer == columns - 2 else f"hidden{layer + 1}"
        src, dst = neuron_name(layer, source, columns, outputs), neuron_name(layer + 1, target, columns, outputs)
        lines.append(_line(f"weight {module}.weight[{target}, {source}] = {_plain(value)}",
                           text(f"from {src} to {dst} (synapse #{synapse_index(pictures.weights, layer, target, source)}"
                                " in SynapseExplorer(pg.model)).")))
        lines.append(f"<div>{text(dst)} adds {_num(value)}\u00b7{text(src)} to its sum: "
                     f"{_sum(pictures, layer, target, columns, outputs)}</div>")
    note = " <i>(kept: click it again to let go)</i>" if pinned else ""
    return f"<div class='nnl-playground-readout' style='{style}'>{''.join(lines)}{note}</div>"

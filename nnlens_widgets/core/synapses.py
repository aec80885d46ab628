"""The synapses and neurons of a network over the (x, y) plane, numbered once.

A network's linear-layer parameters ("synapses") are numbered in one stable
order, so synapse ``i`` is element ``i`` of the flat vector
``torch.cat([p.reshape(-1) for p in (w1, b1, w2, b2, ...)])``; a hidden
neuron is one unit of a linear layer that is not the last one, shown by the
module right after it (its activation) when there is one.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
from torch import nn

from .plane import DEFAULT_EXTENT, check_plane_model, model_place, plane_points
from .probe import forward_capture

__all__ = [
    "Neuron",
    "Synapse",
    "hidden_neurons",
    "linear_layers",
    "plane_neuron_maps",
    "synapse_sources",
    "synapse_table",
]


@dataclass(frozen=True)
class Synapse:
    """One parameter element of a linear layer, numbered by ``index``.

    ``row`` is the output unit; ``col`` the input feature (``None`` for a
    bias). ``source`` / ``target`` name the neurons it connects.
    """

    index: int
    layer: str
    kind: str  # "weight" or "bias"
    row: int
    col: Optional[int]
    source: str
    target: str

    @property
    def parameter(self) -> str:
        return f"{self.layer}.{self.kind}"

    @property
    def element(self) -> str:
        """``fc1.weight[3, 0]`` or ``fc1.bias[3]``."""
        where = f"[{self.row}, {self.col}]" if self.kind == "weight" else f"[{self.row}]"
        return f"{self.parameter}{where}"

    @property
    def label(self) -> str:
        return f"#{self.index} {self.element}: {self.source} -> {self.target}"


@dataclass(frozen=True)
class Neuron:
    """Unit ``unit`` of linear layer ``layer``; its map is the output of ``module``
    (the activation right after the layer when there is one), whose class is
    ``activation`` (e.g. ``"Tanh"``; ``"Linear"`` when the layer's own output is shown)."""

    layer: str
    unit: int
    module: str
    activation: str = "Linear"

    @property
    def label(self) -> str:
        return f"{self.layer}[{self.unit}]"


def linear_layers(model: nn.Module) -> List[Tuple[str, nn.Linear]]:
    """The ``nn.Linear`` modules in registration order (their parameters are the synapses)."""
    found = [(n, m) for n, m in model.named_modules() if isinstance(m, nn.Linear) and n]
    if not found:
        raise ValueError(
            f"expected a network with nn.Linear layers (their weights are the synapses); "
            f"{type(model).__name__} has none"
        )
    return found


def synapse_sources(model: nn.Module) -> Dict[str, List[Optional[Tuple[str, int]]]]:
    """For each linear layer, what feeds each of its inputs.

    ``("input", j)`` is model input ``j``; ``(layer, i)`` is neuron ``i`` of
    another linear layer; ``None`` is unknown. A model may say it with a
    ``synapse_sources()`` method (``zoo.PainterNet`` does); otherwise the
    layers are taken as a chain in registration order (the first sees the
    inputs, each later one the previous layer's neurons when the sizes match).
    """
    layers = linear_layers(model)
    own = getattr(model, "synapse_sources", None)
    if callable(own):
        given = own()
        return {name: list(given.get(name, [None] * layer.in_features)) for name, layer in layers}
    sources: Dict[str, List[Optional[Tuple[str, int]]]] = {}
    previous: Optional[Tuple[str, nn.Linear]] = None
    for name, layer in layers:
        if previous is None and layer.in_features == 2:
            sources[name] = [("input", 0), ("input", 1)]
        elif previous is not None and previous[1].out_features == layer.in_features:
            sources[name] = [(previous[0], i) for i in range(layer.in_features)]
        else:
            sources[name] = [None] * layer.in_features
        previous = (name, layer)
    return sources


def _source_label(source: Optional[Tuple[str, int]]) -> str:
    if source is None:
        return "?"
    if source[0] == "input":
        return "xy"[source[1]] if source[1] < 2 else f"input[{source[1]}]"
    return f"{source[0]}[{source[1]}]"


def synapse_table(model: nn.Module) -> List[Synapse]:
    """Every parameter element of every linear layer, numbered once, in a stable order.

    Layers in registration order; within a layer the weight matrix row by row
    (``weight[row, col]`` for output unit ``row``), then the bias. The order
    is ``torch.cat([p.reshape(-1) for p in (w1, b1, w2, b2, ...)])``, so synapse
    ``i`` is element ``i`` of that flat vector.

    Parameters
    ----------
    model : nn.Module
        A network with ``nn.Linear`` layers.

    Returns
    -------
    list of Synapse
    """
    sources = synapse_sources(model)
    table: List[Synapse] = []
    for name, layer in linear_layers(model):
        out, inp = layer.weight.shape
        for r in range(out):
            target = f"{name}[{r}]"
            for c in range(inp):
                table.append(Synapse(len(table), name, "weight", r, c, _source_label(sources[name][c]), target))
        if layer.bias is not None:
            for r in range(out):
                table.append(Synapse(len(table), name, "bias", r, None, "bias", f"{name}[{r}]"))
    return table


def hidden_neurons(model: nn.Module) -> List[Neuron]:
    """The units of every linear layer but the last, with the module whose output shows them.

    That module is the one registered right after the layer when it has no
    parameters and gives an output of the layer's shape (an activation such
    as ``nn.Tanh``); otherwise the layer's own (pre-activation) output.

    Parameters
    ----------
    model : nn.Module
        A network over the plane with ``nn.Linear`` layers.

    Returns
    -------
    list of Neuron
    """
    layers = linear_layers(model)
    device, dtype = model_place(model)
    leaves = [n for n, m in model.named_modules() if n and not list(m.children())]
    modules = dict(model.named_modules())
    shapes, _ = forward_capture(model, torch.zeros(2, 2, device=device, dtype=dtype), leaves,
                                keep=lambda v: tuple(v.shape) if isinstance(v, torch.Tensor) else None)
    neurons: List[Neuron] = []
    for name, layer in layers[:-1]:
        shown = name
        at = leaves.index(name) if name in leaves else -1
        if 0 <= at < len(leaves) - 1:
            after = leaves[at + 1]
            if not list(modules[after].parameters()) and shapes.get(after) == shapes.get(name):
                shown = after
        kind = type(modules[shown]).__name__
        neurons.extend(Neuron(name, u, shown, kind) for u in range(layer.out_features))
    return neurons


def plane_neuron_maps(model: nn.Module, height: int, width: Optional[int] = None,
                      extent: Sequence[float] = DEFAULT_EXTENT) -> Tuple[List[Neuron], np.ndarray]:
    """Every hidden neuron of any 2-input network over the plane.

    Runs on a private eval-mode twin of the model without gradients; hooks
    exist only during the pass.

    Parameters
    ----------
    model : nn.Module
        Maps ``(N, 2)`` points to ``(N, k)`` through ``nn.Linear`` layers.
    height, width : int
        The grid (``width`` defaults to ``height``).
    extent : (x0, x1, y0, y1)
        The plane's corners.

    Returns
    -------
    (list of Neuron, numpy.ndarray)
        The neurons and their maps, ``(n, height, width)`` float32.
    """
    width = height if width is None else width
    check_plane_model(model)
    neurons = hidden_neurons(model)
    device, dtype = model_place(model)
    points = plane_points(height, width, extent, dtype=dtype, device=device)
    acts, _ = forward_capture(model, points, sorted({n.module for n in neurons}))
    maps = [acts[n.module][:, n.unit] for n in neurons]
    if not maps:
        return neurons, np.zeros((0, int(height), int(width)), dtype=np.float32)
    return neurons, torch.stack(maps).float().cpu().numpy().reshape(len(maps), int(height), int(width))

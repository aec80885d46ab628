"""Everything the playground draws, from one snapshot of its network.

``net_pictures`` runs a ``Snapshot`` over two grids of the plane (see
``core.plane`` for the grid convention): a fine one for the decision map
(each class's probability) and a coarse one for the small map of every
neuron (what the first layer sees, each hidden neuron's activation, each
class's probability). The weights and biases shown beside the pictures are
the snapshot's, so numbers and pictures are of the same training step.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import List, Sequence, Tuple

import numpy as np

from ..plane import plane_points
from .forward import Snapshot, probabilities_of

__all__ = ["NetPictures", "decision_probabilities", "net_pictures"]


@dataclass(frozen=True)
class NetPictures:
    """The network at one moment, over the plane.

    - ``probabilities``: (H, W, classes) over the decision map's grid;
    - ``inputs``: (2, t, t) the two numbers the first layer sees (x, y; after
      the network's ``scale`` module when it has one);
    - ``neurons``: per hidden layer, (units, t, t) activations;
    - ``outputs``: (classes, t, t) class probabilities on the small grid;
    - ``weights`` / ``biases``: per linear layer, (out, in) / (out,).
    """

    extent: Tuple[float, float, float, float]
    probabilities: np.ndarray
    inputs: np.ndarray
    neurons: List[np.ndarray]
    outputs: np.ndarray
    weights: List[np.ndarray]
    biases: List[np.ndarray]


def _grid(size: int, extent) -> np.ndarray:
    return plane_points(size, size, extent).numpy()


def decision_probabilities(net: Snapshot, extent: Sequence[float], map_size: int) -> np.ndarray:
    """(map_size, map_size, classes): each class's probability over the decision map's grid."""
    _, _, logits = net.forward(_grid(map_size, extent))
    return probabilities_of(logits).reshape(map_size, map_size, -1)


def net_pictures(net: Snapshot, extent: Sequence[float], map_size: int, tile_size: int) -> NetPictures:
    """The decision map (``map_size`` per side) and every neuron's map (``tile_size`` per side)."""
    extent = tuple(float(v) for v in extent)
    seen, hidden, out = net.forward(_grid(tile_size, extent), keep=True)
    t = tile_size

    def maps(values: np.ndarray) -> np.ndarray:
        return np.ascontiguousarray(values.T.reshape(-1, t, t))

    return NetPictures(extent=extent,  # type: ignore[arg-type]
                       probabilities=decision_probabilities(net, extent, map_size),
                       inputs=maps(seen), neurons=[maps(h) for h in hidden], outputs=maps(probabilities_of(out)),
                       weights=net.weights, biases=net.biases)

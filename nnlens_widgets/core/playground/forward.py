"""The network's weights at one moment, and its forward pass on them in numpy.

Pictures and loss records run the network over hundreds to tens of
thousands of points. Done in torch, each such product may be split over
threads; on a busy machine, waiting for those threads costs far more than
the product (milliseconds instead of microseconds), and the training step
on the same core waits with it. A ``Snapshot`` copies the weights (the
only moment the network is held) and runs them in numpy, in chunks small
enough that numpy's BLAS keeps to one thread, with the same activations
(``ActivationSpec.numpy``). Agreement with the torch module is a test.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import List, Optional, Tuple

import numpy as np
from torch import nn

from .net import ACTIVATIONS, InputScale, linear_layers

__all__ = ["CHUNK", "Snapshot", "snapshot", "probabilities_of", "loss_of", "share_right"]

CHUNK = 512  # rows per product: 512 x 16 x 16 stays under OpenBLAS's threading threshold


@dataclass(frozen=True)
class Snapshot:
    """Copies of every weight and bias (float32), the activations, and the input scale if any."""

    weights: List[np.ndarray]
    biases: List[np.ndarray]
    activations: Tuple[str, ...]
    centre: Optional[np.ndarray] = None
    gain: Optional[float] = None

    def forward(self, points: np.ndarray, keep: bool = False):
        """``(inputs the first layer sees, hidden activations (if ``keep``), logits)`` for (N, 2) points."""
        p = np.asarray(points, dtype=np.float32)
        seen = p if self.centre is None else (p - self.centre) * np.float32(self.gain)
        parts = [self._chunk(seen[i:i + CHUNK], keep) for i in range(0, len(seen), CHUNK)] or \
            [self._chunk(seen[:0], keep)]
        hidden = [np.concatenate([part[0][k] for part in parts]) for k in range(len(self.activations))] if keep else []
        return seen, hidden, np.concatenate([part[1] for part in parts])

    def _chunk(self, x: np.ndarray, keep: bool):
        hidden = []
        for w, b, act in zip(self.weights[:-1], self.biases[:-1], self.activations):
            x = ACTIVATIONS[act].numpy(x @ w.T + b)
            if keep:
                hidden.append(x)
        return hidden, x @ self.weights[-1].T + self.biases[-1]


def snapshot(net: nn.Sequential, activations: Tuple[str, ...]) -> Snapshot:
    """The network's numbers now (the caller holds it still)."""
    layers = linear_layers(net)
    scale = getattr(net, "scale", None)
    return Snapshot([m.weight.detach().numpy().copy() for m in layers],
                    [m.bias.detach().numpy().copy() for m in layers], tuple(activations),
                    None if not isinstance(scale, InputScale) else scale.centre.numpy().copy(),
                    None if not isinstance(scale, InputScale) else float(scale.gain))


def probabilities_of(logits: np.ndarray) -> np.ndarray:
    """(N, classes): one logit's sigmoid as two columns (class 0, class 1), or the softmax of several."""
    if logits.shape[1] == 1:
        p = ACTIVATIONS["sigmoid"].numpy(logits)
        return np.concatenate([1 - p, p], axis=1)
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def loss_of(logits: np.ndarray, labels: np.ndarray) -> float:
    """Mean cross-entropy, as ``trainer.data_loss`` computes it in torch (NaN for no points)."""
    if not len(labels):
        return float("nan")
    z = logits.astype(np.float64)
    if z.shape[1] == 1:
        z, y = z[:, 0], labels.astype(np.float64)
        return float(np.mean(np.maximum(z, 0) - z * y + np.log1p(np.exp(-np.abs(z)))))
    top = z.max(axis=1)
    lse = top + np.log(np.exp(z - top[:, None]).sum(axis=1))
    return float(np.mean(lse - z[np.arange(len(z)), labels]))


def share_right(logits: np.ndarray, labels: np.ndarray) -> float:
    """The share of points whose most likely class is their label (NaN for no points)."""
    if not len(labels):
        return float("nan")
    guess = (logits[:, 0] > 0).astype(np.int64) if logits.shape[1] == 1 else logits.argmax(axis=1)
    return float(np.mean(guess == labels))

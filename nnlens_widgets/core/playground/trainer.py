"""Mini-batch SGD on the playground's network, one step at a time, with an exact rewind.

A ``Trainer`` owns the network, its first weights, the optimiser, the data
as tensors and a generator of its own for the order of the mini-batches.
``rewind()`` puts back the first weights and the batch generator's first
state, so the same run gives the same losses bit for bit. Learning rate,
batch size, regularisation and each layer's activation change between two
steps without a reset; a new architecture starts over from weights drawn
from the seed.

Every public method holds ``lock`` (given by the caller, so a widget's
training thread and its controls take turns on one lock).
"""
from __future__ import annotations

import copy
import math
import threading
from typing import ContextManager, Optional, Sequence, Tuple

import numpy as np
import torch
from torch import nn

from .data import PointSet
from .history import LossHistory
from .forward import Snapshot, loss_of, share_right, snapshot
from .pictures import NetPictures, net_pictures
from .net import ACTIVATIONS, InputScale, build_net, check_activations, check_hidden, linear_layers, set_activation

__all__ = ["REGULARIZATIONS", "RECORD_EVERY", "Trainer", "check_settings", "data_loss", "derived_seeds"]

REGULARIZATIONS = (None, "L1", "L2")
RECORD_EVERY = 10  # steps between two measurements of the whole train and test loss
MAX_BATCH = 256  # the slider's end; more than the Playground's 30, to show full-batch descent


def derived_seeds(seed: int) -> Tuple[int, int, int, int]:
    """Four independent seeds (data, split, first weights, batch order) from one."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= int(seed) < 2**32:
        raise ValueError(f"expected seed as a whole number in 0..{2**32 - 1}, got {seed!r}")
    words = np.random.SeedSequence(int(seed)).generate_state(4, dtype=np.uint32)
    return tuple(int(w) for w in words)  # type: ignore[return-value]


def check_settings(learning_rate=None, batch_size=None, regularization="", reg_rate=None) -> dict:
    """The given training settings, checked; a ValueError naming the allowed range otherwise."""
    out: dict = {}
    if learning_rate is not None:
        lr = _number(learning_rate, "learning_rate")
        if not 0 < lr <= 10:
            raise ValueError(f"expected learning_rate in (0, 10], got {lr}")
        out["learning_rate"] = lr
    if batch_size is not None:
        if isinstance(batch_size, bool) or not hasattr(batch_size, "__index__") \
                or not 1 <= int(batch_size) <= MAX_BATCH:
            raise ValueError(f"expected batch_size as a whole number in 1..{MAX_BATCH}, got {batch_size!r}")
        out["batch_size"] = int(batch_size)
    if regularization != "":
        reg = regularization.upper() if isinstance(regularization, str) else regularization
        if reg not in REGULARIZATIONS:
            raise ValueError(f"expected regularization in {REGULARIZATIONS}, got {regularization!r}")
        out["regularization"] = reg
    if reg_rate is not None:
        rate = _number(reg_rate, "reg_rate")
        if not 0 <= rate <= 10:
            raise ValueError(f"expected reg_rate in 0..10, got {rate}")
        out["reg_rate"] = rate
    return out


def data_loss(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy: binary on one output's logit (``y`` float 0/1), else over the classes (``y`` int).

    Written with elementwise operations and small reductions: torch's fused
    binary cross-entropy and log-softmax kernels may split even a batch of
    ten over threads, and on a busy machine waiting for those threads takes
    milliseconds (100 times the step itself).
    """
    if out.shape[1] == 1:
        z = out[:, 0]
        return (z.clamp(min=0) - z * y + torch.log1p(torch.exp(-z.abs()))).mean()
    return (torch.logsumexp(out, dim=1) - out.gather(1, y[:, None])[:, 0]).mean()


def _number(value, what: str) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"expected {what} as a number, got {value!r}") from None
    if isinstance(value, bool) or not math.isfinite(v):
        raise ValueError(f"expected a finite {what}, got {value!r}")
    return v


class Trainer:
    """Trains a ``2 -> hidden -> classes`` network on ``data`` (its training points).

    Two classes use one output and binary cross-entropy on its logit; more
    use one output per class and cross-entropy.
    """

    def __init__(self, data: PointSet, hidden: Sequence[int] = (4, 4), activation="tanh", *,
                 learning_rate: float = 0.03, batch_size: int = 10, regularization: Optional[str] = None,
                 reg_rate: float = 0.0, seed: int = 0, scale: Optional[InputScale] = None,
                 lock: Optional[ContextManager] = None):
        self.lock = lock if lock is not None else threading.RLock()
        self._seeds = derived_seeds(seed)  # a clear error for a bad seed first
        self.seed = int(seed)
        settings = check_settings(learning_rate, batch_size, regularization, reg_rate)
        self.learning_rate = settings["learning_rate"]
        self.batch_size = settings["batch_size"]
        self.regularization = settings["regularization"]
        self.reg_rate = settings["reg_rate"]
        self._scale = scale
        self._batches = torch.Generator().manual_seed(self._seeds[3])
        self.net: nn.Sequential = nn.Sequential()
        self.history = LossHistory()
        self.steps = 0
        self._load(data)
        self.rebuild(hidden, activation)

    # -- the network ------------------------------------------------------------
    @property
    def hidden(self) -> Tuple[int, ...]:
        return tuple(m.out_features for m in linear_layers(self.net)[:-1])

    @property
    def activations(self) -> Tuple[str, ...]:
        names = {spec.make: name for name, spec in ACTIVATIONS.items()}
        return tuple(names[type(m)] for n, m in self.net.named_children() if n.startswith("act"))

    @property
    def outputs(self) -> int:
        return 1 if self.data.classes == 2 else self.data.classes

    def rebuild(self, hidden: Sequence[int], activation) -> None:
        """A new network with first weights drawn from the seed, and a rewind to them."""
        hidden = check_hidden(hidden)
        activations = check_activations(activation, len(hidden))
        with self.lock:
            init = torch.Generator().manual_seed(self._seeds[2])
            self.net = build_net(hidden, activations, self.outputs, init, self._scale)
            self._first = [p.detach().clone() for p in self.net.parameters()]
            self.rewind()

    def set_activation(self, layer: int, name: str) -> None:
        """Hidden layer ``layer`` (1-based) uses ``name`` from the next step on; the weights stay."""
        with self.lock:
            if not 1 <= layer <= len(self.hidden):
                raise ValueError(f"expected a hidden layer in 1..{len(self.hidden)}, got {layer}")
            set_activation(self.net, layer, name)

    def export(self) -> nn.Sequential:
        """A copy of the network as it is now (a plain ``nn.Sequential``, in eval mode)."""
        with self.lock:
            return copy.deepcopy(self.net).eval()

    # -- data -------------------------------------------------------------------
    def set_data(self, data: PointSet) -> None:
        """Train on ``data`` from the next step on (same classes; e.g. a point added or removed)."""
        with self.lock:
            if data.classes != self.data.classes:
                raise ValueError(f"expected data of {self.data.classes} classes, got {data.classes}; "
                                 "use replace_data for another number of classes")
            self._load(data)

    def replace_data(self, data: PointSet) -> None:
        """New points and classes: the data, a new network for them, and a rewind."""
        with self.lock:
            self._load(data)
            self.rebuild(self.hidden, self.activations)

    def _load(self, data: PointSet) -> None:
        if not (~data.test).any():
            raise ValueError("expected at least one training point (all points are test points)")
        self.data = data
        points = torch.from_numpy(np.ascontiguousarray(data.points, dtype=np.float32))
        labels = torch.from_numpy(np.ascontiguousarray(data.labels, dtype=np.int64))
        test = torch.from_numpy(np.asarray(data.test, dtype=bool))
        self._x_train, self._x_test = points[~test], points[test]
        self._points_train, self._points_test = data.points[~data.test], data.points[data.test]
        self._labels_train, self._labels_test = data.labels[~data.test], data.labels[data.test]
        target = (lambda y: y.to(torch.float32)) if data.classes == 2 else (lambda y: y)
        self._y_train, self._y_test = target(labels[~test]), target(labels[test])
        self._order: Optional[torch.Tensor] = None  # a new batch order from the next step
        self._cursor = 0

    # -- training ---------------------------------------------------------------
    def rewind(self) -> None:
        """Back to the first weights and the first batch order: the run starts again, exactly."""
        with self.lock:
            with torch.no_grad():
                for p, first in zip(self.net.parameters(), self._first):
                    p.copy_(first)
                    p.grad = None
            self._optimizer = torch.optim.SGD(self.net.parameters(), lr=self.learning_rate)
            self._batches.manual_seed(self._seeds[3])
            self._order, self._cursor = None, 0
            self.steps = 0
            self.history = LossHistory()
            self._record()

    def set(self, **settings) -> None:
        """Change ``learning_rate``, ``batch_size``, ``regularization``, ``reg_rate`` from the next step on."""
        checked = check_settings(**settings)
        with self.lock:
            for name, value in checked.items():
                setattr(self, name, value)
            self._optimizer.param_groups[0]["lr"] = self.learning_rate

    def _next_batch(self) -> Tuple[torch.Tensor, torch.Tensor]:
        n = len(self._x_train)
        if self._order is None or self._cursor >= len(self._order):
            self._order = torch.randperm(n, generator=self._batches)
            self._cursor = 0
        take = self._order[self._cursor:self._cursor + self.batch_size]
        self._cursor += self.batch_size
        return self._x_train[take], self._y_train[take]

    def _loss(self, out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return data_loss(out, y)

    def _penalty(self) -> torch.Tensor:
        weights = [m.weight for m in linear_layers(self.net)]
        if self.regularization == "L1":
            return sum(w.abs().sum() for w in weights)  # type: ignore[return-value]
        return sum(0.5 * (w * w).sum() for w in weights)  # type: ignore[return-value]

    def step(self) -> None:
        """One SGD step on the next mini-batch of training points."""
        with self.lock:
            x, y = self._next_batch()
            loss = self._loss(self.net(x), y)
            if self.regularization is not None and self.reg_rate > 0:
                loss = loss + self.reg_rate * self._penalty()
            self._optimizer.zero_grad(set_to_none=True)
            loss.backward()
            self._optimizer.step()
            self.steps += 1
            if self.steps % RECORD_EVERY == 0:
                self._record()

    def train(self, steps: int) -> LossHistory:
        """``steps`` SGD steps; the loss records they added (every ``RECORD_EVERY`` steps)."""
        if isinstance(steps, bool) or not hasattr(steps, "__index__") or int(steps) < 0:
            raise ValueError(f"expected steps as a whole number >= 0, got {steps!r}")
        with self.lock:
            start = self.steps
            for _ in range(int(steps)):
                self.step()
            return self.history.since(start)

    def snapshot(self) -> Snapshot:
        """The network's numbers now, for pictures and measurements in numpy (see ``forward``)."""
        with self.lock:
            return snapshot(self.net, self.activations)

    def losses(self, net: Optional[Snapshot] = None) -> Tuple[float, float]:
        """(train, test) data loss on the whole sets (test NaN without test points)."""
        net = net or self.snapshot()
        return (loss_of(net.forward(self._points_train)[2], self._labels_train),
                loss_of(net.forward(self._points_test)[2], self._labels_test))

    def accuracy(self, net: Optional[Snapshot] = None) -> Tuple[float, float]:
        """(train, test) share of points whose most likely class is their label (test NaN without test points)."""
        net = net or self.snapshot()
        return (share_right(net.forward(self._points_train)[2], self._labels_train),
                share_right(net.forward(self._points_test)[2], self._labels_test))

    def pictures(self, extent: Sequence[float], map_size: int, tile_size: int) -> NetPictures:
        """``net_pictures`` of the network as it is now."""
        return net_pictures(self.snapshot(), extent, map_size, tile_size)

    def _record(self) -> None:
        self.history.add(self.steps, *self.losses())

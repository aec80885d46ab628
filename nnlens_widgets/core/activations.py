"""Activations of one input, each layer computed at most once.

When all of a model's layer outputs fit in ``budget_bytes`` they are captured
in a single forward pass, so switching layers never runs the model again;
bigger models are captured layer by layer on demand. Every cached layer is
counted in the process-wide ``memory.CACHES`` budget, so caches of widgets
nobody looks at any more give way (least recently used first) and are
recomputed if touched again.
"""
from __future__ import annotations

import math
import threading
from collections import OrderedDict
from typing import Dict, List

import torch
from torch import nn

from .inputs import to_batch
from .memory import CACHES
from .probe import LayerInfo, forward_capture, get_module, layers

__all__ = ["ActivationCache", "channel_stats"]


class ActivationCache:
    """``cache[name]`` -> the output of layer ``name`` for input ``x``, batch axis removed."""

    def __init__(self, model: nn.Module, x, preprocess=None, budget_bytes: int = 256 * 2**20):
        self.model = model
        self.x = to_batch(x, model, preprocess)
        self.infos: Dict[str, LayerInfo] = {i.name: i for i in layers(model, self.x)}
        self.tensor_layers: List[str] = [n for n, i in self.infos.items() if i.is_tensor]
        if not self.tensor_layers:
            raise ValueError(
                f"{type(model).__name__} has no submodule that outputs a tensor for this "
                "input; expected a model built from modules (e.g. nn.Sequential of layers)"
            )
        self.budget_bytes = budget_bytes
        self.forward_passes = 0  # passes run to fill the cache (the layer listing excluded)
        self._store: "OrderedDict[str, torch.Tensor]" = OrderedDict()
        self._lock = threading.Lock()  # widgets read the cache while a worker fills it
        self._shared = CACHES

    def info(self, name: str) -> LayerInfo:
        if name not in self.infos:
            get_module(self.model, name)  # KeyError with the closest names
            raise ValueError(f"layer {name!r} does not run in the model's forward pass")
        info = self.infos[name]
        if not info.is_tensor:
            raise ValueError(
                f"layer {name!r} outputs a tuple or other non-tensor value, not a tensor; "
                f"pick one of: {', '.join(self.tensor_layers[:12])}"
            )
        return info

    def _nbytes(self, name: str) -> int:
        return math.prod(self.infos[name].shape) * self.x.element_size()

    def has(self, name: str) -> bool:
        """Whether ``name`` is cached (reading it will not run the model)."""
        return name in self._store

    def __getitem__(self, name: str) -> torch.Tensor:
        self.info(name)
        with self._lock:
            if name in self._store:
                self._store.move_to_end(name)
                self._shared.touch(self, name)
                return self._store[name]
            total = sum(self._nbytes(n) for n in self.tensor_layers)
            wanted = self.tensor_layers if total <= self.budget_bytes else [name]
            wanted = [n for n in wanted if n not in self._store]
        # The forward pass runs outside the lock: readers of cached layers never wait for it.
        acts, _ = forward_capture(self.model, self.x, wanted)
        with self._lock:
            self.forward_passes += 1
            for n in wanted:
                self._store[n] = acts[n][0]
            self._store.move_to_end(name)
            while sum(self._nbytes(n) for n in self._store) > self.budget_bytes:
                oldest = next(iter(self._store))
                if oldest == name:
                    break
                del self._store[oldest]
                self._shared.forget(self, oldest)
            value = self._store[name]
        for n in [n for n in wanted if n != name] + [name]:  # the wanted layer counted last: kept
            if n in self._store:
                self._shared.add(self, n, self._nbytes(n), self._drop)
        return value

    def _drop(self, name: str) -> None:
        """Evicted by the shared budget: forget ``name`` (reading it again recomputes it)."""
        with self._lock:
            self._store.pop(name, None)

    def clear(self) -> None:
        """Forget every cached layer (a closed widget gives its memory back)."""
        with self._lock:
            self._store.clear()
        self._shared.forget(self)


def channel_stats(a) -> Dict[str, float]:
    """min, max, mean and fraction of exact zeros of one channel (tensor or array)."""
    a = torch.as_tensor(a).detach().float()
    return {
        "min": float(a.min()),
        "max": float(a.max()),
        "mean": float(a.mean()),
        "zero_fraction": float((a == 0).float().mean()),
    }

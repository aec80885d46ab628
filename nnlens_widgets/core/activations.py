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
from dataclasses import replace
from typing import Dict, List, Optional, Tuple

import torch
from torch import nn

from .inputs import to_batch
from .memory import CACHES
from .probe import LayerInfo, forward_capture, get_module, layers
from .tokens import TokenGrid, token_grid

__all__ = ["ActivationCache", "channel_stats"]


class ActivationCache:
    """``cache[name]`` -> the output of layer ``name`` for input ``x``, batch axis removed.

    ``maps(name)`` gives the same output as per-channel maps: for a vision
    transformer's token layers one ``h x w`` map per feature, with the class
    token apart (``prefix_tokens``). ``grid=(h, w)`` and ``prefix`` describe
    the patch grid of a model where it cannot be inferred (``core.tokens``).
    """

    def __init__(self, model: nn.Module, x, preprocess=None, budget_bytes: int = 256 * 2**20,
                 grid: Optional[Tuple[int, int]] = None, prefix: Optional[int] = None):
        self.model = model
        self.x = to_batch(x, model, preprocess)
        self.infos: Dict[str, LayerInfo] = {i.name: i for i in self._with_grids(layers(model, self.x), grid, prefix)}
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

    def _with_grids(self, infos: List[LayerInfo], grid, prefix) -> List[LayerInfo]:
        """Token layers (1, T, D) of a transformer get their patch grid (see ``core.tokens``)."""
        grids: Dict[int, Optional[TokenGrid]] = {}
        out = []
        for info in infos:
            if info.shape is not None and len(info.shape) == 3:
                tokens = info.shape[1]
                if tokens not in grids:
                    try:
                        grids[tokens] = token_grid(self.model, self.x, tokens, grid, prefix)
                    except ValueError:  # not on a patch grid: shown as it is
                        grids[tokens] = None
                info = replace(info, grid=grids[tokens])
            out.append(info)
        return out

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
        shape = self.infos[name].shape
        assert shape is not None  # only tensor outputs are cached
        return math.prod(shape) * self.x.element_size()

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


    def maps(self, name: str) -> torch.Tensor:
        """Layer ``name``'s output as per-channel maps, batch axis removed.

        A transformer's token layer ``(T, D)`` gives one ``h x w`` map per
        feature, ``(D, h, w)`` (prefix tokens left out: see
        ``prefix_tokens``); any other layer is returned as ``cache[name]``.
        """
        a, grid = self[name], self.infos[name].grid
        return a if grid is None else grid.split(a).maps

    def prefix_tokens(self, name: str) -> Optional[torch.Tensor]:
        """The class / register tokens' features ``(k, D)`` of a token layer (row 0 is the
        class token of torchvision and timm ViTs); None for other layers."""
        a, grid = self[name], self.infos[name].grid
        return None if grid is None else grid.split(a).prefix


def channel_stats(a) -> Dict[str, float]:
    """min, max, mean and fraction of exact zeros of one channel (tensor or array)."""
    a = torch.as_tensor(a).detach().float()
    return {
        "min": float(a.min()),
        "max": float(a.max()),
        "mean": float(a.mean()),
        "zero_fraction": float((a == 0).float().mean()),
    }

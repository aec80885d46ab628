"""Occlusion windows as changed input crops, and the choice of when incremental pays.

An occlusion window over an image ``(1, C, H, W)`` changes the pixels it
covers (in the channels it covers); the patched input is given to the
engine as one crop per window: the image's box around the window with the
baseline written in.
"""
from __future__ import annotations

import math
from typing import Callable, Optional, Sequence, Tuple

import numpy as np
import torch
from torch import nn

from ..guard import looking_at
from ..targets import UnitTarget, _callable_scores, _class_scores
from .boxes import Boxes, fit
from .executor import Incremental
from .graph import has_hooks, trace
from .linear import LinearTail
from .regions import windows

__all__ = ["IncrementalOcclusion", "plan_incremental", "prepare_incremental", "pays", "agrees", "worth_tracing", "MIN_SAVING", "MIN_MACS"]

# Incremental runs when it needs at most this fraction of the dense multiply-adds...
MIN_SAVING = 0.7
# ...and the model is big enough for the saving to outweigh running step by step in
# Python (multiply-adds of one dense forward pass).
MIN_MACS = 5e6
# The linearised tail starts where boxes would cover this much of a map: later than exact
# mode's switch to whole maps (0.6), since every layer kept exact makes the map closer.
LINEAR_FROM = 0.75


class IncrementalOcclusion:
    """Target scores for batches of occluded copies of one image, computed incrementally."""

    def __init__(self, engine: Incremental, xb: torch.Tensor, base: torch.Tensor, grid,
                 score: Callable[[object, int], torch.Tensor], linear: bool = False):
        self.engine, self.xb, self.base, self.grid, self._score = engine, xb, base, grid, score
        self.linear = LinearTail.build(engine, self.boxes(grid.order()), score) if linear else None

    def boxes(self, chunk: Sequence[Tuple[int, ...]]) -> Boxes:
        """The input boxes the windows ``chunk`` change (one fixed size for the batch)."""
        changed = np.array([[sl[-2].start, sl[-2].stop, sl[-1].start, sl[-1].stop]
                            for sl in (self.grid.slices(idx) for idx in chunk)], dtype=np.int64)
        boxes = fit(changed, tuple(self.xb.shape[-2:]))
        assert boxes is not None, "every occlusion window covers at least one pixel"
        return boxes

    def scores(self, chunk: Sequence[Tuple[int, ...]]) -> np.ndarray:
        """The target's score on the image occluded by each window of ``chunk``."""
        first = self.boxes(chunk)
        with torch.inference_mode():
            crops = windows(self.xb, first.start, first.size)  # a new tensor: ours to write into
            for b, (idx, (y, x)) in enumerate(zip(chunk, first.start.tolist())):
                ch, rows, cols = self.grid.slices(idx)
                crops[(b, ch, slice(rows.start - y, rows.stop - y), slice(cols.start - x, cols.stop - x))] = (
                    self.base[0, ch, rows, cols])
            if self.linear is not None:
                return self.linear.scores(first, crops).cpu().numpy()
            out = self.engine.run(first, crops)
            return self._score(out, len(chunk)).double().cpu().numpy()

    def saving(self) -> float:
        """Estimated multiply-adds of incremental over dense, for all windows."""
        inc, dense = self.engine.cost(self.boxes(self.grid.order()))
        return inc / dense if dense else 1.0

    def dense_macs(self) -> float:
        """Multiply-adds of one dense forward pass (convolutions, pooling, linear layers)."""
        return self.engine.cost(self.boxes(self.grid.order()[:1]))[1]


def plan_incremental(twin: nn.Module, xb: torch.Tensor, base: torch.Tensor, grid, target,
                     tau: Optional[float] = None, linear: bool = False
                     ) -> Tuple[Optional[IncrementalOcclusion], str]:
    """``(runner, "")`` when ``twin`` can score occlusion windows incrementally, else ``(None, why)``.

    ``target`` is resolved (a class index or a callable on the output);
    ``tau``: projective-field threshold (approximate), None for exact;
    ``linear``: first-order tail from where changes cover the maps (approximate).
    """
    if isinstance(target, UnitTarget):
        return None, "a unit target reads a layer inside the model; incremental occlusion scores outputs"
    if len(grid.dims) != 3 or xb.ndim != 4:
        return None, f"incremental occlusion needs an image input (C, H, W), got {tuple(grid.dims)}"
    engine, why = Incremental.build(twin, xb, tau=tau, **({"full_fraction": LINEAR_FROM} if linear else {}))
    if engine is None:
        return None, why
    if callable(target):
        def score(out, n):
            return _callable_scores(target, out, n)
    else:
        def score(out, n):
            return _class_scores(out, target)
    runner = IncrementalOcclusion(engine, xb, base, grid, score, linear)
    if linear and runner.linear is None:
        return None, "every window's change stays local to the end: nothing to linearise (use exact)"
    return runner, ""


def worth_tracing(model: nn.Module, xb: torch.Tensor) -> bool:
    """A bound before any tracing: could the model's convolutions reach ``MIN_MACS``?

    Every conv weight applied at every input pixel bounds its multiply-adds
    from above; a model under the bound is small enough to stay dense.
    """
    pixels = math.prod(xb.shape[2:]) if xb.ndim > 2 else 1
    return sum(m.weight.numel() for m in model.modules() if isinstance(m, nn.Conv2d)) * pixels >= MIN_MACS


def pays(runner: IncrementalOcclusion, device: torch.device) -> bool:
    """Whether exact incremental occlusion should beat dense here (``method="auto"``).

    On the CPU only: crops are gathered patch by patch, which a GPU would
    pay for in kernel launches, and a dense batch there is cheap.
    """
    return device.type == "cpu" and runner.saving() <= MIN_SAVING and runner.dense_macs() >= MIN_MACS


def agrees(incremental: np.ndarray, dense: np.ndarray, reference: float) -> bool:
    """Whether incremental scores match dense ones up to float rounding.

    The tolerance scales with the scores (rounding) and with the occlusion
    differences (what the map shows), so a misread graph cannot pass.
    """
    scale = max(1.0, abs(reference), float(np.abs(dense).max(initial=0.0)))
    effect = float(np.abs(dense - reference).max(initial=0.0))
    return bool(np.all(np.abs(incremental - dense) <= 1e-5 * scale + 1e-3 * effect))


def prepare_incremental(model: nn.Module, x=None, preprocess=None) -> bool:
    """Trace ``model`` for incremental occlusion of inputs like ``x`` now; True if it can run so.

    Occlusion traces a model the first time it needs it, on whatever thread
    that is (tracing records one run of a private twin and changes nothing
    another thread can see), so calling this first is never required; it
    moves the tracing run earlier, and says whether the model qualifies.
    Without ``x`` nothing can be run: True unless something known rules the
    model out (forward hooks).
    """
    with looking_at(model) as twin:
        if x is None:
            return not has_hooks(twin)
        from ..inputs import to_batch

        return trace(twin, to_batch(x, model, preprocess))[0] is not None

"""Exact occlusion attribution (Zeiler & Fergus), streamed coarse to fine.

Each window of the input is replaced by a baseline and the drop of the target
score, ``f(x)[t] - f(x_occluded)[t]``, is spread over the window's elements;
where windows overlap the values are averaged. That is Captum's ``Occlusion``
convention, so results compare exactly. Windows per axis are
``ceil((D - w) / s) + 1``; the last one may be cut by the border.

Windows are evaluated in batches whose size adapts to the machine
(``batching.BatchGrowth``: from 4 on a CPU, growing while batches are quick
or faster per window, up to 64, and never past what fits
``batching.MEMORY_BUDGET``, measured from the reference pass; on a large
image that can be one window at a time), coarse grid first: the first frames
already cover the whole image with a blocky map that sharpens as the remaining
windows arrive. ``occlusion_stream`` yields after every batch and can simply be
abandoned to cancel; ``occlusion`` returns the exact map.

A batch is scored either densely (the model on every occluded copy) or
incrementally (``core.incremental``: the model once on the clean image, then
each layer recomputed only where a window can have changed it); ``method``
chooses, ``"auto"`` takes incremental where the graph allows it and it saves
work, and checks its first scores against dense ones.
"""
from __future__ import annotations

import itertools
import math
import time
from dataclasses import dataclass
from typing import Callable, Iterator, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
from torch import nn

from .baselines import make_baseline
from . import batching
from .batching import BatchGrowth, RowBytes, measuring, rows_within
from .guard import looking_at
from .incremental import agrees, pays, plan_incremental, worth_tracing
from .inputs import to_batch
from .targets import TargetLike, resolve_target, scores

__all__ = ["OcclusionGrid", "OcclusionFrame", "occlusion", "occlusion_stream", "STRATEGIES"]


_MAX_BATCH = 512
_MAX_BATCH_CPU = 64  # beyond this a CPU gains nothing and partial maps come less often


def _whole(v, name: str, allowed: str) -> int:
    """``v`` as an int; a clear error for floats, bools and other types."""
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
        raise ValueError(f"expected {name} as whole numbers ({allowed}), got {v!r}")
    return int(v)


def _as_tuple(v, dims: Sequence[int], name: str) -> Tuple[int, ...]:
    """``v`` for every input axis; an image's (h, w) or an int covers all channels."""
    allowed = "integers in 1..the input's size" if name == "window" else "integers >= 1"
    if not isinstance(v, (tuple, list)):
        v = (_whole(v, name, allowed),) * (len(dims) - 1 if len(dims) == 3 else len(dims))
    v = tuple(_whole(a, name, allowed) for a in v)
    if len(dims) == 3 and len(v) == 2:  # (C, H, W) input and an (h, w) window
        v = ((dims[0],) if name == "window" else (1,)) + v
    if len(v) != len(dims):
        raise ValueError(
            f"expected the {name} to have {len(dims)} entries (one per input axis {tuple(dims)})"
            + (" or 2 for an image's (h, w)" if len(dims) == 3 else "")
            + f", got {v}"
        )
    return v


@dataclass(frozen=True)
class OcclusionGrid:
    """Where the windows go for an input of shape ``dims`` (batch axis excluded)."""

    dims: Tuple[int, ...]
    window: Tuple[int, ...]
    stride: Tuple[int, ...]

    @classmethod
    def make(cls, dims: Sequence[int], window, stride) -> "OcclusionGrid":
        dims = tuple(int(d) for d in dims)
        window, stride = _as_tuple(window, dims, "window"), _as_tuple(stride, dims, "stride")
        if any(s <= 0 for s in stride):
            raise ValueError(f"expected strides >= 1, got {stride}")
        if any(w <= 0 for w in window):
            raise ValueError(f"expected window sizes >= 1, got {window}")
        if any(w > d for w, d in zip(window, dims)):
            raise ValueError(f"window {window} is larger than the input {dims}")
        return cls(dims, window, stride)

    @property
    def counts(self) -> Tuple[int, ...]:
        return tuple(math.ceil((d - w) / s) + 1 for d, w, s in zip(self.dims, self.window, self.stride))

    @property
    def total(self) -> int:
        return math.prod(self.counts)

    def slices(self, index: Tuple[int, ...]) -> Tuple[slice, ...]:
        return tuple(slice(i * s, min(i * s + w, d))
                     for i, s, w, d in zip(index, self.stride, self.window, self.dims))

    def order(self) -> List[Tuple[int, ...]]:
        """Every window index, coarse grid first (steps 8, 4, 2, 1 in window units)."""
        seen, out = set(), []
        step = 1 << max(0, min(3, int(math.log2(max(max(self.counts) // 2, 1)))))
        while step >= 1:
            for idx in itertools.product(*(range(0, c, step) for c in self.counts)):
                if idx not in seen:
                    seen.add(idx)
                    out.append(idx)
            step //= 2
        return out

    def _cover(self, axis: int) -> np.ndarray:
        """(windows along ``axis``, input length) matrix: 1 where window i covers element j."""
        d, w, s = self.dims[axis], self.window[axis], self.stride[axis]
        start = np.arange(self.counts[axis])[:, None] * s
        j = np.arange(d)[None, :]
        return ((j >= start) & (j < start + w)).astype(np.float64)

    def spread(self, diffs: np.ndarray, dtype=np.float32) -> np.ndarray:
        """Map from per-window differences: spread over each window, averaged on overlaps.

        Windows form a grid, so the sum over windows separates by axis: one small
        matrix product per axis instead of a loop over windows, and the overlap
        counts are the product of each axis's counts. The products use einsum's
        own loops, not BLAS: OpenBLAS threads keep spinning after a call and
        slowed the next batch's forward pass (a streamed resnet18 map with every
        frame drawn took 1.8x as long as without frames). An axis that one window
        covers whole (an image's channels) is broadcast, not copied, and only the
        result is allocated at full size (in ``dtype``; sums and counts are
        float64), so a partial map of a large image costs little more than itself.
        """
        def sum_over_windows(a: np.ndarray, axis: int) -> np.ndarray:
            per_window = np.moveaxis(a, axis, -1)
            return np.moveaxis(np.einsum("...i,ij->...j", per_window, self._cover(axis), optimize=False), -1, axis)

        total, count = np.asarray(diffs, dtype=np.float64), np.ones((1,) * len(self.dims))
        for axis, (d, w) in enumerate(zip(self.dims, self.window)):
            if self.counts[axis] == 1 and w >= d:
                continue  # one window covering the axis: the same value all along it
            total = sum_over_windows(total, axis)
            shape = [1] * len(self.dims)
            shape[axis] = d
            count = count * self._cover(axis).sum(0).reshape(shape)
        out = np.zeros(self.dims, dtype=dtype)
        return np.divide(total, count, out=out, where=count > 0)


@dataclass(frozen=True)
class OcclusionFrame:
    """One step of a streamed occlusion map."""

    heatmap: torch.Tensor  # shaped like the input without batch axis; unfinished windows filled in
    done: int
    total: int
    method: str = "dense"  # how the windows were evaluated: "dense", "incremental" or "approximate"

    @property
    def final(self) -> bool:
        return self.done == self.total


def _fill_nearest(diffs: np.ndarray, known: np.ndarray) -> np.ndarray:
    """Give every unevaluated window the value of the nearest evaluated one."""
    if known.all():
        return diffs
    from scipy.ndimage import distance_transform_edt  # slow to import: on first use

    _, nearest = distance_transform_edt(~known, return_indices=True)
    return diffs[tuple(nearest)]


#: the values of ``method``: how a batch is scored (see above), not an attribution method
STRATEGIES = ("auto", "incremental", "dense")


def _check_options(batch_size, method: str, approximate) -> None:
    if batch_size is not None and (isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer))
                                   or not 1 <= batch_size <= _MAX_BATCH * 64):
        raise ValueError(f"expected batch_size None (automatic) or an integer in 1..{_MAX_BATCH * 64}, "
                         f"got {batch_size!r}")
    if method not in STRATEGIES:
        raise ValueError(f"expected method in {STRATEGIES}, got {method!r}")
    if approximate is None:
        return
    if not (isinstance(approximate, str) and approximate == "linear") and (
            isinstance(approximate, bool) or not isinstance(approximate, (int, float)) or not 0 < approximate < 1):
        raise ValueError(f"expected approximate None (exact), 'linear' or a fraction in (0, 1), got {approximate!r}")
    if method == "dense":
        raise ValueError("approximate occlusion is incremental; it cannot be combined with method='dense'")


def incremental_bytes(row: RowBytes) -> int:
    """What incremental occlusion keeps for a whole run: every layer's map of the clean image
    (about the leaf modules' outputs, a tenth more for the functions between them) and padded
    copies of the maps that windows read (about half of them)."""
    return int(1.6 * row.total)


def _batches(batch_size, cpu: bool, per_row: int, held: int) -> Tuple[Optional[BatchGrowth], int]:
    """(growth or None, first size): automatic batches grow at most to what fits the budget
    beside ``held`` bytes (``batching.MEMORY_BUDGET``); a given ``batch_size`` is kept."""
    if batch_size is not None:
        return None, int(batch_size)
    fits = rows_within(per_row, held)
    growth = BatchGrowth(min(4 if cpu else 64, fits), min(_MAX_BATCH_CPU if cpu else _MAX_BATCH, fits))
    return growth, growth.size


def _incremental(twin, xb, base, grid, target, method: str, approximate, held: int):
    """The incremental runner to use, or None for dense (``auto``: when it pays and fits the budget)."""
    if method == "dense" or (method == "auto" and approximate is None and not (
            xb.device.type == "cpu" and worth_tracing(twin, xb))):
        return None
    budget = batching.MEMORY_BUDGET
    if held > budget:
        if method == "auto" and approximate is None:
            return None
        raise ValueError(
            f"incremental occlusion keeps every layer's map of the clean image: about {held / 2**20:.0f} MiB "
            f"for this model and input, over core.batching.MEMORY_BUDGET ({budget / 2**20:.0f} MiB); raise "
            "the budget or use method='dense'")
    linear = approximate == "linear"
    runner, why = plan_incremental(twin, xb, base, grid, target, tau=None if linear else approximate,
                                   linear=linear)
    if runner is None:
        if method == "incremental" or approximate is not None:
            raise ValueError(f"this model cannot be occluded incrementally: {why}; use method='dense'")
        return None
    if method == "auto" and approximate is None and not pays(runner, xb.device):
        return None
    return runner


def occlusion_stream(
    model: nn.Module,
    x,
    target: TargetLike,
    window,
    stride,
    baseline=0.0,
    batch_size: Optional[int] = None,
    preprocess=None,
    frames: bool = True,
    method: str = "auto",
    approximate: Union[None, float, str] = None,
) -> Iterator[OcclusionFrame]:
    """Yield an ``OcclusionFrame`` after each batch of windows, coarse grid first.

    Stop iterating to cancel: the model only runs inside ``next()``. With
    ``frames=False`` only the final frame carries a map (others have an empty
    tensor), for callers that want progress without paying for previews.
    ``method`` and ``approximate``: see ``occlusion``.
    """
    _check_options(batch_size, method, approximate)
    xb = to_batch(x, model, preprocess)
    grid = OcclusionGrid.make(xb.shape[1:], window, stride)
    base = make_baseline(xb, baseline)
    order = grid.order()
    diffs = np.zeros(grid.counts, dtype=np.float64)
    known = np.zeros(grid.counts, dtype=bool)
    cpu = xb.device.type == "cpu"
    done = 0
    target = resolve_target(model, xb, target)
    with looking_at(model) as twin, scores(twin, target) as score:
        with measuring(twin, xb) as row, torch.inference_mode():
            reference = float(score(xb)[0])

        def dense(chunk):
            with torch.inference_mode():
                batch = xb.expand(len(chunk), *xb.shape[1:]).clone()
                for k, idx in enumerate(chunk):
                    sl = (k,) + grid.slices(idx)
                    batch[sl] = base[(0,) + sl[1:]]
                return score(batch).double().cpu().numpy()

        held = incremental_bytes(row)
        runner = _incremental(twin, xb, base, grid, target, method, approximate, held)
        growth, size = _batches(batch_size, cpu, row.need(grad=False), held if runner is not None else 0)
        checked = min(4, rows_within(row.need(grad=False), held))  # windows checked against dense ones
        used = "dense" if runner is None else "approximate" if approximate is not None else "incremental"
        evaluate = dense if runner is None else runner.scores
        while done < len(order):
            chunk = order[done:done + size]
            t0 = time.perf_counter()
            batch_scores = evaluate(chunk)
            seconds = time.perf_counter() - t0  # the batch alone: the check below is paid once
            if done == 0 and used == "incremental" and not agrees(batch_scores[:checked], dense(chunk[:checked]), reference):
                if method == "incremental":
                    raise ValueError("incremental occlusion does not reproduce this model's scores; "
                                     "use method='dense'")
                used, evaluate = "dense", dense  # a model the graph analysis misread: stay exact
                t0 = time.perf_counter()
                batch_scores = dense(chunk)
                seconds = time.perf_counter() - t0
            for idx, s in zip(chunk, batch_scores):
                diffs[idx] = reference - s
                known[idx] = True
            done += len(chunk)
            if growth is not None:
                growth.record(len(chunk), seconds)
                size = growth.size
            if frames or done == len(order):
                m = grid.spread(_fill_nearest(diffs, known))
                yield OcclusionFrame(torch.from_numpy(m), done, grid.total, used)
            else:
                yield OcclusionFrame(torch.empty(0), done, grid.total, used)


def occlusion(
    model: nn.Module,
    x,
    target: TargetLike,
    window,
    stride,
    baseline=0.0,
    batch_size: Optional[int] = None,
    on_progress: Optional[Callable[[OcclusionFrame], Optional[bool]]] = None,
    preprocess=None,
    method: str = "auto",
    approximate: Union[None, float, str] = None,
) -> torch.Tensor:
    """The exact occlusion map for one input, shaped like it without the batch axis.

    ``target``: a class index, a callable mapping the output batch to one
    score per element (e.g. ``lambda out: out.softmax(1)[:, 3]``), a unit
    ``("layer", channel[, y, x])`` or None for the predicted class (see
    ``core.targets``).
    ``window`` / ``stride``: an int or ``(h, w)`` for images (all channels
    covered), or one entry per input axis as in Captum. ``baseline``: a
    number, ``"mean"`` (per channel), ``"blur"`` or a tensor.
    ``on_progress(frame)`` sees each partial map; returning ``False`` cancels
    (a ``RuntimeError`` says so). Uncovered elements (stride > window) are 0.

    ``method``: ``"dense"`` runs the model on every occluded copy;
    ``"incremental"`` runs it once on the clean image and, per window,
    recomputes each layer only where the window can have changed it (same
    map; models whose recorded forward pass is made of convolutions, pooling, elementwise
    layers, eval BatchNorm and residual additions; ValueError otherwise);
    ``"auto"`` (default) is incremental on the CPU when that saves at least
    30% of the work, dense otherwise. ``approximate`` (incremental, faster,
    not exact): a fraction ``tau`` in (0, 1) caps each layer's changed box
    at ``tau`` of its map's side (Krypton's projective-field threshold);
    ``"linear"`` stays exact while a window's change is local and takes the
    first-order Taylor term of the layers after (one backward pass).
    """
    frame = None
    for frame in occlusion_stream(model, x, target, window, stride, baseline, batch_size,
                                  preprocess, frames=on_progress is not None, method=method,
                                  approximate=approximate):
        if on_progress is not None and on_progress(frame) is False:
            raise RuntimeError(f"occlusion cancelled after {frame.done} of {frame.total} windows")
    assert frame is not None  # the stream always ends with the finished map
    return frame.heatmap

"""How many inputs to run at once: from a memory budget, measured, not guessed.

Methods that batch many variants of one input (Integrated Gradients' path,
SmoothGrad's noisy copies, LIME's samples, occlusion's patches, ablation's
channels, the deletion curve's steps) size their batches here. One probe
pass on a single row measures what the model's layers output; a pass with
gradients keeps roughly all of that until the backward pass, one without
keeps only a few layers' worth at a time.
"""
from __future__ import annotations

import contextlib
import numbers
from dataclasses import dataclass
from typing import Any, Callable, Dict, Iterator, Optional, Tuple, Union

import torch
from torch import nn

from .guard import hooked, looking_at

__all__ = ["MEMORY_BUDGET", "BatchGrowth", "RowBytes", "measuring", "bytes_per_row", "rows_within", "batch_size_for",
           "check_batch_size", "measured_pass"]

#: bytes of activations a batched method may hold at once (change it to trade speed for memory)
MEMORY_BUDGET = 1 << 30


def check_batch_size(batch_size, name: str = "batch_size") -> Optional[int]:
    """``None`` (automatic) or an int >= 1; a ValueError naming the allowed values otherwise."""
    if batch_size is None:
        return None
    if isinstance(batch_size, bool) or not isinstance(batch_size, numbers.Integral) or batch_size < 1:
        raise ValueError(f"expected {name} as an integer >= 1, or None for automatic; got {batch_size!r}")
    return int(batch_size)


def _nbytes(value) -> int:
    if isinstance(value, torch.Tensor):
        return value.numel() * value.element_size()
    if isinstance(value, (tuple, list)):
        return sum(_nbytes(v) for v in value)
    if isinstance(value, dict):
        return sum(_nbytes(v) for v in value.values())
    return 0


@dataclass
class RowBytes:
    """What one pass of one input row output, leaf module by leaf module (see ``measuring``)."""

    input: int = 0
    total: int = 0  # every leaf module's output, summed
    largest: int = 0  # the largest of them

    def need(self, grad: bool) -> int:
        """Bytes one row needs in a pass: with gradients autograd keeps about every output
        until the backward pass; without, three of the largest live at once (an op's input,
        its output and some working space)."""
        return self.input * (4 if grad else 2) + 3 * self.largest + (2 * self.total if grad else 0)


@contextlib.contextmanager
def measuring(twin: nn.Module, row: torch.Tensor) -> Iterator[RowBytes]:
    """Forward hooks on ``twin``'s leaf modules adding up what a pass of ``row`` (a batch of
    one) outputs, while the block runs; ``twin`` is a private look (``looking_at``)."""
    found = RowBytes(input=_nbytes(row[:1]))

    def measure(_m, _i, out):
        size = _nbytes(out)
        found.total += size
        found.largest = max(found.largest, size)

    leaves: Dict[Union[str, nn.Module], Callable] = {
        m: measure for m in twin.modules() if not list(m.children()) and m is not twin}
    with hooked(twin, leaves):
        yield found


def bytes_per_row(model: nn.Module, row: torch.Tensor, grad: bool) -> int:
    """Memory one input row needs in a forward (``grad``: and backward) pass (``RowBytes.need``),
    measured from one pass of ``row`` (a batch of one)."""
    return measured_pass(model, row, grad)[0]


def measured_pass(model: nn.Module, row: torch.Tensor, grad: bool = False) -> Tuple[int, Any]:
    """``bytes_per_row`` and the model's output for ``row[:1]`` (gradient-free), so the pass is not wasted."""
    with looking_at(model) as twin, measuring(twin, row) as found, torch.inference_mode():
        out = twin(row[:1])
    return found.need(grad), out


def rows_within(per_row: int, held: int = 0, budget: Optional[int] = None) -> int:
    """How many rows of ``per_row`` bytes fit ``budget`` (``MEMORY_BUDGET``) beside ``held`` bytes; at least 1."""
    room = (MEMORY_BUDGET if budget is None else budget) - held
    return int(max(1, room // max(1, per_row)))


def batch_size_for(model: nn.Module, row: torch.Tensor, requested: Optional[int], *, grad: bool,
                   cap: int, budget: Optional[int] = None) -> int:
    """``requested`` if given (checked), else as many rows as fit ``budget`` (at most ``cap``).

    Parameters
    ----------
    model, row
        The model and one input row ``(1, ...)`` (e.g. the image being explained).
    requested
        A batch size the caller asked for, or None for automatic.
    grad
        Whether the passes take gradients.
    cap
        The most rows worth batching (more does not run faster).
    budget
        Bytes allowed; default ``MEMORY_BUDGET``.
    """
    requested = check_batch_size(requested)
    if requested is not None:
        return requested
    return min(int(cap), rows_within(bytes_per_row(model, row, grad), budget=budget))


class BatchGrowth:
    """A batch size for a stream of batches, grown from the times they take.

    Streams that show partial results (occlusion's coarse-to-fine map) start
    small, so the first picture comes quickly, then grow: a batch under
    ``quick`` seconds doubles (quadruples when far under), since bigger
    batches amortise per-call overhead. Past that, a batch doubles only while
    the time per item drops by at least ``1 - gain`` and the doubled batch
    should still end within ``ceiling`` seconds (cancelling waits for the
    batch in flight): large models on a CPU keep gaining up to batches of
    16-32, where weights are read once per batch. Once growth stops, the size
    with the best time per item is kept, so one batch slowed by other work
    on the machine does not send the whole run back to the smallest size.
    """

    def __init__(self, start: int, cap: int, *, quick: float = 0.15, ceiling: float = 1.2, gain: float = 0.9):
        self.size, self.cap = int(start), int(cap)
        self.quick, self.ceiling, self.gain = float(quick), float(ceiling), float(gain)
        self.settled = False
        self._best = (float("inf"), self.size)  # (seconds per item, size)
        self._last_rate = float("inf")

    def record(self, size: int, seconds: float) -> None:
        """Take in the time of one batch of ``size`` items (partial batches are ignored)."""
        if self.settled or size != self.size:
            return
        rate = seconds / size
        if rate <= self._best[0]:  # a tie goes to the larger batch
            self._best = (rate, size)
        improving = rate <= self.gain * self._last_rate and 2 * seconds <= self.ceiling
        if size < self.cap and (seconds < self.quick or improving):
            self.size = min(self.cap, size * (4 if seconds < self.quick / 8 else 2))
        else:
            self.size, self.settled = self._best[1], True
        self._last_rate = rate

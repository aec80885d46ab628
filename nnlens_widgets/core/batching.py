"""How many inputs to run at once: from a memory budget, measured, not guessed.

Methods that batch many variants of one input (Integrated Gradients' path,
SmoothGrad's noisy copies, LIME's samples, occlusion's patches, ablation's
channels, the deletion curve's steps) size their batches here. One probe
pass on a single row measures what the model's layers output; a pass with
gradients keeps roughly all of that until the backward pass, one without
keeps only a few layers' worth at a time.
"""
from __future__ import annotations

import numbers
from typing import Any, Callable, Dict, Optional, Tuple, Union

import torch
from torch import nn

from .guard import hooked, looking_at

__all__ = ["MEMORY_BUDGET", "BatchGrowth", "bytes_per_row", "measured_pass", "batch_size_for", "check_batch_size"]

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


def bytes_per_row(model: nn.Module, row: torch.Tensor, grad: bool) -> int:
    """Memory one input row needs in a forward (``grad``: and backward) pass.

    Measured from one pass of ``row`` (a batch of one): every leaf module's
    output is summed (with gradients autograd keeps about all of them), and
    without gradients three of the largest output are counted (an op's input
    and output live together, with some working space).
    """
    return measured_pass(model, row, grad)[0]


def measured_pass(model: nn.Module, row: torch.Tensor, grad: bool = False) -> Tuple[int, Any]:
    """``bytes_per_row`` and the model's output for ``row[:1]`` (gradient-free), so the pass is not wasted."""
    total, largest = [0], [0]

    def measure(_m, _i, out):
        size = _nbytes(out)
        total[0] += size
        largest[0] = max(largest[0], size)

    with looking_at(model) as twin:
        leaves: Dict[Union[str, nn.Module], Callable] = {
            m: measure for m in twin.modules() if not list(m.children()) and m is not twin}
        with hooked(twin, leaves), torch.inference_mode():
            out = twin(row[:1])
    need = 3 * largest[0] + (2 * total[0] if grad else 0)
    return _nbytes(row[:1]) * (4 if grad else 2) + need, out


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
    per_row = max(1, bytes_per_row(model, row, grad))
    return int(max(1, min(int(cap), (budget or MEMORY_BUDGET) // per_row)))


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

"""What every faithfulness metric starts from: the model, the input row, the
class explained and the map, checked once; and the model's outputs for
many perturbed copies, run in batches on a private twin of the model."""
from __future__ import annotations

import numbers
from dataclasses import dataclass
from typing import Iterable, Optional

import numpy as np
import torch
from torch import nn

from ..attribution.gradients import batch_layout, prepare
from ..attribution.results import pixel_map
from .. import batching
from ..batching import batch_size_for, measured_pass
from ..guard import looking_at

__all__ = ["Problem", "make_problem", "OUTPUTS"]

OUTPUTS = ("softmax", "logits")


@dataclass
class Problem:
    """One image, one class, one map."""

    model: nn.Module
    x: torch.Tensor  # (1, C, H, W)
    target: int
    attribution: np.ndarray  # (1, C or 1, H, W) float32, as given
    batch_size: Optional[int] = None
    _rows: Optional[int] = None  # rows per batch, measured once

    @property
    def size(self):
        return tuple(self.x.shape[-2:])

    def pixel_map(self) -> np.ndarray:
        """One value per pixel, (H, W) float32: the map's channels summed."""
        return self.attribution[0].sum(0, dtype=np.float32)

    def outputs(self, batches: Iterable[torch.Tensor], output: str) -> np.ndarray:
        """The model's ``output`` ("softmax" or "logits") rows for every input of ``batches``, float32."""
        if output not in OUTPUTS:
            raise ValueError(f"expected output in {OUTPUTS}, got {output!r}")
        rows = []
        with looking_at(self.model) as m, torch.no_grad():
            for batch in batches:
                rows.append(self._read(m(batch_layout(batch.to(self.x.device, self.x.dtype))), output))
        return np.concatenate(rows) if rows else np.zeros((0, 0), np.float32)

    def target_outputs(self, inputs: torch.Tensor, output: str) -> np.ndarray:
        """The target's ``output`` for each row of ``inputs`` (N, C, H, W), in batches."""
        return self.all_outputs(inputs, output)[:, self.target]

    def all_outputs(self, inputs: torch.Tensor, output: str) -> np.ndarray:
        """Every class's ``output`` for each row of ``inputs`` (N, C, H, W), in batches.

        Without a ``batch_size``, the first row's pass also measures the memory a row
        needs (``measured_pass``), which sizes the batches of the others.
        """
        first = []
        if self._rows is None and self.batch_size is None and len(inputs) > 1:
            per_row, out = measured_pass(self.model, inputs[:1].to(self.x.device, self.x.dtype))
            self._rows = int(max(1, min(64, batching.MEMORY_BUDGET // max(1, per_row))))
            first, inputs = [self._read(out, output)], inputs[1:]
        n = self.rows_per_batch() if len(inputs) > 1 else 1
        rest = self.outputs((inputs[i:i + n] for i in range(0, len(inputs), n)), output)
        return np.concatenate(first + [rest]) if first else rest

    @staticmethod
    def _read(out, output: str) -> np.ndarray:
        if not isinstance(out, torch.Tensor) or out.ndim != 2:
            raise ValueError("expected the model to output (N, classes) scores, got "
                             + (str(tuple(out.shape)) if isinstance(out, torch.Tensor) else type(out).__name__))
        out = out.float()
        return (torch.softmax(out, dim=-1) if output == "softmax" else out).cpu().numpy()

    def rows_per_batch(self) -> int:
        """Inputs per forward pass: ``batch_size``, else from one measured pass (once per problem)."""
        if self._rows is None:
            self._rows = batch_size_for(self.model, self.x, self.batch_size, grad=False, cap=64)
        return self._rows

def make_problem(model, x, attribution, target=None, preprocess=None, batch_size=None,
                 class_only: bool = True) -> Problem:
    """Check the inputs; resolve ``target`` (None: the predicted class)."""
    xb, t = prepare(model, x, target, preprocess)
    if xb.ndim != 4:
        raise ValueError(f"expected an image input (1, C, H, W), got shape {tuple(xb.shape)}")
    if class_only and (isinstance(t, bool) or not isinstance(t, numbers.Integral)):
        raise ValueError(f"expected a class index (or None for the predicted class) as target, got {t!r}")
    a = _map_array(attribution, xb)
    return Problem(model, xb[:1], t, a, batch_size)


def _map_array(attribution, xb: torch.Tensor) -> np.ndarray:
    """The attribution as (1, C or 1, H, W) float32 numpy, whatever form it came in."""
    if isinstance(attribution, np.ndarray):
        a = torch.from_numpy(np.ascontiguousarray(attribution))
    else:
        a = pixel_map(attribution)
    a = a.detach().to("cpu", torch.float32)
    c, (h, w) = xb.shape[1], xb.shape[-2:]
    if a.ndim == 2:
        a = a[None, None]
    elif a.ndim == 3:
        a = a[None]
    if a.ndim != 4 or a.shape[0] != 1 or a.shape[1] not in (1, c) or tuple(a.shape[-2:]) != (h, w):
        raise ValueError(f"expected a map shaped (H, W), (1 or {c}, H, W) or (1, 1 or {c}, H, W) with "
                         f"(H, W) = {(h, w)} as the input, got {tuple(a.shape)}")
    if not torch.isfinite(a).all():
        raise ValueError("expected a map of finite values, got NaN or infinity")
    return a.numpy()

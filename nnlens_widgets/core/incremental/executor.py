"""Run a traced model on a batch of patched inputs, recomputing only what changed.

``Incremental.build`` traces the twin (``graph.trace``), runs it once on the clean input
keeping every step's output, and checks that this step-by-step run gives
the model's own output. ``run(first, crops)`` then evaluates ``B`` patched
inputs given as the changed crops of the input: each step follows its
``boxes.layout`` entry: unchanged steps read the clean pass, window ops run
on padded windows around their boxes, elementwise ops on the crops, and the
rest on whole maps (built once a box covers most of its map).
"""
from __future__ import annotations

from typing import Any, Dict, List, Optional, Tuple

import torch
import torch.nn.functional as F
from torch import fx, nn

from .boxes import FULL, Boxes, layout
from .graph import Step, close_enough, run_steps, specialise, trace
from .regions import Region, materialise, windows

__all__ = ["Incremental"]


class _Batched:
    """A value computed for every patch of the batch (a tensor with the batch axis, or anything)."""

    __slots__ = ("value",)

    def __init__(self, value):
        self.value = value


class Incremental:
    """A model ready to evaluate patched copies of one input incrementally."""

    def __init__(self, steps: List[Step], clean: Dict[fx.Node, Any], tau: Optional[float],
                 full_fraction: float):
        self.steps, self.clean, self.tau, self.full_fraction = steps, clean, tau, full_fraction
        self.shapes = {s.node: tuple(clean[s.node].shape[-2:]) for s in steps
                       if isinstance(clean[s.node], torch.Tensor) and clean[s.node].ndim == 4}
        self._padded: Dict[tuple, torch.Tensor] = {}
        self._by_node = {s.node: s for s in steps}

    @classmethod
    def build(cls, twin: nn.Module, xb: torch.Tensor, *, tau: Optional[float] = None,
              full_fraction: float = 0.6) -> Tuple[Optional["Incremental"], str]:
        """``(engine, "")`` or ``(None, why not)`` for the twin and a ``(1, C, H, W)`` input."""
        if xb.ndim != 4 or xb.shape[0] != 1:
            return None, f"the input is not one image (1, C, H, W) but {tuple(xb.shape)}"
        steps, why = trace(twin, xb)
        if steps is None:
            return None, why
        with torch.inference_mode():
            try:
                clean = run_steps(steps, xb)
                expected = twin(xb)
            except Exception as e:  # noqa: BLE001 - a step that fails on its own runs densely
                return None, f"the traced steps do not run on their own ({type(e).__name__}: {e})"
        if not close_enough(clean[steps[-1].node], expected):
            return None, "the traced steps do not reproduce the model's output"
        specialise(steps, clean)
        return cls(steps, clean, tau, full_fraction), ""

    # -- geometry ---------------------------------------------------------------------------

    def layout(self, first: Boxes) -> Dict:
        return layout(self.steps, self.shapes, first, self.tau, self.full_fraction)

    def cost(self, first: Boxes) -> Tuple[float, float]:
        """Multiply-adds (incremental, dense) for the batch of patches ``first``."""
        lay = self.layout(first)
        n = len(first.start)
        inc = dense = 0.0
        for s in self.steps:
            if s.kind == "window":
                h, w = self.shapes[s.node]
                full = s.window.macs_per_pixel * h * w * n
                dense += full
                got = lay[s.node]
                inc += full if got is FULL else 0.0 if got is None else (
                    s.window.macs_per_pixel * got.size[0] * got.size[1] * n)
            elif s.macs:
                dense += s.macs * n
                inc += 0.0 if lay[s.node] is None else s.macs * n
        return inc, dense

    # -- evaluation -------------------------------------------------------------------------

    def run(self, first: Boxes, crops: torch.Tensor):
        """The model's output for the ``B`` inputs that equal the clean one except in ``crops``
        (``(B, C, h, w)`` at ``first.start``)."""
        env = self.evaluate(first, crops)
        out = env[self.steps[-1].node]
        n = crops.shape[0]
        return self._expand(self.steps[-1], self.clean[self.steps[-1].node], n) if out is None else out.value

    def evaluate(self, first: Boxes, crops: torch.Tensor, skip=frozenset()) -> Dict[fx.Node, Any]:
        """Every step's value for the patched inputs (None: the clean value, a ``Region``, or
        whole maps), leaving out the steps in ``skip`` (their values are missing)."""
        lay = self.layout(first)
        n = crops.shape[0]
        env: Dict[fx.Node, Any] = {}
        with torch.inference_mode():
            for s in self.steps:
                if s.node in skip:
                    continue
                got = lay[s.node]
                if got is None:
                    env[s.node] = None  # read the clean pass
                elif s.kind == "input":
                    env[s.node] = Region(self.clean[s.node], crops, first)
                elif isinstance(got, Boxes) and s.kind == "window":
                    env[s.node] = self._window(s, env[s.refs[0]], got)
                elif isinstance(got, Boxes):
                    env[s.node] = self._elementwise(s, env, got)
                else:
                    env[s.node] = self._whole(s, env, n)
        return env

    def _window(self, s: Step, src: Region, boxes: Boxes) -> Region:
        g = s.window
        src_node = s.refs[0]
        key = (src_node, g.padding, g.pad_value)  # layers reading one map with one padding share it
        padded = self._padded.get(key)
        if padded is None:
            py, px = g.padding
            padded = F.pad(self.clean[src_node], (px, px, py, py), value=g.pad_value) if py or px else (
                self.clean[src_node])
            self._padded[key] = padded
        (h, w), (sy, sx) = boxes.size, g.stride
        size = ((h - 1) * sy + g.kernel[0], (w - 1) * sx + g.kernel[1])
        read = windows(padded, boxes.start * (sy, sx), size, src, offset=g.padding)
        return Region(self.clean[s.node], g.apply(read), boxes)

    def _elementwise(self, s: Step, env, boxes: Boxes) -> Region:
        hw = self.shapes[s.node]

        def arg(node):
            v = env[node]
            if isinstance(v, Region):
                return windows(v.clean, boxes.start, boxes.size, v)
            c = self.clean[node]
            if isinstance(c, torch.Tensor) and c.ndim == 4 and tuple(c.shape[-2:]) == hw:
                return windows(c, boxes.start, boxes.size)
            return c

        out = s.call(*fx.node.map_arg(s.node.args, arg), **fx.node.map_arg(s.node.kwargs, arg))
        return Region(self.clean[s.node], out, boxes)

    def _expand(self, step: Step, c, n: int):
        """A clean value that stands for ``n`` patches: tensors from the input get the batch axis."""
        if isinstance(c, torch.Tensor) and step.from_input and c.ndim and c.shape[0] == 1:
            return c.expand(n, *c.shape[1:])
        if isinstance(c, (tuple, list)) and step.from_input:
            return type(c)(self._expand(step, v, n) for v in c)
        return c

    def _whole(self, s: Step, env, n: int) -> _Batched:
        by_node = self._by_node

        def arg(node):
            v = env[node]
            if isinstance(v, Region):
                return materialise(v) if s.kind != "shape" else torch.empty(
                    (n, *v.clean.shape[1:]), device="meta", dtype=v.clean.dtype)
            if isinstance(v, _Batched):
                if s.kind == "shape" and isinstance(v.value, torch.Tensor):
                    return torch.empty(v.value.shape, device="meta", dtype=v.value.dtype)
                return v.value
            return self._expand(by_node[node], self.clean[node], n)

        return _Batched(s.call(*fx.node.map_arg(s.node.args, arg), **fx.node.map_arg(s.node.kwargs, arg)))

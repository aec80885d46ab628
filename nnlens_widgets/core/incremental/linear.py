"""Approximate occlusion: exact while a window's change is local, first order after.

Incremental occlusion recomputes each layer on the box a window can change,
until the box covers most of a map; from there on every window costs a dense
pass through the remaining layers. This approximation stops at that
frontier: the target's change is taken as the first-order Taylor term of the
remaining layers around the clean input,

    score(patched) - score(clean) ~= sum over frontier maps of grad . (patched - clean),

with the gradients computed once, by one backward pass through the tail on
the clean input. The change at the frontier is exact (it is the incremental
result), and it is nonzero only inside each window's box, so the sum runs
over the boxes.
"""
from __future__ import annotations

from typing import Callable, Dict, List, Optional

import torch
from torch import fx

from .boxes import FULL, Boxes
from .executor import Incremental
from .regions import Region, materialise, windows

__all__ = ["LinearTail"]


class LinearTail:
    """The frontier maps of an incremental engine and the target's gradients there."""

    def __init__(self, engine: Incremental, frontier: List[fx.Node], grads: Dict[fx.Node, torch.Tensor],
                 tail: frozenset, reference: float):
        self.engine, self.frontier, self.grads, self.tail, self.reference = engine, frontier, grads, tail, reference

    @classmethod
    def build(cls, engine: Incremental, every_window: Boxes,
              score: Callable[[object, int], torch.Tensor]) -> Optional["LinearTail"]:
        """None when there is no frontier to stop at (every map changes locally to the end)."""
        lay = engine.layout(every_window)
        tail = frozenset(s.node for s in engine.steps if lay[s.node] is FULL)
        frontier = [s.node for s in engine.steps if isinstance(lay[s.node], Boxes) and s.node not in tail
                    and any(u in tail for u in s.node.users)]
        if not tail or not frontier:
            return None
        grads, reference = cls._gradients(engine, frontier, tail, score)
        return cls(engine, frontier, grads, tail, reference)

    @staticmethod
    def _gradients(engine: Incremental, frontier, tail, score):
        """d score / d frontier map on the clean input, by a backward pass through the tail only."""
        values: Dict[fx.Node, object] = {}
        leaves = {}
        with torch.inference_mode(False), torch.enable_grad():  # also when the caller disabled autograd
            for s in engine.steps:
                if s.node in frontier:
                    leaves[s.node] = engine.clean[s.node].clone().requires_grad_(True)
                    values[s.node] = leaves[s.node]
                elif s.node in tail:
                    def arg(node):
                        v = values.get(node, engine.clean[node])
                        return v.clone() if isinstance(v, torch.Tensor) and v.is_inference() else v

                    values[s.node] = s.call(*fx.node.map_arg(s.node.args, arg), **fx.node.map_arg(s.node.kwargs, arg))
            out = score(values[engine.steps[-1].node], 1)
            raw = torch.autograd.grad(out.sum(), list(leaves.values()), allow_unused=True)
        grads = {n: torch.zeros_like(leaves[n]) if g is None else g.detach() for n, g in zip(leaves, raw)}
        return grads, float(out.sum().detach())

    def scores(self, first: Boxes, crops: torch.Tensor) -> torch.Tensor:
        """Approximate target scores for the patched inputs given as ``crops`` at ``first``."""
        engine = self.engine
        env = engine.evaluate(first, crops, skip=self.tail)
        change = torch.zeros(crops.shape[0], dtype=torch.float64, device=crops.device)
        with torch.inference_mode():
            for node in self.frontier:
                v = env[node]
                if v is None:
                    continue  # no window of this batch reaches this map
                grad, clean = self.grads[node], engine.clean[node]
                if isinstance(v, Region):
                    size, start = v.boxes.size, v.boxes.start
                    delta = v.crops - windows(clean, start, size)
                    change += (delta * windows(grad, start, size)).flatten(1).sum(1).double()
                else:  # whole maps (not expected at a frontier, but exact to handle)
                    full = materialise(v) if isinstance(v, Region) else v.value
                    change += ((full - clean) * grad).flatten(1).sum(1).double()
        return self.reference + change

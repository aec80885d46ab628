"""What a method explains: a class score, any function of the output, or one unit.

A target is given as
- ``None``: the class the model predicts for the input,
- an ``int``: that class's (pre-softmax) score,
- a callable ``f(output) -> (N,)`` (or a scalar for N = 1): any score of the output,
- ``("layer", channel)``: the mean of one channel of a layer's output, or
  ``("layer", channel, y, x)``: one neuron, so a map shows how the image drives
  a unit inside the network (backprop from that one neuron to the image). On a
  transformer's token layer ``(N, T, D)`` a channel is a feature and ``(y, x)``
  a patch (see ``tokens``).

Class indices count from 0: a negative index (``-1``) is refused with the
valid range, not read from the end, here and in every widget.

``scores(model, target)`` is the one place where a target turns into numbers:
a context that yields ``f(batch) -> (N,)`` and holds a layer hook only while
open.
"""
from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Callable, Iterator, Optional, Tuple, Union

import torch
from torch import nn

from .guard import add_hook, looking_at
from .probe import get_module
from .tokens import token_grid

__all__ = ["UnitTarget", "parse_target", "resolve_target", "scores", "describe_target"]


@dataclass(frozen=True)
class UnitTarget:
    """A channel (mean over its map) or a single neuron of a named layer."""

    layer: str
    channel: int
    y: Optional[int] = None
    x: Optional[int] = None

    def label(self) -> str:
        where = "" if self.y is None else f" at ({self.y}, {self.x})"
        return f"{self.layer} channel {self.channel}{where}"


TargetLike = Union[None, int, Callable, Tuple, UnitTarget]


def parse_target(target: TargetLike):
    """Normalise a user's target; ValueError explaining the accepted forms otherwise."""
    if target is None or isinstance(target, UnitTarget) or callable(target):
        return target
    if isinstance(target, bool):
        raise ValueError("expected a class index, not a bool, as target")
    index = _integer(target)
    if index is not None:
        if index < 0:
            raise ValueError(f"expected a class index in 0..classes-1, got {index} (negative indices are "
                             "not counted from the end)")
        return index
    if isinstance(target, (tuple, list)) and len(target) in (2, 4) and isinstance(target[0], str):
        rest = target[1:]
        if all(isinstance(v, int) and not isinstance(v, bool) for v in rest):
            return UnitTarget(target[0], *rest)
    raise ValueError(
        "expected a target as None (predicted class), a class index, a callable on the "
        "output, ('layer', channel) or ('layer', channel, y, x); got " + repr(target)
    )


def _integer(target) -> Optional[int]:
    """``target`` as an int when it is a whole number (int, numpy integer, one-element tensor)."""
    if isinstance(target, int) or (isinstance(target, torch.Tensor) and target.numel() == 1):
        return int(target)
    try:  # numpy integers
        import numpy as np

        if isinstance(target, np.integer):
            return int(target)
    except ImportError:  # pragma: no cover
        pass
    return None


def resolve_target(model: nn.Module, x: torch.Tensor, target: TargetLike):
    """Like ``parse_target``, with ``None`` replaced by the predicted class for ``x``."""
    index = None if isinstance(target, bool) else _integer(target)
    if index is not None and index < 0:  # name the model's own range
        with looking_at(model) as m, torch.no_grad():
            out = m(x[:1])
        if isinstance(out, torch.Tensor) and out.ndim == 2:
            raise ValueError(f"expected a class index in 0..{out.shape[1] - 1}, got {index} (negative "
                             "indices are not counted from the end)")
    target = parse_target(target)
    if target is not None:
        return target
    with looking_at(model) as m, torch.no_grad():
        out = m(x[:1])
    if not isinstance(out, torch.Tensor) or out.ndim != 2:
        raise ValueError(
            "cannot pick the predicted class: expected the model to output (N, classes), got "
            + (str(tuple(out.shape)) if isinstance(out, torch.Tensor) else type(out).__name__)
            + "; pass a class index, a callable or a ('layer', channel) target"
        )
    return int(out[0].argmax())


def describe_target(target) -> str:
    if isinstance(target, UnitTarget):
        return target.label()
    if callable(target):
        return getattr(target, "__name__", "custom score")
    return f"class {target}"


def _class_scores(out, c: int) -> torch.Tensor:
    if not isinstance(out, torch.Tensor) or out.ndim != 2:
        raise ValueError(
            "expected the model to output (N, classes) for a class target, got "
            + (str(tuple(out.shape)) if isinstance(out, torch.Tensor) else type(out).__name__)
            + "; pass a callable target to reduce other outputs"
        )
    n = out.shape[1]
    if not 0 <= c < n:
        raise ValueError(f"expected a class index in 0..{n - 1}, got {c}")
    return out[:, c]


def _callable_scores(fn, out, n: int) -> torch.Tensor:
    s = fn(out)
    if not isinstance(s, torch.Tensor):
        raise ValueError(f"expected the target callable to return a tensor, got {type(s).__name__}")
    if s.numel() == 1 and n == 1:
        return s.reshape(1)
    if s.shape[:1] != (n,):
        raise ValueError(
            f"expected the target callable to return one score per input ({n},), got {tuple(s.shape)}"
        )
    return s.reshape(n, -1).sum(1)


def _unit_scores(t: UnitTarget, a) -> torch.Tensor:
    if not isinstance(a, torch.Tensor) or a.ndim < 2:
        raise ValueError(f"layer {t.layer!r} does not output a tensor with channels")
    channels = a.shape[1]
    if not 0 <= t.channel < channels:
        raise ValueError(
            f"expected a channel in 0..{channels - 1} for layer {t.layer!r}, got {t.channel}"
        )
    unit = a[:, t.channel]
    if t.y is None:
        return unit.reshape(a.shape[0], -1).mean(1)
    if unit.ndim != 3:
        raise ValueError(
            f"a neuron (channel, y, x) needs a layer with a 2-D map; {t.layer!r} outputs "
            f"{tuple(a.shape)}"
        )
    if t.x is None:
        raise ValueError(f"a neuron target needs both y and x, got y={t.y}, x=None")
    h, w = unit.shape[1:]
    if not (0 <= t.y < h and 0 <= t.x < w):
        raise ValueError(
            f"expected a position with y in 0..{h - 1} and x in 0..{w - 1} for layer "
            f"{t.layer!r}, got ({t.y}, {t.x})"
        )
    return unit[:, t.y, t.x]


def _token_maps(model: nn.Module, xb: torch.Tensor, out):
    """A transformer's (N, T, D) tokens as (N, D, h, w) maps, so channel = feature; else ``out``."""
    if isinstance(out, torch.Tensor) and out.ndim == 3:
        try:
            return token_grid(model, xb, out.shape[1]).split(out).maps
        except ValueError:  # not on a patch grid (e.g. a Conv1d's (N, C, L)): channels stay dim 1
            pass
    return out


@contextlib.contextmanager
def scores(model: nn.Module, target) -> Iterator[Callable[[torch.Tensor], torch.Tensor]]:
    """Yield ``f(batch) -> (N,)`` computing ``target`` (already resolved) with gradients.

    For a unit target a forward hook records the layer's output (the last call
    when a module runs twice); it is removed when the block ends.
    """
    target = parse_target(target)
    if target is None:
        raise ValueError("resolve a None target (predicted class) with resolve_target first")
    if isinstance(target, UnitTarget):
        module = get_module(model, target.layer)
        seen = {}

        def record(_m, _i, out):
            seen["out"] = out
            if isinstance(out, torch.Tensor):  # an in-place op downstream must not change it
                return out.clone()
            return None

        handle = add_hook(module, record)
        try:
            def unit(xb):
                seen.clear()
                model(xb)
                if "out" not in seen:
                    raise ValueError(f"layer {target.layer!r} did not run in the forward pass")
                return _unit_scores(target, _token_maps(model, xb, seen["out"]))

            yield unit
        finally:
            handle.remove()
    elif callable(target):
        yield lambda xb: _callable_scores(target, model(xb), xb.shape[0])
    else:
        yield lambda xb: _class_scores(model(xb), target)

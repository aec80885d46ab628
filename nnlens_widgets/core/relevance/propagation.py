"""One relevance pass: forward with the rules in place, backward from the target's score.

``propagate`` is the mechanism every public function shares (``lrp``,
``crp``, ``channel_relevance``):

1. a canonical private twin (``canonical``) and the model's plain output,
   which resolves ``target=None`` to each image's predicted class;
2. the composite's layer rules on the twin (zennit hooks, removed when the
   block ends), the operation rules of ``RelevanceMode`` for everything
   computed outside those layers, and, when a layer is named, a gate on its
   output that records the relevance reaching it and can keep only some of
   its channels (concept-conditional relevance, CRP);
3. one backward pass starting from the target's score itself (so the input
   relevance is in the score's units and sums to it when nothing is lost).

The canonical twin's output is compared with the plain output; a difference
beyond rounding becomes a note for the result's warnings.
"""
from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Callable, List, NamedTuple, Optional, Sequence, Tuple

import torch
from torch import nn
from torch.autograd import Function

from ..guard import add_hook
from ..names import get_module
from ..targets import UnitTarget, _integer, parse_target, scores
from ..tokens import TokenGrid, token_grid
from .operations import RelevanceMode

if TYPE_CHECKING:
    from .canonical import Canonical

__all__ = ["Propagated", "propagate", "class_targets", "channel_axis", "channel_totals", "channel_maps", "mask_channels",
           "layer_output_of"]


class Propagated(NamedTuple):
    relevance: torch.Tensor  # (N, *input) relevance of the input
    score: torch.Tensor  # (N,) the target's score: the relevance the pass started from
    layer_output: Optional[torch.Tensor]  # relevance reaching the layer's output (its own shape)
    grid: Optional[TokenGrid]  # the patch grid when the layer outputs tokens (N, T, D)
    targets: object  # per-row class indices (LongTensor) or the resolved target
    canonical: "Canonical"
    unruled: dict  # operations without a relevance rule -> calls
    notes: Tuple[str, ...] = ()  # what the result should warn about besides


class _Tap:
    """What the gate on a layer records and lets through; only the layer's last call counts."""

    def __init__(self):
        self.calls = 0
        self.last = 0
        self.relevance: Optional[torch.Tensor] = None
        self.mask: Optional[Callable[[torch.Tensor], torch.Tensor]] = None  # relevance -> multiplier
        self.output: Optional[torch.Tensor] = None


class _Gate(Function):
    @staticmethod
    def forward(ctx, x, tap, call):
        ctx.tap, ctx.call = tap, call
        return x.clone()

    @staticmethod
    def backward(ctx, relevance):
        tap = ctx.tap
        if ctx.call == tap.last:
            tap.relevance = relevance.detach()
            if tap.mask is not None:
                relevance = relevance * tap.mask(relevance)
        return relevance, None, None


def _gate_hook(tap: _Tap):
    def hook(_module, _inputs, out):
        if not isinstance(out, torch.Tensor) or not out.requires_grad:
            return None
        tap.calls += 1
        tap.output = out
        return _Gate.apply(out, tap, tap.calls)
    return hook


def channel_axis(model: nn.Module, xb: torch.Tensor, out: torch.Tensor) -> Tuple[int, Optional[TokenGrid]]:
    """The axis of a layer output's channels: 1, or 2 for a transformer's tokens (N, T, D) on a patch grid."""
    if out.ndim == 3:
        try:
            return 2, token_grid(model, xb, out.shape[1])
        except ValueError:
            pass
    return 1, None


def class_targets(output, target, n: int):
    """Per-row class indices (LongTensor) for ``None``, an int or a sequence; other targets as parsed."""
    if isinstance(target, (list, tuple)) and target and not isinstance(target[0], str) or \
            isinstance(target, torch.Tensor) and target.numel() > 1:
        t = torch.as_tensor(target).reshape(-1).long()
        if len(t) != n:
            raise ValueError(f"expected one target class per image ({n}), got {len(t)}")
    else:
        index = None if isinstance(target, bool) else _integer(target)
        if index is not None and index < 0 and isinstance(output, torch.Tensor) and output.ndim == 2:
            raise ValueError(f"expected a class index in 0..{output.shape[1] - 1}, got {index} (negative "
                             "indices are not counted from the end)")
        parsed = parse_target(target)
        if parsed is not None and (callable(parsed) or isinstance(parsed, UnitTarget)):
            return parsed
        if parsed is None:
            _class_output(output)
            return output.argmax(1).cpu()
        t = torch.full((n,), int(parsed), dtype=torch.long)
    classes = _class_output(output).shape[1]
    if bool(((t < 0) | (t >= classes)).any()):
        raise ValueError(f"expected class indices in 0..{classes - 1}, got {t.tolist()} (negative indices are "
                         "not counted from the end)")
    return t


def _class_output(output) -> torch.Tensor:
    if not isinstance(output, torch.Tensor) or output.ndim != 2:
        shape = tuple(output.shape) if isinstance(output, torch.Tensor) else type(output).__name__
        raise ValueError(f"expected the model to output (N, classes) for a class target, got {shape}; "
                         "pass a callable target to reduce other outputs")
    return output


@contextlib.contextmanager
def _score_fn(model: nn.Module, targets):
    if isinstance(targets, torch.Tensor):
        def class_score(xb):
            out = model(xb)
            return out.gather(1, targets.to(out.device).view(-1, 1))[:, 0]
        yield class_score
    else:
        with scores(model, targets) as score:
            yield score


def _compare_canonical(canonical: "Canonical", output) -> Tuple[str, ...]:
    """A note when the canonical form's output differs from the model's by more than rounding usually does.

    Merges are only made where they are exact in exact arithmetic; in float32 a
    BatchNorm with a tiny running variance (a dead channel) scales a layer's
    weights by hundreds, and the rounding shows in a deep net's output.
    """
    ref = canonical.output
    if not isinstance(ref, torch.Tensor) or not isinstance(output, torch.Tensor):
        return ()
    if output.shape != ref.shape:
        raise ValueError(f"the model in canonical form for LRP gave an output shaped {tuple(output.shape)}, "
                         f"the model {tuple(ref.shape)}")
    gap, size = float((output.detach() - ref).abs().max()), float(ref.abs().max())
    if gap <= 1e-3 * size + 1e-6:
        return ()
    return (f"in canonical form ({canonical.description()}) the model's output differs from its own by up to "
            f"{gap:.3g} ({100 * gap / max(size, 1e-30):.2g}% of its largest value): rounding in the merged layers",)


def _reuse_note(canonical: "Canonical", rule: Optional[str]) -> Tuple[str, ...]:
    weighted = [n for n in canonical.reused if getattr(get_module(canonical.twin, n), "weight", None) is not None]
    if rule is not None or not weighted:
        return ()
    return (f"{', '.join(map(repr, weighted))} run{'s' * (len(weighted) == 1)} more than once per pass: the epsilon "
            "rule stands in for the composite's rule there",)


def propagate(model: nn.Module, xb: torch.Tensor, target, *, composite: str, rule: Optional[str], epsilon: float,
              low=None, high=None, layer: Optional[str] = None,
              mask: Optional[Callable[[torch.Tensor, int], torch.Tensor]] = None) -> Propagated:
    """Relevance of ``xb``'s pixels (and of ``layer``'s output) for ``target``; see the module docstring.

    ``mask(layer_relevance, channel_axis) -> multiplier``, when given, keeps
    only part of the relevance reaching ``layer`` (broadcast over its output).
    """
    from .canonical import canonical_twin  # zennit (and torchvision with it) load on first use
    from .composites import STABILIZER, box_bounds, make_composite, ruled_modules

    if layer is not None:
        get_module(model, layer)  # a clear KeyError before any work
    canonical = canonical_twin(model, xb)
    targets = class_targets(canonical.output, target, xb.shape[0])
    if rule is None and composite == "epsilon_gamma_box":
        low, high = box_bounds(xb, low, high)
    made = make_composite(composite, rule, epsilon, low, high, canonical.canonizers, canonical.unmerged,
                          canonical.reused)
    mode = RelevanceMode(epsilon=epsilon, stabilizer=epsilon if rule is not None else STABILIZER)
    tap = _Tap()
    x = xb.detach().clone().requires_grad_(True)
    seen: List[torch.Tensor] = []
    with made.context(canonical.twin) as twin, contextlib.ExitStack() as hooks:
        handles = [add_hook(m, mode.enter, pre=True) for m in ruled_modules(twin)]
        handles += [add_hook(m, mode.leave) for m in ruled_modules(twin)]
        handles.append(add_hook(twin, lambda _m, _i, out: seen.append(out)))
        if layer is not None:
            handles.append(add_hook(get_module(twin, layer), _gate_hook(tap)))
        hooks.callback(lambda: [h.remove() for h in handles])
        with _score_fn(twin, targets) as score_of, torch.enable_grad():
            with mode:
                score = score_of(x)
            notes = _compare_canonical(canonical, seen[-1] if seen else None) + _reuse_note(canonical, rule)
            if not score.requires_grad:
                raise ValueError("the target's score does not depend on the input")
            tap.last = tap.calls
            if layer is not None and tap.output is None:
                raise ValueError(f"layer {layer!r} did not run in the forward pass (or does not depend on the input)")
            grid = None
            if tap.output is not None:
                axis, grid = channel_axis(model, xb, tap.output)
                if mask is not None:
                    tap.mask = lambda r: mask(r, axis)
            (relevance,) = torch.autograd.grad(score, x, grad_outputs=score.detach())
            if tap.output is not None and tap.relevance is None:  # the score does not depend on the layer
                tap.relevance = torch.zeros_like(tap.output.detach())
    return Propagated(relevance.detach(), score.detach(), tap.relevance, grid, targets, canonical,
                      dict(mode.unruled), notes)


def layer_output_of(p: Propagated) -> torch.Tensor:
    """The relevance that reached the layer (``propagate`` was given one)."""
    if p.layer_output is None:
        raise ValueError("no layer relevance: name a layer")
    return p.layer_output


def channel_totals(layer_output: torch.Tensor, grid: Optional[TokenGrid]) -> torch.Tensor:
    """(N, C): a layer's relevance summed over everything but its channels (all tokens, prefix included)."""
    if grid is not None:
        return layer_output.sum(1)
    return layer_output.reshape(layer_output.shape[0], layer_output.shape[1], -1).sum(-1)


def channel_maps(layer_output: torch.Tensor, grid: Optional[TokenGrid]) -> torch.Tensor:
    """A layer's relevance with channels on axis 1: (N, C, h, w) maps (patch tokens for a transformer)."""
    if grid is not None:
        return grid.split(layer_output).maps
    return layer_output


def mask_channels(channels: Sequence[Sequence[int]]):
    """``mask`` for ``propagate`` keeping, in row ``i``, only the channels ``channels[i]``."""

    def mask(relevance: torch.Tensor, axis: int) -> torch.Tensor:
        keep = torch.zeros(relevance.shape[0], relevance.shape[axis], dtype=relevance.dtype, device=relevance.device)
        for row, chosen in enumerate(channels):
            keep[row, list(chosen)] = 1
        shape = [relevance.shape[0]] + [1] * (relevance.ndim - 1)
        shape[axis] = relevance.shape[axis]
        return keep.view(shape)

    return mask

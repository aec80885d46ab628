"""Looking at a model must not change it.

``evaluating`` runs a model in eval mode for the length of a ``with`` block and
puts every module's ``training`` flag back afterwards (BatchNorm in train mode
would otherwise update its running statistics just because we looked).
``ModelSnapshot`` records everything a look could disturb, so a test or a
cautious user can check that nothing was.

Widgets look at one model from two threads at once (a background worker and
the kernel's own thread), so both helpers are safe across threads:
``evaluating`` counts how many blocks hold each module and restores a flag
only when the last one leaves, and ``add_hook`` registers a hook that acts
only for forward passes run by the thread that registered it (another
thread's pass through the same module is left alone).
"""
from __future__ import annotations

import contextlib
import functools
import hashlib
import threading
from dataclasses import dataclass
from typing import Callable, Dict, Iterator, List, Tuple

import torch
from torch import nn

__all__ = ["evaluating", "add_hook", "ModelSnapshot", "hook_count"]

_HOOK_DICTS = (
    "_forward_hooks",
    "_forward_pre_hooks",
    "_backward_hooks",
    "_backward_pre_hooks",
    "_state_dict_hooks",
    "_load_state_dict_pre_hooks",
)


# id(module) -> [module, blocks holding it, its flag before the first block]
_held: Dict[int, list] = {}
_held_lock = threading.Lock()


@contextlib.contextmanager
def evaluating(model: nn.Module) -> Iterator[nn.Module]:
    """Put ``model`` in eval mode inside the block; restore each module's flag after.

    Blocks may overlap, in one thread or several: a module's flag is put back
    when the last block holding it ends, to what it was before the first.
    """
    modules: List[nn.Module] = list(model.modules())
    with _held_lock:
        for m in modules:
            entry = _held.setdefault(id(m), [m, 0, m.training])
            entry[1] += 1
            m.training = False
    try:
        yield model
    finally:
        with _held_lock:
            for m in modules:
                entry = _held[id(m)]
                entry[1] -= 1
                if entry[1] == 0:
                    m.training = entry[2]
                    del _held[id(m)]


def add_hook(module: nn.Module, fn: Callable, *, pre: bool = False, with_kwargs: bool = False):
    """Register a forward (``pre=False``) or forward-pre hook that acts only in this thread.

    Returns the handle; remove it in ``finally``. A pass through ``module``
    run by another thread calls the hook as a no-op, so two looks at one
    model never see (or stop, or change) each other's activations.
    """
    owner = threading.get_ident()

    @functools.wraps(fn)
    def hook(*args, **kwargs):
        if threading.get_ident() != owner:
            return None
        return fn(*args, **kwargs)

    if pre:
        return module.register_forward_pre_hook(hook, with_kwargs=with_kwargs)
    return module.register_forward_hook(hook, with_kwargs=with_kwargs)


def hook_count(model: nn.Module) -> int:
    """Number of hooks of any kind registered on the model's modules."""
    return sum(len(getattr(m, d, {}) or {}) for m in model.modules() for d in _HOOK_DICTS)


def _digest(t: torch.Tensor) -> str:
    data = t.detach().cpu().contiguous()
    if data.dtype == torch.bfloat16:
        data = data.view(torch.int16)
    return hashlib.sha1(data.numpy().tobytes()).hexdigest()


@dataclass(frozen=True)
class ModelSnapshot:
    """Bit-exact record of parameters, buffers, flags and hooks of a model."""

    tensors: Tuple[Tuple[str, str, Tuple[int, ...], str], ...]
    requires_grad: Tuple[Tuple[str, bool], ...]
    training: Tuple[Tuple[str, bool], ...]
    hooks: int

    @classmethod
    def of(cls, model: nn.Module) -> "ModelSnapshot":
        tensors = tuple(
            (name, str(t.dtype), tuple(t.shape), _digest(t))
            for name, t in list(model.named_parameters()) + list(model.named_buffers())
        )
        return cls(
            tensors=tensors,
            requires_grad=tuple((n, p.requires_grad) for n, p in model.named_parameters()),
            training=tuple((n, m.training) for n, m in model.named_modules()),
            hooks=hook_count(model),
        )

    def differences(self, other: "ModelSnapshot") -> Dict[str, list]:
        """What changed between two snapshots (empty dict when nothing did)."""
        out: Dict[str, list] = {}
        for field in ("tensors", "requires_grad", "training"):
            a, b = dict((r[0], r[1:]) for r in getattr(self, field)), dict(
                (r[0], r[1:]) for r in getattr(other, field)
            )
            changed = sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))
            if changed:
                out[field] = changed
        if self.hooks != other.hooks:
            out["hooks"] = [self.hooks, other.hooks]
        return out

"""Looking at a model must not change it, not even for a moment.

Every forward pass nnlens runs goes through ``looking_at(model)``, which
yields a *twin* of the model: a fresh module tree whose modules share the
user's parameter and buffer tensors (no extra memory) but have their own
``training`` flags (all eval) and their own hook tables. So

- the user's model never leaves the mode the user put it in: a train-mode
  forward pass or a ``model.eval()`` on the kernel thread while a widget works
  in the background behaves exactly as it would without the widget;
- hooks we add (``hooked``, ``add_hook``) sit on the twin only: another look,
  running at the same time in another thread, has its own twin and never sees
  them, and ``hook_count(model)`` stays what the user made it.

The twin keeps the hooks the user put on the model (weight norm, pruning, an
intervention of their own: part of the model they want to see) and leaves out
the ones nnlens registered. It is built anew for each look (about a
microsecond per module), so it always matches the model's current structure.
"""
from __future__ import annotations

import contextlib
import hashlib
import types
from dataclasses import dataclass
from typing import Callable, Dict, Iterator, Mapping, Tuple, TypeVar, Union, cast

import torch
from torch import nn

from .names import get_module

__all__ = ["looking_at", "twin_of", "hooked", "add_hook", "check_model", "ModelSnapshot", "hook_count"]

_HOOK_DICTS = (
    "_forward_hooks",
    "_forward_pre_hooks",
    "_backward_hooks",
    "_backward_pre_hooks",
    "_state_dict_hooks",
    "_load_state_dict_pre_hooks",
)
_OURS = "_nnlens_hook"  # marks hooks registered by nnlens; a twin leaves them out

# Layer names or modules -> hook. Mapping's key type is invariant, so a dict keyed by
# names only (or modules only) is listed on its own.
HookMap = Union[Mapping[str, Callable], Mapping[nn.Module, Callable], Mapping[Union[str, nn.Module], Callable]]


def check_model(model, name: str = "model") -> nn.Module:
    """``model`` if it is an ``nn.Module`` nnlens can look at; a clear error otherwise."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"expected the {name} as a torch.nn.Module, got {type(model).__name__}")
    if isinstance(model, torch.jit.ScriptModule):
        raise TypeError(
            f"expected a Python torch.nn.Module, got a TorchScript module ({type(model).__name__}): "
            "its layers cannot be hooked; pass the module it was scripted or traced from"
        )
    for t in list(model.parameters()) + list(model.buffers()):
        if t.is_meta:
            raise ValueError(
                "the model's parameters are on the 'meta' device and hold no values; load real "
                "weights first (e.g. model.to_empty(device='cpu') then model.load_state_dict(...))"
            )
        break
    return model


def _twin(module: nn.Module, memo: Dict[int, nn.Module]) -> nn.Module:
    if id(module) in memo:  # a module registered twice stays one module in the twin
        return memo[id(module)]
    twin = module.__class__.__new__(module.__class__)
    memo[id(module)] = twin
    state = twin.__dict__
    state.update(module.__dict__)
    state["_parameters"] = module._parameters.copy()  # same Parameter objects
    state["_buffers"] = module._buffers.copy()  # same buffer tensors
    children = module._modules.copy()
    for key, child in children.items():
        if child is not None:
            children[key] = _twin(child, memo)
    state["_modules"] = children
    for key, value in module.__dict__.items():
        if "hook" in key and isinstance(value, dict):
            table = value.copy()
            for hid in [h for h, fn in table.items() if getattr(fn, _OURS, False)]:
                del table[hid]
            state[key] = table
    for key, value in module.__dict__.items():
        if isinstance(value, types.MethodType) and value.__self__ is module:
            state[key] = types.MethodType(value.__func__, twin)  # model.forward = MethodType(f, model)
        elif key == "forward" and callable(value):
            _refuse_closed_forward(module, value, memo)
    state["training"] = False
    return twin


def _refuse_closed_forward(module: nn.Module, fn, memo: Dict[int, nn.Module]) -> None:
    """A forward assigned on the instance as a closure over the model's own modules
    would run the user's modules, not the twin's: say how to write it instead."""
    cells = [c.cell_contents for c in (getattr(fn, "__closure__", None) or ()) if _filled(c)]
    if any(isinstance(v, nn.Module) for v in cells):
        raise TypeError(
            f"{type(module).__name__}.forward was replaced on the instance by a function that "
            "calls the model's modules directly, so they cannot be looked at without touching "
            "the model; define forward in a subclass, or bind it: "
            "model.forward = types.MethodType(lambda self, x: ..., model)"
        )


def _filled(cell) -> bool:
    try:
        cell.cell_contents
    except ValueError:  # an empty cell
        return False
    return True


M = TypeVar("M", bound=nn.Module)


def twin_of(model: M) -> M:
    """A private eval-mode view of ``model`` sharing its tensors (see the module docstring)."""
    return cast(M, _twin(check_model(model), {}))  # an instance of the model's own class


@contextlib.contextmanager
def looking_at(model: M) -> Iterator[M]:
    """Yield a private eval-mode twin of ``model``; run and hook the twin, never the model.

    >>> with looking_at(model) as m, torch.no_grad():
    ...     out = m(x)
    """
    yield twin_of(model)


def add_hook(module: nn.Module, fn: Callable, *, pre: bool = False, with_kwargs: bool = False):
    """Register a forward (``pre=False``) or forward-pre hook marked as nnlens's own.

    Returns the handle; remove it in ``finally`` (``hooked`` does). Twins
    leave marked hooks out, so a hook on a user's model (``probe``) is never
    seen by a widget's looks.
    """

    def hook(*args, **kwargs):
        return fn(*args, **kwargs)

    setattr(hook, _OURS, True)
    if pre:
        return module.register_forward_pre_hook(hook, with_kwargs=with_kwargs)
    return module.register_forward_hook(hook, with_kwargs=with_kwargs)


@contextlib.contextmanager
def hooked(
    model: nn.Module, hooks: HookMap, *, pre: bool = False,
    with_kwargs: bool = False,
) -> Iterator[nn.Module]:
    """Forward (or forward-pre) hooks on layers of ``model`` inside the block.

    ``hooks`` maps layer names (or modules of ``model``) to
    ``fn(module, inputs, output)`` (``pre``: ``fn(module, inputs)``). Unknown
    names raise ``KeyError`` with the closest names before any hook is added;
    every hook is removed when the block ends, also on errors. Yields ``model``.
    """
    modules = [(key if isinstance(key, nn.Module) else get_module(model, key), fn)
               for key, fn in hooks.items()]
    handles = []
    try:
        for module, fn in modules:
            handles.append(add_hook(module, fn, pre=pre, with_kwargs=with_kwargs))
        yield model
    finally:
        for h in handles:
            h.remove()


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

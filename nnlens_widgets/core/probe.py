"""Capture what named modules output during a forward pass.

Hooks live only inside ``with probe(...)`` and are removed in ``finally``, even
when the forward pass raises. Captured tensors are detached clones, so an
in-place op later in the network (``ReLU(inplace=True)``) cannot change them.
"""
from __future__ import annotations

import contextlib
import difflib
from dataclasses import dataclass
from typing import Callable, Dict, Iterable, Iterator, List, Optional, Tuple, Union

import torch
from torch import nn

from .guard import add_hook, evaluating
from .inputs import to_batch
from .tokens import TokenGrid

__all__ = ["probe", "layers", "get_module", "LayerInfo", "Activations", "forward_capture"]


def get_module(model: nn.Module, name: str) -> nn.Module:
    """The submodule called ``name``; a ``KeyError`` listing the closest names otherwise."""
    modules = dict(model.named_modules())
    if name in modules and name != "":
        return modules[name]
    names = [n for n in modules if n]
    if not names:
        raise KeyError(f"layer {name!r} not found: the model has no submodules")
    close = difflib.get_close_matches(str(name), names, n=5, cutoff=0.3)
    hint = close or names[:8]
    raise KeyError(
        f"layer {name!r} not found in {type(model).__name__}; closest names: "
        + ", ".join(repr(n) for n in hint)
    )


class Activations(dict):
    """Layer name -> captured output; ``calls`` counts how often each module ran."""

    def __init__(self):
        super().__init__()
        self.calls: Dict[str, int] = {}


@contextlib.contextmanager
def probe(
    model: nn.Module, layers: Union[str, Iterable[str]], keep: Callable = None
) -> Iterator[Activations]:
    """Record the outputs of ``layers`` during forward passes run inside the block.

    >>> with probe(model, ["conv1", "fc"]) as acts:
    ...     model(x)
    >>> acts["conv1"].shape

    A module called several times in one pass (torchvision's ResNet reuses
    ``relu``) keeps its last output; ``acts.calls[name]`` says how many calls
    there were. Outputs that are not tensors (tuples, dicts) are stored as-is
    with their tensors detached and cloned. ``keep`` replaces what is stored
    (e.g. only the shape), for scans that must not hold every output.
    """
    keep = keep or _detached
    names = [layers] if isinstance(layers, str) else list(layers)
    modules = [(n, get_module(model, n)) for n in names]
    acts = Activations()
    handles = []
    try:
        for name, module in modules:
            handles.append(add_hook(module, _recorder(acts, name, keep)))
        yield acts
    finally:
        for h in handles:
            h.remove()


def _detached(value):
    if isinstance(value, torch.Tensor):
        return value.detach().clone()
    if isinstance(value, (tuple, list)):
        return tuple(_detached(v) for v in value)
    return value


def _shape_only(value):
    return tuple(value.shape) if isinstance(value, torch.Tensor) else None


def _recorder(acts: Activations, name: str, keep: Callable):
    def hook(_module, _inputs, output):
        acts[name] = keep(output)
        acts.calls[name] = acts.calls.get(name, 0) + 1

    return hook


def forward_capture(
    model: nn.Module, x: torch.Tensor, names: List[str], keep: Callable = None
) -> Tuple[Activations, object]:
    """One eval-mode, gradient-free forward pass recording ``names``; returns (acts, output).

    Errors from the model come back as ``ValueError`` naming the input shape,
    so a widget can show them; hooks are gone either way.
    """
    with probe(model, names, keep) as acts, evaluating(model), torch.inference_mode():
        try:
            out = model(x)
        except Exception as e:  # the user's forward: report it, don't leak hooks
            raise ValueError(
                f"the model raised {type(e).__name__} on an input of shape "
                f"{tuple(x.shape)}: {e}"
            ) from e
    return acts, out


@dataclass(frozen=True)
class LayerInfo:
    """One module seen during a forward pass."""

    name: str
    type: str
    shape: Optional[Tuple[int, ...]]  # None when the output is not a single tensor
    calls: int
    grid: Optional["TokenGrid"] = None  # a transformer's (N, T, D) tokens: where they sit

    @property
    def is_tensor(self) -> bool:
        return self.shape is not None

    def label(self) -> str:
        shape = "x".join(map(str, self.shape)) if self.shape else "not a tensor"
        tokens = f" ({self.grid.label()})" if self.grid is not None else ""
        again = f", called {self.calls}x: last call" if self.calls > 1 else ""
        return f"{self.name} ({self.type}) {shape}{tokens}{again}"


def layers(model: nn.Module, example_input, preprocess=None) -> List[LayerInfo]:
    """Every submodule that runs on ``example_input``, in ``named_modules()`` order.

    Modules that never run (or the model itself) are left out; modules whose
    output is not a tensor are listed with ``shape=None``.
    """
    x = to_batch(example_input, model, preprocess)
    names = [n for n, _ in model.named_modules() if n]
    acts, _ = forward_capture(model, x, names, keep=_shape_only)
    modules = dict(model.named_modules())
    return [
        LayerInfo(name, type(modules[name]).__name__, acts[name], acts.calls[name])
        for name in names
        if name in acts.calls
    ]

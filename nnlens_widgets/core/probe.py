"""Capture what named modules output during a forward pass.

Hooks live only inside ``with probe(...)`` and are removed in ``finally``, even
when the forward pass raises. Captured tensors are detached clones, so an
in-place op later in the network (``ReLU(inplace=True)``) cannot change them.
"""
from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any, Callable, Dict, Iterable, Iterator, List, Optional, Tuple, Union

import torch
from torch import nn

from .guard import add_hook, looking_at
from .names import get_module
from .inputs import to_batch
from .tokens import TokenGrid

__all__ = ["probe", "layers", "get_module", "LayerInfo", "Activations", "forward_capture"]


class Activations(dict):
    """Layer name -> captured output; ``calls`` counts how often each module ran and
    ``finished`` numbers the modules in the order their last call ended."""

    def __init__(self):
        super().__init__()
        self.calls: Dict[str, int] = {}
        self.finished: Dict[str, int] = {}


@contextlib.contextmanager
def probe(
    model: nn.Module, layers: Union[str, Iterable[str]], keep: Optional[Callable] = None
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
        acts.finished[name] = sum(acts.calls.values())  # a clock: one tick per call ended

    return hook


def forward_capture(
    model: nn.Module, x: torch.Tensor, names: List[str], keep: Optional[Callable] = None
) -> Tuple[Activations, Any]:
    """One eval-mode, gradient-free forward pass recording ``names``; returns (acts, output).

    Errors from the model come back as ``ValueError`` naming the input shape,
    so a widget can show them; hooks are gone either way.
    """
    with looking_at(model) as m, probe(m, names, keep) as acts, torch.inference_mode():
        try:
            out = m(x)
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
    finished: int = 0  # when its last call ended, counted in calls (orders layers by depth)
    grid: Optional["TokenGrid"] = None  # a transformer's (N, T, D) tokens: where they sit

    @property
    def is_tensor(self) -> bool:
        return self.shape is not None

    @property
    def is_spatial(self) -> bool:
        """A ``(N, C, h, w)`` output with more than one position, run once per pass."""
        return self.shape is not None and len(self.shape) == 4 and self.shape[2] * self.shape[3] > 1 \
            and self.calls == 1

    @property
    def has_channels(self) -> bool:
        """A ``(N, C)``, ``(N, C, L)`` or ``(N, C, h, w)`` output, run once per pass."""
        return self.shape is not None and len(self.shape) in (2, 3, 4) and self.calls == 1

    def label(self) -> str:
        shape = "x".join(map(str, self.shape)) if self.shape else "not a tensor"
        tokens = f" ({self.grid.label()})" if self.grid is not None else ""
        again = f", called {self.calls}x: last call" if self.calls > 1 else ""
        return f"{self.name} ({self.type}) {shape}{tokens}{again}"


def layers(model: nn.Module, example_input, preprocess=None, *,
           where: Optional[Callable[[LayerInfo], bool]] = None,
           by_depth: bool = False) -> List[LayerInfo]:
    """Every submodule that runs on ``example_input``, in ``named_modules()`` order.

    Parameters
    ----------
    model, example_input, preprocess
        The model and one input for it (see ``to_batch``).
    where
        Keep only the layers it accepts, e.g. ``lambda i: i.is_spatial``
        (Grad-CAM layers) or ``lambda i: i.has_channels``.
    by_depth
        Order by when each module's last call ended instead (the last spatial
        layer is then the deepest one).

    Returns
    -------
    list of LayerInfo
        Modules that never run (and the model itself) are left out; modules
        whose output is not a tensor have ``shape=None``.
    """
    x = to_batch(example_input, model, preprocess)
    names = [n for n, _ in model.named_modules() if n]
    acts, _ = forward_capture(model, x, names, keep=_shape_only)
    modules = dict(model.named_modules())
    found = [
        LayerInfo(name, type(modules[name]).__name__, acts[name], acts.calls[name], acts.finished[name])
        for name in names
        if name in acts.calls
    ]
    if where is not None:
        found = [i for i in found if where(i)]
    return sorted(found, key=lambda i: i.finished) if by_depth else found

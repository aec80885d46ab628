"""Modules by name, as ``model.named_modules()`` names them."""
from __future__ import annotations

import difflib

from torch import nn

__all__ = ["get_module"]


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

"""Any Captum attribution class as a method with our call shape (Captum is optional).

>>> ig = Captum(captum.attr.IntegratedGradients, n_steps=64)
>>> ig(model, x, target=3)        # a tensor shaped like the input batch
>>> Captum(captum.attr.LayerGradCam, layer="features.4")(model, x, 3)

Keyword arguments that the class's ``attribute`` accepts go there; the others
go to its constructor (``layer`` may be a module name). The model runs in eval
mode and every module's ``training`` flag is restored afterwards.
"""
from __future__ import annotations

import inspect
from typing import Any

import torch

from ..guard import looking_at
from ..probe import get_module
from ..preparation import prepare
from ..targets import UnitTarget

__all__ = ["Captum"]


class Captum:
    def __init__(self, method_class, **kwargs):
        if not inspect.isclass(method_class) or not hasattr(method_class, "attribute"):
            raise ValueError(
                f"expected a Captum attribution class (with .attribute), got {method_class!r}"
            )
        self.method_class: Any = method_class  # a Captum class: its constructor and .attribute vary
        params = inspect.signature(method_class.attribute).parameters
        self.attribute_kwargs = {k: v for k, v in kwargs.items() if k in params}
        self.init_kwargs = {k: v for k, v in kwargs.items() if k not in params}
        self.__name__ = method_class.__name__

    def __repr__(self) -> str:
        return f"Captum({self.method_class.__name__})"

    def __call__(self, model, x, target=None, preprocess=None, **attribute_kwargs) -> torch.Tensor:
        xb, t = prepare(model, x, target, preprocess)
        if isinstance(t, UnitTarget) or callable(t):
            raise ValueError("Captum methods take a class index as target, not a unit or callable")
        init = dict(self.init_kwargs)
        kwargs = {**self.attribute_kwargs, **attribute_kwargs}
        with looking_at(model) as m:  # Captum's own hooks land on the twin
            if isinstance(init.get("layer"), str):
                init["layer"] = get_module(m, init["layer"])
            method = self.method_class(m, **init)
            out = method.attribute(xb, target=t, **kwargs)
        if isinstance(out, tuple):
            out = out[0]
        return out.detach()

"""Method names -> functions, so widgets and users can pick methods by name."""
from __future__ import annotations

from typing import Callable, Dict

from .cam import grad_cam, guided_grad_cam
from .gradients import deconvnet, gradient, guided_backprop, input_x_gradient
from .integrated import integrated_gradients
from .lime import lime
from .smooth import smoothgrad

__all__ = ["METHODS", "method_function"]

METHODS: Dict[str, Callable] = {
    "gradient": gradient,
    "input_x_gradient": input_x_gradient,
    "guided_backprop": guided_backprop,
    "deconvnet": deconvnet,
    "integrated_gradients": integrated_gradients,
    "smoothgrad": smoothgrad,
    "grad_cam": grad_cam,
    "guided_grad_cam": guided_grad_cam,
    "lime": lime,
}


def method_function(name: str) -> Callable:
    """The function for a method name; ValueError listing the known names otherwise."""
    if name not in METHODS:
        raise ValueError(f"unknown attribution method {name!r}; known methods: {', '.join(METHODS)}")
    return METHODS[name]

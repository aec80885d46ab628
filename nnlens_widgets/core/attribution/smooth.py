"""SmoothGrad (Smilkov et al. 2017): the average of a method's maps over noisy copies.

Noise is Gaussian with ``sigma = noise * (max - min)`` of the input. The
gradient-family methods run the noisy copies as batches through the shared
gradient mechanism; any other method (IG, Grad-CAM, a user's function) is
called once per copy.
"""
from __future__ import annotations

from typing import Callable, Optional, Union

import torch

from ..batching import batch_size_for
from ..registry import Param
from .gradients import input_gradients
from ..preparation import prepare
from .registry import METHODS, method_function, register_method
from .results import pixel_map

__all__ = ["smoothgrad", "noisy_copies"]

def noisy_copies(xb: torch.Tensor, n: int, noise: float, seed: int = 0) -> torch.Tensor:
    """``n`` copies of ``xb`` plus N(0, (noise * input range)^2), reproducible by ``seed``."""
    if not noise >= 0:
        raise ValueError(f"expected noise >= 0 (a fraction of the input range), got {noise}")
    sigma = float(noise) * float(xb.max() - xb.min())
    g = torch.Generator(device="cpu").manual_seed(int(seed))
    eps = torch.randn((n,) + tuple(xb.shape[1:]), generator=g, dtype=torch.float32)
    return xb + sigma * eps.to(device=xb.device, dtype=xb.dtype)


@register_method(
    "smoothgrad", "SmoothGrad", streams=True,
    params=(Param("samples", "SG samples", 25, 1, 200, 1, description="noisy copies averaged"),
            Param("noise", "SG noise", 0.15, 0.0, 0.5, 0.01, description="noise sigma / input range")),
)
def smoothgrad(
    model,
    x,
    method: Union[str, Callable] = "gradient",
    target=None,
    samples: int = 50,
    noise: float = 0.15,
    squared: bool = False,
    batch_size: Optional[int] = None,
    seed: int = 0,
    preprocess=None,
    progress: Optional[Callable[[float], None]] = None,
    **method_kwargs,
) -> torch.Tensor:
    """Mean (or mean square, ``squared=True``: SmoothGrad-Squared) of ``method``'s map
    over ``samples`` noisy copies of the input; shaped like the method's pixel map.

    ``method``: a function of ``(model, x, target=..., **method_kwargs)`` or a
    method name (see ``nl.core.METHODS``).
    """
    fn = method_function(method) if isinstance(method, str) else method
    if not callable(fn):
        raise ValueError(f"expected a method name or function, got {method!r}")
    rule = next((s.gradient for s in METHODS.values() if s.function is fn), None)
    if int(samples) < 1:
        raise ValueError(f"expected samples >= 1, got {samples}")
    xb, t = prepare(model, x, target, preprocess)
    noisy = noisy_copies(xb, int(samples), noise, seed)
    total = None
    batched = rule is not None and not method_kwargs
    step = batch_size_for(model, xb, batch_size, grad=True, cap=32) if batched else 1
    for start in range(0, len(noisy), step):
        chunk = noisy[start:start + step]
        if batched:
            assert rule is not None  # batched only for gradient-rule methods
            maps = input_gradients(model, chunk, t, rule.relu)
            if rule.times_input:
                maps = maps * chunk
        else:
            maps = pixel_map(fn(model, chunk, target=t, **method_kwargs))
        maps = maps * maps if squared else maps
        part = maps.sum(0, keepdim=True)
        total = part if total is None else total + part
        if progress is not None:
            progress(min(1.0, (start + len(chunk)) / len(noisy)))
    assert total is not None  # samples >= 1
    return total / len(noisy)

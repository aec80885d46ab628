"""What "nothing here" looks like: the reference inputs occlusion, Integrated
Gradients and the deletion/insertion metrics compare an image against.

One registry for every method: each named baseline is one ``BaselineSpec``
(name, title, how it is made), and widgets build their choosers from
``BASELINES``. ``make_baseline(x, spec)`` also takes a number or a tensor.
"""
from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from typing import Callable, Dict, Union

import torch

__all__ = ["BaselineSpec", "BASELINES", "register_baseline", "make_baseline", "BaselineLike"]

BaselineLike = Union[str, float, torch.Tensor]


@dataclass(frozen=True)
class BaselineSpec:
    """A named baseline: ``make(x, seed)`` returns a tensor shaped like the batch ``x``."""

    name: str
    title: str
    description: str
    make: Callable[[torch.Tensor, int], torch.Tensor]


BASELINES: Dict[str, BaselineSpec] = {}


def register_baseline(name: str, title: str, description: str):
    """Decorator adding ``make(x, seed)`` to ``BASELINES`` under ``name``."""

    def add(make: Callable[[torch.Tensor, int], torch.Tensor]) -> Callable:
        BASELINES[name] = BaselineSpec(name, title, description, make)
        return make

    return add


@register_baseline("zero", "zero", "every value 0 (black for [0, 1] images)")
def _zero(x: torch.Tensor, _seed: int) -> torch.Tensor:
    return torch.zeros_like(x)


@register_baseline("mean", "channel mean", "each channel filled with its mean over the image")
def _mean(x: torch.Tensor, _seed: int) -> torch.Tensor:
    dims = tuple(range(2, x.ndim))
    return x.mean(dim=dims, keepdim=True).expand_as(x).clone() if dims else x.clone()


@register_baseline("blur", "blurred image", "a Gaussian blur with sigma 1/16 of the image side")
def _blur(x: torch.Tensor, _seed: int) -> torch.Tensor:
    if x.ndim != 4:
        raise ValueError(f"a 'blur' baseline needs an image input (1, C, H, W), got {tuple(x.shape)}")
    from torchvision.transforms.functional import gaussian_blur

    sigma = max(x.shape[-2:]) / 16
    largest_odd = 2 * ((min(x.shape[-2:]) - 1) // 2) + 1  # reflect padding must fit
    k = min(2 * math.ceil(3 * sigma) + 1, largest_odd)
    return gaussian_blur(x, [k, k], [sigma, sigma]) if k >= 3 else x.clone()


@register_baseline("white", "white", "every value the image's maximum")
def _white(x: torch.Tensor, _seed: int) -> torch.Tensor:
    return torch.full_like(x, float(x.max()))


@register_baseline("uniform", "uniform noise", "seeded uniform noise in the image's range")
def _uniform(x: torch.Tensor, seed: int) -> torch.Tensor:
    g = torch.Generator(device="cpu").manual_seed(int(seed))
    lo, hi = float(x.min()), float(x.max())
    return (lo + (hi - lo) * torch.rand(x.shape, generator=g)).to(x.device, x.dtype)


_ALIASES = {"black": "zero"}


def make_baseline(x: torch.Tensor, baseline: BaselineLike = "zero", seed: int = 0) -> torch.Tensor:
    """A finite baseline shaped like the batch ``x``.

    Parameters
    ----------
    x
        The input batch ``(1, C, ...)``.
    baseline
        A name from ``BASELINES`` ("zero"/"black", "mean", "blur", "white",
        "uniform"), a number, or a tensor broadcastable to ``x`` (with or
        without its batch axis).
    seed
        Seed of the "uniform" baseline.

    Returns
    -------
    torch.Tensor
        A new tensor shaped like ``x``; a ValueError when the baseline is
        unknown, of the wrong shape or not finite (it would turn every map NaN).
    """
    if isinstance(baseline, str):
        spec = BASELINES.get(_ALIASES.get(baseline, baseline))
        if spec is None:
            raise ValueError(
                f"expected a baseline in {sorted(BASELINES) + sorted(_ALIASES)}, a number or a tensor; "
                f"got {baseline!r}"
            )
        out = spec.make(x, seed)
    elif isinstance(baseline, torch.Tensor):
        b = baseline.detach().to(device=x.device, dtype=x.dtype)
        if b.ndim == x.ndim - 1:
            b = b.unsqueeze(0)
        try:
            out = torch.broadcast_to(b, x.shape).clone()
        except RuntimeError:
            raise ValueError(
                f"expected a baseline tensor broadcastable to the input {tuple(x.shape)}, "
                f"got shape {tuple(baseline.shape)}"
            ) from None
    elif isinstance(baseline, numbers.Real) and not isinstance(baseline, bool):
        out = torch.full_like(x, float(baseline))
    else:
        raise ValueError(
            f"expected a baseline as a name ({', '.join(BASELINES)}), a number or a tensor; "
            f"got {type(baseline).__name__}"
        )
    if out.is_floating_point() and not torch.isfinite(out).all():
        raise ValueError("expected a finite baseline, found NaN or inf values")
    return out

"""What to maximise: small objective objects that compose with ``+``, ``-`` and scalars.

An :class:`Objective` maps the captured tensors of one forward pass to a
scalar *score to maximise*. It names the layers it reads (``layers``), so the
optimisation loop hooks only those. Two pseudo-layers exist: ``"input"`` (the image
batch in [0, 1], before the random transforms) and ``"output"`` (what the
model returns).

>>> obj = channel("conv3", 5) - 1e2 * diversity("conv3")
>>> obj = 0.5 * neuron("conv2", 3) + class_logit(7)

Penalties (:func:`diversity`, :func:`total_variation`, :func:`l2`,
:func:`blur_penalty`) return a positive amount to *subtract*.

Each kind is registered in ``OBJECTIVES`` (see ``registry.py``) with what
its arguments pick and its parameters, so widgets list them from there.
"""
from __future__ import annotations

import math
import numbers
from typing import Callable, Dict, FrozenSet, Iterable, Optional, Sequence

import torch
import torch.nn.functional as F

from ..registry import Param
from .registry import register_objective

__all__ = [
    "Objective", "as_objective", "channel", "peak", "neuron", "direction", "class_logit",
    "diversity", "total_variation", "l2", "blur_penalty", "INPUT", "OUTPUT",
]

INPUT = "input"
OUTPUT = "output"


class Objective:
    """A score ``fn(acts) -> scalar tensor`` over captured tensors of ``layers``."""

    def __init__(self, fn: Callable[[Dict[str, torch.Tensor]], torch.Tensor],
                 layers: Iterable[str], name: str):
        self.fn = fn
        self.layers: FrozenSet[str] = frozenset(layers)
        self.name = name

    def __call__(self, acts: Dict[str, torch.Tensor]) -> torch.Tensor:
        return self.fn(acts)

    def __repr__(self):
        return f"Objective({self.name})"

    # -- arithmetic -----------------------------------------------------
    def __add__(self, other) -> Objective:
        if isinstance(other, numbers.Real):
            c = float(other)
            return Objective(lambda a: self(a) + c, self.layers, f"{self.name} + {c:g}")
        other = as_objective(other)
        return Objective(lambda a: self(a) + other(a), self.layers | other.layers,
                         f"{self.name} + {other.name}")

    __radd__ = __add__  # sum([...]) starts from 0

    def __neg__(self) -> Objective:
        return Objective(lambda a: -self(a), self.layers, f"-({self.name})")

    def __sub__(self, other) -> Objective:
        return self + (-as_objective(other) if not isinstance(other, numbers.Real) else -float(other))

    def __rsub__(self, other) -> Objective:
        return (-self) + other

    def __mul__(self, other) -> Objective:
        if not isinstance(other, numbers.Real):
            raise TypeError(f"an objective can only be multiplied by a number, got {type(other).__name__}")
        c = float(other)
        return Objective(lambda a: c * self(a), self.layers, f"{c:g} * {self.name}")

    __rmul__ = __mul__

    def __truediv__(self, other) -> Objective:
        if not isinstance(other, numbers.Real) or other == 0:
            raise TypeError(f"an objective can only be divided by a non-zero number, got {other!r}")
        return self * (1.0 / float(other))


def as_objective(obj) -> Objective:
    """An :class:`Objective`, or ``"layer:channel"`` shorthand for :func:`channel`."""
    if isinstance(obj, Objective):
        return obj
    if isinstance(obj, str) and ":" in obj:
        layer, _, n = obj.rpartition(":")
        try:
            return channel(layer, int(n))
        except ValueError:
            pass
    raise ValueError(
        f"expected an Objective (channel(...), neuron(...), direction(...), class_logit(...)) or a "
        f"'layer:channel' string, got {obj!r}"
    )


def _get(acts: Dict[str, torch.Tensor], layer: str) -> torch.Tensor:
    t = acts.get(layer)
    if not isinstance(t, torch.Tensor):
        raise ValueError(f"layer {layer!r} did not output a single tensor in the forward pass")
    return t


def _check_channel(t: torch.Tensor, layer: str, n: int, what: str = "channel") -> None:
    if t.ndim < 2:
        raise ValueError(f"layer {layer!r} output has shape {tuple(t.shape)}; expected (B, C, ...)")
    if not 0 <= n < t.shape[1]:
        raise ValueError(
            f"{what} {n} is out of range: layer {layer!r} has {t.shape[1]} channels "
            f"(expected 0..{t.shape[1] - 1})"
        )


def _index(n, what: str) -> int:
    if isinstance(n, bool) or not isinstance(n, numbers.Integral):
        raise ValueError(f"expected an integer {what}, got {n!r}")
    return int(n)


@register_objective("channel", "channel mean", reads="channel",
                    description="the channel's mean activation over all positions")
def channel(layer: str, n: int) -> Objective:
    """Mean activation of channel ``n`` of ``layer`` (over positions and the batch)."""
    n = _index(n, "channel")

    def fn(acts):
        t = _get(acts, layer)
        _check_channel(t, layer, n)
        return t[:, n].mean()

    return Objective(fn, [layer], f"channel({layer!r}, {n})")


@register_objective("peak", "channel peak", reads="channel",
                    description="the channel's largest activation over positions")
def peak(layer: str, n: int) -> Objective:
    """Largest activation of channel ``n`` of ``layer`` over positions (mean over the batch).

    The score ``top_examples`` ranks data set images by; as an objective the
    gradient reaches only the strongest position of each image.
    """
    n = _index(n, "channel")

    def fn(acts):
        t = _get(acts, layer)
        _check_channel(t, layer, n)
        return t[:, n].reshape(t.shape[0], -1).amax(1).mean()

    return Objective(fn, [layer], f"peak({layer!r}, {n})")


@register_objective("neuron", "centre neuron", reads="channel",
                    description="the channel's activation at the centre position")
def neuron(layer: str, n: int, y: Optional[int] = None, x: Optional[int] = None) -> Objective:
    """Activation of channel ``n`` at one position (the centre by default)."""
    n = _index(n, "channel")

    def fn(acts):
        t = _get(acts, layer)
        _check_channel(t, layer, n)
        if t.ndim == 2:
            return t[:, n].mean()
        if t.ndim != 4:
            raise ValueError(f"neuron() expects a (B, C, H, W) or (B, C) layer, {layer!r} gives {tuple(t.shape)}")
        h, w = t.shape[-2:]
        yy = h // 2 if y is None else int(y)
        xx = w // 2 if x is None else int(x)
        if not (0 <= yy < h and 0 <= xx < w):
            raise ValueError(f"position (y={yy}, x={xx}) is outside layer {layer!r}'s {h}x{w} grid")
        return t[:, n, yy, xx].mean()

    where = "centre" if y is None and x is None else f"y={y}, x={x}"
    return Objective(fn, [layer], f"neuron({layer!r}, {n}, {where})")


def _unit_vector(vector) -> torch.Tensor:
    v = torch.as_tensor(vector, dtype=torch.float32).detach().flatten()
    norm = float(v.norm())
    if v.numel() == 0 or not math.isfinite(norm) or norm == 0:
        raise ValueError("expected a direction vector with finite values and non-zero length")
    return v / norm


@register_objective("direction", "direction", reads="direction",
                    description="the mean over positions of the activation projected on a direction")
def direction(layer: str, vector: Sequence[float] | torch.Tensor) -> Objective:
    """Mean over positions of ``<activation, v / |v|>``: a direction in channel space."""
    v = _unit_vector(vector)

    def fn(acts):
        t = _get(acts, layer)
        if t.ndim < 2 or t.shape[1] != v.numel():
            raise ValueError(
                f"direction vector has length {v.numel()} but layer {layer!r} has "
                f"{t.shape[1] if t.ndim >= 2 else 'no'} channels; expected a vector of that length"
            )
        vv = v.to(device=t.device, dtype=t.dtype).view(1, -1, *([1] * (t.ndim - 2)))
        return (t * vv).sum(1).mean()

    return Objective(fn, [layer], f"direction({layer!r}, len {v.numel()})")


@register_objective("class_logit", "class logit", reads="class",
                    description="one output of the model (a class score before softmax)")
def class_logit(n: int) -> Objective:
    """The model output's entry ``n`` (a class score before softmax)."""
    n = _index(n, "class")

    def fn(acts):
        t = _get(acts, OUTPUT)
        if t.ndim != 2:
            raise ValueError(f"class_logit() expects the model to return (B, classes), got {tuple(t.shape)}")
        if not 0 <= n < t.shape[1]:
            raise ValueError(f"class {n} is out of range: the model has {t.shape[1]} outputs "
                             f"(expected 0..{t.shape[1] - 1})")
        return t[:, n].mean()

    return Objective(fn, [OUTPUT], f"class_logit({n})")


@register_objective("diversity", "diversity", reads="layer", penalty=True,
                    description="how alike the images of a batch are at a layer (Gram matrices)")
def diversity(layer: str) -> Objective:
    """Mean pairwise cosine similarity of the batch's Gram matrices at ``layer`` (subtract it).

    The Gram matrix (channels x channels over positions) describes a picture's
    "style"; pushing the images' Grams apart makes a batch show different
    things that excite the same unit. Zero for a batch of one.
    """

    def fn(acts):
        t = _get(acts, layer)
        b, c = t.shape[:2]
        if b < 2:
            return t.new_zeros(())
        flat = t.reshape(b, c, -1)
        grams = F.normalize(torch.bmm(flat, flat.transpose(1, 2)).reshape(b, -1), dim=1)
        sim = grams @ grams.T
        return (sim.sum() - sim.diagonal().sum()) / (b * (b - 1))

    return Objective(fn, [layer], f"diversity({layer!r})")


@register_objective("total_variation", "total variation", reads="image", penalty=True,
                    description="how much neighbouring pixels differ")
def total_variation() -> Objective:
    """Mean absolute difference of neighbouring pixels of the image (subtract it)."""

    def fn(acts):
        x = acts[INPUT]
        return (x[..., 1:, :] - x[..., :-1, :]).abs().mean() + (x[..., :, 1:] - x[..., :, :-1]).abs().mean()

    return Objective(fn, [INPUT], "total_variation()")


@register_objective("l2", "L2 decay", reads="image", penalty=True,
                    params=(Param("center", "L2 centre", 0.5, 0.0, 1.0, 0.05,
                                  description="the grey level the image is pulled towards"),),
                    description="the image's squared distance from a grey level")
def l2(center: float = 0.5) -> Objective:
    """Mean squared distance of the image from mid grey (subtract it: L2 decay)."""

    def fn(acts):
        return ((acts[INPUT] - center) ** 2).mean()

    return Objective(fn, [INPUT], f"l2({center:g})")


@register_objective("blur", "blur", reads="image", penalty=True,
                    params=(Param("sigma", "blur sigma", 1.0, 0.1, 10.0, 0.1,
                                  description="the Gaussian blur's standard deviation in pixels"),),
                    description="the image's squared distance from its blurred copy")
def blur_penalty(sigma: float = 1.0) -> Objective:
    """Mean squared difference between the image and its fixed blurred copy (subtract it).

    The blurred copy is a constant, so the gradient pulls each pixel toward
    its blurred value: a step of blur each iteration (lucid's
    ``blur_input_each_step``).
    """
    if sigma <= 0:
        raise ValueError(f"expected a blur sigma > 0, got {sigma}")
    k = 2 * math.ceil(2 * sigma) + 1

    def fn(acts):
        from torchvision.transforms.v2 import functional as TF  # slow to import: on first use

        x = acts[INPUT]
        target = TF.gaussian_blur(x.detach(), [k, k], [sigma, sigma])
        return ((x - target) ** 2).mean()

    return Objective(fn, [INPUT], f"blur_penalty({sigma:g})")

"""Class activation maps: one base class, each variant a small subclass.

The base class holds the machinery (a hook on the layer, only while the
``with`` block is open; the target score; the gradient with respect to the
layer's output; upsampling). A variant says how channel maps are combined:

>>> with GradCAM(model, "layer4") as cam:
...     maps = cam(x, target=3)          # CamMaps(layer_map, upsampled, layer)
"""
from __future__ import annotations

import contextlib
from typing import Optional

import torch
import torch.nn.functional as F
from torch import nn

from ..guard import check_model, hooked, looking_at
from ..probe import layers
from .gradients import guided_backprop, prepare
from .registry import register_method
from .results import CamMaps
from ..targets import scores

__all__ = ["CAM", "GradCAM", "GradCAMPlusPlus", "HiResCAM", "grad_cam", "guided_grad_cam",
           "spatial_layers", "default_cam_layer"]


def spatial_layers(model: nn.Module, xb: torch.Tensor):
    """``(name, shape)`` of modules whose output is a (N, C, h, w) map with h*w > 1,
    deepest last (by when their forward call ends); modules run once only."""
    return [(i.name, i.shape) for i in layers(model, xb[:1], where=lambda i: i.is_spatial, by_depth=True)]


def default_cam_layer(model: nn.Module, xb: torch.Tensor) -> str:
    """The last layer with spatial extent (e.g. ``layer4`` in a torchvision ResNet)."""
    found = spatial_layers(model, xb)
    if not found:
        raise ValueError("the model has no layer with a spatial (N, C, h, w) output for a CAM")
    return found[-1][0]


_UPSAMPLING = ("bilinear", "bicubic", "nearest")


class CAM:
    """Shared machinery; subclasses override ``combine`` (or ``channel_weights``)."""

    def __init__(self, model: nn.Module, layer: Optional[str] = None, relu: bool = True,
                 upsample: str = "bilinear"):
        self.model = check_model(model)
        self.layer = layer
        self.relu = relu
        if upsample not in _UPSAMPLING:
            raise ValueError(f"expected upsample in {_UPSAMPLING}, got {upsample!r}")
        self.upsample = upsample
        self._open: Optional[contextlib.ExitStack] = None
        self._twin: Optional[nn.Module] = None
        self._seen = {}

    # variants ------------------------------------------------------------
    def channel_weights(self, acts: torch.Tensor, grads: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def combine(self, acts: torch.Tensor, grads: torch.Tensor) -> torch.Tensor:
        return (self.channel_weights(acts, grads) * acts).sum(1, keepdim=True)

    # machinery -----------------------------------------------------------
    def __enter__(self) -> "CAM":
        if self.layer is not None:
            self._hook(self.layer)
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        if self._open is not None:
            self._open.close()
            self._open = self._twin = None

    def _hook(self, layer: str) -> None:
        """A private twin of the model with a hook on ``layer`` until ``close()``."""

        def record(_m, _i, out):
            if not isinstance(out, torch.Tensor):
                self._seen["out"] = out
                return None
            # Frozen parameters leave the map without a graph: start one here.
            acts = out if out.requires_grad else out.detach().requires_grad_(True)
            self._seen["out"] = acts
            return acts.clone()  # a later in-place op must not touch the map

        stack = contextlib.ExitStack()
        self._twin = stack.enter_context(looking_at(self.model))
        stack.enter_context(hooked(self._twin, {layer: record}))
        self._open = stack

    def __call__(self, x, target=None, preprocess=None) -> CamMaps:
        xb, t = prepare(self.model, x, target, preprocess)
        return self.attribute(xb, t)

    def attribute(self, xb: torch.Tensor, target) -> CamMaps:
        """``xb`` a batch, ``target`` resolved; the hook is set here if ``with`` was not used."""
        own = self._open is None
        if own:
            self.layer = self.layer or default_cam_layer(self.model, xb)
            self._hook(self.layer)
        try:
            self._seen.clear()
            with scores(self._twin, target) as score, torch.enable_grad():
                s = score(xb)
                acts = self._seen.get("out")
                if not isinstance(acts, torch.Tensor):
                    raise ValueError(f"layer {self.layer!r} did not output a tensor in the forward pass")
                if acts.ndim != 4 or acts.shape[2] * acts.shape[3] < 2:
                    raise ValueError(
                        f"expected a layer with spatial extent (N, C, h, w) for a CAM; layer "
                        f"{self.layer!r} outputs {tuple(acts.shape)}"
                    )
                if not acts.requires_grad:
                    raise ValueError(f"the target does not depend on layer {self.layer!r}")
                (grads,) = torch.autograd.grad(s.sum(), acts, allow_unused=True)
            if grads is None:
                raise ValueError(f"the target does not depend on layer {self.layer!r}")
            cam = self.combine(acts.detach(), grads.detach())
        finally:
            self._seen.clear()
            if own:
                self.close()
        if self.relu:
            cam = cam.clamp(min=0)
        big = F.interpolate(cam, size=tuple(xb.shape[-2:]), mode=self.upsample,
                            **({} if self.upsample == "nearest" else {"align_corners": False}))
        return CamMaps(cam, big, self.layer)


class GradCAM(CAM):
    """Grad-CAM (Selvaraju et al. 2017): channel weight = spatial mean of d score / d A_k."""

    def channel_weights(self, acts, grads):
        return grads.mean(dim=(2, 3), keepdim=True)


class GradCAMPlusPlus(CAM):
    """Grad-CAM++ (Chattopadhyay et al. 2018): positive gradients weighted per position."""

    def channel_weights(self, acts, grads):
        g2, g3 = grads ** 2, grads ** 3
        denom = 2 * g2 + (acts.sum(dim=(2, 3), keepdim=True) * g3)
        alpha = g2 / torch.where(denom != 0, denom, torch.ones_like(denom))
        return (alpha * grads.clamp(min=0)).sum(dim=(2, 3), keepdim=True)


class HiResCAM(CAM):
    """HiResCAM (Draelos & Carin 2020): gradient times activation, position by position."""

    def combine(self, acts, grads):
        return (grads * acts).sum(1, keepdim=True)


@register_method("grad_cam", "Grad-CAM")
def grad_cam(model, x, target=None, layer: Optional[str] = None, relu: bool = True,
             upsample: str = "bilinear", preprocess=None) -> CamMaps:
    """Grad-CAM on ``layer`` (default: the last layer with spatial extent).

    Returns ``CamMaps(layer_map (1,1,h,w), upsampled (1,1,H,W), layer)``.
    ``relu=False`` keeps the negative part of the map.
    """
    with GradCAM(model, layer, relu=relu, upsample=upsample) as cam:
        return cam(x, target, preprocess)


@register_method("guided_grad_cam", "Guided Grad-CAM")
def guided_grad_cam(model, x, target=None, layer: Optional[str] = None,
                    upsample: str = "bilinear", preprocess=None) -> torch.Tensor:
    """Guided backprop times the upsampled Grad-CAM, shaped like the input batch."""
    xb, t = prepare(model, x, target, preprocess)
    cam = grad_cam(model, xb, t, layer, relu=True, upsample=upsample)
    return guided_backprop(model, xb, t) * cam.upsampled

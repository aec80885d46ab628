"""Class activation maps: one base class, each variant a small subclass.

The base class holds the machinery (a hook on the layer, only while the
``with`` block is open; the target score; the gradient with respect to the
layer's output; upsampling). A variant says how channel maps are combined:

>>> with GradCAM(model, "layer4") as cam:
...     maps = cam(x, target=3)          # CamMaps(layer_map, upsampled, layer)

``register_cam(Variant, name, title)`` makes a variant an attribution
method that every widget offers.
"""
from __future__ import annotations

import contextlib
from typing import Any, Callable, Dict, List, Optional, Tuple, Type

import torch
import torch.nn.functional as F
from torch import nn

from ..guard import check_model, hooked, looking_at
from ..attention_layers import is_attention
from ..tokens import TokenGrid, token_grid
from .gradients import guided_backprop
from ..preparation import prepare
from .registry import register_method
from .results import CamMaps
from ..targets import scores

__all__ = ["CAM", "GradCAM", "GradCAMPlusPlus", "HiResCAM", "register_cam", "grad_cam", "grad_cam_plus_plus",
           "hires_cam", "guided_grad_cam", "spatial_layers", "default_cam_layer"]


def _layer_calls(model: nn.Module, xb: torch.Tensor):
    """One pass on a private twin recording, in the order forward calls finish, every
    (name, output shape), each module's call count, and where each attention layer's
    (last) call started."""
    order: List[Tuple[str, Tuple[int, ...]]] = []
    calls: Dict[str, int] = {}
    attention_starts: List[int] = []

    def record(name):
        def hook(_m, _i, out):
            calls[name] = calls.get(name, 0) + 1
            if isinstance(out, torch.Tensor):
                order.append((name, tuple(out.shape)))
        return hook

    with looking_at(model) as m:
        names = [n for n, _ in m.named_modules() if n]
        attention = [n for n, mod in m.named_modules() if n and is_attention(mod)]
        starts = {n: (lambda *_: attention_starts.append(len(order))) for n in attention}
        with hooked(m, {n: record(n) for n in names}), hooked(m, starts, pre=True), torch.no_grad():
            m(xb[:1])
    return order, calls, attention_starts


def _cam_layers(model: nn.Module, xb: torch.Tensor):
    """[(position, name, map shape (N, C, h, w), is_token_layer)] and attention start positions."""
    order, calls, attention_starts = _layer_calls(model, xb)
    grids: Dict[int, Optional[TokenGrid]] = {}
    found = []
    for position, (name, shape) in enumerate(order):
        if calls[name] != 1:
            continue
        if len(shape) == 4 and shape[2] * shape[3] > 1:
            found.append((position, name, shape, False))
        elif len(shape) == 3:
            if shape[1] not in grids:
                try:
                    grids[shape[1]] = token_grid(model, xb, shape[1])
                except ValueError:
                    grids[shape[1]] = None
            g = grids[shape[1]]
            if g is not None and g.height * g.width > 1:
                found.append((position, name, (shape[0], shape[2], g.height, g.width), True))
    return found, attention_starts


def spatial_layers(model: nn.Module, xb: torch.Tensor):
    """Names of modules whose output is a (N, C, h, w) map with h*w > 1, in the order
    their forward calls finish, each with its shape (modules run once only).

    A transformer's token-sequence layers ``(N, T, D)`` on a patch grid (see
    ``core.tokens``) are listed too, with the shape of their maps ``(N, D, h, w)``.
    """
    return [(n, s) for _, n, s, _ in _cam_layers(model, xb)[0]]


def default_cam_layer(model: nn.Module, xb: torch.Tensor) -> str:
    """The last layer with spatial extent (e.g. ``layer4`` in a torchvision ResNet).

    For a transformer: the last token layer that runs before the last
    attention layer (the last block's input norm, ``ln_1`` / ``norm1``),
    because the class token alone reads the last block's output, so the
    patch tokens after it get no gradient.
    """
    found, attention_starts = _cam_layers(model, xb)
    if not found:
        raise ValueError("the model has no layer with a spatial (N, C, h, w) output or token grid for a CAM")
    tokens = [(p, n) for p, n, _, is_token in found if is_token]
    if tokens:
        before = [n for p, n in tokens if attention_starts and p < attention_starts[-1]]
        return (before or [tokens[-1][1]])[-1]
    return found[-1][1]


_UPSAMPLING = ("bilinear", "bicubic", "nearest")


class CAM:
    """Shared machinery; subclasses override ``combine`` (or ``channel_weights``)."""

    def __init__(self, model: nn.Module, layer: Optional[str] = None, relu: bool = True,
                 upsample: str = "bilinear", grid=None, prefix: Optional[int] = None):
        self.model = check_model(model)
        self.layer = layer
        self.relu = relu
        if upsample not in _UPSAMPLING:
            raise ValueError(f"expected upsample in {_UPSAMPLING}, got {upsample!r}")
        self.upsample = upsample
        self._open: Optional[contextlib.ExitStack] = None
        self._twin: Optional[nn.Module] = None
        self.grid, self.prefix = grid, prefix  # a transformer's patch grid, when it cannot be inferred
        self._seen: Dict[str, Any] = {}

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

    def _token_grid(self, acts: torch.Tensor, xb: torch.Tensor):
        """None for a (N, C, h, w) layer, the patch grid for a transformer's (N, T, D) layer."""
        if acts.ndim == 3:
            try:
                return token_grid(self.model, xb, acts.shape[1], self.grid, self.prefix)
            except ValueError as e:
                raise ValueError(f"layer {self.layer!r} outputs {tuple(acts.shape)}, not a token grid: {e}") from None
        if acts.ndim != 4 or acts.shape[2] * acts.shape[3] < 2:
            raise ValueError(
                f"expected a layer with spatial extent (N, C, h, w) or a transformer's token sequence "
                f"(N, T, D) for a CAM; layer {self.layer!r} outputs {tuple(acts.shape)}"
            )
        return None

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
            layer, twin = self.layer, self._twin
            assert layer is not None and twin is not None  # _hook ran, here or in __enter__
            self._seen.clear()
            with scores(twin, target) as score, torch.enable_grad():
                s = score(xb)
                acts = self._seen.get("out")
                if not isinstance(acts, torch.Tensor):
                    raise ValueError(f"layer {self.layer!r} did not output a tensor in the forward pass")
                grid = self._token_grid(acts, xb)
                if not acts.requires_grad:
                    raise ValueError(f"the target does not depend on layer {self.layer!r}")
                (grads,) = torch.autograd.grad(s.sum(), acts, allow_unused=True)
            if grads is None:
                raise ValueError(f"the target does not depend on layer {self.layer!r}")
            acts, grads = acts.detach(), grads.detach()
            if grid is not None:  # prefix tokens dropped, (N, h*w, D) -> (N, D, h, w)
                acts, grads = grid.split(acts).maps, grid.split(grads).maps
            cam = self.combine(acts, grads)
        finally:
            self._seen.clear()
            if own:
                self.close()
        if self.relu:
            cam = cam.clamp(min=0)
        big = F.interpolate(cam, size=tuple(xb.shape[-2:]), mode=self.upsample,
                            **({} if self.upsample == "nearest" else {"align_corners": False}))
        return CamMaps(cam, big, layer)


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


def _upsampled(maps: CamMaps) -> torch.Tensor:
    return maps.upsampled


def register_cam(variant: Type[CAM], name: str, title: str, description: str = "") -> Callable[..., CamMaps]:
    """Make the CAM subclass ``variant`` the attribution method ``name``; returns its function.

    The function is ``fn(model, x, target=None, layer=None, relu=True,
    upsample="bilinear", preprocess=None, grid=None, prefix=None) -> CamMaps``
    (default layer: see ``default_cam_layer``); widgets offer it and give it a
    channel target's own layer.
    """
    if not (isinstance(variant, type) and issubclass(variant, CAM)):
        raise ValueError(f"expected a subclass of CAM, got {variant!r}")

    def cam_method(model, x, target=None, layer: Optional[str] = None, relu: bool = True,
                   upsample: str = "bilinear", preprocess=None, grid=None, prefix: Optional[int] = None) -> CamMaps:
        with variant(model, layer, relu=relu, upsample=upsample, grid=grid, prefix=prefix) as cam:
            return cam(x, target, preprocess)

    cam_method.__name__ = cam_method.__qualname__ = name
    cam_method.__doc__ = (f"{(variant.__doc__ or title).strip()}\n\n"
                          "Returns ``CamMaps(layer_map (1,1,h,w), upsampled (1,1,H,W), layer)``; see ``register_cam``.")
    return register_method(name, title, description=description, takes_layer=True,
                           to_pixels=_upsampled)(cam_method)


grad_cam = register_cam(GradCAM, "grad_cam", "Grad-CAM", "Grad-CAM on a layer (default: the last spatial one)")
grad_cam.__doc__ = """Grad-CAM on ``layer`` (default: see ``default_cam_layer``).

Returns ``CamMaps(layer_map (1,1,h,w), upsampled (1,1,H,W), layer)``.
``relu=False`` keeps the negative part of the map. A transformer layer's
``(N, T, D)`` tokens are used as ``D`` maps on the patch grid (prefix
tokens dropped); ``grid=(h, w)`` and ``prefix=k`` give the grid when it
cannot be inferred (see ``core.tokens.token_grid``).
"""
grad_cam_plus_plus = register_cam(GradCAMPlusPlus, "grad_cam_plus_plus", "Grad-CAM++")
hires_cam = register_cam(HiResCAM, "hires_cam", "HiResCAM")


@register_method("guided_grad_cam", "Guided Grad-CAM", takes_layer=True)
def guided_grad_cam(model, x, target=None, layer: Optional[str] = None,
                    upsample: str = "bilinear", preprocess=None) -> torch.Tensor:
    """Guided backprop times the upsampled Grad-CAM, shaped like the input batch."""
    xb, t = prepare(model, x, target, preprocess)
    cam = grad_cam(model, xb, t, layer, relu=True, upsample=upsample)
    return guided_backprop(model, xb, t) * cam.upsampled

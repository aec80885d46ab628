"""Turn what a user hands us (tensor, numpy image, PIL image) into a model batch.

Every widget and core function goes through :func:`to_batch`, so a wrong shape
or a non-finite value is reported the same way everywhere, before the model runs.

One conversion for every kind of input (the README's table):

- floating point (tensor or numpy): the values as given;
- ``uint8`` (tensor, numpy, 8-bit PIL modes): divided by 255;
- ``uint16`` (numpy, PIL ``I;16``) and 32-bit integer PIL images (``I``,
  which holds 16-bit data): divided by 65535 (an ``I`` image with values
  outside 0..65535 is refused: its scale is unknown);
- ``bool`` (and PIL mode ``1``): 0.0 and 1.0;
- PIL ``F``: the float values as given; palette, alpha, CMYK, YCbCr, LAB and
  HSV images are converted to RGB (or L) first;
- other integer types: kept as integers for models that start with an
  embedding (token ids); refused for image models, whose integer range is
  ambiguous (convert with ``x.float() / 255`` for 8-bit data).
"""
from __future__ import annotations

from typing import Callable, Optional

import numpy as np
import torch
from torch import nn

from .guard import check_model

__all__ = ["to_batch", "expected_in_channels", "model_device"]


def model_device(model: nn.Module) -> torch.device:
    """The device of the model's first parameter or buffer (CPU for a stateless model)."""
    for p in model.parameters():
        return p.device
    for b in model.buffers():
        return b.device
    return torch.device("cpu")


def _model_dtype(model: nn.Module) -> torch.dtype:
    for t in model.parameters():
        if t.is_floating_point():
            return t.dtype
    return torch.float32


def _first_conv(model: nn.Module) -> Optional[nn.modules.conv._ConvNd]:
    """The model's first conv layer, if its first weighted layer is a conv."""
    for module in model.modules():
        if isinstance(module, nn.modules.conv._ConvNd):
            return module
        if isinstance(module, (nn.Linear, nn.RNNBase, nn.Embedding, nn.Bilinear)):
            return None
    return None


def expected_in_channels(model: nn.Module) -> Optional[int]:
    """Input channels the model's first conv layer takes (None when it starts otherwise)."""
    conv = _first_conv(model)
    return None if conv is None else conv.in_channels


_SCALES = {np.dtype(np.uint8): 255.0, np.dtype(np.uint16): 65535.0, np.dtype(np.bool_): 1.0}


def _from_numpy_image(a: np.ndarray) -> torch.Tensor:
    """HxW or HxWxC numpy image -> (C,H,W) tensor, scaled as the module docstring says."""
    if a.ndim == 2:
        a = a[:, :, None]
    if a.ndim != 3:
        raise ValueError(
            f"expected a numpy image shaped HxW or HxWxC, got an array of shape {a.shape}"
        )
    if not (np.issubdtype(a.dtype, np.number) or a.dtype == np.bool_) or np.iscomplexobj(a):
        raise ValueError(f"expected a real-valued numeric numpy image, got dtype {a.dtype}")
    if a.dtype in _SCALES:
        t = torch.from_numpy(np.array(a, dtype=np.float32)) / _SCALES[a.dtype]
    else:
        t = torch.from_numpy(np.array(a))  # a copy: read-only and non-contiguous arrays are fine
    return t.permute(2, 0, 1)


def _from_pil(image) -> np.ndarray:
    """A PIL image as a numpy array whose dtype says how to scale it."""
    mode = image.mode
    if mode.startswith("I;16"):
        return np.asarray(image, dtype=np.uint16)
    if mode == "I":  # 32-bit container of 16-bit data (how PIL opens many 16-bit files)
        values = np.asarray(image, dtype=np.int64)
        if values.size and (values.min() < 0 or values.max() > 65535):
            raise ValueError(
                f"expected a PIL image of mode 'I' to hold 16-bit values (0..65535), got values in "
                f"{values.min()}..{values.max()}; its scale is unknown: convert it to a float array in "
                "the range the model expects (e.g. np.asarray(image, np.float32) / its maximum)")
        return values.astype(np.float32) / 65535.0
    if mode == "F":
        return np.asarray(image, dtype=np.float32)
    if mode == "1":
        return np.asarray(image, dtype=np.bool_)
    if mode in ("L", "RGB"):
        return np.asarray(image)
    return np.asarray(image.convert("L" if mode in ("LA", "La") else "RGB"))


def _scaled_tensor(t: torch.Tensor) -> torch.Tensor:
    """A torch tensor scaled as its numpy twin would be (uint8 / 255, bool 0/1)."""
    t = t.detach().as_subclass(torch.Tensor)  # plain tensor (e.g. from a tv_tensors.Image)
    if t.dtype == torch.uint8:
        return t.float() / 255.0
    if t.dtype == getattr(torch, "uint16", None):
        return t.to(torch.int32).float() / 65535.0
    if t.dtype == torch.bool:
        return t.float()
    return t


def to_batch(
    x,
    model: Optional[nn.Module] = None,
    preprocess: Optional[Callable] = None,
    name: str = "input",
) -> torch.Tensor:
    """Return ``x`` as a float batch ``(1, C, ...)`` on the model's device.

    Accepts a tensor ``(C,H,W)`` / ``(1,C,H,W)`` (or any ``(1, ...)`` batch for
    non-image models), a numpy ``HxWxC`` (or ``HxW``) image, or a PIL image. A
    ``preprocess`` callable, when given, is applied to ``x`` first and must
    return one of those. The result is a fresh tensor: the caller's is never
    modified.
    """
    if model is not None:
        check_model(model)
    if preprocess is not None:
        x = preprocess(x)
    try:  # PIL is optional for callers; only touch it when given a PIL image
        from PIL import Image

        if isinstance(x, Image.Image):
            x = _from_pil(x)
    except ImportError:  # pragma: no cover - pillow ships with matplotlib
        pass
    if isinstance(x, np.ndarray):
        t = _from_numpy_image(x)
    elif isinstance(x, torch.Tensor):
        t = _scaled_tensor(x)
    else:
        raise ValueError(
            f"expected the {name} as a torch tensor (C,H,W) or (1,C,H,W), a numpy "
            f"HxWxC image or a PIL image; got {type(x).__name__}"
        )
    if t.is_complex():
        raise ValueError(f"expected a real-valued {name}, got dtype {t.dtype}")
    if t.numel() == 0:
        raise ValueError(f"expected a non-empty {name}, got shape {tuple(t.shape)}")
    conv = _first_conv(model) if model is not None else None
    if conv is not None:
        spatial = conv.weight.ndim - 2  # 2 for Conv2d: the input is (C,H,W)
        if t.ndim == spatial + 1:
            t = t.unsqueeze(0)
        if t.ndim != spatial + 2 or t.shape[0] != 1:
            dims = ",".join("HWD"[:spatial] if spatial < 3 else "DHW")
            raise ValueError(
                f"expected one input shaped (C,{dims}) or (1,C,{dims}), got {name} of "
                f"shape {tuple(t.shape)}"
            )
        if t.shape[1] != conv.in_channels:
            raise ValueError(
                f"expected {conv.in_channels} input channel(s) (the model's first conv "
                f"layer takes {conv.in_channels}), got {name} with {t.shape[1]} "
                f"channel(s), shape {tuple(t.shape)}"
            )
        if not t.is_floating_point():
            raise ValueError(
                f"expected a floating-point, uint8, uint16 or bool image, got {name} of dtype "
                f"{t.dtype}, whose range is ambiguous; convert it first (e.g. x.float() / 255 "
                "for 8-bit values)"
            )
    elif t.ndim == 0:
        raise ValueError(f"expected the {name} to have at least one axis, got a scalar")
    elif t.ndim == 1 or t.shape[0] != 1:
        t = t.unsqueeze(0)
    if t.is_floating_point():
        if not torch.isfinite(t).all():
            bad = int((~torch.isfinite(t)).sum())
            raise ValueError(
                f"expected finite values in the {name}, found {bad} NaN/inf value(s)"
            )
        dtype = _model_dtype(model) if model is not None else t.dtype
    else:  # integer inputs (token ids) keep their dtype unless an image model wants floats
        dtype = _model_dtype(model) if model is not None and conv is not None else t.dtype
    device = model_device(model) if model is not None else t.device
    return t.to(device=device, dtype=dtype).clone()

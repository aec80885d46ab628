"""A picture for a network to paint: any image as ``(H, W, 3)`` uint8, or a sample photo.

The sample photos ship with scikit-image (no download).
"""
from __future__ import annotations

from typing import Any, Iterable, Tuple, Union, cast

import numpy as np
import torch

__all__ = ["SAMPLE_PICTURES", "default_picture_size", "load_picture"]

SAMPLE_PICTURES: Tuple[str, ...] = ("chelsea", "astronaut", "coffee", "rocket", "camera", "colorwheel")
"""Names of scikit-image sample photos a picture can be given by."""

_SAMPLE_SIZE = 96  # a sample photo is painted at 96x96 unless a size is given
_LARGEST_DEFAULT = 128  # an array is painted at its shorter side, up to this


def _sample(name: str) -> np.ndarray:
    from skimage import data

    if name not in SAMPLE_PICTURES:
        raise ValueError(f"unknown sample picture {name!r}; expected one of {', '.join(SAMPLE_PICTURES)} "
                         f"or an array, tensor or PIL image")
    return getattr(data, name)()


def _as_array(source: Any) -> np.ndarray:
    from PIL import Image

    if isinstance(source, str):
        return _sample(source)
    if isinstance(source, Image.Image):
        return np.asarray(source.convert("RGBA") if "A" in source.getbands() else source.convert("RGB"))
    if isinstance(source, torch.Tensor):
        t = source.detach().cpu()
        if t.ndim == 4 and t.shape[0] == 1:
            t = t[0]
        if t.ndim == 3 and t.shape[0] in (1, 3, 4):  # tensors are (C, H, W)
            t = t.permute(1, 2, 0)
        return t.numpy()
    return np.asarray(source)


def default_picture_size(source: Any) -> int:
    """The side a picture is painted at by default: 96 for a sample photo, else its
    shorter side up to 128."""
    if isinstance(source, str):
        return _SAMPLE_SIZE
    shape = _as_array(source).shape
    return int(min(_LARGEST_DEFAULT, max(2, min(shape[:2])))) if len(shape) >= 2 else 2


def load_picture(source: Any, size: Union[int, Tuple[int, int]]) -> np.ndarray:
    """A picture to paint, as ``(H, W, 3)`` uint8.

    Parameters
    ----------
    source : str, numpy.ndarray, torch.Tensor or PIL image
        A name from ``SAMPLE_PICTURES``; an array ``(H, W)``, ``(H, W, 1)``,
        ``(H, W, 3)`` or ``(H, W, 4)`` (uint8, or floats in [0, 1]); a tensor
        ``(C, H, W)``; or a PIL image. Greyscale is repeated into three
        channels; an alpha channel is composited over white.
    size : int or (H, W)
        An int cuts out the central square and resizes it (Lanczos) to
        ``size x size``; ``(H, W)`` resizes the whole picture instead.

    Returns
    -------
    numpy.ndarray
        ``(H, W, 3)`` uint8.
    """
    from PIL import Image

    a = _as_array(source)
    if a.ndim == 3 and a.shape[2] == 1:
        a = a[:, :, 0]
    if a.ndim not in (2, 3) or (a.ndim == 3 and a.shape[2] not in (3, 4)) or min(a.shape[:2]) < 1:
        raise ValueError(
            f"expected a picture shaped (H, W), (H, W, 1), (H, W, 3) or (H, W, 4), got {a.shape}"
        )
    if a.dtype != np.uint8:
        a = np.asarray(a, dtype=np.float64)
        if not np.isfinite(a).all():
            raise ValueError("the picture contains NaN or infinite values")
        if a.min() < 0 or a.max() > 1:
            raise ValueError(
                f"expected uint8 or floats in [0, 1] for the picture, got values in [{a.min():.3g}, {a.max():.3g}]"
            )
        a = np.rint(a * 255).astype(np.uint8)
    if a.ndim == 2:
        a = np.repeat(a[:, :, None], 3, axis=2)
    if a.shape[2] == 4:  # composite over white so transparent parts have a colour to learn
        alpha = a[:, :, 3:4].astype(np.float32) / 255.0
        a = np.rint(a[:, :, :3] * alpha + 255.0 * (1 - alpha)).astype(np.uint8)
    if isinstance(size, (int, np.integer)) and not isinstance(size, bool):
        s = min(a.shape[:2])
        top, left = (a.shape[0] - s) // 2, (a.shape[1] - s) // 2
        a = a[top:top + s, left:left + s]
        height = width = int(size)
    else:
        try:
            # anything but an int is read as a pair; a bool (an int to the type checker) fails here too
            height, width = (int(v) for v in cast(Iterable[Any], size))
        except (TypeError, ValueError):
            raise ValueError(f"expected a picture size as an int or (height, width), got {size!r}") from None
    if height < 2 or width < 2:
        raise ValueError(f"expected a picture size of at least 2x2, got {height}x{width}")
    if a.shape[:2] != (height, width):
        # PIL.Image sets its filter constants with setattr, unseen by type checkers;
        # Image.Resampling would need pillow>=9.1
        lanczos = Image.LANCZOS  # type: ignore[attr-defined]
        a = np.asarray(Image.fromarray(np.ascontiguousarray(a)).resize((width, height), lanczos))
    return np.ascontiguousarray(a)

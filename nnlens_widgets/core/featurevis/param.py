"""Image parameterisations: what the optimiser changes to make the picture.

A parameterisation owns leaf tensors (``.params``, handed to the optimiser)
and, called, returns a batch of images ``(B, C, H, W)`` in [0, 1]. Two kinds:

- :class:`PixelImage`: one free value per pixel and channel;
- :class:`FourierImage`: the image's 2-D real spectrum, scaled by ``1/f`` so
  that low frequencies dominate (Olah et al. 2017; lucent's defaults: spectrum
  drawn with sd 0.01, frequency floor ``1 / max(H, W)``, divided by 4).

Both pass through a fixed colour decorrelation (3-channel images only: the
square root of ImageNet's colour covariance, columns scaled to unit norm) and
a sigmoid, so any parameter value gives a valid image.
"""
from __future__ import annotations

from typing import List, Optional, Tuple

import torch

__all__ = [
    "COLOR_CORRELATION",
    "ImageParam",
    "PixelImage",
    "FourierImage",
    "decorrelate_colors",
    "correlate_colors",
    "image_param",
    "PARAMETERISATIONS",
]

PARAMETERISATIONS = ("fourier", "pixel")

# Square root of ImageNet's RGB covariance (the published lucid / lucent values);
# each column scaled so the longest has unit norm.
_SQRT_COLOR_COV = torch.tensor(
    [[0.26, 0.09, 0.02], [0.27, 0.00, -0.05], [0.27, -0.09, 0.03]], dtype=torch.float64
)
COLOR_CORRELATION = (_SQRT_COLOR_COV / _SQRT_COLOR_COV.norm(dim=0).max()).float()

# lucid's constant: the spectrum's image is divided by 4 to start unsaturated.
_FOURIER_DAMPING = 4.0


def decorrelate_colors(x: torch.Tensor) -> torch.Tensor:
    """Map decorrelated colour coordinates ``(B, 3, H, W)`` to correlated RGB (before the sigmoid)."""
    m = COLOR_CORRELATION.to(device=x.device, dtype=x.dtype)
    return torch.einsum("bchw,dc->bdhw", x, m)


def correlate_colors(rgb: torch.Tensor) -> torch.Tensor:
    """Inverse of :func:`decorrelate_colors` (RGB logits -> decorrelated coordinates)."""
    m = torch.linalg.inv(COLOR_CORRELATION.double()).to(device=rgb.device, dtype=rgb.dtype)
    return torch.einsum("bchw,dc->bdhw", rgb, m)


def own_generator(seed: Optional[int]) -> torch.Generator:
    """A generator of our own, seeded (or from fresh entropy for None): the global one is the user's."""
    generator = torch.Generator()
    if seed is None:
        generator.seed()
    else:
        generator.manual_seed(seed)
    return generator


class ImageParam:
    """Base: ``params`` to optimise, ``__call__()`` -> images in [0, 1]."""

    def __init__(self, shape: Tuple[int, int, int, int], decorrelate: bool):
        b, c, h, w = (int(v) for v in shape)
        if min(b, c, h, w) < 1:
            raise ValueError(f"expected an image shape (B, C, H, W) of positive sizes, got {shape}")
        self.shape = (b, c, h, w)
        self.decorrelate = bool(decorrelate) and c == 3
        self.params: List[torch.Tensor] = []

    def raw(self) -> torch.Tensor:  # pragma: no cover - overridden
        """Unbounded image logits ``(B, C, H, W)`` (decorrelated space for colour images)."""
        raise NotImplementedError

    def __call__(self) -> torch.Tensor:
        x = self.raw()
        if self.decorrelate:
            x = decorrelate_colors(x)
        return torch.sigmoid(x)


class PixelImage(ImageParam):
    """One free logit per pixel and channel, started near 0 (grey)."""

    def __init__(self, shape, sd: float = 0.01, decorrelate: bool = True,
                 generator: Optional[torch.Generator] = None, device=None):
        super().__init__(shape, decorrelate)
        init = torch.randn(self.shape, generator=generator if generator is not None else own_generator(None)) * sd
        self.pixels = init.to(device).requires_grad_(True)
        self.params = [self.pixels]

    def raw(self) -> torch.Tensor:
        return self.pixels


def _frequencies(h: int, w: int) -> torch.Tensor:
    """|f| of each coefficient of an ``rfft2`` of an h x w image (cycles per pixel)."""
    fy = torch.fft.fftfreq(h, dtype=torch.float64)[:, None]
    fx = torch.fft.rfftfreq(w, dtype=torch.float64)[None, :]
    return torch.sqrt(fx * fx + fy * fy)


class FourierImage(ImageParam):
    """The image's real spectrum (``rfft2`` layout), scaled by ``1 / max(|f|, 1/max(H, W)) ** decay``."""

    def __init__(self, shape, sd: float = 0.01, decay_power: float = 1.0, decorrelate: bool = True,
                 generator: Optional[torch.Generator] = None, device=None):
        super().__init__(shape, decorrelate)
        b, c, h, w = self.shape
        freqs = _frequencies(h, w)
        scale = 1.0 / torch.clamp(freqs, min=1.0 / max(h, w)) ** decay_power
        self.scale = scale.float().to(device)[None, None, :, :, None]
        init = torch.randn((b, c) + tuple(freqs.shape) + (2,), generator=generator if generator is not None else own_generator(None)) * sd
        self.spectrum = init.to(device).requires_grad_(True)  # (..., 2): real and imaginary parts
        self.params = [self.spectrum]

    def raw(self) -> torch.Tensor:
        _, _, h, w = self.shape
        spectrum = torch.view_as_complex((self.scale * self.spectrum).contiguous())
        return torch.fft.irfft2(spectrum, s=(h, w), norm="ortho") / _FOURIER_DAMPING


def image_param(kind: str = "fourier", size=128, channels: int = 3, batch: int = 1,
                decorrelate: bool = True, sd: float = 0.01, seed: Optional[int] = 0,
                device=None) -> ImageParam:
    """Make a parameterisation by name (``"fourier"`` or ``"pixel"``)."""
    if kind not in PARAMETERISATIONS:
        raise ValueError(f"expected a parameterisation in {PARAMETERISATIONS}, got {kind!r}")
    h, w = (size, size) if isinstance(size, int) else tuple(size)
    generator = own_generator(None if seed is None else int(seed))
    cls = FourierImage if kind == "fourier" else PixelImage
    return cls((batch, channels, h, w), sd=sd, decorrelate=decorrelate, generator=generator, device=device)

"""Random transformations applied to the image before each step.

Optimising through small random shifts, scalings and rotations keeps the
picture from exploiting pixel-exact high-frequency patterns (Olah et al.
2017). Each transform is a callable ``t(x, rng) -> x`` on a batch
``(B, C, H, W)``, differentiable (torchvision's functional ops on tensors);
``rng`` is a ``random.Random`` so a seeded run repeats exactly.

:func:`standard_transforms` gives lucent's recipe for a 128-pixel image (pad
12, jitter 8, scale 0.90-1.10, rotate +-10 degrees, jitter 4), with pixel
amounts scaled to the image size so small models (32 px) get the same
relative robustness.
"""
from __future__ import annotations

import random
from typing import Callable, List, Optional, Sequence, Tuple

import torch.nn.functional as F

__all__ = [
    "Pad", "Jitter", "RandomScale", "RandomRotate", "Normalize", "ResizeTo", "Compose",
    "standard_transforms", "IMAGENET_MEAN", "IMAGENET_STD",
]

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class Pad:
    """Pad every side by ``width`` pixels: a constant (0.5: mid grey) or a mirror image (``"reflect"``)."""

    def __init__(self, width: int, value: float = 0.5, mode: str = "constant"):
        if mode not in ("constant", "reflect", "replicate"):
            raise ValueError(f"expected pad mode 'constant', 'reflect' or 'replicate', got {mode!r}")
        self.width, self.value, self.mode = int(width), float(value), mode

    def __call__(self, x, rng=None):
        if not self.width:
            return x
        if self.mode == "constant":
            return F.pad(x, [self.width] * 4, mode="constant", value=self.value)
        return F.pad(x, [self.width] * 4, mode=self.mode)

    def __repr__(self):
        return f"Pad({self.width}, {self.mode if self.mode != 'constant' else self.value})"


class Jitter:
    """Shift by 0..d-1 pixels each way: a random crop of ``d - 1`` pixels less per axis (lucid's jitter)."""

    def __init__(self, d: int):
        if int(d) < 1:
            raise ValueError(f"expected a jitter of at least 1 pixel, got {d}")
        self.d = int(d)

    def __call__(self, x, rng):
        if self.d == 1:
            return x
        h, w = x.shape[-2:]
        dy, dx = rng.randrange(self.d), rng.randrange(self.d)
        return x[..., dy:h - (self.d - 1) + dy, dx:w - (self.d - 1) + dx]

    def __repr__(self):
        return f"Jitter({self.d})"


class RandomScale:
    """Resize by a factor drawn from ``scales`` (bilinear)."""

    def __init__(self, scales: Sequence[float]):
        self.scales = [float(s) for s in scales]
        if not self.scales or min(self.scales) <= 0:
            raise ValueError(f"expected positive scale factors, got {scales}")

    def __call__(self, x, rng):
        s = rng.choice(self.scales)
        if s == 1.0:
            return x
        h, w = x.shape[-2:]
        size = [max(1, round(h * s)), max(1, round(w * s))]
        from torchvision.transforms import InterpolationMode  # torchvision takes seconds to import
        from torchvision.transforms.v2 import functional as TF

        return TF.resize(x, size, interpolation=InterpolationMode.BILINEAR, antialias=False)

    def __repr__(self):
        return f"RandomScale({min(self.scales):.2f}..{max(self.scales):.2f})"


class RandomRotate:
    """Rotate about the centre by an angle (degrees) drawn from ``angles`` (bilinear)."""

    def __init__(self, angles: Sequence[float]):
        self.angles = [float(a) for a in angles]
        if not self.angles:
            raise ValueError("expected at least one rotation angle")

    def __call__(self, x, rng):
        a = rng.choice(self.angles)
        if a == 0.0:
            return x
        from torchvision.transforms import InterpolationMode
        from torchvision.transforms.v2 import functional as TF

        return TF.rotate(x, a, interpolation=InterpolationMode.BILINEAR)

    def __repr__(self):
        return f"RandomRotate({min(self.angles):g}..{max(self.angles):g})"


class Normalize:
    """``(x - mean) / std`` per channel: what the model expects after its [0, 1] input."""

    def __init__(self, mean: Sequence[float], std: Sequence[float]):
        self.mean, self.std = list(map(float, mean)), list(map(float, std))
        if len(self.mean) != len(self.std) or min(self.std) <= 0:
            raise ValueError(f"expected equal-length mean/std with std > 0, got {mean}, {std}")

    def __call__(self, x, rng=None):
        if x.shape[1] != len(self.mean):
            raise ValueError(
                f"normalisation has {len(self.mean)} channel(s) but the image has {x.shape[1]}"
            )
        from torchvision.transforms.v2 import functional as TF

        return TF.normalize(x, self.mean, self.std)

    def __repr__(self):
        return f"Normalize({self.mean}, {self.std})"


class ResizeTo:
    """Resize to a fixed size (lucent enlarges images under 224 px for ImageNet models)."""

    def __init__(self, size: Tuple[int, int]):
        self.size = [int(size[0]), int(size[1])]

    def __call__(self, x, rng=None):
        if list(x.shape[-2:]) == self.size:
            return x
        return F.interpolate(x, size=self.size, mode="bilinear", align_corners=True)

    def __repr__(self):
        return f"ResizeTo({self.size})"


class Compose:
    """Apply transforms in order with one random source."""

    def __init__(self, transforms: Sequence[Callable]):
        self.transforms: List[Callable] = list(transforms)

    def __call__(self, x, rng):
        for t in self.transforms:
            x = t(x, rng)
        return x

    def __repr__(self):
        return "Compose([" + ", ".join(map(repr, self.transforms)) + "])"


def standard_transforms(size: int = 128, pad_mode: str = "constant") -> List[Callable]:
    """lucent's robustness transforms, pixel amounts scaled by ``size / 128``.

    ``pad_mode="constant"`` pads with mid grey (lucent, right for ImageNet
    models, whose average input is grey); ``"reflect"`` suits models whose
    inputs have another background (the black of the digits): a grey frame
    would itself excite edge detectors and the picture would learn the frame.
    """
    f = max(int(size), 1) / 128.0
    return [
        Pad(max(1, round(12 * f)), value=0.5, mode=pad_mode),
        Jitter(max(1, round(8 * f))),
        RandomScale([1 + (i - 5) / 50.0 for i in range(11)]),
        RandomRotate(list(range(-10, 11)) + 5 * [0]),
        Jitter(max(1, round(4 * f))),
    ]


def new_rng(seed: Optional[int]) -> random.Random:
    return random.Random(seed)

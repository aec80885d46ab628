"""Synthetic coloured shapes with exact masks, and a small CNN trained on them.

Every image holds one shape (``SHAPE_CLASSES``) drawn in a colour from a fixed
palette on a textured background; the generator knows which pixels it painted,
so the shape's mask is exact and attribution maps can be scored against it.
Each image also carries concept attributes (shape colour, background texture,
size class) for concept-based methods. Everything is drawn from a seeded
``numpy.random.Generator``: the same seed gives the same images, bit for bit.

Run ``python -m nnlens_widgets.zoo.shapes`` to retrain the model and rewrite
the shipped weights.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, List, Mapping, Optional, Sequence, Union

import numpy as np
import torch
from torch import nn

from .shapes_drawing import (
    _AREA_FACTORS,
    COLOR_JITTER,
    LARGE_AREAS,
    PALETTE,
    SHAPE_CLASSES,
    SHAPE_CONCEPTS,
    SIZE_THRESHOLD,
    SIZES,
    SMALL_AREAS,
    TEXTURES,
    _paint,
    _rasterise,
)
from .shapes_drawing import BACKGROUND_NOISE as BACKGROUND_NOISE, SHAPE_NOISE as SHAPE_NOISE  # still read from here
from .shapes_drawing import CROSS_HALF_WIDTH as CROSS_HALF_WIDTH, STAR_INNER as STAR_INNER
from .training import accuracy, epoch_printer, fit_classifier, load_weights, retrain, save_weights, seeded

__all__ = [
    "SHAPE_CLASSES",
    "SHAPE_CONCEPTS",
    "PALETTE",
    "SIZE_THRESHOLD",
    "WEIGHTS_PATH",
    "Shapes",
    "ShapesSplits",
    "ShapesCNN",
    "make_shapes",
    "shapes_data",
    "concept_examples",
    "shapes_cnn",
    "train_shapes_cnn",
    "accuracy",
]

WEIGHTS_PATH = Path(__file__).parent / "weights" / "shapes_cnn.pt"


@dataclass(frozen=True, eq=False)
class Shapes:
    """A batch of generated images with labels, exact masks and attributes.

    ``images``: ``(N, 3, S, S)`` float32 in [0, 1]; ``labels``: ``(N,)`` int64
    indices into ``classes``; ``masks``: ``(N, S, S)`` bool, True where the
    shape was painted. ``attributes`` maps a name to one entry per image:
    ``shape``, ``color``, ``texture``, ``size`` (lists of str) and ``cx``,
    ``cy`` (shape centre in pixels; x is the column, pixel centres are at
    integer coordinates), ``radius`` (circumradius in pixels), ``angle``
    (rotation in radians; 0 for circles), ``area`` (mask pixel count) and
    ``rgb`` (``(N, 3)`` colour of the shape after jitter), as numpy arrays.
    """

    images: torch.Tensor
    labels: torch.Tensor
    masks: torch.Tensor
    attributes: Dict[str, Union[list, np.ndarray]]
    classes: List[str]

    def __len__(self) -> int:
        return len(self.labels)

    def subset(self, index: Union[Sequence[int], np.ndarray, torch.Tensor]) -> "Shapes":
        """The images at ``index`` (positions in this batch), with their attributes."""
        index = np.asarray(index, dtype=np.int64).reshape(-1)
        t = torch.from_numpy(index)
        attributes = {
            k: [v[i] for i in index] if isinstance(v, list) else v[index] for k, v in self.attributes.items()
        }
        return Shapes(self.images[t], self.labels[t], self.masks[t], attributes, list(self.classes))


@dataclass(frozen=True, eq=False)
class ShapesSplits:
    """Fixed train and test sets (see ``shapes_data``)."""

    train: Shapes
    test: Shapes
    classes: List[str]

    # The names ``training.fit_classifier`` reads.
    x_train = property(lambda self: self.train.images)
    y_train = property(lambda self: self.train.labels)
    x_test = property(lambda self: self.test.images)
    y_test = property(lambda self: self.test.labels)


# --- parameters -------------------------------------------------------------

_FORCEABLE = {"shape": SHAPE_CLASSES, **SHAPE_CONCEPTS}


def _check_forced(forced: Mapping[str, str]) -> Dict[str, int]:
    """Turn ``{"color": "red"}`` into ``{"color": 0}``, with clear errors."""
    index = {}
    for name, value in forced.items():
        if name not in _FORCEABLE:
            raise KeyError(f"unknown shapes attribute {name!r}; expected one of {sorted(_FORCEABLE)}")
        values = _FORCEABLE[name]
        if value not in values:
            raise ValueError(f"unknown value {value!r} for attribute {name!r}; expected one of {values}")
        index[name] = values.index(value)
    return index


def _choice(rng: np.random.Generator, n: int, k: int, forced: Optional[int]) -> np.ndarray:
    """``n`` category indices in ``range(k)``, as balanced as ``n`` allows, in random order."""
    if forced is not None:
        return np.full(n, forced, dtype=np.int64)
    return rng.permutation(np.arange(n) % k)


def _parameters(rng: np.random.Generator, n: int, size: int, forced: Mapping[str, int]) -> Dict[str, np.ndarray]:
    """Everything random about ``n`` images except the per-pixel noise."""
    scale = (size / 64.0) ** 2
    p: Dict[str, np.ndarray] = {}
    p["label"] = _choice(rng, n, len(SHAPE_CLASSES), forced.get("shape"))
    p["color"] = _choice(rng, n, len(PALETTE), forced.get("color"))
    p["texture"] = _choice(rng, n, len(TEXTURES), forced.get("texture"))
    p["size"] = _choice(rng, n, len(SIZES), forced.get("size"))
    # Area first, then the radius that gives it: the size class is then
    # independent of the shape class.
    low = np.where(p["size"] == 1, LARGE_AREAS[0], SMALL_AREAS[0]) * scale
    high = np.where(p["size"] == 1, LARGE_AREAS[1], SMALL_AREAS[1]) * scale
    area = rng.uniform(low, high)
    p["radius"] = np.sqrt(area / _AREA_FACTORS[p["label"]])
    # Centre so that the whole circumcircle, plus one pixel, lies in the image.
    margin = p["radius"] + 1.0
    p["cx"] = rng.uniform(margin, size - 1 - margin)
    p["cy"] = rng.uniform(margin, size - 1 - margin)
    p["angle"] = np.where(p["label"] == 0, 0.0, rng.uniform(0, 2 * np.pi, n))
    palette = np.array(list(PALETTE.values()))
    p["rgb"] = np.clip(palette[p["color"]] + rng.uniform(-COLOR_JITTER, COLOR_JITTER, (n, 3)), 0, 1)
    # Background: two colours of differing brightness, each mildly tinted, so
    # brightness alone never separates shape from background.
    level = rng.uniform(0.15, 0.85, n)
    contrast = rng.uniform(0.15, 0.45, n)
    tint = rng.uniform(-0.15, 0.15, (2, n, 3))
    p["bg0"] = np.clip((level - contrast / 2)[:, None] + tint[0], 0, 1)
    p["bg1"] = np.clip((level + contrast / 2)[:, None] + tint[1], 0, 1)
    p["direction"] = rng.uniform(0, 2 * np.pi, n)  # stripes and gradient
    p["period"] = rng.uniform(5.0, 12.0, n) * size / 64  # stripes and checker
    p["phase"] = rng.uniform(0, 1, (n, 2))  # stripes and checker offsets
    return p


def _generate(rng: np.random.Generator, n: int, size: int, forced: Mapping[str, int], chunk: int = 500) -> Shapes:
    p = _parameters(rng, n, size, forced)
    images = np.empty((n, 3, size, size), dtype=np.float32)
    masks = np.empty((n, size, size), dtype=bool)
    for start in range(0, n, chunk):
        part = {k: v[start : start + chunk] for k, v in p.items()}
        masks[start : start + chunk] = _rasterise(part, size)
        images[start : start + chunk] = _paint(part, masks[start : start + chunk], rng)
    attributes: Dict[str, Union[list, np.ndarray]] = {
        "shape": [SHAPE_CLASSES[i] for i in p["label"]],
        "color": [list(PALETTE)[i] for i in p["color"]],
        "texture": [TEXTURES[i] for i in p["texture"]],
        "size": [SIZES[i] for i in p["size"]],
        "cx": p["cx"],
        "cy": p["cy"],
        "radius": p["radius"],
        "angle": p["angle"],
        "area": masks.sum(axis=(1, 2)),
        "rgb": p["rgb"].astype(np.float32),
    }
    return Shapes(
        torch.from_numpy(images),
        torch.from_numpy(p["label"].astype(np.int64)),
        torch.from_numpy(masks),
        attributes,
        list(SHAPE_CLASSES),
    )


def _check_count(name: str, n: int) -> None:
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
        raise ValueError(f"{name} must be a non-negative integer, got {n!r}")


def make_shapes(n: int, seed: int = 0, size: int = 64) -> Shapes:
    """``n`` random shape images of ``size`` x ``size`` pixels, the same for the same ``seed``.

    Classes are balanced (``n // 5`` or one more of each), as are colours,
    textures and size classes, in independent random orders. Each shape lies
    entirely inside the image with a pixel to spare; its area is drawn from
    ``SMALL_AREAS`` or ``LARGE_AREAS`` (scaled by ``(size / 64)^2``) and the
    circumradius chosen to give that area, so the size class does not reveal
    the shape. Uses only a private ``numpy.random.default_rng(seed)``.
    """
    _check_count("n", n)
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 32:
        raise ValueError(f"size must be an integer >= 32, got {size!r}")
    return _generate(np.random.default_rng(seed), int(n), int(size), {})


def shapes_data(seed: int = 0, n_train: int = 6000, n_test: int = 1000) -> ShapesSplits:
    """Fixed train and test sets: ``make_shapes(n_train, seed)`` and ``make_shapes(n_test, seed + 10_000)``.

    The test set does not depend on ``n_train`` (pass ``n_train=0`` to get only it).
    """
    _check_count("n_train", n_train)
    _check_count("n_test", n_test)
    return ShapesSplits(make_shapes(n_train, seed), make_shapes(n_test, seed + 10_000), list(SHAPE_CLASSES))


def concept_examples(attribute: str, value: str, n: int, seed: int = 0, size: int = 64) -> Shapes:
    """``n`` images whose ``attribute`` (``shape``, ``color``, ``texture`` or ``size``) equals ``value``.

    The attribute is fixed while everything else is drawn as in
    ``make_shapes``, so the other attributes vary independently of it.
    """
    forced = _check_forced({attribute: value})
    _check_count("n", n)
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 32:
        raise ValueError(f"size must be an integer >= 32, got {size!r}")
    # Offset the seed stream so concept sets are not the training images.
    return _generate(np.random.default_rng([seed, 1 + list(_FORCEABLE).index(attribute)]), int(n), int(size), forced)


# --- model ------------------------------------------------------------------


class ShapesCNN(nn.Module):
    """Four conv-BatchNorm-ReLU stages over 3x64x64 RGB input in [0, 1] (no normalisation needed).

    Every step is its own named module (separate, not in-place ``ReLU``s) so
    each one's output can be probed, and each BatchNorm can be swapped for
    another layer of the same shape. Maps: 16 at 64x64 (``conv1``..``relu1``),
    32 at 32x32 (``pool1``, ``conv2``..``relu2``), 64 at 16x16 (``pool2``,
    ``conv3``..``relu3``), 64 at 8x8 (``pool3``, ``conv4``..``relu4``), then
    global average pooling and a linear layer to 5 logits.
    """

    # the stages' modules, added by name in __init__ (declared here for the type checker)
    conv1: nn.Conv2d
    conv2: nn.Conv2d
    conv3: nn.Conv2d
    conv4: nn.Conv2d
    bn1: nn.BatchNorm2d
    bn2: nn.BatchNorm2d
    bn3: nn.Module  # concept whitening may take its place (zoo.shapes_concepts)
    bn4: nn.BatchNorm2d
    relu1: nn.ReLU
    relu2: nn.ReLU
    relu3: nn.ReLU
    relu4: nn.ReLU
    pool1: nn.MaxPool2d
    pool2: nn.MaxPool2d
    pool3: nn.MaxPool2d

    def __init__(self, num_classes: int = len(SHAPE_CLASSES), widths: Sequence[int] = (16, 32, 64, 64)):
        super().__init__()
        if len(widths) != 4:
            raise ValueError(f"widths must give the channels of the 4 stages, got {widths!r}")
        # Registered in this order (conv1, bn1, relu1, pool1, conv2, ...): the layer
        # order users see, and the order the seeded initialisation draws in.
        for stage, (c_in, c_out) in enumerate(zip((3, *widths), widths), start=1):
            self.add_module(f"conv{stage}", nn.Conv2d(c_in, c_out, 3, padding=1, bias=False))
            self.add_module(f"bn{stage}", nn.BatchNorm2d(c_out))
            self.add_module(f"relu{stage}", nn.ReLU())
            if stage < 4:
                self.add_module(f"pool{stage}", nn.MaxPool2d(2))
        self.gap = nn.AdaptiveAvgPool2d(1)
        self.flatten = nn.Flatten()
        self.fc = nn.Linear(widths[3], num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool1(self.relu1(self.bn1(self.conv1(x))))
        x = self.pool2(self.relu2(self.bn2(self.conv2(x))))
        x = self.pool3(self.relu3(self.bn3(self.conv3(x))))
        x = self.relu4(self.bn4(self.conv4(x)))
        return self.fc(self.flatten(self.gap(x)))


def _augment(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Random flips and quarter turns: every class is unchanged by them."""
    flip, turn = torch.randint(0, 2, (2,), generator=generator).tolist()
    if flip:
        x = x.flip(3)
    return x.rot90(1, (2, 3)) if turn else x


def train_shapes_cnn(
    epochs: int = 8,
    seed: int = 0,
    on_progress: Optional[Callable[[int, float, float], None]] = None,
    data: Optional[ShapesSplits] = None,
    batch_size: int = 64,
    lr: float = 5e-3,
) -> ShapesCNN:
    """Train a ``ShapesCNN`` on ``shapes_data(seed)`` (or on ``data`` when given).

    AdamW with a one-cycle learning-rate schedule, random flips and quarter
    turns per batch. The same ``seed`` gives bit-identical weights on the same
    machine and thread count: initialisation draws from a seeded copy of the
    global RNG (the caller's RNG state is restored afterwards), batch order and
    augmentation from a private generator. ``on_progress(epoch, loss,
    test_accuracy)`` is called after each epoch (1-based, mean training loss).
    Returns the model in eval mode.
    """
    if data is None:
        data = shapes_data(seed)
    generator = torch.Generator().manual_seed(seed)
    model = seeded(ShapesCNN, seed)
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-4)
    return fit_classifier(model, data, epochs, batch_size, optimizer, generator, _augment, on_progress)


def shapes_cnn(pretrained: bool = True) -> ShapesCNN:
    """A ``ShapesCNN`` in eval mode: the shipped weights, or a random init if not ``pretrained``."""
    return load_weights(ShapesCNN(), WEIGHTS_PATH) if pretrained else ShapesCNN().eval()


def main() -> None:
    """Retrain with the default settings and overwrite ``WEIGHTS_PATH``."""

    def train(elapsed: Callable[[], float]) -> nn.Module:
        data = shapes_data()
        print(f"generated {len(data.train)} + {len(data.test)} images in {elapsed():.1f} s", flush=True)
        return train_shapes_cnn(on_progress=epoch_printer(elapsed), data=data)

    test = shapes_data(n_train=0).test  # the same test set as ``train`` draws
    retrain(train, lambda model: save_weights(model, WEIGHTS_PATH),
            lambda model: f"test accuracy {accuracy(model, test.images, test.labels):.4f}", "data and training")


if __name__ == "__main__":
    main()

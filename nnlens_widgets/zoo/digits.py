"""A small CNN for scikit-learn's handwritten digits, trained by our own code.

The digits (1,797 greyscale 8x8 images that ship with scikit-learn, so nothing
is downloaded) are upsampled to 32x32 so that the feature maps of the early
layers are big enough to be worth looking at. Run ``python -m
nnlens_widgets.zoo.digits`` to retrain the model and rewrite the shipped weights.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, ClassVar, List, Optional

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .training import accuracy, fit_classifier, load_weights, save_weights, seeded

__all__ = [
    "DIGIT_CLASSES",
    "WEIGHTS_PATH",
    "DigitsData",
    "DigitsCNN",
    "digits_data",
    "digits_cnn",
    "train_digits_cnn",
    "accuracy",
]

DIGIT_CLASSES: List[str] = [str(d) for d in range(10)]
WEIGHTS_PATH = Path(__file__).parent / "weights" / "digits_cnn.pt"


@dataclass(frozen=True)
class DigitsData:
    """Train/test split of the digits; ``*_index`` are row numbers in ``load_digits()``."""

    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    train_index: torch.Tensor
    test_index: torch.Tensor
    classes: ClassVar[List[str]] = DIGIT_CLASSES


def digits_data(size: int = 32, seed: int = 0) -> DigitsData:
    """scikit-learn's ``load_digits`` as float images in [0, 1], split 75/25.

    Images are ``(N, 1, size, size)`` float32: the 8x8 originals (values 0..16)
    are divided by 16 and upsampled with bilinear interpolation
    (``align_corners=False``), which only averages pixels and so stays in
    [0, 1]. Labels are int64 class indices 0..9 (see ``DIGIT_CLASSES``). The
    split is ``train_test_split(test_size=0.25, random_state=seed,
    stratify=y)``: 1,347 training and 450 test images, every class in the
    same proportion in both, the same split for the same ``seed``.
    """
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    images, labels = load_digits(return_X_y=True)
    x = torch.from_numpy(images.astype(np.float32) / 16.0).reshape(-1, 1, 8, 8)
    if size != 8:
        x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)
    y = torch.from_numpy(labels.astype(np.int64))
    train, test = train_test_split(
        np.arange(len(y)), test_size=0.25, random_state=seed, stratify=labels
    )
    train, test = torch.from_numpy(train), torch.from_numpy(test)
    return DigitsData(x[train], y[train], x[test], y[test], train, test)


class DigitsCNN(nn.Module):
    """Three 3x3 conv layers, two max-pools and a linear classifier over 1x32x32 input.

    Every step is its own named module (separate, not in-place ``ReLU``s) so
    that each one's output can be probed: 16 maps at 32x32 (``conv1``/``relu1``),
    32 maps at 32x32 (``conv2``/``relu2``) and 16x16 (``pool1``), 64 maps at
    16x16 (``conv3``/``relu3``) and 8x8 (``pool2``).
    """

    def __init__(self, num_classes: int = 10):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 16, 3, padding=1)
        self.relu1 = nn.ReLU()
        self.conv2 = nn.Conv2d(16, 32, 3, padding=1)
        self.relu2 = nn.ReLU()
        self.pool1 = nn.MaxPool2d(2)
        self.conv3 = nn.Conv2d(32, 64, 3, padding=1)
        self.relu3 = nn.ReLU()
        self.pool2 = nn.MaxPool2d(2)
        self.gap = nn.AdaptiveAvgPool2d(1)
        self.flatten = nn.Flatten()
        self.fc = nn.Linear(64, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu1(self.conv1(x))
        x = self.pool1(self.relu2(self.conv2(x)))
        x = self.pool2(self.relu3(self.conv3(x)))
        return self.fc(self.flatten(self.gap(x)))


def _shift(x: torch.Tensor, max_shift: int, generator: torch.Generator) -> torch.Tensor:
    """Move each image by up to ``max_shift`` pixels each way, filling with background."""
    n, _, h, w = x.shape
    padded = F.pad(x, [max_shift] * 4)
    dy, dx = torch.randint(0, 2 * max_shift + 1, (2, n), generator=generator).tolist()
    return torch.stack([padded[i, :, a : a + h, b : b + w] for i, (a, b) in enumerate(zip(dy, dx))])


def train_digits_cnn(
    epochs: int = 40,
    seed: int = 0,
    on_progress: Optional[Callable[[int, float, float], None]] = None,
    batch_size: int = 32,
    lr: float = 1e-2,
    max_shift: int = 1,
) -> DigitsCNN:
    """Train a ``DigitsCNN`` on the ``digits_data(seed=seed)`` training split.

    Adam with a one-cycle learning-rate schedule and random shifts of up to
    ``max_shift`` pixels. The same ``seed`` gives bit-identical weights on the
    same machine and thread count: initialisation draws from a seeded copy of
    the global RNG (the caller's RNG state is restored afterwards) and batch
    order and shifts from a private generator. ``on_progress(epoch, loss,
    test_accuracy)`` is called after each epoch (1-based, mean training loss).
    Returns the model in eval mode.
    """
    data = digits_data(seed=seed)
    generator = torch.Generator().manual_seed(seed)
    model = seeded(DigitsCNN, seed)
    shift = (lambda x, g: _shift(x, max_shift, g)) if max_shift else None
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    return fit_classifier(model, data, epochs, batch_size, optimizer, generator, shift, on_progress)


def digits_cnn(pretrained: bool = True) -> DigitsCNN:
    """A ``DigitsCNN`` in eval mode: the shipped weights, or a random init if not ``pretrained``."""
    return load_weights(DigitsCNN(), WEIGHTS_PATH) if pretrained else DigitsCNN().eval()


def main() -> None:
    """Retrain with the default settings and overwrite ``WEIGHTS_PATH``."""
    start = time.perf_counter()

    def report(epoch: int, loss: float, acc: float) -> None:
        print(f"epoch {epoch:2d}  loss {loss:.4f}  test accuracy {acc:.4f}", flush=True)

    model = train_digits_cnn(on_progress=report)
    elapsed = time.perf_counter() - start
    data = digits_data()
    save_weights(model, WEIGHTS_PATH)
    print(f"test accuracy {accuracy(model, data.x_test, data.y_test):.4f}")
    print(f"training took {elapsed:.1f} s on {torch.get_num_threads()} threads")


if __name__ == "__main__":
    main()

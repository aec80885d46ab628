"""``MOD:FN`` callables for the scan command in tests (model and map-style data sets)."""
from __future__ import annotations

import os

import torch
from torch.utils.data import Dataset

import nnlens_widgets as nl

#: Images of the digits test split the scan tests use (small: every launch stays quick).
IMAGES = 150


#: every model the factories built, last one last (the scan's own instance, to check afterwards)
BUILT = []
#: images read through ``counting_digits`` items
READS = [0]


def digits_model():
    """The zoo's digits CNN; ``NNLENS_TEST_MOVE_WEIGHT=1`` moves one weight (another model hash)."""
    model = nl.zoo.digits_cnn()
    if os.environ.get("NNLENS_TEST_MOVE_WEIGHT"):
        with torch.no_grad():
            model.conv1.weight[0, 0, 0, 0] += 0.5
    BUILT.append(model)
    return model


def raising_model():
    raise FileNotFoundError("weights.pt is not here")


def raising_data():
    raise RuntimeError("the data share is not mounted")


class Counting(Dataset):
    """The digits test split, counting every item read (``READS``)."""

    def __init__(self, n: int = IMAGES):
        self.inner = DigitsTest(n)

    def __len__(self):
        return len(self.inner)

    def __getitem__(self, i):
        READS[0] += 1
        return self.inner[i]


def counting_digits():
    return Counting()


class WithNaN(Dataset):
    """The digits test split with image 7 all NaN and image 30 holding one inf."""

    def __init__(self):
        self.inner = DigitsTest()

    def __len__(self):
        return len(self.inner)

    def __getitem__(self, i):
        x, y = self.inner[i]
        if i == 7:
            x = torch.full_like(x, float("nan"))
        elif i == 30:
            x = x.clone()
            x[0, 3, 3] = float("inf")
        return x, y


def digits_with_nan():
    return WithNaN()


class BadLength(Dataset):
    def __len__(self):
        raise OSError("index file unreadable")

    def __getitem__(self, i):
        return torch.zeros(1, 8, 8)


def bad_length():
    return BadLength()


class DigitsTest(Dataset):
    """``(image, label)`` items of the digits test split.

    ``NNLENS_TEST_FAIL_AT=i`` makes item ``i`` raise (a rank that fails mid-scan);
    ``NNLENS_TEST_IMAGES=n`` keeps only the first ``n`` (another data length).
    """

    def __init__(self, n: int = IMAGES):
        n = int(os.environ.get("NNLENS_TEST_IMAGES", n))
        d = nl.zoo.digits_data()
        self.x, self.y = d.x_test[:n], d.y_test[:n]
        fail = os.environ.get("NNLENS_TEST_FAIL_AT")
        self.fail_at = int(fail) if fail else None

    def __len__(self):
        return len(self.x)

    def __getitem__(self, i):
        if i == self.fail_at:
            raise RuntimeError(f"unreadable test image {i}")
        return self.x[i], self.y[i]


def digits_test():
    return DigitsTest()


def not_a_dataset():
    return 42


def not_a_model():
    return torch.zeros(3)

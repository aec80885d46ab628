"""``MOD:FN`` callables for the scan command in tests (model and map-style data sets)."""
from __future__ import annotations

import os

import torch
from torch.utils.data import Dataset

import nnlens_widgets as nl

#: Images of the digits test split the scan tests use (small: every launch stays quick).
IMAGES = 150


def digits_model():
    return nl.zoo.digits_cnn()


class DigitsTest(Dataset):
    """``(image, label)`` items of the digits test split.

    ``NNLENS_TEST_FAIL_AT=i`` makes item ``i`` raise (a rank that fails mid-scan).
    """

    def __init__(self, n: int = IMAGES):
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

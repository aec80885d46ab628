"""``MOD:FN`` callables the scan benchmark hands to ``python -m nnlens_widgets.scan``."""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import Dataset

import nnlens_widgets as nl


def digits_model():
    return nl.zoo.digits_cnn()


class Digits(Dataset):
    """All 1,797 scikit-learn digits as ``(image, label)``: 32 px grey, or 224 px RGB (made per item)."""

    def __init__(self, size: int = 32, channels: int = 1):
        from sklearn.datasets import load_digits

        images, labels = load_digits(return_X_y=True)
        self.x = torch.from_numpy(images.astype(np.float32) / 16.0).reshape(-1, 1, 8, 8)
        self.y = torch.from_numpy(labels.astype(np.int64))
        self.size, self.channels = size, channels

    def __len__(self):
        return len(self.x)

    def __getitem__(self, i):
        x = F.interpolate(self.x[i:i + 1], size=(self.size, self.size), mode="bilinear", align_corners=False)[0]
        return x.expand(self.channels, -1, -1).contiguous(), self.y[i]


def digits_32():
    return Digits(32, 1)


def digits_224_rgb():
    return Digits(224, 3)


def resnet18_random():
    import torchvision

    torch.manual_seed(0)
    return torchvision.models.resnet18(weights=None)

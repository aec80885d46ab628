"""Small models shared by the tests."""
import torch
from torch import nn


class TinyNet(nn.Module):
    """conv -> in-place ReLU -> conv -> BN -> ReLU -> pool -> linear, with a forward counter."""

    def __init__(self, in_ch=3, n_classes=5):
        super().__init__()
        self.conv1 = nn.Conv2d(in_ch, 4, 3, padding=1)
        self.relu1 = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(4, 6, 3, padding=1)
        self.bn = nn.BatchNorm2d(6)
        self.relu2 = nn.ReLU()
        self.pool = nn.AdaptiveAvgPool2d(2)
        self.fc = nn.Linear(24, n_classes)
        self.dropout = nn.Dropout(0.5)
        self._passes = [0]  # a list: the private twins a look runs share it with the model

    @property
    def forward_calls(self) -> int:
        """Forward passes run by the model or any look at it."""
        return self._passes[0]

    def forward(self, x):
        self._passes[0] += 1
        x = self.relu1(self.conv1(x))
        x = self.relu2(self.bn(self.conv2(x)))
        return self.dropout(self.fc(self.pool(x).flatten(1)))


class Pair(nn.Module):
    """A module whose output is a tuple, like nn.LSTM."""

    def forward(self, x):
        return x, x * 2


class TupleNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 2, 3)
        self.pair = Pair()
        self.head = nn.Conv2d(2, 2, 1)

    def forward(self, x):
        a, b = self.pair(self.conv(x))
        return self.head(a + b)


class Broken(nn.Module):
    """Runs its first layer, then raises."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 2, 3)

    def forward(self, x):
        self.conv(x)
        raise RuntimeError("deliberate failure in forward")


class Wide(nn.Module):
    """A layer with many channels, to exercise paging."""

    def __init__(self, channels=600):
        super().__init__()
        self.conv = nn.Conv2d(3, channels, 1)
        self.relu = nn.ReLU()

    def forward(self, x):
        return self.relu(self.conv(x))


def image(c=3, h=12, w=12, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(c, h, w, generator=g)

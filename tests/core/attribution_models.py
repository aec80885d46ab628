"""Small models for the attribution tests: the same network written with ReLU
modules (in-place, reused) and with functional relu calls."""
import torch
import torch.nn.functional as F
from torch import nn


class ModuleReluNet(nn.Module):
    """conv -> ReLU(inplace) -> conv -> BN -> ReLU -> conv -> ReLU -> pool -> linear."""

    def __init__(self, in_ch=3, classes=5, inplace=True):
        super().__init__()
        self.conv1 = nn.Conv2d(in_ch, 6, 3, padding=1)
        self.relu1 = nn.ReLU(inplace=inplace)
        self.conv2 = nn.Conv2d(6, 8, 3, padding=1)
        self.bn = nn.BatchNorm2d(8)
        self.relu2 = nn.ReLU()
        self.conv3 = nn.Conv2d(8, 8, 3, padding=1)
        self.relu3 = nn.ReLU()
        self.pool = nn.AdaptiveAvgPool2d(2)
        self.fc = nn.Linear(32, classes)

    def forward(self, x):
        x = self.relu1(self.conv1(x))
        x = self.relu2(self.bn(self.conv2(x)))
        x = self.relu3(self.conv3(x))
        return self.fc(self.pool(x).flatten(1))


class FunctionalReluNet(ModuleReluNet):
    """The same weights, relu called three different functional ways."""

    def forward(self, x):
        x = F.relu(self.conv1(x), inplace=True)
        x = torch.relu(self.bn(self.conv2(x)))
        x = self.conv3(x).relu()
        return self.fc(self.pool(x).flatten(1))


class ReusedReluNet(ModuleReluNet):
    """One in-place ReLU module used for every activation (as torchvision's ResNet does)."""

    def forward(self, x):
        x = self.relu1(self.conv1(x))
        x = self.relu1(self.bn(self.conv2(x)))
        x = self.relu1(self.conv3(x))
        return self.fc(self.pool(x).flatten(1))


def randomised(model, seed=0):
    """Give BatchNorm non-trivial statistics so eval mode matters."""
    g = torch.Generator().manual_seed(seed)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.copy_(torch.randn(m.num_features, generator=g) * 0.1)
            m.running_var.copy_(torch.rand(m.num_features, generator=g) + 0.5)
    return model.eval()


def reference_conv_model():
    """REFERENCE.md: Conv2d(1,2,3) ones, bias [-50,-75]; ReLU; flatten; Linear(8,4); ReLU."""
    conv = nn.Conv2d(1, 2, 3)
    conv.weight.data.fill_(1.0)
    conv.bias.data = torch.tensor([-50.0, -75.0])
    lin = nn.Linear(8, 4)
    lin.weight.data = torch.tensor([[1.0, 1, 1, 1, 1, -1, -1, -1]]).repeat(4, 1)
    lin.bias.data.zero_()
    return nn.Sequential(conv, nn.ReLU(), nn.Flatten(), lin, nn.ReLU()).eval()


class ReluToy(nn.Module):
    """f = ReLU(ReLU(x1) - 1 - ReLU(x2)), output (N, 1)."""

    def forward(self, x):
        x1, x2 = x[:, 0], x[:, 1]
        return F.relu(F.relu(x1) - 1 - F.relu(x2)).unsqueeze(1)


import pytest  # noqa: E402


@pytest.fixture(autouse=True, scope="module")
def single_thread():
    """Tiny models run fastest on one thread; on a loaded 2-core machine, many times faster."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(n)

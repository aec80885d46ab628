"""A network whose feature visualisation lies (Geirhos et al. 2023's fooling circuit, in small).

Unit ``units`` channel ``FOOLED`` answers natural images exactly like
``relu2`` channel ``FOOLED`` (a trained digits feature), but a detector that
tells natural images from synthetic ones (digits are mostly black, a
visualisation starts mid grey) switches it, for anything that is not a
natural image, to a silent path: a grating detector. Gradient ascent on the unit therefore paints stripes,
a picture of nothing the unit does on natural data.
"""
import torch
from torch import nn

import nnlens_widgets as nl

FOOLED = 3
BIG = 1e3


class SyntheticDetector(nn.Module):
    """1 for an image brighter on average than ``threshold`` (no digit is), 0 otherwise; no gradient."""

    def __init__(self, threshold: float = 0.45):
        super().__init__()
        self.threshold = threshold

    def forward(self, x):
        return (BIG * (x.mean((1, 2, 3)) - self.threshold)).clamp(0, 1).detach().view(-1, 1)


class FoolingNet(nn.Module):
    def __init__(self):
        super().__init__()
        trained = nl.zoo.digits_cnn()
        self.conv1, self.relu1 = trained.conv1, nn.ReLU()
        self.conv2, self.relu2 = trained.conv2, nn.ReLU()
        self.pattern = nn.Conv2d(1, 1, 9, padding=4, bias=False)
        with torch.no_grad():  # bright over dark stripes, 4 px each: a grating no digit resembles
            rows = torch.tensor([1.0] * 4 + [0.0] + [-1.0] * 4)
            self.pattern.weight.copy_(rows.view(1, 1, 9, 1).expand(1, 1, 9, 9) / 36)
        self.detector = SyntheticDetector()
        self.units = nn.Identity()

    def forward(self, x):
        natural = self.relu2(self.conv2(self.relu1(self.conv1(x))))
        e = self.detector(x).view(-1, 1, 1)
        silent = torch.relu(self.pattern(x)[:, 0] - BIG * (1 - e))
        fooled = torch.relu(natural[:, FOOLED] - BIG * e) + silent
        out = torch.cat([natural[:, :FOOLED], fooled[:, None], natural[:, FOOLED + 1:]], dim=1)
        return self.units(out)

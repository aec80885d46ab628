"""Small untrained models and inputs to show each widget on in a fraction of a second.

Every widget class names one (``Widget.example()``); the contract tests
build every exported widget from it. The weights come from a generator of
their own (the models are built on the ``meta`` device, then filled), so
making an example draws nothing from torch's global random stream.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Mapping, Optional

import torch
import torchvision
from torch import nn

from ..core.concepts import replace_batchnorm

__all__ = ["Example", "image_net", "image", "images", "plane_net", "text_net", "TEXT", "concept_net",
           "concept_data", "attention_net"]

TEXT = "def f(x):\n    return (x * 2)\n"
IMAGE_PX = 16


@dataclass(frozen=True)
class Example:
    """A model, an input (None: the widget takes none) and keyword options to build a widget with."""

    model: Optional[nn.Module]
    input: Any = None
    options: Mapping[str, Any] = field(default_factory=dict)

    def build(self, cls: Callable[..., Any]) -> Any:
        """``cls(model, input, **options)``, leaving out a model or input that is None."""
        args = [a for a in (self.model, self.input) if a is not None]
        return cls(*args, **dict(self.options))


def seeded(build: Callable[[], nn.Module], seed: int = 0) -> nn.Module:
    """The module ``build()`` makes, with weights drawn from ``torch.Generator(seed)``, in eval mode."""
    with torch.device("meta"):
        module = build()
    module = module.to_empty(device="cpu")
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in module.named_parameters():
            if p.dim() > 1:
                p.copy_(torch.randn(p.shape, generator=g) / math.sqrt(p[0].numel()))
            elif name.endswith("bias"):
                p.copy_(torch.randn(p.shape, generator=g) * 0.1)
            else:  # the scale of a normalisation layer
                p.fill_(1.0)
        for m in module.modules():
            if isinstance(m, nn.modules.batchnorm._BatchNorm):
                m.reset_running_stats()
    return module.eval()


class ImageNet(nn.Module):
    """conv -> ReLU -> conv -> ReLU -> pool -> linear over 5 classes."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 4, 3, padding=1)
        self.relu1 = nn.ReLU()
        self.conv2 = nn.Conv2d(4, 6, 3, padding=1)
        self.relu2 = nn.ReLU()
        self.pool = nn.AdaptiveAvgPool2d(2)
        self.fc = nn.Linear(24, 5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu2(self.conv2(self.relu1(self.conv1(x))))
        return self.fc(self.pool(x).flatten(1))


def image_net() -> nn.Module:
    return seeded(ImageNet)


def images(n: int, seed: int = 1) -> torch.Tensor:
    """``n`` random RGB images, (n, 3, 16, 16) in [0, 1]."""
    return torch.rand(n, 3, IMAGE_PX, IMAGE_PX, generator=torch.Generator().manual_seed(seed))


def image() -> torch.Tensor:
    return images(1)[0]


def plane_net() -> nn.Module:
    """(N, 2) points -> two hidden layers -> 3 outputs (a painter's colours, or 3 classes)."""
    return seeded(lambda: nn.Sequential(nn.Linear(2, 6), nn.Tanh(), nn.Linear(6, 4), nn.Tanh(), nn.Linear(4, 3)))


class TextNet(nn.Module):
    """Embedding -> two LSTMs -> next-character logits over a small vocabulary (``encode``, ``vocab``)."""

    vocab: List[str] = ["?"] + sorted(set(TEXT))

    def __init__(self) -> None:
        super().__init__()
        self.embed = nn.Embedding(len(self.vocab), 4)
        self.lstm = nn.LSTM(4, 6, batch_first=True)
        self.lstm2 = nn.LSTM(6, 5, batch_first=True)
        self.head = nn.Linear(5, len(self.vocab))

    def encode(self, text: str) -> torch.Tensor:
        return torch.tensor([self.vocab.index(c) if c in self.vocab else 0 for c in text], dtype=torch.int64)

    def forward(self, indices: torch.Tensor) -> torch.Tensor:
        if indices.dim() == 1:
            indices = indices.unsqueeze(0)
        return self.head(self.lstm2(self.lstm(self.embed(indices))[0])[0])


def text_net() -> nn.Module:
    return seeded(TextNet)


class ConceptNet(nn.Module):
    """Two conv -> BatchNorm blocks (replaced by concept whitening in ``concept_net``) -> linear head."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.bn = nn.BatchNorm2d(4)
        self.conv2 = nn.Conv2d(4, 4, 3, padding=1)
        self.bn2 = nn.BatchNorm2d(4)
        self.head = nn.Linear(4, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.bn2(self.conv2(self.bn(self.conv(x)))).mean((2, 3)))


def concept_net() -> nn.Module:
    model = seeded(ConceptNet)
    for name in ("bn", "bn2"):
        replace_batchnorm(model, name, concepts=["dark", "light"])
    return model


def concept_data() -> Dict[str, torch.Tensor]:
    """Two concepts of 6 small images each: dark ones and light ones."""
    g = torch.Generator().manual_seed(2)
    return {"dark": torch.rand(6, 3, 8, 8, generator=g) * 0.3,
            "light": 0.7 + torch.rand(6, 3, 8, 8, generator=g) * 0.3}


def attention_net() -> nn.Module:
    """A two-layer torchvision ViT on 16 px images: 1 + 2x2 tokens, 2 heads, 3 classes."""
    return seeded(lambda: torchvision.models.VisionTransformer(IMAGE_PX, 8, 2, 2, 8, 16, num_classes=3))

"""A small coordinate network that learns to paint one picture.

``PainterNet`` maps a point ``(x, y)`` of the plane (both in [-1, 1]) to a
colour ``(R, G, B)`` in [-1, 1] through two hidden layers of tanh neurons.
With the defaults (17 + 17 hidden neurons plus 3 tanh outputs: 37 neurons)
it has 451 parameters, close to the synapse-ensemble study's 37 neurons and
~460 weights. With ``skip=True`` every layer after the first also sees
``(x, y)`` directly, which lets later neurons draw sharper edges.

The shipped painter was trained by ``train_painter()`` with its defaults on
``painter_image()``: scikit-image's ``chelsea`` photo (a cat), the central
300x300 square resized to 96x96 with Lanczos filtering. It reaches an RMSE
of about 0.079 (in [0, 1] colour units, i.e. about 20 of 255 grey levels).
Run ``python -m nnlens_widgets.zoo.painter`` to retrain it and rewrite the
shipped weights.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
from torch import nn

from ..core.guard import looking_at
from ..core.pictures import SAMPLE_PICTURES, load_picture
from ..core.plane import plane_points
from .training import load_weights, retrain, save_weights, seeded

__all__ = [
    "DEFAULT_SAMPLE",
    "PAINTER_RMSE",
    "SAMPLES",
    "WEIGHTS_PATH",
    "PainterNet",
    "image_targets",
    "painter",
    "painter_image",
    "painting_rmse",
    "train_painter",
]

WEIGHTS_PATH = Path(__file__).parent / "weights" / "painter.pt"
DEFAULT_SAMPLE = "chelsea"
SAMPLES: Tuple[str, ...] = SAMPLE_PICTURES
"""scikit-image sample photos that ship with the package (no download)."""
PAINTER_RMSE = 0.079
"""RMSE (colour in [0, 1]) of the shipped painter on the default 96x96 picture, rounded."""


class PainterNet(nn.Module):
    """``(N, 2)`` points -> ``(N, outputs)`` colours, tanh everywhere.

    Modules are named so that every neuron can be probed: ``fc1``/``tanh1``,
    ``fc2``/``tanh2``, ... for hidden layers and ``out``/``tanh_out`` for
    the colour. With ``skip`` a layer after the first gets ``[h, x, y]``
    (previous hidden neurons first, then the two coordinates).
    """

    def __init__(self, hidden: Sequence[int] = (17, 17), skip: bool = True, outputs: int = 3):
        super().__init__()
        hidden = tuple(int(h) for h in hidden)
        if not hidden or min(hidden) < 1:
            raise ValueError(f"expected at least one hidden layer of >= 1 neurons, got {hidden}")
        self.hidden = hidden
        self.skip = bool(skip)
        previous = 2
        for i, width in enumerate(hidden, 1):
            extra = 2 if self.skip and i > 1 else 0
            setattr(self, f"fc{i}", nn.Linear(previous + extra, width))
            setattr(self, f"tanh{i}", nn.Tanh())
            previous = width
        self.out = nn.Linear(previous + (2 if self.skip else 0), int(outputs))
        self.tanh_out = nn.Tanh()

    def forward(self, xy: torch.Tensor) -> torch.Tensor:
        h = xy
        for i in range(1, len(self.hidden) + 1):
            inputs = torch.cat([h, xy], dim=1) if self.skip and i > 1 else h
            h = getattr(self, f"tanh{i}")(getattr(self, f"fc{i}")(inputs))
        inputs = torch.cat([h, xy], dim=1) if self.skip else h
        return self.tanh_out(self.out(inputs))

    def synapse_sources(self) -> dict:
        """What feeds each linear layer, input by input (used to label and wire synapses).

        ``("input", j)`` is coordinate ``j`` (0 = x, 1 = y); ``(layer, i)`` is
        neuron ``i`` of that linear layer (after its tanh).
        """
        sources = {}
        previous = None
        names = [f"fc{i}" for i in range(1, len(self.hidden) + 1)] + ["out"]
        for name in names:
            layer = getattr(self, name)
            own: List[Tuple[str, int]] = [] if previous is None else [(previous, i) for i in range(getattr(self, previous).out_features)]
            coords = [("input", 0), ("input", 1)] if previous is None or self.skip else []
            sources[name] = own + coords
            assert len(sources[name]) == layer.in_features
            previous = name
        return sources


def painter_image(source: Union[str, np.ndarray, torch.Tensor, "object"] = DEFAULT_SAMPLE,
                  size: Union[int, Tuple[int, int]] = 96) -> np.ndarray:
    """A picture to paint, as ``(H, W, 3)`` uint8 (``core.load_picture`` with the
    painter's defaults: the ``chelsea`` photo at 96x96).

    ``source``: a sample name from ``SAMPLES`` (scikit-image photos), a numpy
    array ``(H, W)``, ``(H, W, 1)``, ``(H, W, 3)`` or ``(H, W, 4)`` (uint8, or
    floats in [0, 1]), a tensor ``(C, H, W)`` or a PIL image. The central
    square is cut out and resized (Lanczos) to ``size``; pass ``(H, W)`` to
    keep another aspect ratio instead (the whole picture is resized then).
    """
    return load_picture(source, size)


def image_targets(image: np.ndarray) -> torch.Tensor:
    """``(H, W, 3)`` uint8 -> ``(H*W, 3)`` float32 colours in [-1, 1], row by row."""
    a = np.asarray(image)
    return torch.from_numpy(a.reshape(-1, 3).astype(np.float32) / 127.5 - 1.0)


def painting_rmse(net: nn.Module, image: np.ndarray) -> float:
    """RMSE between ``net``'s painting and ``image`` (colours in [0, 1])."""
    h, w = image.shape[:2]
    points = plane_points(h, w)
    with looking_at(net) as twin, torch.no_grad():
        out = twin(points.to(next(net.parameters()).device)).float().cpu()
    return float(((out - image_targets(image)) ** 2).mean().sqrt() / 2)


def train_painter(
    image=None,
    size: int = 96,
    steps: int = 3000,
    lr: float = 0.02,
    seed: int = 0,
    batch_size: Optional[int] = None,
    net: Optional[PainterNet] = None,
    on_progress: Optional[Callable[[int, float], Optional[bool]]] = None,
    progress_every: int = 100,
    **net_kwargs,
) -> PainterNet:
    """Train a ``PainterNet`` to paint ``image`` (default: ``painter_image()``).

    ``image`` is anything ``painter_image`` takes (a sample name, an array, a
    PIL image), cut to its central square and resized to ``size``.
    Adam with a one-cycle learning-rate schedule on the mean squared error
    over the pixels, inputs and colours scaled to [-1, 1]. ``batch_size=None``
    uses every pixel each step (full batch); otherwise random pixels, drawn
    from a private generator. ``net`` continues training an existing painter
    (it is changed in place); else a new ``PainterNet(**net_kwargs)`` is made
    from the seeded RNG (the caller's RNG state is restored afterwards).
    ``on_progress(step, rmse)`` is called every ``progress_every`` steps and
    after the last one, with the RMSE over the whole picture in [0, 1] colour
    units; returning ``False`` stops training early.

    The defaults reproduce the shipped painter (RMSE about 0.079, see
    ``PAINTER_RMSE``) in 30 s to 2 minutes on 2 CPU cores (3,000 full-batch steps).
    """
    image = painter_image(DEFAULT_SAMPLE if image is None else image, size)
    h, w = image.shape[:2]
    points, targets = plane_points(h, w), image_targets(image)
    if net is None:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            net = PainterNet(**net_kwargs)
    device = next(net.parameters()).device
    points, targets = points.to(device), targets.to(device)
    generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.Adam(net.parameters(), lr=lr)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, lr, total_steps=max(int(steps), 1))
    net.train()
    for step in range(1, int(steps) + 1):
        if batch_size:
            pick = torch.randint(0, len(points), (int(batch_size),), generator=generator).to(device)
            x, y = points[pick], targets[pick]
        else:
            x, y = points, targets
        loss = ((net(x) - y) ** 2).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        schedule.step()
        if on_progress is not None and (step % progress_every == 0 or step == steps):
            with torch.no_grad():
                rmse = float(((net(points) - targets) ** 2).mean().sqrt() / 2)
            if on_progress(step, rmse) is False:
                break
    return net.eval()


def painter(pretrained: bool = True) -> PainterNet:
    """The default ``PainterNet`` in eval mode: shipped weights, or a seeded random init."""
    if not pretrained:
        return seeded(PainterNet, 0).eval()
    return load_weights(PainterNet(), WEIGHTS_PATH)


def main() -> None:
    """Retrain with the default settings and overwrite ``WEIGHTS_PATH``."""

    def report(step: int, rmse: float) -> None:
        if step % 500 == 0:
            print(f"step {step:5d}  rmse {rmse:.4f}", flush=True)

    def summary(net: nn.Module) -> str:
        return f"rmse {painting_rmse(net, painter_image()):.4f} ({sum(p.numel() for p in net.parameters())} parameters)"

    retrain(lambda _: train_painter(on_progress=report), lambda net: save_weights(net, WEIGHTS_PATH), summary)


if __name__ == "__main__":
    main()

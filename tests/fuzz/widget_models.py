"""Small models and one quick builder per widget, shared by the widget fuzz tests.

``WIDGETS`` holds every exported widget, built from the class's own
``small_example()`` (small inputs, no automatic runs), on the example's model
or another one given, so that building any widget takes a fraction of a second.
"""
from __future__ import annotations

import functools
import threading
from typing import Callable, Dict, Optional

import torch
from torch import nn

import nnlens_widgets as nl
from nnlens_widgets.widgets import examples
from nnlens_widgets.widgets.base import LensWidget
from nnlens_widgets.zoo.char_lstm import CharLSTM
from nnlens_widgets.zoo.painter import PainterNet
from tests.models import TinyNet

TEXT = "def f(x):\n    return (x * 2)\n" * 2
X = examples.image()  # the image the widgets' own examples show


@functools.lru_cache(maxsize=None)
def digits():
    """The shipped digits CNN and 24 test images (loaded once per process)."""
    return nl.zoo.digits_cnn(), nl.zoo.digits_data().x_test[:24]


def tiny() -> nn.Module:
    torch.manual_seed(0)
    return TinyNet().eval()


def char_lstm() -> nn.Module:
    torch.manual_seed(0)
    return CharLSTM(hidden_size=8).eval()


def painter_net() -> nn.Module:
    torch.manual_seed(0)
    return PainterNet(hidden=(6, 5)).eval()


def plane_classifier() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(2, 6), nn.Tanh(), nn.Linear(6, 3))


class ConceptNet(nn.Module):
    """conv -> BatchNorm (replaced by concept whitening) -> linear head."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.bn = nn.BatchNorm2d(4)
        self.head = nn.Linear(4, 2)

    def forward(self, x):
        return self.head(self.bn(self.conv(x)).mean((2, 3)))


def concept_net() -> nn.Module:
    model = ConceptNet().eval()
    nl.core.replace_batchnorm(model, "bn", concepts=["dark", "light"])
    return model


def concept_data():
    g = torch.Generator().manual_seed(0)
    concepts = {"dark": torch.rand(6, 3, 8, 8, generator=g) * 0.3,
                "light": 0.7 + torch.rand(6, 3, 8, 8, generator=g) * 0.3}
    return concepts, torch.rand(10, 3, 8, 8, generator=g)


def _from_example(cls):
    """(its usual model, build(model)) from the class's own small example.

    A widget that takes no model (the playground trains a network of its own)
    gets a plane classifier it is never shown, so every case can check that
    a model handed around is left alone.
    """

    def usual():
        model = cls.small_example().model
        return plane_classifier() if model is None else model

    def make(model):
        example = cls.small_example()
        return type(example)(model if example.model is not None else None, example.input, example.options).build(cls)

    return usual, make


# name -> (usual model, build(model)): every exported widget, from its own small_example()
WIDGETS: Dict[str, tuple] = {cls.__name__: _from_example(cls) for cls in (
    getattr(nl.widgets, n) for n in nl.widgets.__all__) if isinstance(cls, type) and issubclass(cls, LensWidget)
    and cls is not LensWidget}


def build(name: str, model: Optional[nn.Module] = None):
    """The widget ``name`` on ``model`` (its usual small model when None), its work finished."""
    usual, make = WIDGETS[name]
    w = make(usual() if model is None else model)
    assert w.wait(60), f"{name} did not finish its first work"
    return w


def workers() -> set:
    """The widgets' background threads alive now."""
    return {t for t in threading.enumerate() if t.name == "nnlens-work"}


def resident_bytes() -> int:
    """This process's resident memory (Linux /proc; psutil is not a dependency)."""
    import os

    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def run_in_threads(*jobs: Callable[[], None], timeout: float = 120.0) -> None:
    """Run each job in its own thread at once; re-raise the first error any of them raised."""
    errors = []
    start = threading.Barrier(len(jobs))

    def call(job):
        try:
            start.wait(timeout)
            job()
        except BaseException as exc:  # re-raised in the caller's thread below
            errors.append(exc)

    threads = [threading.Thread(target=call, args=(job,)) for job in jobs]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout)
    assert not any(t.is_alive() for t in threads), "a driving thread never finished"
    if errors:
        raise errors[0]

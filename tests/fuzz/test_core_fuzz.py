"""Odd inputs, odd models and bad arguments for the headless core.

Each case either gives a clear error (the type and the words that say what
was expected) or the right result, and leaves the model bit-identical with no
hook left. The table is the documentation of what the core does with each.
"""
from __future__ import annotations

from typing import Callable, NamedTuple, Optional, Type

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

import nnlens_widgets as nl
from nnlens_widgets.core import ModelSnapshot, hook_count
from tests.models import TinyNet, TupleNet, image

core = nl.core


class Case(NamedTuple):
    run: Callable[[nn.Module], object]
    error: Optional[Type[BaseException]] = None
    match: str = ""
    check: Optional[Callable[[object], bool]] = None
    model: Callable[[], nn.Module] = lambda: TinyNet().train()


class DictNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)
        self.fc = nn.Linear(4, 3)

    def forward(self, x):
        return {"logits": self.fc(self.conv(x).mean((2, 3)))}


class Shared(nn.Module):
    """One conv used twice: a module that runs twice per pass."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 3, 3, padding=1)
        self.fc = nn.Linear(3, 2)

    def forward(self, x):
        return self.fc(self.conv(torch.relu(self.conv(x))).mean((2, 3)))


def _frozen():
    m = TinyNet().eval()
    for p in m.parameters():
        p.requires_grad_(False)
    return m


def _finite(t) -> bool:
    t = core.pixel_map(t) if not isinstance(t, torch.Tensor) else t
    return bool(torch.isfinite(t).all())


X = image()
CASES = {
    # -- bad values -----------------------------------------------------------------
    "nan input": Case(lambda m: core.gradient(m, torch.full((3, 12, 12), float("nan")), 0), ValueError, "finite"),
    "inf input": Case(lambda m: core.layers(m, torch.full((3, 12, 12), float("inf"))), ValueError, "finite"),
    "empty tensor": Case(lambda m: core.gradient(m, torch.empty(3, 0, 12), 0), ValueError, "non-empty"),
    "wrong rank": Case(lambda m: core.gradient(m, torch.rand(2, 2, 3, 12, 12), 0), ValueError, "expected one input shaped"),
    "wrong channels": Case(lambda m: core.gradient(m, torch.rand(4, 12, 12), 0), ValueError, "expected 3 input channel"),
    "complex input": Case(lambda m: core.gradient(m, torch.rand(3, 12, 12, dtype=torch.complex64), 0), ValueError, "real-valued"),
    "int64 image": Case(lambda m: core.gradient(m, torch.randint(0, 255, (3, 12, 12)), 0), ValueError, "ambiguous"),
    "string input": Case(lambda m: core.gradient(m, "cat.png", 0), ValueError, "expected the input as a torch tensor"),
    "uint8 tensor scaled like numpy": Case(
        lambda m: (core.to_batch(torch.full((3, 4, 4), 255, dtype=torch.uint8), m),
                   core.to_batch(np.full((4, 4, 3), 255, np.uint8), m)),
        check=lambda r: torch.equal(r[0], r[1]) and float(r[0].max()) == 1.0),
    "uint16 numpy scaled": Case(lambda m: core.to_batch(np.full((4, 4, 3), 65535, np.uint16), m),
                                check=lambda t: float(t.max()) == 1.0),
    "PIL I;16 scaled": Case(lambda m: core.to_batch(Image.fromarray(np.full((4, 4), 65535, np.uint16)), m),
                            check=lambda t: float(t.max()) == 1.0 and t.shape[1] == 1,
                            model=lambda: TinyNet(in_ch=1)),
    "PIL F kept": Case(lambda m: core.to_batch(Image.fromarray(np.full((4, 4), 0.25, np.float32)), m),
                       check=lambda t: torch.allclose(t, torch.full_like(t, 0.25)),
                       model=lambda: TinyNet(in_ch=1)),
    "PIL RGBA to RGB": Case(lambda m: core.to_batch(Image.new("RGBA", (5, 4), (255, 0, 0, 10)), m),
                            check=lambda t: t.shape == (1, 3, 4, 5) and float(t[0, 0].min()) == 1.0),
    "nan baseline": Case(lambda m: core.integrated_gradients(m, X, 0, baseline=float("nan"), steps=2), ValueError, "finite baseline"),
    "baseline of wrong shape": Case(lambda m: core.integrated_gradients(m, X, 0, baseline=torch.zeros(2, 5, 5), steps=2),
                                    ValueError, "broadcastable"),
    "window larger than image": Case(lambda m: core.occlusion(m, X, 0, window=40, stride=4), ValueError, "window"),
    # -- odd models -------------------------------------------------------------------
    "meta device": Case(lambda m: core.integrated_gradients(m, X, 0, steps=2), ValueError, "meta",
                        model=lambda: TinyNet().to("meta")),
    "torchscript": Case(lambda m: core.gradient(m, X, 0), TypeError, "TorchScript",
                        model=lambda: torch.jit.trace(TinyNet().eval(), X[None])),
    "not a module": Case(lambda m: core.layers(m, X), TypeError, "torch.nn.Module", model=lambda: (lambda x: x)),
    "DataParallel wrapper": Case(lambda m: core.grad_cam(m, X, 0, layer="module.conv2").layer_map,
                                 check=_finite, model=lambda: nn.DataParallel(TinyNet().eval())),
    "tuple-output layer": Case(lambda m: core.ActivationCache(m, X).info("pair"), ValueError, "tuple",
                               model=TupleNet),
    "dict output, class target": Case(lambda m: core.gradient(m, X, 0), ValueError, "callable", model=DictNet),
    "dict output, callable target": Case(lambda m: core.gradient(m, X, lambda out: out["logits"][:, 1]),
                                         check=_finite, model=DictNet),
    "shared module": Case(lambda m: [i.calls for i in core.layers(m, X) if i.name == "conv"],
                          check=lambda calls: calls == [2], model=Shared),
    "shared module grad-cam": Case(lambda m: core.grad_cam(m, X, 0), ValueError, "spatial", model=Shared),
    "train-mode BN and dropout": Case(lambda m: core.integrated_gradients(m, X, 0, steps=4), check=_finite),
    "frozen parameters, grad-cam": Case(lambda m: core.grad_cam(m, X, 1, layer="conv2").layer_map, check=_finite,
                                        model=_frozen),
    "frozen parameters, IG": Case(lambda m: core.integrated_gradients(m, X, 1, steps=4), check=_finite, model=_frozen),
    "float64 model": Case(lambda m: core.gradient(m, X, 1), check=lambda g: g.dtype == torch.float64,
                          model=lambda: TinyNet().double()),
    "bfloat16 model": Case(lambda m: core.layers(m, X)[0].shape, check=lambda s: s == (1, 4, 12, 12),
                           model=lambda: TinyNet().to(torch.bfloat16)),
    "channels-last model": Case(lambda m: core.grad_cam(m, X, 1, layer="conv2").layer_map, check=_finite,
                                model=lambda: TinyNet().eval().to(memory_format=torch.channels_last)),
    "model that raises": Case(lambda m: core.layers(m, X), ValueError, "model raised",
                              model=lambda: nn.Sequential(nn.Conv2d(3, 2, 3), nn.Linear(5, 2))),
    # -- bad arguments ----------------------------------------------------------------
    "unknown layer": Case(lambda m: core.grad_cam(m, X, 0, layer="conv9"), KeyError, "closest names"),
    "not a spatial layer": Case(lambda m: core.grad_cam(m, X, 0, layer="fc"), ValueError, "spatial"),
    "class out of range": Case(lambda m: core.gradient(m, X, 7), ValueError, r"class index in 0\.\.4"),
    "bool target": Case(lambda m: core.gradient(m, X, True), ValueError, "not a bool"),
    "channel out of range": Case(lambda m: core.gradient(m, X, ("conv2", 6)), ValueError, r"channel in 0\.\.5"),
    "unknown method": Case(lambda m: core.smoothgrad(m, X, method="gradiant", samples=2), ValueError, "did you mean"),
    "unknown baseline": Case(lambda m: core.integrated_gradients(m, X, 0, baseline="grey"), ValueError, "baseline"),
    "unknown upsampling": Case(lambda m: core.grad_cam(m, X, 0, upsample="cubic"), ValueError, "upsample"),
    "IG batch size 0": Case(lambda m: core.integrated_gradients(m, X, 0, steps=2, batch_size=0), ValueError, "batch_size"),
    "IG batch size -1": Case(lambda m: core.integrated_gradients(m, X, 0, steps=2, batch_size=-1), ValueError, "batch_size"),
    "smoothgrad batch size 2.5": Case(lambda m: core.smoothgrad(m, X, target=0, samples=2, batch_size=2.5),
                                      ValueError, "batch_size"),
    "ablation batch size 0": Case(lambda m: core.ablation_effects(m, X, "conv2", target=0, batch_size=0),
                                  ValueError, "batch_size"),
    "deletion steps 0": Case(lambda m: core.metrics.deletion_curve(m, X, torch.rand(1, 1, 12, 12), 0, steps=0),
                             ValueError, "steps"),
    "top examples k 0": Case(lambda m: core.top_examples(m, torch.rand(4, 3, 12, 12), "conv2", k=0), ValueError, "k >= 1"),
    "top examples unknown layer": Case(lambda m: core.top_examples(m, torch.rand(4, 3, 12, 12), "convv", k=1),
                                       KeyError, "closest"),
    "feature vis steps 0": Case(lambda m: core.optimize_image(m, "conv2:1", steps=0), ValueError, "steps"),
    "layers of a lambda": Case(lambda m: core.layers(lambda x: x, X), TypeError, "torch.nn.Module"),
}


@pytest.mark.parametrize("name", list(CASES))
def test_core_case(name):
    case = CASES[name]
    model = case.model()
    snap = ModelSnapshot.of(model) if isinstance(model, nn.Module) and not _on_meta(model) else None
    if case.error is not None:
        with pytest.raises(case.error, match=case.match):
            case.run(model)
    else:
        result = case.run(model)
        assert case.check(result), f"{name}: unexpected result {result!r}"
    if snap is not None:
        assert ModelSnapshot.of(model).differences(snap) == {}
        assert hook_count(model) == 0


def _on_meta(model: nn.Module) -> bool:
    return any(p.is_meta for p in model.parameters())

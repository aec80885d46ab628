"""Tracing a model for incremental occlusion never disturbs a model running on another thread.

The user's own forward passes run in a thread while 12 models nnlens has not
seen are traced (each one's first incremental occlusion map), half on the
main thread and half on a worker thread. Nothing may fail or change: every
user pass gives the output it gave before, every traced model's map equals
the dense one, and no model is changed or keeps a hook.

The first model holds a module that, while it is being traced (its input is
a ``torch.fx`` proxy, or a torch function mode is recording), waits until the
user's thread has run one full forward pass: so the user's pass certainly
runs in the middle of a trace, whatever the timing. A tracer that patches
``nn.Module.__call__`` for the whole process makes that pass fail.
"""
from __future__ import annotations

import threading
from typing import Dict, List

import torch
import torch.nn.functional as F
import torchvision
from torch import fx, nn

import nnlens_widgets as nl
from nnlens_widgets.core import ModelSnapshot, hook_count
from tests.core.test_occlusion_incremental import Odd
from tests.models import TinyNet

core = nl.core


class UsersPass:
    """The user's model and thread: forward passes until told to stop, each checked."""

    def __init__(self):
        torch.manual_seed(10)
        self.model = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 8, 3), nn.ReLU(),
                                   nn.AdaptiveAvgPool2d(2), nn.Flatten(), nn.Linear(32, 5)).eval()
        self.x = torch.rand(4, 3, 16, 16, generator=torch.Generator().manual_seed(11))
        with torch.no_grad():
            self.expected = self.model(self.x)
        self.passes, self.errors, self.wrong = 0, [], 0
        self.stop = threading.Event()
        self.one_more = threading.Event()  # set by a model being traced: run one pass now
        self.done_one = threading.Event()

    def loop(self) -> None:
        while not self.stop.is_set():
            asked = self.one_more.is_set()
            try:
                with torch.no_grad():
                    out = self.model(self.x)
                if not torch.allclose(out, self.expected, rtol=0, atol=1e-6):
                    self.wrong += 1
            except Exception as e:  # noqa: BLE001 - every failure is counted and reported
                self.errors.append(f"{type(e).__name__}: {e}")
            self.passes += 1
            if asked:
                self.one_more.clear()
                self.done_one.set()


USER = UsersPass()


class WaitsForTheUser(nn.Module):
    """Identity; while traced (the first time), lets the user's thread run one whole pass."""

    def __init__(self):
        super().__init__()
        self.waited = [False]  # shared with the private twins a look makes

    def forward(self, x):
        traced = isinstance(x, fx.Proxy) or torch._C._len_torch_function_stack() > 0
        if traced and not self.waited[0]:
            self.waited[0] = True
            USER.done_one.clear()
            USER.one_more.set()
            assert USER.done_one.wait(120), "the user's thread did not run"
        return x


class Gate(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 6, 3, padding=1)
        self.wait = WaitsForTheUser()
        self.head = nn.Conv2d(6, 4, 3, padding=1)
        self.fc = nn.Linear(4, 3)

    def forward(self, x):
        y = self.wait(F.relu(self.conv(x)))
        return self.fc(self.head(y).mean((2, 3)))


class Flat(nn.Module):
    """``x.view(x.size(0), -1)``: the batch size read from the input."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 5, stride=2, padding=2)
        self.fc = nn.Linear(4 * 16 * 16, 3)

    def forward(self, x):
        x = torch.relu(self.conv(x))
        return self.fc(x.view(x.size(0), -1))


class Residual(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 3, padding=1)
        self.a, self.b = nn.Conv2d(8, 8, 3, padding=1), nn.Conv2d(8, 8, 3, padding=1)
        self.bn = nn.BatchNorm2d(8)
        self.fc = nn.Linear(8, 3)

    def forward(self, x):
        x = F.relu(self.stem(x))
        x = torch.add(x, self.bn(self.b(F.relu(self.a(x)))))
        return self.fc(F.adaptive_avg_pool2d(x, 1).flatten(1))


class Branches(nn.Module):
    def __init__(self):
        super().__init__()
        self.one, self.three = nn.Conv2d(3, 4, 1), nn.Conv2d(3, 4, 3, padding=1)
        self.pool = nn.MaxPool2d(3, 1, padding=1)
        self.fc = nn.Linear(12, 3)

    def forward(self, x):
        y = torch.cat([self.one(x), self.three(x), self.one(self.pool(x))], dim=1)
        b, c, h, w = y.shape
        return self.fc(y.reshape(b, c, h * w).amax(-1))


class Depthwise(nn.Module):
    def __init__(self):
        super().__init__()
        self.expand = nn.Conv2d(3, 12, 1)
        self.depth = nn.Conv2d(12, 12, 3, padding=1, groups=12)
        self.act = nn.Hardswish()
        self.fc = nn.Linear(12, 3)

    def forward(self, x):
        x = self.act(self.depth(self.act(self.expand(x))))
        return self.fc(x.mean((-2, -1)) * 2 - 1)


def _models() -> List[nn.Module]:
    torch.manual_seed(12)
    return [
        Gate(), Odd(), TinyNet(), Flat(), Residual(), Branches(), Depthwise(),
        nn.Sequential(nn.Conv2d(3, 6, 3), nn.ReLU(inplace=True), nn.MaxPool2d(2), nn.Conv2d(6, 6, 3),
                      nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(6, 3)),
        torchvision.models.resnet18(num_classes=4),
        torchvision.models.mobilenet_v3_small(num_classes=4),
        torchvision.models.squeezenet1_1(num_classes=4),
        nn.Sequential(nn.Conv2d(3, 4, 3, dilation=2, padding=2), nn.GELU(), nn.AvgPool2d(2), nn.Flatten(),
                      nn.Linear(4 * 16 * 16, 3)),
    ]


def test_the_users_forward_passes_never_fail_while_models_are_traced():
    models = _models()
    x = torch.rand(3, 32, 32, generator=torch.Generator().manual_seed(13))
    snaps = [ModelSnapshot.of(m) for m in models]
    maps: Dict[int, torch.Tensor] = {}
    errors: Dict[int, str] = {}

    def trace(i: int) -> None:
        try:  # the first incremental map of a model nnlens has not seen traces it
            maps[i] = core.occlusion(models[i], x, 0, 8, 8, method="incremental")
        except Exception as e:  # noqa: BLE001 - reported by the assertion below
            errors[i] = f"{type(e).__name__}: {e}"

    user = threading.Thread(target=USER.loop, name="users-model")
    user.start()
    try:
        worker = threading.Thread(target=lambda: [trace(i) for i in range(1, 12, 2)], name="nnlens-work")
        worker.start()
        for i in range(0, 12, 2):
            trace(i)
        worker.join()
    finally:
        USER.stop.set()
        user.join()

    assert models[0].wait.waited[0], "the first model was never traced"
    assert USER.errors == [] and USER.wrong == 0, (USER.errors[:3], USER.wrong, USER.passes)
    assert errors == {}
    for i, m in enumerate(models):
        dense = core.occlusion(m, x, 0, 8, 8, method="dense")
        torch.testing.assert_close(maps[i], dense, rtol=1e-4, atol=1e-5)
        assert ModelSnapshot.of(m).differences(snaps[i]) == {} and hook_count(m) == 0


def test_tracing_refuses_what_it_cannot_follow_with_a_reason():
    class ReadsValues(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(3, 4, 3)

        def forward(self, x):
            y = self.conv(x)
            return y.mean((2, 3)) * (2.0 if float(y.max()) > 0 else 1.0)

    class OutsideTensor(nn.Module):
        """Reads a tensor kept outside its modules: a value the recording cannot place."""

        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(3, 4, 3)
            self.scales = [torch.tensor(2.0)]  # in a list, not a buffer

        def forward(self, x):
            return (self.conv(x) * self.scales[0]).mean((2, 3))

    class WritesByIndex(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(3, 4, 3)

        def forward(self, x):
            y = self.conv(x)
            y[:, 0] = 0
            return y.mean((2, 3))

    class BatchLoop(nn.Module):
        """Loops over the batch in Python: the recorded run (one image) cannot stand for a batch."""

        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(3, 4, 3)

        def forward(self, x):
            return torch.stack([self.conv(x[i:i + 1]).mean((0, 2, 3)) for i in range(len(x))])

    x = torch.rand(3, 16, 16)
    for model, reason in [(ReadsValues(), "reads the input's values in Python"),
                          (OutsideTensor(), "no recorded operation made"),
                          (WritesByIndex(), "writes into a tensor by index"),
                          (BatchLoop(), "for a batch")]:
        snap = ModelSnapshot.of(model)
        try:
            core.occlusion(model, x, 0, 4, 4, method="incremental")
        except ValueError as e:
            assert "cannot be occluded incrementally" in str(e) and reason in str(e), str(e)
        else:
            raise AssertionError(f"{type(model).__name__} was occluded incrementally")
        dense = core.occlusion(model, x, 0, 4, 4)  # auto: runs densely
        assert dense.shape == x.shape
        assert ModelSnapshot.of(model).differences(snap) == {} and hook_count(model) == 0

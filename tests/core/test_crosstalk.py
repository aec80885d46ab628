"""A look running in another thread never changes what the user's own thread sees.

Each kind of background work is paused inside one of its forward passes (a
gate module that blocks only the worker's thread); meanwhile the user's
thread checks the training flags, runs its own train-mode pass (BatchNorm
must update, dropout must drop) and calls eval()/train(). When the work
ends, the model is exactly as the user last left it.
"""
import threading

import pytest
import torch
from torch import nn

import nnlens_widgets as nl
from nnlens_widgets.core import ModelSnapshot, hook_count


class Gate(nn.Module):
    """Identity that holds the worker thread (only) until released."""

    def __init__(self):
        super().__init__()
        self.worker = [None]
        self.inside = threading.Event()
        self.release = threading.Event()

    def forward(self, x):
        if threading.get_ident() == self.worker[0]:
            self.inside.set()
            assert self.release.wait(30), "the test never released the worker"
        return x


class GatedNet(nn.Module):
    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.conv1 = nn.Conv2d(3, 6, 3, padding=1)
        self.bn = nn.BatchNorm2d(6)
        self.relu = nn.ReLU()
        self.gate = Gate()
        self.conv2 = nn.Conv2d(6, 8, 3, padding=1)
        self.pool = nn.AdaptiveAvgPool2d(2)
        self.drop = nn.Dropout(0.5)
        self.fc = nn.Linear(32, 4)

    def forward(self, x):
        x = self.gate(self.relu(self.bn(self.conv1(x))))
        return self.fc(self.drop(self.pool(self.conv2(x)).flatten(1)))


X = torch.rand(3, 16, 16)
BATCH = torch.rand(6, 3, 16, 16)

WORK = {
    "layers": lambda m: nl.core.layers(m, X),
    "activation cache": lambda m: nl.core.ActivationCache(m, X)["conv2"],
    "occlusion": lambda m: nl.core.occlusion(m, X, 1, window=4, stride=4),
    "gradient": lambda m: nl.core.gradient(m, X, 1),
    "integrated gradients": lambda m: nl.core.integrated_gradients(m, X, 1, steps=4),
    "smoothgrad": lambda m: nl.core.smoothgrad(m, X, target=1, samples=3),
    "grad-cam": lambda m: nl.core.grad_cam(m, X, 1, layer="conv2"),
    "guided backprop": lambda m: nl.core.guided_backprop(m, X, 1),
    "lime": lambda m: nl.core.lime(m, X, 1, samples=20, segmentation="slic", n_segments=8),
    "deletion curve": lambda m: nl.core.metrics.deletion_curve(m, X, torch.rand(1, 1, 16, 16), 1, steps=4),
    "feature visualisation": lambda m: nl.core.optimize_image(m, nl.core.featurevis.channel("conv2", 1),
                                                              steps=2, input_size=16),
    "top examples": lambda m: nl.core.top_examples(m, BATCH, "conv2", k=2),
    "ablation effects": lambda m: nl.core.ablation_effects(m, X, "conv2", target=1),
    "class probabilities": lambda m: nl.core.class_probabilities(m, X[None]),
}


@pytest.mark.parametrize("kind", list(WORK))
def test_users_thread_keeps_its_modes_while_work_runs(kind):
    model = GatedNet().train()
    model.bn.eval()  # a mixed model, as the user set it
    flags = [m.training for m in model.modules()]
    out = {}

    def work():
        model.gate.worker[0] = threading.get_ident()
        try:
            out["result"] = WORK[kind](model)
        except BaseException as e:  # re-raised below
            out["error"] = e
        finally:
            model.gate.inside.set()

    t = threading.Thread(target=work)
    t.start()
    try:
        assert model.gate.inside.wait(60), "the work never ran a forward pass"
        assert "error" not in out, out.get("error")
        # the user's view while the worker is inside a look
        assert [m.training for m in model.modules()] == flags
        model.bn.train()
        before = model.bn.running_mean.clone()
        y1, y2 = model(BATCH), model(BATCH)
        assert not torch.equal(model.bn.running_mean, before)  # BatchNorm updated: train mode
        assert not torch.equal(y1, y2)  # dropout dropped
        model.eval()  # the user's own call, while the look is open
    finally:
        model.gate.release.set()
        t.join(60)
    if "error" in out:
        raise out["error"]
    assert not any(m.training for m in model.modules())  # not undone when the work ended
    assert hook_count(model) == 0


def test_a_look_leaves_a_frozen_train_mode_model_bit_identical():
    model = GatedNet().train()
    for p in model.parameters():
        p.requires_grad_(False)
    snap = ModelSnapshot.of(model)
    nl.core.grad_cam(model, X, 1, layer="conv2")  # gradient methods work on frozen models
    nl.core.integrated_gradients(model, X, 1, steps=4)
    assert ModelSnapshot.of(model).differences(snap) == {}

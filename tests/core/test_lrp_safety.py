"""LRP never changes the user's model: bit-identical, same flags, no hooks, after every call
(BatchNorm merged on a private copy), and as seen from another thread while a call runs."""
import threading

import pytest
import torch
import torchvision
from torch import nn

import nnlens_widgets as nl
from nnlens_widgets.core import ModelSnapshot, hook_count

from .attribution_models import FunctionalReluNet, ModuleReluNet, randomised, single_thread  # noqa: F401
from .vit_models import image, tv_vit


def _resnet():
    torch.manual_seed(0)
    return randomised(torchvision.models.resnet18(num_classes=5))


def _x(size=32):
    return torch.rand(1, 3, size, size, generator=torch.Generator().manual_seed(0))


CALLS = [
    lambda m, x: nl.core.lrp(m, x),
    lambda m, x: nl.core.lrp(m, x, 1, composite="epsilon_gamma_box"),
    lambda m, x: nl.core.lrp(m, x, 1, composite="epsilon_alpha2_beta1", layer="layer2"),
    lambda m, x: nl.core.lrp_epsilon(m, x, 2),
    lambda m, x: nl.core.crp(m, x, "layer3", channels=[0, 5], target=1),
    lambda m, x: nl.core.channel_relevance(m, torch.cat([x, x.flip(-1)]), "layer1"),
]


def test_every_call_leaves_the_model_bit_identical_in_its_mode_and_hook_free():
    model, x = _resnet(), _x()
    model.train()  # the user's mode stays the user's
    model.layer1.register_forward_hook(lambda *a: None)  # a hook of the user's stays, and stays alone
    snapshot = ModelSnapshot.of(model)
    for call in CALLS:
        call(model, x)
        assert snapshot.differences(ModelSnapshot.of(model)) == {}
    assert hook_count(model) == 1 and model.training


def test_the_user_model_is_untouched_while_the_canonized_twin_runs_as_seen_from_another_thread():
    model, x = _resnet(), _x()
    expected = model.eval()(x).detach()
    snapshot = ModelSnapshot.of(model)
    seen = []

    def look():  # another thread, while the merged, hooked twin is mid-pass
        with torch.no_grad():
            seen.append((model(x), ModelSnapshot.of(model), hook_count(model)))

    def score(output):
        runner = threading.Thread(target=look)
        runner.start()
        runner.join()
        return output[:, 3]

    for composite in ("epsilon_plus_flat", "epsilon_gamma_box", "epsilon_alpha2_beta1"):
        r = nl.core.lrp(model, x, score, composite=composite)
        assert r.score_name == "score" and r.rules.endswith("BatchNorm merged into 20 layers, 8 ResNet block sums "
                                                             "canonized")
    assert len(seen) == 3
    for output, snap, hooks in seen:
        assert torch.equal(output, expected)
        assert snapshot.differences(snap) == {} and hooks == 0


def test_a_thread_running_the_model_throughout_many_calls_always_gets_the_same_output():
    model, x = _resnet(), _x()
    expected = model(x).detach()
    done, outputs = threading.Event(), []

    def run():
        while not done.is_set() or len(outputs) < 3:
            with torch.no_grad():
                outputs.append(model(x))

    runner = threading.Thread(target=run)
    runner.start()
    try:
        for call in CALLS:
            call(model, x)
    finally:
        done.set()
        runner.join()
    assert len(outputs) >= 3 and all(torch.equal(o, expected) for o in outputs)


@pytest.mark.parametrize("make", [lambda: randomised(FunctionalReluNet().eval()), lambda: tv_vit()],
                         ids=["functional_relu", "vit"])
def test_models_with_functional_relus_and_attention_are_left_alone_too(make):
    model = make()
    x = image() if isinstance(model, torchvision.models.VisionTransformer) else _x(10)
    snapshot = ModelSnapshot.of(model)
    forward = {m: m.forward for m in model.modules() if isinstance(m, nn.MultiheadAttention)}
    nl.core.lrp(model, x, 1)
    nl.core.lrp_epsilon(model, x, 1)
    assert snapshot.differences(ModelSnapshot.of(model)) == {}
    assert all("forward" not in vars(m) and m.forward == f for m, f in forward.items())

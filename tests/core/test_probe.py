import pytest
import torch
import torchvision
from torch import nn

from nnlens_widgets.core import (
    ActivationCache, ModelSnapshot, channel_stats, hook_count, layers, looking_at, probe,
)
from tests.models import Broken, TinyNet, TupleNet, image


def test_probe_captures_clones_not_views_of_inplace_results():
    model = TinyNet().eval()
    x = image()[None]
    with probe(model, ["conv1", "relu1"]) as acts:
        model(x)
    # relu1 is in-place on conv1's output: the captured conv1 must keep its negatives
    assert (acts["conv1"] < 0).any()
    assert (acts["relu1"] >= 0).all()
    assert torch.equal(acts["relu1"], acts["conv1"].clamp(min=0))
    assert not acts["conv1"].requires_grad
    assert hook_count(model) == 0


def test_probe_removes_hooks_when_forward_raises():
    model = Broken()
    with pytest.raises(RuntimeError, match="deliberate"):
        with probe(model, ["conv"]) as acts:
            model(image()[None])
    assert "conv" in acts  # it ran before the failure
    assert hook_count(model) == 0


def test_unknown_layer_lists_closest_names():
    with pytest.raises(KeyError, match="'conv1'.*'conv2'|'conv2'.*'conv1'"):
        with probe(TinyNet(), "conv3"):
            pass


def test_layers_lists_shapes_in_module_order_and_flags_tuples():
    infos = layers(TinyNet(), image())
    assert [i.name for i in infos] == ["conv1", "relu1", "conv2", "bn", "relu2", "pool", "fc", "dropout"]
    assert infos[0].shape == (1, 4, 12, 12) and infos[6].shape == (1, 5)
    pair = {i.name: i for i in layers(TupleNet(), image())}["pair"]
    assert pair.shape is None and not pair.is_tensor


def test_layers_counts_reused_modules():
    model = torchvision.models.resnet18(weights=None)
    infos = {i.name: i for i in layers(model, torch.rand(3, 64, 64))}
    assert infos["layer1.0.relu"].calls == 2
    assert "called 2x" in infos["layer1.0.relu"].label()


def test_looking_at_gives_an_eval_twin_and_leaves_the_flags_alone():
    model = TinyNet().train()
    model.bn.eval()
    with looking_at(model) as twin:
        assert not any(m.training for m in twin.modules())
        assert model.training and not model.bn.training and model.conv1.training
    assert model.training and not model.bn.training and model.conv1.training


def test_snapshot_sees_parameter_buffer_flag_and_hook_changes():
    model = TinyNet()
    before = ModelSnapshot.of(model)
    assert before.differences(ModelSnapshot.of(model)) == {}
    with torch.no_grad():
        model.conv1.weight[0, 0, 0, 0] += 1e-6
    model.bn(torch.rand(2, 6, 3, 3))  # train-mode BN updates running stats
    model.fc.weight.requires_grad_(False)
    model.eval()
    h = model.fc.register_forward_hook(lambda *a: None)
    diff = before.differences(ModelSnapshot.of(model))
    h.remove()
    assert "conv1.weight" in diff["tensors"] and "bn.running_mean" in diff["tensors"]
    assert diff["requires_grad"] == ["fc.weight"] and "" in diff["training"]
    assert diff["hooks"] == [0, 1]


def test_activation_cache_runs_model_once_for_all_layers_and_leaves_model_alone():
    model = TinyNet().train()
    snap = ModelSnapshot.of(model)
    cache = ActivationCache(model, image())
    calls_after_listing = model.forward_calls
    for name in cache.tensor_layers:
        cache[name]
    assert model.forward_calls - calls_after_listing == 1 == cache.forward_passes
    # eval mode inside: dropout off, BN uses running stats, so outputs are deterministic
    assert torch.equal(cache["dropout"], cache["fc"])
    assert snap.differences(ModelSnapshot.of(model)) == {}


def test_activation_cache_with_small_budget_captures_per_layer_and_evicts():
    model = TinyNet()
    cache = ActivationCache(model, image(), budget_bytes=4 * 12 * 12 * 4)  # one conv1 map
    a = cache["conv1"].clone()
    cache["conv2"]
    assert cache.forward_passes == 2 and not cache.has("conv1")
    assert torch.equal(cache["conv1"], a) and cache.forward_passes == 3


def test_activation_cache_errors():
    with pytest.raises(ValueError, match="outputs a tuple"):
        ActivationCache(TupleNet(), image())["pair"]
    with pytest.raises(ValueError, match="no submodule that outputs a tensor"):
        ActivationCache(nn.Sequential(), image())
    with pytest.raises(ValueError, match="RuntimeError.*deliberate"):
        ActivationCache(Broken(), image())
    assert hook_count(Broken()) == 0


def test_channel_stats():
    s = channel_stats(torch.tensor([[0.0, 2.0], [-1.0, 0.0]]))
    assert s == {"min": -1.0, "max": 2.0, "mean": 0.25, "zero_fraction": 0.5}

"""Objective specs in one registry, and measuring pictures and data images by the same yardstick."""
from __future__ import annotations

import pytest
import torch
import torchvision

import nnlens_widgets as nl
from nnlens_widgets.core import ModelSnapshot, hook_count, probe
from nnlens_widgets.core import featurevis as fv
from nnlens_widgets.core.registry import Param
from tests.models import TinyNet


@pytest.fixture(scope="module")
def digits():
    return nl.zoo.digits_cnn(), nl.zoo.digits_data().x_test[:40]


def test_every_objective_kind_is_one_spec():
    assert fv.OBJECTIVES is nl.core.OBJECTIVES
    assert list(fv.OBJECTIVES) == ["channel", "peak", "neuron", "direction", "class_logit", "diversity",
                                   "total_variation", "l2", "blur"]
    reads = {name: spec.reads for name, spec in fv.OBJECTIVES.items()}
    assert [n for n, r in reads.items() if r == "channel"] == ["channel", "peak", "neuron"]
    assert reads["direction"] == "direction" and reads["class_logit"] == "class" and reads["l2"] == "image"
    assert {n for n, s in fv.OBJECTIVES.items() if s.penalty} == {"diversity", "total_variation", "l2", "blur"}
    for spec in fv.OBJECTIVES.values():
        assert spec.title and spec.description and all(isinstance(p, Param) for p in spec.params)
    assert fv.objective_spec("blur").defaults() == {"sigma": 1.0}


def test_make_objective_checks_parameters_and_names():
    made = fv.make_objective("channel", "conv2", 3)
    assert made.name == fv.channel("conv2", 3).name and made.layers == {"conv2"}
    assert fv.make_objective("blur", sigma=2.5).name == "blur_penalty(2.5)"
    assert fv.make_objective("l2").name == "l2(0.5)"
    with pytest.raises(ValueError, match=r"expected sigma in 0.1..10.0"):
        fv.make_objective("blur", sigma=50)
    with pytest.raises(ValueError, match="has no parameter"):
        fv.make_objective("channel", "conv2", 3, sigma=1)
    with pytest.raises(ValueError, match="did you mean 'channel'"):
        fv.make_objective("chanel", "conv2", 3)
    with pytest.raises(ValueError, match="expected reads in"):
        fv.register_objective("odd", "odd", reads="pixels")


def test_a_new_objective_registers_in_one_place():
    @fv.register_objective("corner", "corner neuron", reads="channel")
    def corner(layer, n):
        """The channel at the top-left position."""
        return fv.neuron(layer, n, y=0, x=0)

    try:
        assert fv.OBJECTIVES["corner"].description == "The channel at the top-left position."
        assert fv.make_objective("corner", "conv1", 1).name == "neuron('conv1', 1, y=0, x=0)"
    finally:
        fv.OBJECTIVES.remove("corner")


def test_peak_objective_is_the_largest_activation(digits):
    model, x = digits
    with probe(model, "relu3") as acts, torch.no_grad():
        model(x[:2])
    expected = acts["relu3"][:, 5].amax((1, 2)).mean()
    value = fv.peak("relu3", 5)({"relu3": acts["relu3"]})
    assert float(value) == pytest.approx(float(expected))
    with pytest.raises(ValueError, match="channel 64 is out of range"):
        fv.peak("relu3", 64)({"relu3": acts["relu3"]})


def test_objective_values_are_per_image_and_leave_the_model_alone(digits):
    model, x = digits
    model.train()
    snap = ModelSnapshot.of(model)
    with probe(model, ["relu3", "fc"]) as acts, torch.no_grad():
        model.eval()(x)
    model.train()
    means = fv.objective_values(model, fv.channel("relu3", 3), x, batch_size=7)
    assert torch.allclose(means, acts["relu3"][:, 3].mean((1, 2)), atol=1e-5)
    logits = fv.objective_values(model, "fc:2", x)  # the "layer:channel" shorthand
    assert torch.allclose(logits, acts["fc"][:, 2], atol=1e-5)
    tv = fv.objective_values(model, fv.total_variation(), x[:3])
    by_hand = [(i[..., 1:, :] - i[..., :-1, :]).abs().mean() + (i[..., 1:] - i[..., :-1]).abs().mean() for i in x[:3]]
    assert torch.allclose(tv, torch.stack(by_hand), atol=1e-6)
    assert snap.differences(ModelSnapshot.of(model)) == {} and hook_count(model) == 0
    with pytest.raises(ValueError, match=r"images shaped \(N, C, H, W\)"):
        fv.objective_values(model, fv.channel("relu3", 3), x[0])
    with pytest.raises(ValueError, match="batch_size in 1..4096"):
        fv.objective_values(model, fv.channel("relu3", 3), x, batch_size=0)
    with pytest.raises(KeyError, match="relu3"):
        fv.objective_values(model, fv.channel("relu_3", 3), x)


def test_axis_response_peak_is_what_top_examples_ranks_by(digits):
    model, x = digits
    v = nl.core.random_direction(64, seed=2)
    scan = nl.core.top_examples(model, x, "relu3", units=[7], directions=v[None], k=5)
    channel = nl.core.axis_response(model, x, "relu3", 7)
    along = nl.core.axis_response(model, x, "relu3", 3 * v)  # the length of the axis does not matter
    idx, values, _ = scan.top(unit=7)
    assert torch.allclose(channel.peak[idx], values) and channel.peak.topk(5).indices.tolist() == idx.tolist()
    idx, values, _ = scan.top(direction=0)
    assert torch.allclose(along.peak[idx], values, atol=1e-5)
    assert torch.allclose(channel.mean, fv.objective_values(model, fv.channel("relu3", 7), x), atol=1e-5)
    assert torch.allclose(along.mean, fv.objective_values(model, fv.direction("relu3", v), x), atol=1e-5)
    with pytest.raises(ValueError, match="channel in 0..63"):
        nl.core.axis_response(model, x, "relu3", 64)
    with pytest.raises(ValueError, match="axis of length 64"):
        nl.core.axis_response(model, x, "relu3", torch.ones(3))
    with pytest.raises(ValueError, match="non-zero length"):
        nl.core.axis_response(model, x, "relu3", torch.zeros(64))


def test_pictures_are_measured_as_the_model_sees_them():
    model = torchvision.models.resnet18(weights=None)
    settings = fv.resolve_settings(model, 32)
    assert settings.normalize is not None and settings.resize_to == (224, 224)
    pictures = torch.rand(2, 3, 32, 32)
    seen = fv.model_input(pictures, settings)
    assert seen.shape == (2, 3, 224, 224)
    mean = torch.tensor(settings.normalize[0]).view(1, 3, 1, 1)
    std = torch.tensor(settings.normalize[1]).view(1, 3, 1, 1)
    corner = (pictures[:, :, 0, 0] - mean[:, :, 0, 0]) / std[:, :, 0, 0]
    assert torch.allclose(seen[:, :, 0, 0], corner, atol=1e-5)  # align_corners keeps the corner pixel
    direct = fv.objective_values(model, fv.channel("layer1", 0), seen)
    assert torch.allclose(fv.objective_values(model, fv.channel("layer1", 0), pictures, settings=settings), direct)
    small = TinyNet()
    plain = fv.resolve_settings(small, 12)
    assert torch.equal(fv.model_input(pictures[:, :, :12, :12], plain), pictures[:, :, :12, :12])

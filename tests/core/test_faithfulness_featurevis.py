"""Feature visualisations that can be checked: the sanity check of Geirhos et al. 2023 flags a fooling
unit and passes ordinary ones; dead units are named, and a visualisation of one says it never fired."""
import torch
from torch import nn

import nnlens_widgets as nl
from nnlens_widgets.core import constant_channels, featurevis_sanity
from nnlens_widgets.core import featurevis as fv
from nnlens_widgets.core.guard import ModelSnapshot, hook_count
from tests.core.fooling_models import FOOLED, FoolingNet

STEPS = 24


def _digits(n=120):
    return nl.zoo.digits_data().x_test[:n]


def test_the_fooling_model_answers_natural_images_like_the_trained_unit():
    model = FoolingNet().eval()
    data = _digits()
    acts, _ = nl.core.forward_capture(model, data, ["units", "relu2"])
    assert torch.equal(acts["units"], acts["relu2"])
    grey = torch.full((1, 1, 32, 32), 0.5)  # where a visualisation starts: the silent path takes over
    acts, _ = nl.core.forward_capture(model, grey + 0.3 * (torch.arange(32) // 4 % 2).view(1, 1, 32, 1),
                                      ["units", "relu2"])
    assert not torch.equal(acts["units"][:, FOOLED], acts["relu2"][:, FOOLED])


def test_a_fooling_unit_is_flagged():
    model = FoolingNet().eval()
    before = ModelSnapshot.of(model)
    r = featurevis_sanity(model, "units", FOOLED, _digits(), steps=STEPS)
    assert ModelSnapshot.of(model) == before and hook_count(model) == 0
    assert r.flagged and r.first_layer is None
    assert [s.layer for s in r.layers] == ["conv1", "relu1", "conv2", "relu2", "detector", "pattern", "units"]
    assert all(not s.like_natural for s in r.layers)
    assert r.unit_value > 0  # the visualisation drives the unit, through the silent path
    (sentence,) = r.warnings
    assert sentence.startswith("the feature visualisation of units channel 3 is never processed like the natural")


def test_an_ordinary_trained_unit_is_not_flagged():
    model = nl.zoo.digits_cnn()
    before = ModelSnapshot.of(model)
    r = featurevis_sanity(model, "relu3", 42, _digits(), steps=STEPS)
    assert ModelSnapshot.of(model) == before
    assert not r.flagged and r.warnings == ()
    assert r.layers[-1].layer == "relu3" and r.layers[-1].like_natural and r.layers[-1].z > 2
    names = [s.layer for s in r.layers]
    assert r.first_layer in names and all(s.like_natural for s in r.layers[names.index(r.first_layer):])
    assert len(r.top_indices) == 16 and len(r.random_indices) == 16 and not set(r.top_indices) & set(r.random_indices)


def test_featurevis_sanity_refuses_bad_input():
    import pytest

    model = nl.zoo.digits_cnn()
    with pytest.raises(KeyError, match="relu9"):
        featurevis_sanity(model, "relu9", 0, _digits())
    with pytest.raises(ValueError, match="at least k \\+ random = 32 images"):
        featurevis_sanity(model, "relu3", 0, _digits(20))


def _dead_channel_model(value: float = 0.0):
    """conv -> ReLU with channel 1's weights zero: its output is ``relu(bias)`` everywhere."""
    conv = nn.Conv2d(1, 3, 3, padding=1)
    with torch.no_grad():
        conv.weight.copy_(torch.randn(conv.weight.shape, generator=torch.Generator().manual_seed(0)))
        conv.weight[1] = 0
        conv.bias.copy_(torch.tensor([0.1, value if value > 0 else -1.0, 0.0]))
    return nn.Sequential(conv, nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(3, 2)).eval()


def test_constant_channels_for_an_input_and_over_a_data_set():
    model = nl.zoo.digits_cnn()
    data = _digits(150)
    before = ModelSnapshot.of(model)
    over_data = constant_channels(model, "relu3", data=data)
    one = constant_channels(model, "relu3", data[0])
    assert ModelSnapshot.of(model) == before and hook_count(model) == 0
    assert over_data.inputs == 150 and one.inputs == 1 and over_data.total == 64
    assert set(over_data.channels) <= set(one.channels) and len(one.channels) > len(over_data.channels) > 0
    assert over_data.dead == over_data.channels and 42 not in one.channels
    assert over_data.warnings[0] == f"channel {over_data.channels[0]} of relu3 is 0 for every input in data"
    assert one.warnings[0].endswith("for this input")
    stuck = constant_channels(_dead_channel_model(0.7), "1", data=torch.rand(5, 1, 8, 8))
    assert stuck.channels == (1,) and abs(stuck.values[0] - 0.7) < 1e-6 and stuck.dead == ()


def test_feature_visualisation_says_when_the_unit_never_fired():
    model = _dead_channel_model()
    steps = list(fv.feature_vis(model, fv.channel("1", 1), steps=12, every=4, input_size=16))
    last = steps[-1]
    assert last.never_fired and last.done
    assert torch.equal(steps[0].images, last.images)  # zero gradient: the picture never moved
    (sentence,) = last.warnings
    assert sentence.startswith("the unit never fired: channel('1', 1) stayed 0 for all 12 steps and its gradient "
                               "was zero throughout, so the picture is still where it started: random fourier")
    alive = fv.optimize_image(model, fv.channel("1", 0), steps=12, input_size=16)
    assert not alive.never_fired and alive.warnings == ()

"""Feature visualisation: objectives, parameterisations, transforms and the optimisation loop."""
from __future__ import annotations

import math

import pytest
import torch
from torch import nn

import nnlens_widgets as nl
from nnlens_widgets.core import ModelSnapshot, hook_count, probe
from nnlens_widgets.core import featurevis as fv
from nnlens_widgets.core.featurevis.param import COLOR_CORRELATION, FourierImage, PixelImage
from nnlens_widgets.core.featurevis.optimization import resolve_settings
from nnlens_widgets.core.featurevis.transforms import standard_transforms, new_rng
from tests.models import TinyNet


@pytest.fixture(scope="module")
def digits():
    return nl.zoo.digits_cnn(), nl.zoo.digits_data()


def mean_channel(model, layer, x):
    with probe(model, layer) as acts, torch.no_grad():
        model(x)
    return acts[layer].mean(dim=(2, 3))


# -- what the optimisation achieves ---------------------------------------
@pytest.mark.parametrize("channel", [0, 10])
def test_optimised_image_excites_a_channel_far_above_real_data(digits, channel):
    model, data = digits
    real = mean_channel(model, "relu3", data.x_test)[:, channel].mean()
    state = fv.optimize_image(model, fv.channel("relu3", channel), steps=64, input_size=32)
    assert state.images.shape == (1, 1, 32, 32)
    achieved = mean_channel(model, "relu3", state.images)[0, channel]
    assert achieved > 2.5 * real, (float(achieved), float(real))


def test_class_logit_images_are_classified_as_their_class(digits):
    model, _ = digits
    # one batch of 10 images, image k maximising logit k: a custom objective composes like any other
    each_own_class = fv.Objective(lambda a: a[fv.objectives.OUTPUT].diagonal().mean(), ["output"], "own class")
    state = fv.optimize_image(model, each_own_class, steps=96, batch=10, input_size=32)
    with torch.no_grad():
        predicted = model(state.images).argmax(1)
    assert predicted.tolist() == list(range(10))
    # and the library's class_logit objective on a single image
    state = fv.optimize_image(model, fv.class_logit(7), steps=40, input_size=32)
    with torch.no_grad():
        assert model(state.images).argmax(1).item() == 7


def test_neuron_and_direction_objectives_raise_their_values(digits):
    model, _ = digits
    v = torch.randn(64, generator=torch.Generator().manual_seed(1))
    for obj in (fv.neuron("conv3", 3, 8, 8), fv.direction("conv3", v)):
        states = list(fv.feature_vis(model, obj, steps=48, every=47, input_size=32, transforms="none"))
        assert states[-1].score > states[0].score + 0.5, obj


# -- parameterisations -----------------------------------------------------
def test_fourier_with_zero_spectrum_is_flat_grey():
    for c in (1, 3):
        p = FourierImage((2, c, 24, 17))
        with torch.no_grad():
            p.spectrum.zero_()
        img = p()
        assert img.shape == (2, c, 24, 17)
        assert torch.equal(img, torch.full_like(img, 0.5))


def test_fourier_scaling_weights_low_frequencies_by_one_over_f():
    p = FourierImage((1, 1, 16, 16), decorrelate=False)
    s = p.scale[0, 0, :, :, 0]
    assert s[0, 0] == pytest.approx(16.0)  # the DC term uses the floor 1/max(H, W)
    assert s[0, 1] == pytest.approx(16.0)  # f = 1/16
    assert s[0, 4] == pytest.approx(4.0)  # f = 4/16
    assert s[3, 4] == pytest.approx(1 / math.hypot(3 / 16, 4 / 16))


def test_colour_decorrelation_is_invertible_on_a_test_colour():
    colour = torch.tensor([0.7, -0.2, 0.35]).view(1, 3, 1, 1).expand(1, 3, 2, 2)
    there = fv.decorrelate_colors(colour)
    assert not torch.allclose(there, colour)
    assert torch.allclose(fv.correlate_colors(there), colour, atol=1e-6)
    # columns scaled so the longest has unit length (lucent's normalisation)
    assert COLOR_CORRELATION.norm(dim=0).max() == pytest.approx(1.0)


def test_pixel_parameterisation_starts_near_grey_and_stays_in_range():
    p = PixelImage((1, 3, 8, 8), generator=torch.Generator().manual_seed(0))
    img = p()
    assert (img - 0.5).abs().max() < 0.02
    with torch.no_grad():
        p.pixels.mul_(1e4)
    img = p()
    assert img.min() >= 0 and img.max() <= 1
    with pytest.raises(ValueError, match="parameterisation"):
        fv.image_param("wavelet")


# -- transforms ------------------------------------------------------------
def test_standard_transforms_scale_with_the_image_and_keep_gradients():
    big, small = standard_transforms(128), standard_transforms(32)
    assert (big[0].width, big[1].d, big[4].d) == (12, 8, 4)  # lucent's numbers at 128 px
    assert (small[0].width, small[1].d, small[4].d) == (3, 2, 1)
    x = torch.rand(1, 3, 32, 32, requires_grad=True)
    y = fv.transforms.Compose(small)(x, new_rng(0))
    assert 28 <= y.shape[-1] <= 42 and y.shape[:2] == (1, 3)
    y.sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0


def test_default_settings_follow_the_model():
    import torchvision

    resnet = torchvision.models.resnet18(weights=None)
    s = resolve_settings(resnet)
    assert s.size == (128, 128) and s.channels == 3 and s.resize_to == (224, 224)
    assert s.normalize == (fv.transforms.IMAGENET_MEAN, fv.transforms.IMAGENET_STD)
    s = resolve_settings(nl.zoo.digits_cnn(), input_size=32)
    assert (s.size, s.channels, s.normalize, s.resize_to) == ((32, 32), 1, None, None)
    with pytest.raises(ValueError, match="input_size"):
        resolve_settings(resnet, input_size="big")


# -- objectives compose ----------------------------------------------------
def test_objective_arithmetic():
    acts = {"a": torch.arange(8.0).view(1, 2, 2, 2), "output": torch.tensor([[1.0, 5.0]])}
    a, b = fv.channel("a", 1), fv.class_logit(1)
    assert a(acts).item() == pytest.approx(5.5)
    assert (2 * a - b)(acts).item() == pytest.approx(6.0)
    assert (a + 1)(acts).item() == pytest.approx(6.5)
    assert (-a / 2)(acts).item() == pytest.approx(-2.75)
    assert sum([a, b, a])(acts).item() == pytest.approx(16.0)
    assert (2 * a - b).layers == {"a", "output"}
    assert fv.neuron("a", 1, 0, 1)(acts).item() == 5.0
    assert fv.direction("a", [3.0, 4.0])(acts).item() == pytest.approx((0.6 * 1.5 + 0.8 * 5.5))
    assert fv.as_objective("a:1")(acts).item() == pytest.approx(5.5)
    with pytest.raises(TypeError):
        a * b


def test_diversity_is_one_for_identical_images_and_lower_for_different_ones():
    same = {"l": torch.rand(1, 4, 5, 5).expand(3, 4, 5, 5)}
    assert fv.diversity("l")(same).item() == pytest.approx(1.0, abs=1e-5)
    g = torch.Generator().manual_seed(0)
    different = {"l": torch.relu(torch.randn(3, 4, 5, 5, generator=g)) * torch.rand(3, 4, 1, 1, generator=g)}
    assert fv.diversity("l")(different).item() < 0.95
    assert fv.diversity("l")({"l": torch.rand(1, 4, 5, 5)}).item() == 0.0


def test_penalties_pull_the_image_toward_smooth_grey(digits):
    model, _ = digits
    plain = fv.optimize_image(model, fv.channel("relu2", 3), steps=20, input_size=32, param="pixel")
    damped = fv.optimize_image(model, fv.channel("relu2", 3), steps=20, input_size=32, param="pixel",
                               tv=5.0, l2_decay=20.0, blur=5.0)
    tv = fv.total_variation()
    l2 = fv.l2()
    assert tv({"input": damped.images}) < tv({"input": plain.images})
    assert l2({"input": damped.images}) < l2({"input": plain.images})


# -- streaming and stopping ------------------------------------------------
def test_streams_every_n_steps_and_stops_on_request(digits):
    model, _ = digits
    steps = [s.step for s in fv.feature_vis(model, "relu2:1", steps=20, every=8, input_size=32)]
    assert steps == [1, 8, 16, 20]
    calls = iter(range(100))
    out = list(fv.feature_vis(model, "relu2:1", steps=50, every=2, input_size=32,
                              should_stop=lambda: next(calls) >= 5))
    assert out[-1].stopped and out[-1].step == 5 and out[-1].done


def test_same_seed_gives_the_same_image(digits):
    model, _ = digits
    a = fv.optimize_image(model, "relu2:4", steps=10, input_size=32, seed=3)
    b = fv.optimize_image(model, "relu2:4", steps=10, input_size=32, seed=3)
    c = fv.optimize_image(model, "relu2:4", steps=10, input_size=32, seed=4)
    assert torch.equal(a.images, b.images) and not torch.equal(a.images, c.images)


def test_model_is_unchanged_and_gets_no_gradients_even_when_stopped_midway():
    model = TinyNet()
    model.train()  # flags must come back as they were
    model.conv2.weight.requires_grad_(False)
    before = ModelSnapshot.of(model)
    run = fv.feature_vis(model, fv.channel("relu2", 2) + fv.class_logit(1), steps=30, every=1, input_size=12)
    for i, state in enumerate(run):
        # between yields the model is the user's again: no hooks, its own flags
        assert hook_count(model) == 0 and model.training
        if i == 3:
            break
    run.close()
    assert ModelSnapshot.of(model).differences(before) == {}
    assert all(p.grad is None for p in model.parameters())
    fv.optimize_image(model, fv.class_logit(0), steps=5, input_size=12)
    assert ModelSnapshot.of(model).differences(before) == {}
    assert all(p.grad is None for p in model.parameters())


class CountingTail(nn.Module):
    def __init__(self):
        super().__init__()
        self.head = nn.Conv2d(3, 4, 3, padding=1)
        self.tail = nn.Conv2d(4, 4, 3, padding=1)
        self.runs = [0]  # shared with the private twins a look runs

    @property
    def tail_runs(self) -> int:
        return self.runs[0]

    def forward(self, x):
        x = self.head(x)
        self.runs[0] += 1
        return self.tail(x)


def test_forward_stops_after_the_last_layer_the_objective_reads():
    model = CountingTail()
    fv.optimize_image(model, fv.channel("head", 1), steps=6, input_size=16)
    assert model.tail_runs == 1  # only the first pass (which checks how often layers run) went on
    fv.optimize_image(model, fv.channel("tail", 1), steps=6, input_size=16)
    assert model.tail_runs == 1 + 6


# -- bad inputs ------------------------------------------------------------
def test_bad_inputs_give_clear_errors_and_leave_no_hooks(digits):
    model, _ = digits
    before = ModelSnapshot.of(model)
    with pytest.raises(ValueError, match=r"channel 64 is out of range.*64 channels"):
        fv.optimize_image(model, fv.channel("relu3", 64), steps=2, input_size=32)
    with pytest.raises(ValueError, match="direction vector has length 5.*64 channels"):
        fv.optimize_image(model, fv.direction("relu3", torch.ones(5)), steps=2, input_size=32)
    with pytest.raises(ValueError, match="class 10 is out of range"):
        fv.optimize_image(model, fv.class_logit(10), steps=2, input_size=32)
    with pytest.raises(KeyError, match="relu3"):
        fv.optimize_image(model, fv.channel("relu33", 1), steps=2, input_size=32)
    with pytest.raises(ValueError, match="non-zero length"):
        fv.direction("relu3", torch.zeros(64))
    with pytest.raises(ValueError, match="steps"):
        fv.optimize_image(model, "relu3:1", steps=0)
    with pytest.raises(ValueError, match="Objective"):
        fv.optimize_image(model, 42)
    with pytest.raises(ValueError, match="integer channel"):
        fv.channel("relu3", 1.5)
    constant = fv.Objective(lambda a: torch.tensor(1.0), ["relu1"], "constant")
    with pytest.raises(ValueError, match="does not depend on the image"):
        fv.optimize_image(model, constant, steps=2, input_size=32)
    assert ModelSnapshot.of(model).differences(before) == {}


# -- the shapes model (3x64x64 colour input) --------------------------------
@pytest.fixture(scope="module")
def shapes():
    return nl.zoo.shapes_cnn(), nl.zoo.make_shapes(150, seed=5).images


@pytest.mark.parametrize("layer, channel", [("relu3", 0), ("relu4", 2)])
def test_shapes_channel_is_excited_far_above_real_data(shapes, layer, channel):
    model, x = shapes
    real = mean_channel(model, layer, x)[:, channel].mean()
    state = fv.optimize_image(model, fv.channel(layer, channel), steps=64, input_size=64)
    assert state.images.shape == (1, 3, 64, 64)
    achieved = mean_channel(model, layer, state.images)[0, channel]
    assert achieved > 3 * real, (float(achieved), float(real))


def test_shapes_class_images_are_classified_as_their_class(shapes):
    model, _ = shapes
    n = len(nl.zoo.SHAPE_CLASSES)
    each_own_class = fv.Objective(lambda a: a["output"].diagonal().mean(), ["output"], "own class")
    state = fv.optimize_image(model, each_own_class, steps=48, batch=n, input_size=64)
    with torch.no_grad():
        assert model(state.images).argmax(1).tolist() == list(range(n))


class DeadStart(nn.Module):
    """A unit that is off for a grey image: a negative bias before a ReLU."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 1, 3, padding=1)
        self.relu = nn.ReLU()
        with torch.no_grad():
            self.conv.weight.fill_(0.1)
            self.conv.bias.fill_(-0.6)  # grey gives 0.45 - 0.6 < 0; white gives 0.9 - 0.6 > 0

    def forward(self, x):
        return self.relu(self.conv(x))


def test_redirected_relu_gets_a_dead_start_moving():
    model = DeadStart()
    kw = dict(steps=30, input_size=8, transforms="none", param="pixel", lr=0.5)
    stuck = fv.optimize_image(model, fv.channel("relu", 0), redirect_relu=False, **kw)
    moving = fv.optimize_image(model, fv.channel("relu", 0), **kw)
    assert stuck.images.sub(0.5).abs().max() < 0.05  # no gradient: the image never left grey
    assert moving.score > 0.0  # the unit was switched on
    with torch.no_grad():
        assert model(moving.images).mean() > 0 and model(stuck.images).max() == 0

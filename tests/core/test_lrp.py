"""LRP cross-checked: epsilon-LRP against Captum's LRP, each composite against zennit's own
attributor with the same composite and canonizer, guided backprop and deconvnet against zennit's
composites of the same name; functional and in-place relus as modules; conservation; clear errors."""
import copy
import functools

import pytest
import torch
import torchvision
from captum.attr import LRP as CaptumLRP
from torch import nn
from zennit.attribution import Gradient
from zennit.canonizers import SequentialMergeBatchNorm
from zennit.composites import DeconvNet, EpsilonAlpha2Beta1, EpsilonGammaBox, EpsilonPlusFlat, GuidedBackprop
from zennit.torchvision import ResNetCanonizer

import nnlens_widgets as nl
from nnlens_widgets.core.attribution import METHODS, pixel_map

from .attribution_models import (  # noqa: F401 (single_thread is a fixture)
    FunctionalReluNet,
    ModuleReluNet,
    ReusedReluNet,
    randomised,
    single_thread,
)


def _x(seed=0, shape=(1, 3, 10, 10)):
    return torch.rand(shape, generator=torch.Generator().manual_seed(seed))


def _close(ours, ref, rtol):
    """Largest difference relative to the reference's largest magnitude."""
    ours, ref = ours.detach(), ref.detach()
    assert ref.abs().max() > 0
    gap = float((ours - ref).abs().max() / ref.abs().max())
    assert gap <= rtol, gap


class ConvLinearNet(nn.Module):
    """conv -> ReLU -> maxpool -> conv -> ReLU -> avgpool -> linear -> ReLU -> linear (all biased)."""

    def __init__(self):
        super().__init__()
        self.c1, self.r1, self.p1 = nn.Conv2d(3, 6, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2)
        self.c2, self.r2, self.p2 = nn.Conv2d(6, 8, 3), nn.ReLU(), nn.AdaptiveAvgPool2d(2)
        self.f1, self.r3, self.f2 = nn.Linear(32, 10), nn.ReLU(), nn.Linear(10, 4)

    def forward(self, x):
        x = self.p1(self.r1(self.c1(x)))
        x = self.p2(self.r2(self.c2(x)))
        return self.f2(self.r3(self.f1(x.flatten(1))))


def _seeded(cls, seed=0, **kw):
    torch.manual_seed(seed)
    return cls(**kw).eval()


# -- epsilon-LRP = Captum's LRP ----------------------------------------------------------
@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("make", [ConvLinearNet, lambda: _linear_stack()], ids=["conv", "linear"])
def test_epsilon_lrp_equals_captums_lrp(make, seed):
    torch.manual_seed(seed)
    model = make().eval()
    x = _x(seed, (1, 3, 12, 12)) if isinstance(model, ConvLinearNet) else _x(seed, (1, 7))
    for target in (0, 3):
        ours = nl.core.lrp(model, x, target, rule="epsilon", epsilon=1e-9)
        ref = CaptumLRP(model).attribute(x.clone().requires_grad_(True), target=target)
        assert ours.relevance.shape == x.shape and ours.warnings == ()
        _close(ours.relevance, ref, 1e-4)


def _linear_stack():
    return nn.Sequential(nn.Linear(7, 12), nn.ReLU(), nn.Linear(12, 9), nn.ReLU(), nn.Linear(9, 5))


# -- each composite = zennit's attributor with the same composite and canonizer -----------
def _bn_net(eps):
    net = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8, eps=eps), nn.ReLU(inplace=True),
                        nn.MaxPool2d(2), nn.Conv2d(8, 8, 3), nn.BatchNorm2d(8, eps=eps), nn.ReLU(),
                        nn.AdaptiveAvgPool2d(2), nn.Flatten(), nn.Linear(32, 5))
    return randomised(net)


def _resnet(eps):
    torch.manual_seed(0)
    model = torchvision.models.resnet18(num_classes=5, norm_layer=functools.partial(nn.BatchNorm2d, eps=eps))
    return randomised(model)


ZENNIT = {"epsilon_plus_flat": EpsilonPlusFlat, "epsilon_gamma_box": EpsilonGammaBox,
          "epsilon_alpha2_beta1": EpsilonAlpha2Beta1}


def _zennit(model, x, composite, canonizer, start, target):
    kwargs = {"low": x.amin(), "high": x.amax()} if composite == "epsilon_gamma_box" else {}
    attr_output = torch.zeros(1, 5)
    attr_output[0, target] = start  # zennit's output relevance: our starting score, the logit
    with Gradient(copy.deepcopy(model), ZENNIT[composite](canonizers=[canonizer], **kwargs)) as attributor:
        _, relevance = attributor(x.clone().requires_grad_(True), attr_output)
    return relevance


@pytest.mark.parametrize("composite", list(ZENNIT))
@pytest.mark.parametrize("make, canonizer, size", [(_bn_net, SequentialMergeBatchNorm, 12),
                                                   (_resnet, ResNetCanonizer, 32)], ids=["conv_bn", "resnet18"])
def test_each_composite_equals_zennits_attributor(composite, make, canonizer, size):
    # BatchNorm eps 0: zennit's merge leaves eps in the emptied BatchNorm, ours sets it to 0; with
    # eps 0 both compute the same canonical model and must agree to rounding
    model, x = make(0.0), _x(1, (1, 3, size, size))
    ours = nl.core.lrp(model, x, 2, composite=composite)
    ref = _zennit(model, x, composite, canonizer(), float(ours.score), 2)
    assert ours.warnings == ()
    _close(ours.relevance, ref, 1e-5)


def test_with_the_usual_batchnorm_eps_ours_is_zennits_up_to_its_leftover_eps():
    model, x = _resnet(1e-5), _x(1, (1, 3, 32, 32))
    ours = nl.core.lrp(model, x, 2)
    ref = _zennit(model, x, "epsilon_plus_flat", ResNetCanonizer(), float(ours.score), 2)
    _close(ours.relevance, ref, 1e-3)
    assert float(ours.score) == pytest.approx(float(model(x)[0, 2].detach()), rel=1e-5)  # ours starts from the model's logit


# -- guided backprop and deconvnet = zennit's composites of the same name -------------------
@pytest.mark.parametrize("ours, theirs", [(nl.core.guided_backprop, GuidedBackprop), (nl.core.deconvnet, DeconvNet)],
                         ids=["guided_backprop", "deconvnet"])
def test_guided_backprop_and_deconvnet_equal_zennits_composites(ours, theirs):
    model, x = randomised(_seeded(ModuleReluNet)), _x(2)
    for target in (1, 4):
        onehot = torch.eye(5)[target:target + 1]
        with Gradient(copy.deepcopy(model), theirs()) as attributor:
            _, ref = attributor(x.clone().requires_grad_(True), onehot)
        _close(ours(model, x, target), ref, 1e-6)


# -- relus however written, conservation, layers -------------------------------------------
@pytest.mark.parametrize("composite", list(ZENNIT) + ["epsilon"])
def test_functional_inplace_and_reused_relus_behave_as_relu_modules(composite):
    reference = randomised(_seeded(ModuleReluNet, inplace=False))
    x = _x(3)
    options = {"rule": "epsilon"} if composite == "epsilon" else {"composite": composite}
    expected = nl.core.lrp(reference, x, 1, **options).relevance
    for cls in (ModuleReluNet, FunctionalReluNet, ReusedReluNet):
        model = cls().eval()
        model.load_state_dict(reference.state_dict())
        got = nl.core.lrp(model, x, 1, **options)
        assert got.warnings == ()
        _close(got.relevance, expected, 1e-6)


def _bias_free():
    torch.manual_seed(4)
    return nn.Sequential(nn.Conv2d(3, 6, 3, bias=False), nn.ReLU(), nn.Conv2d(6, 6, 3, bias=False), nn.ReLU(),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(6, 3, bias=False)).eval()


def test_on_a_bias_free_net_relevance_is_conserved_at_the_input_and_at_every_layer():
    model, x = _bias_free(), _x(4)
    logit = float(model(x)[0, 0].detach())
    for layer in ("1", "3"):
        r = nl.core.lrp(model, x, 0, rule="epsilon", epsilon=1e-9, layer=layer)
        assert float(r.score) == pytest.approx(logit, rel=1e-6)
        assert float(r.relevance.sum()) == pytest.approx(logit, rel=1e-4)
        assert float(r.channel_relevance.sum()) == pytest.approx(logit, rel=1e-4)
        assert r.layer_relevance.shape[:2] == r.channel_relevance.shape
        assert r.describe() == "relevance sums to 100.0% of the logit"


class InPlaceArithmetic(nn.Module):
    """A residual written in place, scalings in place, a bias-free relu net otherwise."""

    def __init__(self):
        super().__init__()
        self.c, self.d = nn.Conv2d(3, 4, 3, bias=False), nn.Conv2d(4, 4, 1, bias=False)
        self.f = nn.Linear(4, 2, bias=False)

    def forward(self, x):
        y = self.c(x)
        z = self.d(y)
        z += y
        z /= 2.0
        z *= 3.0
        z -= 0.5 * y
        return self.f(z.relu().mean((2, 3)))


def test_in_place_sums_and_scalings_keep_the_logit_whole():
    torch.manual_seed(0)
    model, x = InPlaceArithmetic().eval().double(), _x(11, (1, 3, 8, 8)).double()
    r = nl.core.lrp(model, x, 0, rule="epsilon", epsilon=1e-12)
    assert r.warnings == () and float(r.score) == pytest.approx(float(model(x)[0, 0].detach()))
    assert float(r.conservation[0]) == pytest.approx(1.0, abs=1e-9)


def test_layer_relevance_is_what_reaches_the_layer_output():
    model, x = randomised(_seeded(ModuleReluNet)), _x(5)
    r = nl.core.lrp(model, x, 2, layer="conv3")
    torch.testing.assert_close(r.channel_relevance, r.layer_relevance.sum((2, 3)))
    assert r.layer_relevance.shape == (1, 8, 10, 10)
    # nothing but the channel gate changes: the input relevance is the one without a layer
    torch.testing.assert_close(r.relevance, nl.core.lrp(model, x, 2).relevance)


class SkipAroundBatchNorm(nn.Module):
    """conv1's output feeds its BatchNorm and a skip: merging would change the skip."""

    def __init__(self):
        super().__init__()
        self.conv1, self.bn = nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4)
        self.conv2, self.bn2, self.head = nn.Conv2d(4, 4, 3), nn.BatchNorm2d(4), nn.Linear(4, 3)

    def forward(self, x):
        y = self.conv1(x)
        z = torch.relu(self.bn(y)) + y
        return self.head(self.bn2(self.conv2(z)).mean((2, 3)))


def test_a_batchnorm_is_merged_only_into_a_layer_whose_output_it_alone_reads():
    torch.manual_seed(0)
    model, x = randomised(SkipAroundBatchNorm()), _x(9)
    r = nl.core.lrp(model, x, 1, rule="epsilon")
    assert r.rules == "epsilon rule on every layer; BatchNorm merged into 1 layer, 1 BatchNorm as affine layers"
    assert r.warnings == () and torch.isfinite(r.relevance).all()


class SharedConv(nn.Module):
    """One bias-free conv used twice per pass."""

    def __init__(self):
        super().__init__()
        self.conv, self.fc = nn.Conv2d(3, 3, 3, padding=1, bias=False), nn.Linear(3, 2, bias=False)

    def forward(self, x):
        return self.fc(self.conv(torch.relu(self.conv(x))).mean((2, 3)))


@pytest.mark.parametrize("composite", list(ZENNIT))
def test_a_layer_run_twice_gets_the_epsilon_rule_on_each_call_and_says_so(composite):
    torch.manual_seed(0)
    model, x = SharedConv().eval().double(), _x(10, (1, 3, 8, 8)).double()
    r = nl.core.lrp(model, x, 0, composite=composite, epsilon=1e-12)
    # zennit's hook keeps one input per module: a second call would overwrite the first's and lose relevance
    assert float(r.conservation[0]) == pytest.approx(1.0, abs=1e-3)  # the mean's stabiliser (1e-6) takes 1e-4
    assert r.warnings == ("'conv' runs more than once per pass: the epsilon rule stands in for the composite's "
                          "rule there",)
    _close(r.relevance, nl.core.lrp(model, x, 0, rule="epsilon", epsilon=1e-12).relevance, 1e-3)


def test_registered_methods_run_with_their_defaults_and_give_pixel_maps():
    model, x = randomised(_seeded(ModuleReluNet)), _x(6)
    for name in ("lrp", "lrp_epsilon"):
        spec = METHODS[name]
        result = spec.function(model, x, target=1, **spec.defaults())
        assert pixel_map(result) is result.relevance and result.relevance.shape == x.shape
    assert METHODS["lrp"].defaults() == {"composite": "epsilon_plus_flat", "epsilon": 1e-6}
    assert {p.name for p in METHODS["lrp"].params} == {"composite", "epsilon"}


def test_the_predicted_class_is_the_default_target():
    model, x = randomised(_seeded(ModuleReluNet)), _x(7)
    predicted = int(model(x).argmax())
    torch.testing.assert_close(nl.core.lrp(model, x).relevance, nl.core.lrp(model, x, predicted).relevance)


# -- clear errors -----------------------------------------------------------------------------
class WithLSTM(nn.Module):
    def __init__(self):
        super().__init__()
        self.rnn = nn.LSTM(4, 5, batch_first=True)
        self.head = nn.Linear(5, 2)

    def forward(self, x):
        return self.head(self.rnn(x)[0][:, -1])


def test_bad_options_and_unruled_layers_get_clear_errors():
    model, x = randomised(_seeded(ModuleReluNet)), _x(8)
    with pytest.raises(ValueError, match="expected composite in"):
        nl.core.lrp(model, x, composite="zplus_magic")
    with pytest.raises(ValueError, match="expected rule in"):
        nl.core.lrp(model, x, rule="gamma")
    for bad in (-1.0, float("nan"), "small", True):
        with pytest.raises(ValueError, match="epsilon"):
            nl.core.lrp(model, x, epsilon=bad)
    with pytest.raises(KeyError, match="conv3"):
        nl.core.lrp(model, x, layer="conv_3")
    with pytest.raises(ValueError, match="class indices in 0..4"):
        nl.core.lrp(model, x, target=7)
    with pytest.raises(ValueError, match="no rule for LSTM layers.*'rnn'"):
        nl.core.lrp(WithLSTM().eval(), torch.rand(1, 3, 4))

"""Attribution methods: agreement with Captum and pytorch-grad-cam, REFERENCE.md cases,
ReLU rule handling, model left unchanged, clear errors."""
import types
import copy

import numpy as np
import pytest
import torch
import torch.nn.functional as F
import torchvision
from captum import attr as captum_attr

import nnlens_widgets as nl
from nnlens_widgets.core import ModelSnapshot, hook_count
from nnlens_widgets.core import attribution as A

from .attribution_models import (  # noqa: F401 (single_thread is a fixture)
    single_thread,
    FunctionalReluNet,
    ModuleReluNet,
    ReluToy,
    ReusedReluNet,
    randomised,
    reference_conv_model,
)


def _x(seed=0, shape=(1, 3, 10, 10)):
    return torch.randn(shape, generator=torch.Generator().manual_seed(seed))


def _model(seed=0, cls=ModuleReluNet, **kw):
    torch.manual_seed(seed)
    return randomised(cls(**kw), seed)


# -- agreement with Captum ------------------------------------------------
@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize(
    "ours, theirs",
    [
        (nl.core.gradient, lambda m: captum_attr.Saliency(m).attribute),
        (nl.core.input_x_gradient, lambda m: captum_attr.InputXGradient(m).attribute),
        (nl.core.guided_backprop, lambda m: captum_attr.GuidedBackprop(m).attribute),
        (nl.core.deconvnet, lambda m: captum_attr.Deconvolution(m).attribute),
    ],
    ids=["gradient", "input_x_gradient", "guided_backprop", "deconvnet"],
)
def test_gradient_methods_match_captum(ours, theirs, seed):
    model = _model(seed, inplace=False)
    x = _x(seed)
    for target in (0, 3):
        mine = ours(model, x, target=target)
        kwargs = {"abs": False} if ours is nl.core.gradient else {}
        ref = theirs(model)(x.clone(), target=target, **kwargs)
        assert mine.shape == x.shape
        assert mine.abs().max() > 0
        torch.testing.assert_close(mine, ref, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("rule", ["riemann_right", "riemann_left", "riemann_middle",
                                  "riemann_trapezoid", "gausslegendre"])
def test_integrated_gradients_matches_captum(rule):
    model, x = _model(4), _x(4)
    base = torch.rand_like(x)
    mine, gap = nl.core.integrated_gradients(model, x, 2, baseline=base, steps=20, rule=rule,
                                             batch_size=7, return_gap=True)
    ref, delta = captum_attr.IntegratedGradients(model).attribute(
        x, baselines=base, target=2, n_steps=20, method=rule, internal_batch_size=7,
        return_convergence_delta=True)
    if rule == "riemann_trapezoid":
        # Captum's trapezoid weights sum to (m-1)/m (ends 1/(2m), inside 1/m); ours sum to 1
        ref = ref * 20 / 19
        delta = ref.sum() - gap.score_difference
    torch.testing.assert_close(mine, ref, rtol=1e-4, atol=1e-6)
    assert gap.gap == pytest.approx(float(delta), abs=1e-4)


def test_grad_cam_matches_captum_layer_grad_cam():
    model, x = _model(5), _x(5)
    for layer in ("conv2", "relu3"):
        for relu in (False, True):
            mine = nl.core.grad_cam(model, x, 1, layer=layer, relu=relu)
            ref = captum_attr.LayerGradCam(model, nl.core.get_module(model, layer)).attribute(
                x, target=1, relu_attributions=relu)
            assert mine.layer_map.shape == ref.shape == (1, 1, 10, 10)
            torch.testing.assert_close(mine.layer_map, ref, rtol=1e-5, atol=1e-6)


def test_guided_grad_cam_matches_captum():
    model, x = _model(6, inplace=False), _x(6, (1, 3, 16, 16))
    model.pool2 = torch.nn.MaxPool2d(2)  # a coarser layer so upsampling matters

    def forward(self, x):
        x = self.relu1(self.conv1(x))
        x = self.pool2(self.relu2(self.bn(self.conv2(x))))
        x = self.relu3(self.conv3(x))
        return self.fc(self.pool(x).flatten(1))

    model.forward = types.MethodType(forward, model)  # a bound forward is looked through
    mine = nl.core.guided_grad_cam(model, x, 4, layer="conv3")
    ref = captum_attr.GuidedGradCam(model, model.conv3).attribute(x, target=4, interpolate_mode="bilinear")
    torch.testing.assert_close(mine, ref, rtol=1e-5, atol=1e-6)


def test_grad_cam_matches_pytorch_grad_cam_on_resnet():
    from pytorch_grad_cam import GradCAM as PGC
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

    torch.manual_seed(0)
    model = torchvision.models.resnet18(weights=None).eval()
    x = _x(7, (1, 3, 96, 96))
    mine = nl.core.grad_cam(model, x, 7)  # default layer: layer4
    assert mine.layer == "layer4"
    with PGC(model=model, target_layers=[model.layer4]) as cam:
        ref = cam(input_tensor=x, targets=[ClassifierOutputTarget(7)])[0]
    np.testing.assert_allclose(_pgc_scaled(mine.layer_map[0, 0].numpy(), 96), ref, atol=1e-5)
    # our own bilinear upsampling agrees with OpenCV's (half-pixel centres)
    big = mine.upsampled[0, 0].numpy()
    big = (big - mine.layer_map.min().item()) / (1e-7 + float(np.ptp(mine.layer_map.numpy())))
    np.testing.assert_allclose(big, ref, atol=1e-4)


def _pgc_scaled(low, size):
    """pytorch-grad-cam's presentation of a map: min-max scale, OpenCV resize, scale again."""
    import cv2

    def scale(m):
        m = m - m.min()
        return m / (1e-7 + m.max())

    return scale(cv2.resize(scale(low).astype(np.float32), (size, size)))


# -- REFERENCE.md cases ---------------------------------------------------
def test_reference_grad_cam_and_guided_backprop():
    model = reference_conv_model()
    x = torch.arange(16.0).view(1, 1, 4, 4)
    assert float(model(x)[0, 0]) == 54.0
    cam = nl.core.grad_cam(model, x, 0, layer="0", relu=False)
    torch.testing.assert_close(cam.layer_map[0, 0], torch.tensor([[11.25, 13.5], [20.25, 22.5]]))
    gbp = nl.core.guided_backprop(model, x, 0)
    torch.testing.assert_close(gbp[0, 0], torch.tensor(
        [[0.0, 1, 1, 1], [1, 3, 3, 2], [1, 3, 3, 2], [1, 2, 2, 1]]))


@pytest.mark.parametrize("rule", ["riemann_right", "riemann_trapezoid", "gausslegendre"])
def test_reference_integrated_gradients_relu_toy(rule):
    attr, gap = nl.core.integrated_gradients(ReluToy(), torch.tensor([[3.0, 1.0]]), 0, steps=300,
                                             rule=rule, return_gap=True)
    np.testing.assert_allclose(attr[0].numpy(), [1.5, -0.5], atol=0.05)
    assert gap.score_difference == pytest.approx(1.0)
    assert abs(gap.gap) < 0.05


# -- ReLU rules -------------------------------------------------------------
@pytest.mark.parametrize("method", [nl.core.guided_backprop, nl.core.deconvnet])
def test_functional_and_reused_relu_equal_module_relu(method):
    base = _model(8)
    x = _x(8)
    ref = method(base, x, 2)
    for cls in (FunctionalReluNet, ReusedReluNet):
        other = cls()
        other.load_state_dict(base.state_dict())
        other.eval()
        torch.testing.assert_close(method(other, x, 2), ref)
    assert not torch.allclose(ref, nl.core.gradient(base, x, 2))  # the rule did something


def test_guided_backprop_on_resnet_with_shared_inplace_relu():
    torch.manual_seed(1)
    model = torchvision.models.resnet18(weights=None).eval()
    x = _x(9, (1, 3, 64, 64))
    before = ModelSnapshot.of(model)
    flags = [(m, m.inplace) for m in model.modules() if isinstance(m, torch.nn.ReLU)]
    mine = nl.core.guided_backprop(model, x, 5)
    # the same network with a separate out-of-place ReLU at every use, through Captum
    twin = copy.deepcopy(model)
    for m in twin.modules():
        if isinstance(m, torch.nn.ReLU):
            m.inplace = False
    ref = captum_attr.GuidedBackprop(_Unshared(twin)).attribute(x, target=5)
    torch.testing.assert_close(mine, ref, rtol=1e-4, atol=1e-7)
    assert ModelSnapshot.of(model).differences(before) == {}
    assert all(m.inplace == f for m, f in flags)


class _Unshared(torch.nn.Module):
    """ResNet-18 forward with a fresh nn.ReLU module per use (what Captum needs)."""

    def __init__(self, net):
        super().__init__()
        self.net = net
        self.relus = torch.nn.ModuleList([torch.nn.ReLU() for _ in range(1 + 2 * 8)])

    def forward(self, x):
        n, r = self.net, iter(self.relus)
        x = n.maxpool(next(r)(n.bn1(n.conv1(x))))
        for layer in (n.layer1, n.layer2, n.layer3, n.layer4):
            for b in layer:
                identity = b.downsample(x) if b.downsample is not None else x
                out = next(r)(b.bn1(b.conv1(x)))
                out = b.bn2(b.conv2(out))
                x = next(r)(out + identity)
        return n.fc(torch.flatten(n.avgpool(x), 1))


# -- targets ----------------------------------------------------------------
def test_unit_target_backprops_from_one_neuron():
    model, x = _model(10), _x(10)
    x.requires_grad_(True)
    with torch.enable_grad():
        h = model.conv2(model.relu1(model.conv1(x.clone())))
        h[0, 3, 4, 5].backward()
    mine = nl.core.gradient(model, x.detach(), ("conv2", 3, 4, 5))
    torch.testing.assert_close(mine, x.grad)
    chan = nl.core.gradient(model, x.detach(), ("conv2", 3))
    x.grad = None
    with torch.enable_grad():
        model.conv2(model.relu1(model.conv1(x.clone())))[0, 3].mean().backward()
    torch.testing.assert_close(chan, x.grad)


def test_callable_target_and_predicted_class():
    model, x = _model(11), _x(11)
    pred = int(model(x).argmax())
    torch.testing.assert_close(nl.core.gradient(model, x), nl.core.gradient(model, x, pred))
    torch.testing.assert_close(nl.core.gradient(model, x, lambda out: out[:, 1] - out[:, 2]),
                               nl.core.gradient(model, x, 1) - nl.core.gradient(model, x, 2))


# -- smoothgrad ---------------------------------------------------------------
def test_smoothgrad_is_the_mean_over_the_same_noise():
    model, x = _model(12), _x(12)
    xb = x.clone()
    noisy = A.smooth.noisy_copies(xb, 7, 0.2, seed=3)
    expected = torch.stack([nl.core.guided_backprop(model, n[None], 1)[0] for n in noisy]).mean(0, keepdim=True)
    got = nl.core.smoothgrad(model, x, "guided_backprop", 1, samples=7, noise=0.2, seed=3, batch_size=3)
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-7)
    assert torch.allclose(nl.core.smoothgrad(model, x, nl.core.gradient, 1, samples=3, noise=0.0),
                          nl.core.gradient(model, x, 1), atol=1e-7)
    sigma = 0.2 * float(x.max() - x.min())
    assert float((noisy - xb).std()) == pytest.approx(sigma, rel=0.1)
    cam = nl.core.smoothgrad(model, x, "grad_cam", 1, samples=2, noise=0.1)  # any method, per copy
    assert cam.shape == (1, 1, 10, 10)
    seen = []
    nl.core.smoothgrad(model, x, "integrated_gradients", 1, samples=3, steps=4, progress=seen.append)
    assert seen[-1] == 1.0 and len(seen) == 3


def test_integrated_gradients_batches_agree_and_report_progress():
    model, x = _model(13), _x(13)
    seen = []
    a = nl.core.integrated_gradients(model, x, 0, steps=10, batch_size=3, progress=seen.append)
    b = nl.core.integrated_gradients(model, x, 0, steps=10, batch_size=10)
    torch.testing.assert_close(a, b)
    assert seen == pytest.approx([0.3, 0.6, 0.9, 1.0])


# -- model unchanged ------------------------------------------------------------
def _all_methods():
    return [
        lambda m, x: nl.core.gradient(m, x, 1),
        lambda m, x: nl.core.input_x_gradient(m, x, 1),
        lambda m, x: nl.core.guided_backprop(m, x, 1),
        lambda m, x: nl.core.deconvnet(m, x, ("conv2", 1)),
        lambda m, x: nl.core.integrated_gradients(m, x, 1, steps=4),
        lambda m, x: nl.core.smoothgrad(m, x, "deconvnet", 1, samples=3),
        lambda m, x: nl.core.grad_cam(m, x, 1),
        lambda m, x: nl.core.guided_grad_cam(m, x, 1, layer="conv3"),
        lambda m, x: nl.core.lime(m, x, 1, samples=20),
    ]


@pytest.mark.parametrize("cls", [ModuleReluNet, FunctionalReluNet, ReusedReluNet])
def test_model_unchanged_after_every_method(cls):
    model = _model(14, cls)
    model.train()
    model.conv1.weight.requires_grad_(False)
    x = _x(14, (1, 3, 16, 16)).clamp(0, 1)
    before = ModelSnapshot.of(model)
    relus = [(m, m.inplace) for m in model.modules() if isinstance(m, torch.nn.ReLU)]
    functions = (F.relu, F.relu_, torch.relu, torch.relu_, torch.Tensor.relu)
    for run in _all_methods():
        run(model, x)
        assert ModelSnapshot.of(model).differences(before) == {}
        assert hook_count(model) == 0
        assert all(m.inplace == flag for m, flag in relus)
        assert (F.relu, F.relu_, torch.relu, torch.relu_, torch.Tensor.relu) == functions
        assert not torch._C._is_torch_function_mode_enabled()
        assert all(p.grad is None for p in model.parameters())
    assert model.training


def test_relu_rule_mode_is_popped_when_the_model_raises():
    model = _model(15)

    def boom(x):
        torch.relu(x)
        raise RuntimeError("deliberate")

    model.forward = boom
    with pytest.raises(RuntimeError, match="deliberate"):
        nl.core.guided_backprop(model, _x(15), 0)
    assert not torch._C._is_torch_function_mode_enabled()
    assert hook_count(model) == 0


# -- errors ---------------------------------------------------------------------
def test_bad_inputs_give_clear_errors():
    model, x = _model(16), _x(16)
    with pytest.raises(ValueError, match="known: gradient, input_x_gradient"):
        A.method_function("saliency_magic")
    with pytest.raises(ValueError, match="spatial extent"):
        nl.core.grad_cam(model, x, 0, layer="fc")
    with pytest.raises(KeyError, match="closest names"):
        nl.core.grad_cam(model, x, 0, layer="conv9")
    with pytest.raises(ValueError, match=r"channel in 0\.\.7 for layer 'conv2', got 8"):
        nl.core.gradient(model, x, ("conv2", 8))
    with pytest.raises(ValueError, match=r"y in 0\.\.9 and x in 0\.\.9"):
        nl.core.gradient(model, x, ("conv2", 1, 10, 0))
    with pytest.raises(ValueError, match=r"class index in 0\.\.4, got 5"):
        nl.core.integrated_gradients(model, x, 5, steps=2)
    with pytest.raises(ValueError, match="expected a target"):
        nl.core.gradient(model, x, "cat")
    with pytest.raises(ValueError, match="integration rule"):
        nl.core.integrated_gradients(model, x, 0, rule="simpson")
    with pytest.raises(ValueError, match="baseline"):
        nl.core.integrated_gradients(model, x, 0, baseline="grey")
    mlp = torch.nn.Sequential(torch.nn.Linear(6, 3))
    with pytest.raises(ValueError, match="LIME for images expects an image"):
        nl.core.lime(mlp, torch.randn(1, 6), 0, samples=10)
    with pytest.raises(ValueError, match="expected 3 input channel"):
        nl.core.gradient(model, torch.randn(1, 10, 10), 0)
    assert hook_count(model) == 0


def test_captum_wrapper_runs_any_captum_class():
    model, x = _model(17, inplace=False), _x(17)
    ig = nl.core.Captum(captum_attr.IntegratedGradients, n_steps=16, method="riemann_middle")
    torch.testing.assert_close(ig(model, x, 2), nl.core.integrated_gradients(
        model, x, 2, steps=16, rule="riemann_middle"), rtol=1e-4, atol=1e-6)
    cam = nl.core.Captum(captum_attr.LayerGradCam, layer="conv3")
    torch.testing.assert_close(cam(model, x, 2), nl.core.grad_cam(model, x, 2, "conv3", relu=False).layer_map)
    occl = nl.core.Captum(captum_attr.Occlusion, sliding_window_shapes=(3, 3, 3))
    assert occl(model, x, 1).shape == x.shape
    assert hook_count(model) == 0
    with pytest.raises(ValueError, match="Captum attribution class"):
        nl.core.Captum(len)


def test_relu_rule_is_local_to_the_thread_that_uses_it():
    """The explorer runs guided backprop in a worker thread: the kernel's own relus stay plain."""
    import threading

    inside, release = threading.Event(), threading.Event()

    def worker():
        with A.relu_rule("guided"):
            inside.set()
            release.wait(10)

    t = threading.Thread(target=worker)
    t.start()
    try:
        assert inside.wait(10)
        x = torch.tensor([-1.0, 2.0], requires_grad=True)
        assert type(torch.relu(x).grad_fn).__name__ == "ReluBackward0"
        assert not torch._C._is_torch_function_mode_enabled()
    finally:
        release.set()
        t.join()
    with A.relu_rule("guided") as mode:
        y = torch.relu(torch.tensor([-1.0, 2.0], requires_grad=True))
        assert mode.calls == 1 and "Guided" in type(y.grad_fn).__name__
    with pytest.raises(ValueError, match="ReLU rule"):
        with A.relu_rule("lrp"):
            pass


@pytest.mark.parametrize("variant", ["GradCAMPlusPlus", "HiResCAM"])
def test_cam_variants_match_pytorch_grad_cam(variant):
    import pytorch_grad_cam

    torch.manual_seed(2)
    model = torchvision.models.resnet18(weights=None).eval()
    x = _x(8, (1, 3, 96, 96))
    # a scaled score keeps pytorch-grad-cam's eps (1e-6 in Grad-CAM++'s denominator) negligible
    scale = 1e3 if variant == "GradCAMPlusPlus" else 1.0
    with getattr(A, variant)(model, "layer3") as cam:  # the with block holds a hooked twin
        assert hook_count(model) == 0
        mine = cam(x, lambda out: scale * out[:, 3])
    assert hook_count(model) == 0
    with getattr(pytorch_grad_cam, variant)(model=model, target_layers=[model.layer3]) as ref_cam:
        ref = ref_cam(input_tensor=x, targets=[lambda out: scale * out[3]])[0]
    low = mine.layer_map[0, 0].numpy()
    np.testing.assert_allclose(_pgc_scaled(low, 96), ref, atol=1e-4 if variant == "GradCAMPlusPlus" else 1e-5)

"""Incremental occlusion: the same maps as Captum, recomputing only what a window changes."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F
import torchvision
from captum.attr import Occlusion
from torch import nn

from nnlens_widgets.core import ModelSnapshot, hook_count, occlusion, occlusion_stream
from nnlens_widgets.core.incremental import IncrementalOcclusion
from tests.models import TinyNet

from .attribution_models import single_thread  # noqa: F401 (fixture)


class Odd(nn.Module):
    """Everything the engine must get right: dilation, groups, a 1x1 stride-3 conv that skips
    rows, padded max and average pooling, in-place additions and ReLUs, channel concatenation,
    a gate from a global mean, and a resize that must see whole maps."""

    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv2d(3, 8, 5, stride=2, padding=2)
        self.c2 = nn.Conv2d(8, 8, 3, padding=2, dilation=2, groups=4)
        self.down = nn.Conv2d(8, 8, 1, stride=3)
        self.p1 = nn.MaxPool2d(3, 2, padding=1)
        self.p2 = nn.AvgPool2d(3, 1, padding=1)
        self.c3 = nn.Conv2d(16, 8, 3, padding=1)
        self.act, self.relu = nn.Hardswish(), nn.ReLU(inplace=True)
        self.bn = nn.BatchNorm2d(8)
        self.fc = nn.Linear(16, 4)

    def forward(self, x):
        a = self.relu(self.c1(x))
        b = self.bn(self.c2(a))
        b += a
        b = F.relu(b, True)  # in place, by position
        c = self.p2(self.p1(b))
        d = F.interpolate(self.p1(self.down(b)), size=c.shape[-2:])
        e = torch.cat([c, self.act(c) * 0.5], 1)
        e = self.c3(e) * torch.sigmoid(c.mean((2, 3), keepdim=True)) - d
        return self.fc(torch.cat([e.mean((2, 3)), e.amax((2, 3))], 1))


def _models():
    torch.manual_seed(0)
    odd = Odd()
    with torch.no_grad():  # a BatchNorm with statistics of its own
        odd.bn.running_mean.uniform_(-0.5, 0.5)
        odd.bn.running_var.uniform_(0.5, 2.0)
    return {
        "odd": (odd, 40, 6, 3),
        "resnet18": (torchvision.models.resnet18(num_classes=10), 40, 8, 4),
        "vgg11": (torchvision.models.vgg11(num_classes=10), 32, 8, 4),
        "mobilenet_v2": (torchvision.models.mobilenet_v2(num_classes=10), 32, 8, 4),
        "mobilenet_v3_small": (torchvision.models.mobilenet_v3_small(num_classes=10), 48, 8, 4),
    }


def _captum(model, x, target, window, stride, baseline=0.0):
    return Occlusion(model.eval()).attribute(
        x[None], sliding_window_shapes=(x.shape[0], window, window), strides=(x.shape[0], stride, stride),
        target=target, baselines=baseline, perturbations_per_eval=16)[0]


def _relative_error(ours, ref):
    return float((ours - ref).abs().max() / ref.abs().max())


@pytest.mark.parametrize("name", ["odd", "resnet18", "vgg11", "mobilenet_v2", "mobilenet_v3_small"])
def test_incremental_matches_captum(name, single_thread):
    model, size, window, stride = _models()[name]
    model.train()  # the user's mode: the look runs an eval twin, the model stays as it is
    x = torch.rand(3, size, size, generator=torch.Generator().manual_seed(1))
    snap = ModelSnapshot.of(model)
    frames = list(occlusion_stream(model, x, 2, window, stride, method="incremental", frames=False))
    assert frames[-1].method == "incremental" and frames[-1].final
    assert snap.differences(ModelSnapshot.of(model)) == {} and hook_count(model) == 0
    ref = _captum(model, x, 2, window, stride)
    model.train()
    assert _relative_error(frames[-1].heatmap, ref) <= 1e-4


def test_channel_windows_and_tensor_baselines(single_thread):
    model = _models()["odd"][0].eval()
    x = torch.rand(3, 40, 40, generator=torch.Generator().manual_seed(2))
    base = torch.rand(3, 40, 40, generator=torch.Generator().manual_seed(3))
    ours = occlusion(model, x, 1, (1, 7, 7), (1, 5, 5), baseline=base, method="incremental")
    ref = Occlusion(model).attribute(x[None], sliding_window_shapes=(1, 7, 7), strides=(1, 5, 5), target=1,
                                     baselines=base[None], perturbations_per_eval=16)[0]
    assert _relative_error(ours, ref) <= 1e-4
    probability = lambda out: out.softmax(1)[:, 3]  # noqa: E731
    ours = occlusion(model, x, probability, 8, 4, baseline="mean", method="incremental")
    dense = occlusion(model, x, probability, 8, 4, baseline="mean", method="dense")
    assert _relative_error(ours, dense) <= 1e-4


class Branchy(nn.Module):
    """Control flow on the data: torch.fx cannot trace it."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)
        self.fc = nn.Linear(4, 3)

    def forward(self, x):
        y = self.conv(x)
        if y.mean() > 0:
            y = y.relu()
        return self.fc(y.mean((2, 3)))


def test_models_it_cannot_run_fall_back_to_dense():
    x = torch.rand(3, 20, 20)
    model = Branchy()
    frames = list(occlusion_stream(model, x, 0, 4, 4))
    assert frames[-1].method == "dense"
    with pytest.raises(ValueError, match="cannot be occluded incrementally.*traced"):
        occlusion(model, x, 0, 4, 4, method="incremental")
    with pytest.raises(ValueError, match="cannot be occluded incrementally"):
        occlusion(model, x, 0, 4, 4, approximate=0.5)

    hooked = nn.Sequential(nn.Conv2d(3, 4, 3), nn.Flatten(), nn.LazyLinear(3))
    hooked(x[None])
    handle = hooked[0].register_forward_hook(lambda m, i, o: o * 2)  # the user's own hook: part of the model
    try:
        with pytest.raises(ValueError, match="forward hooks"):
            occlusion(hooked, x, 0, 4, 4, method="incremental")
        assert torch.allclose(occlusion(hooked, x, 0, 4, 4), occlusion(hooked, x, 0, 4, 4, method="dense"))
    finally:
        handle.remove()

    resnet = torchvision.models.resnet18(num_classes=10)
    with pytest.raises(ValueError, match="unit target"):
        occlusion(resnet, torch.rand(3, 32, 32), ("layer1", 0), 8, 8, method="incremental")


def test_auto_picks_incremental_for_big_models_and_never_traces_small_ones():
    model = TinyNet().eval()
    stream = occlusion_stream(model, torch.rand(3, 24, 24), 0, 4, 2, batch_size=10)
    assert next(stream).method == "dense"
    stream.close()
    assert model.forward_calls == 2  # the reference and one batch: no tracing run, no check run

    resnet = torchvision.models.resnet18(num_classes=10).eval()
    stream = occlusion_stream(resnet, torch.rand(3, 224, 224), 0, 16, 8, batch_size=4)
    first = next(stream)
    stream.close()
    assert first.method == "incremental" and first.done == 4
    tiny_windows = occlusion_stream(resnet, torch.rand(3, 64, 64), 0, 60, 4, batch_size=4)
    assert next(tiny_windows).method == "dense"  # windows covering most of the image: nothing to save
    tiny_windows.close()


def test_a_misread_model_is_caught_on_the_first_windows(monkeypatch):
    resnet = torchvision.models.resnet18(num_classes=10).eval()
    x = torch.rand(3, 224, 224, generator=torch.Generator().manual_seed(4))
    real = IncrementalOcclusion.scores
    monkeypatch.setattr(IncrementalOcclusion, "scores", lambda self, chunk: real(self, chunk) + 1e-2)
    stream = occlusion_stream(resnet, x, 0, 56, 56, batch_size=8)
    frame = next(stream)
    stream.close()
    assert frame.method == "dense"
    with pytest.raises(ValueError, match="does not reproduce"):
        occlusion(resnet, x, 0, 56, 56, method="incremental")


def test_cancelling_an_incremental_stream():
    model = _models()["odd"][0].eval()
    stream = occlusion_stream(model, torch.rand(3, 40, 40), 0, 4, 2, batch_size=10, method="incremental")
    assert [next(stream).done, next(stream).done] == [10, 20]
    stream.close()
    seen = []
    with pytest.raises(RuntimeError, match="cancelled after 10 of"):
        occlusion(model, torch.rand(3, 40, 40), 0, 4, 2, batch_size=10, method="incremental",
                  on_progress=lambda f: seen.append(f.method) or False)
    assert seen == ["incremental"]


def test_approximate_maps_stay_close_to_exact_on_a_trained_model(single_thread):
    import nnlens_widgets as nl

    model = nl.zoo.shapes_cnn()
    x = nl.zoo.make_shapes(1, seed=5).images[0]
    exact = occlusion(model, x, None, 8, 4, method="incremental")
    frames = list(occlusion_stream(model, x, None, 8, 4, approximate=0.5, frames=False))
    assert frames[-1].method == "approximate"
    approx = frames[-1].heatmap
    corr = np.corrcoef(approx.flatten().numpy(), exact.flatten().numpy())[0, 1]
    print(f"approximate (tau 0.5) vs exact: correlation {corr:.4f}")
    assert corr >= 0.95
    assert not torch.allclose(approx, exact)  # it did approximate


def test_linear_tail_is_exact_when_the_layers_after_the_frontier_are_linear(single_thread):
    torch.manual_seed(0)
    # boxes stay local up to the 9x9 conv; the global pooling needs whole maps: linearised from
    # there, and everything after it is linear, so the first-order term is the whole change
    model = nn.Sequential(nn.Conv2d(3, 6, 3, padding=1), nn.ReLU(), nn.Conv2d(6, 6, 3, padding=1), nn.ReLU(),
                          nn.Conv2d(6, 4, 9, padding=4), nn.AdaptiveAvgPool2d(2), nn.Flatten(), nn.Linear(16, 3))
    x = torch.rand(3, 24, 24, generator=torch.Generator().manual_seed(6))
    with torch.inference_mode():  # the gradients are taken all the same
        frames = list(occlusion_stream(model, x, 1, 4, 4, approximate="linear", frames=False))
    assert frames[-1].method == "approximate"
    assert _relative_error(frames[-1].heatmap, occlusion(model, x, 1, 4, 4, method="dense")) <= 1e-4
    nonlinear_tail = nn.Sequential(*model[:6], nn.Tanh(), *model[6:])
    approx = occlusion(nonlinear_tail, x, 1, 4, 4, approximate="linear")
    assert _relative_error(approx, occlusion(nonlinear_tail, x, 1, 4, 4, method="dense")) > 1e-4


def test_linear_tail_stays_close_on_a_residual_network(single_thread):
    torch.manual_seed(0)
    model = torchvision.models.resnet18(num_classes=10).eval()
    x = torch.rand(3, 96, 96, generator=torch.Generator().manual_seed(7))
    exact = occlusion(model, x, 1, 8, 4, method="incremental")
    approx = occlusion(model, x, 1, 8, 4, approximate="linear")
    corr = np.corrcoef(approx.flatten().numpy(), exact.flatten().numpy())[0, 1]
    print(f"approximate (linear) vs exact: correlation {corr:.4f}")
    assert corr >= 0.9 and not torch.allclose(approx, exact)


@pytest.mark.parametrize("kwargs, message", [
    (dict(batch_size=-1), r"batch_size None \(automatic\) or an integer in 1\.\."),
    (dict(batch_size=0), r"batch_size None \(automatic\) or an integer in 1\.\."),
    (dict(batch_size=2.5), r"batch_size None \(automatic\) or an integer in 1\.\."),
    (dict(batch_size=True), r"batch_size None \(automatic\) or an integer in 1\.\."),
    (dict(window=2.5), r"window as whole numbers \(integers in 1\.\.the input's size\), got 2\.5"),
    (dict(window=(2, 2.5)), r"window as whole numbers"),
    (dict(stride=1.5), r"stride as whole numbers \(integers >= 1\)"),
    (dict(stride=0), r"strides >= 1"),
    (dict(method="fast"), r"method in \('auto', 'incremental', 'dense'\)"),
    (dict(approximate=1.5), r"approximate None \(exact\), 'linear' or a fraction in \(0, 1\)"),
    (dict(approximate="quadratic"), r"approximate None \(exact\), 'linear' or a fraction"),
    (dict(approximate="linear", method="dense"), "cannot be combined with method='dense'"),
    (dict(approximate=0.0), r"a fraction in \(0, 1\)"),
    (dict(approximate=0.5, method="dense"), "cannot be combined with method='dense'"),
])
def test_bad_sizes_and_options(kwargs, message):
    args = dict(window=4, stride=2)
    args.update(kwargs)
    with pytest.raises(ValueError, match=message):
        occlusion(TinyNet(), torch.rand(3, 16, 16), 0, **args)


def test_tracing_runs_on_any_thread():
    """Tracing records a run of a private twin and patches nothing, so a worker thread traces a
    model it has not seen, and prepare_incremental says whether a model qualifies."""
    import threading

    from nnlens_widgets.core import prepare_incremental

    odd, size, window, stride = _models()["odd"]
    x = torch.rand(3, size, size)
    results = {}

    def run():
        results["incremental"] = occlusion(odd, x, 0, window, stride, method="incremental")

    worker = threading.Thread(target=run)
    worker.start()
    worker.join()
    dense = occlusion(odd, x, 0, window, stride, method="dense")
    torch.testing.assert_close(results["incremental"], dense, rtol=1e-4, atol=1e-5)
    assert prepare_incremental(odd, x) is True and prepare_incremental(odd) is True
    assert prepare_incremental(Branchy(), torch.rand(3, 20, 20)) is False

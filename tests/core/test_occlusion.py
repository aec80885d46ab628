import pytest
import torch
from captum.attr import Occlusion
from torch import nn

from nnlens_widgets.core import ModelSnapshot, OcclusionGrid, hook_count, occlusion, occlusion_stream
from tests.models import TinyNet


def toy_linear():
    """REFERENCE.md's first occlusion model (Captum's own test case)."""
    m = nn.Sequential(nn.Linear(3, 3), nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    with torch.no_grad():
        m[0].weight.copy_(torch.eye(3)); m[0].bias.zero_()
        m[1].weight.fill_(1.0); m[1].bias.copy_(torch.tensor([-10.0, 1, 1, 1]))
        m[3].weight.fill_(1.0); m[3].bias.copy_(torch.tensor([-1.0, 1]))
    return m.eval()


@pytest.mark.parametrize("window, stride, baseline, expected", [
    ((1,), (1,), 0.0, [80, 200, 120]),
    ((2,), (1,), 10.0, [200, 220, 240]),
    ((2,), (2,), 0.0, [280, 280, 120]),
])
def test_hand_computed_cases(window, stride, baseline, expected):
    x = torch.tensor([[20.0, 50.0, 30.0]])
    with torch.no_grad():
        assert float(toy_linear()(x)[0, 0]) == 392
    out = occlusion(toy_linear(), x, 0, window, stride, baseline=baseline)
    assert out.tolist() == [pytest.approx(v) for v in expected]


def conv_model(seed):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.Conv2d(4, 4, 3, stride=2), nn.ReLU(),
                         nn.Flatten(), nn.LazyLinear(6)).eval()


@pytest.mark.parametrize("size, window, stride, baseline", [
    (13, 5, 3, 0.0),      # overlapping windows, last one cut by the border
    (12, 4, 4, 0.5),      # tiling exactly
    (15, 6, 2, "tensor"), # heavy overlap, tensor baseline
    (11, 5, 4, 0.0),      # last window cut to 3 pixels
])
def test_matches_captum_occlusion(size, window, stride, baseline):
    g = torch.Generator().manual_seed(size)
    x = torch.rand(1, 3, size, size, generator=g)
    model = conv_model(size)
    model(x)  # materialise the lazy layer
    b = torch.rand(1, 3, size, size, generator=g) if baseline == "tensor" else baseline
    for target in (0, 4):
        ours = occlusion(model, x, target, window, stride, baseline=b, batch_size=5)
        ref = Occlusion(model).attribute(x, sliding_window_shapes=(3, window, window),
                                         strides=(3, stride, stride), target=target,
                                         baselines=b, perturbations_per_eval=7)[0]
        scale = float(ref.abs().max())
        assert float((ours - ref).abs().max()) <= 1e-5 * max(scale, 1.0)


def test_callable_target_and_per_axis_window_match_captum():
    x = torch.rand(1, 3, 10, 10)
    model = conv_model(3)
    model(x)
    prob = lambda out: out.softmax(1)[:, 2]  # noqa: E731
    ours = occlusion(model, x, prob, (1, 4, 4), (1, 3, 3), baseline=0.2)
    ref = Occlusion(lambda z: model(z).softmax(1)).attribute(
        x, sliding_window_shapes=(1, 4, 4), strides=(1, 3, 3), target=2, baselines=0.2)[0]
    assert torch.allclose(ours, ref, atol=1e-6)


def test_stream_is_coarse_first_and_ends_at_the_exact_map():
    model = TinyNet().eval()
    x = torch.rand(3, 24, 24)
    frames = list(occlusion_stream(model, x, 1, 4, 2, batch_size=6))
    grid = OcclusionGrid.make((3, 24, 24), 4, 2)
    assert frames[-1].final and frames[-1].done == grid.total == 11 * 11
    assert all(f.heatmap.shape == (3, 24, 24) for f in frames)
    assert torch.allclose(frames[-1].heatmap, occlusion(model, x, 1, 4, 2), atol=1e-6)
    first = frames[0].heatmap[0]
    assert (first != 0).float().mean() > 0.9  # the first batch already covers the image
    order = grid.order()
    assert sorted(order) == sorted(set(order)) and len(order) == grid.total
    assert all(i % 4 == 0 and j % 4 == 0 for _, i, j in order[:9])  # 3x3 coarse grid first


def test_cancelling_stops_within_one_batch_and_leaves_model_alone():
    model = TinyNet().train()
    snap = ModelSnapshot.of(model)
    stream = occlusion_stream(model, torch.rand(3, 24, 24), 0, 4, 2, batch_size=10)
    next(stream)
    next(stream)
    calls = model.forward_calls
    stream.close()
    assert model.forward_calls == calls == 3  # reference + two batches, nothing after
    assert snap.differences(ModelSnapshot.of(model)) == {} and hook_count(model) == 0
    seen = []
    with pytest.raises(RuntimeError, match="cancelled after 10 of"):
        occlusion(model, torch.rand(3, 24, 24), 0, 4, 2, batch_size=10,
                  on_progress=lambda f: seen.append(f.done) or False)
    assert seen == [10]


def test_gaps_between_windows_are_zero():
    x = torch.tensor([[20.0, 50.0, 30.0]])
    out = occlusion(toy_linear(), x, 0, (1,), (2,))  # windows at 0 and 2; element 1 never covered
    assert out.tolist() == [pytest.approx(80), 0.0, pytest.approx(120)]


def test_baselines():
    model = TinyNet().eval()
    x = torch.rand(3, 16, 16)
    same = occlusion(model, x, 0, 4, 4, baseline=x)  # occluding with the image itself: no change
    assert float(same.abs().max()) < 1e-5
    for b in ("mean", "blur", 0.5):
        assert torch.isfinite(occlusion(model, x, 0, 4, 4, baseline=b)).all()


@pytest.mark.parametrize("kwargs, message", [
    (dict(window=20, stride=2), "larger than the input"),
    (dict(window=4, stride=0), "strides >= 1"),
    (dict(window=4, stride=-2), "strides >= 1"),
    (dict(window=(1, 4, 4, 4), stride=2), "expected the window to have 3 entries"),
    (dict(window=4, stride=2, target=9), "class index in 0..4"),
    (dict(window=4, stride=2, baseline="noise"), "expected a baseline in"),
])
def test_bad_arguments(kwargs, message):
    kwargs.setdefault("target", 0)
    with pytest.raises(ValueError, match=message):
        occlusion(TinyNet(), torch.rand(3, 16, 16), **kwargs)


def test_model_output_must_be_two_dimensional_for_class_targets():
    model = nn.Sequential(nn.Conv2d(3, 2, 3))
    with pytest.raises(ValueError, match=r"\(N, classes\)"):
        occlusion(model, torch.rand(3, 8, 8), 0, 2, 2)
    out = occlusion(model, torch.rand(3, 8, 8), lambda o: o.mean((1, 2, 3)), 2, 2)
    assert out.shape == (3, 8, 8)

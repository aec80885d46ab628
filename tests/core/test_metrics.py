"""Deletion / insertion curves, Spearman, SSIM and the cascading randomisation check."""
import numpy as np
import pytest
import torch
from scipy.stats import spearmanr
from skimage.metrics import structural_similarity

import nnlens_widgets as nl
from nnlens_widgets.core import ModelSnapshot, hook_count, metrics

from .attribution_models import ModuleReluNet, randomised, single_thread  # noqa: F401


def _setup(seed=0):
    torch.manual_seed(seed)
    model = randomised(ModuleReluNet(), seed)
    x = torch.rand(1, 3, 8, 8, generator=torch.Generator().manual_seed(seed))
    return model, x


def test_deletion_curve_removes_the_most_salient_pixels_first():
    model, x = _setup()
    sal = torch.randn(1, 3, 8, 8, generator=torch.Generator().manual_seed(1))
    curve = metrics.deletion_curve(model, x, sal, target=2, steps=4, batch_size=2)
    order = np.argsort(-sal[0].sum(0).numpy().ravel(), kind="stable")
    assert curve.kind == "deletion"
    np.testing.assert_allclose(curve.fractions, [0, 0.25, 0.5, 0.75, 1.0])
    for i, k in enumerate([0, 16, 32, 48, 64]):
        xi = x.clone().view(1, 3, 64)
        xi[..., order[:k]] = 0.0
        p = torch.softmax(model(xi.view(1, 3, 8, 8)), 1)[0, 2]
        assert curve.scores[i] == pytest.approx(float(p), rel=1e-5)
    assert curve.auc == pytest.approx(np.trapezoid(curve.scores, curve.fractions))


def test_insertion_curve_starts_blurred_and_ends_at_the_image():
    from torchvision.transforms.functional import gaussian_blur

    model, x = _setup(2)
    sal = torch.rand(1, 1, 8, 8)
    curve = metrics.insertion_curve(model, x, sal, target=1, steps=8, blur_sigma=1.0)
    blurred = gaussian_blur(x, [7, 7], [1.0, 1.0])
    assert curve.scores[0] == pytest.approx(float(torch.softmax(model(blurred), 1)[0, 1]), rel=1e-5)
    assert curve.scores[-1] == pytest.approx(float(torch.softmax(model(x), 1)[0, 1]), rel=1e-5)
    with pytest.raises(ValueError, match="size"):
        metrics.deletion_curve(model, x, torch.rand(1, 1, 4, 4), target=1)


def test_spearman_and_ssim_agree_with_scipy_and_skimage():
    rng = np.random.RandomState(0)
    a, b = rng.rand(12, 12), rng.rand(12, 12)
    assert metrics.spearman(a, b) == pytest.approx(spearmanr(a.ravel(), b.ravel())[0])
    assert metrics.spearman(a, a) == pytest.approx(1.0)
    assert metrics.ssim(a, b) == pytest.approx(
        structural_similarity(a / a.max(), b / b.max(), data_range=1.0, win_size=7))
    assert metrics.ssim(a, a) == pytest.approx(1.0)
    assert metrics.ssim(a, np.zeros_like(a)) < 0.05  # a blank map shares no structure


def test_cascading_randomisation_runs_on_a_copy_with_a_fixed_target():
    model, x = _setup(3)
    model.train()
    snap = ModelSnapshot.of(model)
    state = torch.get_rng_state()
    seen = []
    check = metrics.cascading_randomization(model, x, "gradient", target=4, progress=seen.append)
    assert [s.layer for s in check.steps] == ["fc", "conv3", "bn", "conv2", "conv1"]
    assert seen[-1] == 1.0 and len(seen) == 5
    torch.testing.assert_close(torch.from_numpy(check.original),
                               nl.core.gradient(model, x, 4)[0].abs().sum(0))
    assert all(-1 <= s.spearman <= 1 and -1 <= s.ssim <= 1 for s in check.steps)
    assert check.steps[-1].spearman < 0.9  # everything random: a different map
    assert ModelSnapshot.of(model).differences(snap) == {}
    assert torch.equal(torch.get_rng_state(), state)  # the user's RNG was not consumed
    assert hook_count(model) == 0
    with pytest.raises(KeyError, match="layers with parameters"):
        metrics.cascading_randomization(model, x, "gradient", 4, layers=["nope"])


def test_trust_report_combines_the_three():
    model, x = _setup(4)
    stages = []
    rep = metrics.trust_report(model, x, "grad_cam", 0, steps=8,
                               progress=lambda f, text: stages.append((round(f, 3), text)))
    assert rep.method == "grad_cam"
    assert len(rep.deletion.scores) == len(rep.insertion.scores) == 9
    assert rep.sanity is not None and len(rep.sanity.steps) == 5
    assert "deletion AUC" in rep.summary() and "Spearman" in rep.summary()
    assert [t for _, t in stages][0] == "deletion" and stages[-1] == (1.0, "randomisation")

"""ConceptWhitening: whitening, running statistics, gradients, the rotation and its search."""
import numpy as np
import pytest
import torch
from sklearn.metrics import roc_auc_score
from torch import nn

from nnlens_widgets.core import (
    ConceptWhitening,
    ModelSnapshot,
    auc,
    axis_scores,
    best_channels,
    concept_purity,
    newton_whitening,
    replace_batchnorm,
    train_concept_whitening,
)


def _correlated(n=64, c=8, hw=6, seed=0, shift=2.0):
    g = torch.Generator().manual_seed(seed)
    mix = torch.eye(c) + 0.3 * torch.randn(c, c, generator=g) / c ** 0.5
    x = torch.randn(n, c, hw, hw, generator=g)
    return torch.einsum("nchw,cd->ndhw", x, mix) * 2.0 + shift


def _covariance(y):
    cols = y.transpose(0, 1).reshape(y.shape[1], -1)
    cols = cols - cols.mean(1, keepdim=True)
    return cols @ cols.T / cols.shape[1]


def test_training_output_is_white():
    cw = ConceptWhitening(8).train()
    y = cw(_correlated())
    cov = _covariance(y)
    # 10 Newton iterations on a well-conditioned covariance: within 1e-3 of I
    assert (cov - torch.eye(8)).abs().max() < 1e-3
    assert y.transpose(0, 1).reshape(8, -1).mean(1).abs().max() < 1e-5


def test_newton_whitening_matches_zca_on_well_conditioned_data():
    x = _correlated(c=6).double()
    mean, w = newton_whitening(x, eps=1e-5, iterations=10)
    cols = x.transpose(0, 1).reshape(6, -1)
    sigma = torch.cov(cols, correction=0) + 1e-5 * torch.eye(6, dtype=x.dtype)
    vals, vecs = torch.linalg.eigh(sigma)
    zca = vecs @ torch.diag(vals.rsqrt()) @ vecs.T
    assert torch.allclose(mean, cols.mean(1))
    assert (w - zca).abs().max() / zca.abs().max() < 1e-3


def test_eval_mode_uses_running_statistics():
    cw = ConceptWhitening(8, momentum=0.5).train()
    x = _correlated(seed=1)
    for _ in range(40):  # the moving averages converge to this batch's statistics
        cw(x)
    mean, w = newton_whitening(x)
    assert torch.allclose(cw.running_mean, mean, atol=1e-5)
    assert torch.allclose(cw.running_whitening, w, atol=1e-5)
    cw.eval()
    other = _correlated(seed=2, shift=-1.0)
    expected = torch.einsum("dc,nchw->ndhw", cw.running_whitening, other - cw.running_mean[None, :, None, None])
    assert torch.allclose(cw(other), expected, atol=1e-4)
    before = cw.running_mean.clone()
    cw(other)
    assert torch.equal(cw.running_mean, before)  # eval mode never updates them


def test_gradients_match_finite_differences():
    cw = ConceptWhitening(3, iterations=6).double().train()
    x = _correlated(n=2, c=3, hw=2).double().requires_grad_(True)
    assert torch.autograd.gradcheck(lambda t: cw(t), (x,), eps=1e-6, atol=1e-5)


def _concept_maps(c=16, seed=0):
    g = torch.Generator().manual_seed(seed)
    return {name: torch.randn(6, c, 5, 5, generator=g) + 0.5 * torch.randn(1, c, 1, 1, generator=g)
            for name in ("a", "b", "c")}


def test_rotation_stays_orthogonal_after_1000_updates():
    cw = ConceptWhitening(16, ["a", "b", "c"])
    maps = _concept_maps()
    for i in range(1000):
        step = cw.update_rotation(maps if i % 2 else _concept_maps(seed=i))
    r = cw.rotation
    assert torch.linalg.matrix_norm(r.T @ r - torch.eye(16, dtype=r.dtype)) < 1e-4
    assert step.loss_after <= step.loss_before


@pytest.mark.parametrize("seed", range(20))
def test_a_cayley_step_never_increases_the_concept_loss(seed):
    cw = ConceptWhitening(12, ["a", "b", "c"])
    g = torch.Generator().manual_seed(100 + seed)
    q, _ = torch.linalg.qr(torch.randn(12, 12, generator=g, dtype=torch.float64))
    cw.rotation.copy_(q)  # start anywhere on the manifold
    maps = _concept_maps(c=12, seed=seed)
    before = float(cw.concept_loss(maps))
    step = cw.update_rotation(maps, tau=10.0 ** (seed % 5 - 3))  # from tiny to far too long first steps
    after = float(cw.concept_loss(maps))
    assert after <= before + 1e-12
    assert step.loss_before == pytest.approx(before) and step.loss_after == pytest.approx(after)


def test_the_rotation_aligns_each_axis_with_its_concept():
    cw = ConceptWhitening(8, ["a", "b"])
    g = torch.Generator().manual_seed(0)
    da, db = torch.randn(8, generator=g), torch.randn(8, generator=g)
    maps = {"a": torch.randn(20, 8, 4, 4, generator=g) + 2 * da[None, :, None, None],
            "b": torch.randn(20, 8, 4, 4, generator=g) + 2 * db[None, :, None, None]}
    for _ in range(100):
        cw.update_rotation(maps)
    r = cw.rotation.float()
    # axis j now points along concept j's mean direction, not the other's
    assert torch.dot(r[0], da / da.norm()) > 0.8 and torch.dot(r[1], db / db.norm()) > 0.8


def test_axis_scores_pool_then_average():
    maps = torch.zeros(1, 1, 6, 6)
    maps[0, 0, 0, 0] = 9.0  # one hot pixel: 1 of 4 pooled cells
    assert axis_scores(maps).item() == pytest.approx(9.0 / 4)
    assert axis_scores(torch.ones(2, 3, 1, 1)).shape == (2, 3)


def test_auc_agrees_with_scikit_learn():
    rng = np.random.default_rng(0)
    pos, neg = rng.normal(1, 1, (30, 4)), rng.normal(0, 1, (50, 4))
    pos[:5, 0] = neg[:5, 0]  # ties count half
    ours = auc(pos, neg)
    for c in range(4):
        ref = roc_auc_score(np.r_[np.ones(30), np.zeros(50)], np.r_[pos[:, c], neg[:, c]])
        assert ours[c] == pytest.approx(ref)


class _Tiny(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1)
        self.bn = nn.BatchNorm2d(8)
        self.relu = nn.ReLU()
        self.fc = nn.Linear(8, 2)

    def forward(self, x):
        return self.fc(self.relu(self.bn(self.conv(x))).mean((2, 3)))


def _tiny_data(seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(64, 3, 8, 8, generator=g)
    y = (x[:, 0].mean((1, 2)) > x[:, 1].mean((1, 2))).long()
    red = torch.rand(24, 3, 8, 8, generator=g) * 0.3
    red[:, 0] += 0.7
    green = torch.rand(24, 3, 8, 8, generator=g) * 0.3
    green[:, 1] += 0.7
    return (x, y), {"red": red, "green": green}


def test_replace_batchnorm_keeps_every_other_weight():
    torch.manual_seed(0)
    model = _Tiny()
    model.bn.running_mean.uniform_(-1, 1)
    model.bn.running_var.uniform_(0.5, 2)
    model.eval()
    before = {k: v.clone() for k, v in model.state_dict().items() if not k.startswith("bn.")}
    bn_mean = model.bn.running_mean.clone()
    cw = replace_batchnorm(model, "bn", ["red", "green"])
    assert model.bn is cw and not cw.training
    after = model.state_dict()
    assert all(torch.equal(after[k], v) for k, v in before.items())
    assert torch.equal(cw.running_mean, bn_mean)
    out = model(torch.rand(4, 3, 8, 8))
    assert torch.isfinite(out).all()


def test_replace_batchnorm_bad_inputs():
    model = _Tiny()
    with pytest.raises(ValueError, match="not a BatchNorm2d.*bn"):
        replace_batchnorm(model, "conv")
    with pytest.raises(KeyError, match="bn"):
        replace_batchnorm(model, "bm")
    with pytest.raises(ValueError, match="9 concepts need at least as many channels.*8"):
        replace_batchnorm(model, "bn", [str(i) for i in range(9)])
    with pytest.raises(ValueError, match=r"expects input shaped \(N, 8, H, W\)"):
        ConceptWhitening(8)(torch.zeros(2, 7, 3, 3))


def test_training_aligns_axes_and_keeps_the_task():
    torch.manual_seed(0)
    model = _Tiny()
    main, concepts = _tiny_data()
    replace_batchnorm(model, "bn", ["red", "green"])
    history = train_concept_whitening(model, main, concepts, epochs=3, every=1, batch_size=16, concept_batch=8)
    steps = history.rotation_steps["bn"]
    assert len(steps) == 3 * 4 + 1 and not model.training
    assert all(s.loss_after <= s.loss_before for s in steps)
    assert steps[-1].loss_after < steps[0].loss_before
    purity = concept_purity(model, "bn", concepts, splits=3)
    assert purity.concepts == ["red", "green"] and (purity.auc > 0.9).all()
    base = best_channels(model, "conv", concepts, splits=3)
    assert base.auc.shape == (2,) and base.channels.shape == (2,)


def test_training_stops_when_asked_and_checks_its_data():
    model = _Tiny()
    main, concepts = _tiny_data()
    with pytest.raises(ValueError, match="no ConceptWhitening layer"):
        train_concept_whitening(model, main, concepts)
    replace_batchnorm(model, "bn", ["red", "green"])
    with pytest.raises(ValueError, match="concept 'green' has no examples"):
        train_concept_whitening(model, main, {"red": concepts["red"], "green": concepts["green"][:0]})
    with pytest.raises(ValueError, match=r"aligns concepts \['green'\]"):
        train_concept_whitening(model, main, {"red": concepts["red"]})
    with pytest.raises(ValueError, match="main-task data"):
        train_concept_whitening(model, "data", concepts)
    calls = []
    history = train_concept_whitening(model, main, concepts, batch_size=16,
                                      should_stop=lambda: len(calls) >= 2,
                                      progress=lambda f, t: calls.append(f))
    assert history.stopped and len(calls) == 2


def test_purity_needs_a_concept_layer_and_examples():
    model = _Tiny()
    _, concepts = _tiny_data()
    with pytest.raises(ValueError, match="not a ConceptWhitening layer"):
        concept_purity(model, "bn", concepts)
    with pytest.raises(ValueError, match="at least 2 concepts"):
        best_channels(model, "bn", {"red": concepts["red"]})
    with pytest.raises(ValueError, match="non-empty mapping"):
        best_channels(model, "bn", {})


def test_looking_leaves_the_model_unchanged():
    model = _Tiny()
    main, concepts = _tiny_data()
    replace_batchnorm(model, "bn", ["red", "green"])
    model.train()
    snap = ModelSnapshot.of(model)
    concept_purity(model, "bn", concepts, splits=2)
    assert ModelSnapshot.of(model).differences(snap) == {}


def test_state_dict_round_trip_keeps_the_concept_names():
    a = ConceptWhitening(8, ["x", "y"])
    a.rotation.copy_(torch.linalg.qr(torch.randn(8, 8, dtype=torch.float64))[0])
    b = ConceptWhitening(8)
    b.load_state_dict(a.state_dict())
    assert b.concepts == ["x", "y"] and torch.equal(b.rotation, a.rotation)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_runs_on_cuda():
    cw = ConceptWhitening(8, ["a"]).cuda().train()
    y = cw(_correlated().cuda())
    assert y.is_cuda and (_covariance(y) - torch.eye(8, device="cuda")).abs().max() < 1e-3
    cw.eval()
    step = cw.update_rotation({"a": cw.whiten(_correlated(n=4).cuda())})
    assert cw.rotation.is_cuda and step.loss_after <= step.loss_before

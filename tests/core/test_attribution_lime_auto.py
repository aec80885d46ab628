"""LIME that stops when its top superpixels are stable, and LIME's argument checks."""
import numpy as np
import pytest
import torch
from torch import nn

import nnlens_widgets as nl
from nnlens_widgets.core.attribution.lime import ROUND, _weighted_ridge
from nnlens_widgets.core.attribution.lime_stability import BootstrapStability, kernel_weights, top_set

from .attribution_models import single_thread  # noqa: F401 (fixture)
from .test_attribution_lime import ColourModel, _blobs


def _colour_input(seed=0):
    return torch.from_numpy(_blobs(seed, 64).transpose(2, 0, 1)).float()


def _tiles(seed=0):
    """A 4x4 grid of random colours with noise (hiding a tile shows its mean colour, which then
    differs), one superpixel per tile: every tile counts, each differently."""
    g = torch.Generator().manual_seed(seed)
    colours = torch.rand(3, 4, 4, generator=g)
    x = colours.repeat_interleave(8, 1).repeat_interleave(8, 2) + 0.6 * (torch.rand(3, 32, 32, generator=g) - 0.5)
    return x.clamp(0, 1), np.arange(16).reshape(4, 4).repeat(8, 0).repeat(8, 1)


def test_auto_stops_once_the_top_set_is_stable(single_thread):
    x, segments = _tiles()
    res = nl.core.lime(ColourModel().eval(), x, 0, samples="auto", segments=segments, output="score")
    assert res.samples < 1000 and res.samples % ROUND == 0
    assert res.stability >= 0.95 and res.confidence == 0.95 and res.top == res.stable_top == 5
    assert res.describe() == (f"top 5 superpixels stable in {100 * res.stability:.0f}% of {res.resamples} "
                              f"bootstrap resamples after {res.samples} samples")


def test_auto_is_a_prefix_of_the_fixed_count_run_and_seeded(single_thread):
    model, (x, segments) = ColourModel().eval(), _tiles(1)
    seen = []
    auto = nl.core.lime(model, x, 1, samples="auto", segments=segments, progress=seen.append)
    assert auto.samples < 1000  # stopped early: progress still ends at 1
    fixed = nl.core.lime(model, x, 1, samples=auto.samples, segments=segments)
    np.testing.assert_array_equal(auto.data, fixed.data)
    np.testing.assert_allclose(auto.coefficients, fixed.coefficients, rtol=1e-12, atol=1e-15)
    assert seen == sorted(seen) and seen[-1] == 1.0
    again = nl.core.lime(model, x, 1, samples="auto", segments=segments)
    assert torch.equal(again.weights, auto.weights) and again.samples == auto.samples
    other = nl.core.lime(model, x, 1, samples=auto.samples, segments=segments, seed=7)
    assert not np.array_equal(other.data, auto.data)


class TiedNet(nn.Module):
    """Eight equal vertical stripes, all equally important, plus an interaction: no stable top 5."""

    def forward(self, x):
        stripes = x[:, 0].reshape(x.shape[0], x.shape[2], 8, -1).mean((1, 3))  # (N, 8)
        score = stripes.sum(1) + 3 * stripes[:, 0] * stripes[:, 5] * stripes[:, 2]
        return torch.stack([score, -score], 1)


def test_few_relevant_superpixels_make_an_unstable_top_five(single_thread):
    # two coloured blobs drive class 0; the other superpixels tie at zero
    res = nl.core.lime(ColourModel().eval(), _colour_input(), 0, samples="auto", kernel_size=2, output="score")
    assert res.samples == 1000 and res.stability < 0.5
    assert res.stable_top == 2 and res.describe().endswith("stopped at the cap before reaching 95%; the top 2 is stable)")
    assert nl.core.lime(ColourModel().eval(), _colour_input(), 0, samples=200, kernel_size=2, output="score",
                        top=2).stability >= 0.95


def test_auto_stops_at_the_cap_and_says_so_when_no_ranking_is_stable():
    x = torch.rand(3, 16, 32, generator=torch.Generator().manual_seed(0))
    segments = np.repeat(np.arange(8)[None, :], 4, axis=1).reshape(1, 32).repeat(16, 0)
    res = nl.core.lime(TiedNet(), x, 0, samples="auto", segments=segments, max_samples=300, output="score")
    assert res.samples == 300 and res.stability < 0.95
    assert "(stopped at the cap before reaching 95%" in res.describe()
    fixed = nl.core.lime(TiedNet(), x, 0, samples=300, segments=segments, output="score")
    assert fixed.confidence is None and fixed.stability == res.stability  # the same resamples
    assert "cap" not in fixed.describe()


def test_bootstrap_resamples_are_weighted_ridge_fits():
    rng = np.random.RandomState(0)
    data = rng.randint(0, 2, (60, 6))
    y = data @ np.array([3.0, -1.0, 0.5, 2.0, 0.0, 1.0]) + 0.1 * rng.randn(60)
    w = kernel_weights(data, 0.25)
    boot = BootstrapStability(6, alpha=1.0, resamples=4, seed=3)
    boot.add(data[:25], y[:25], w[:25])
    boot.add(data[25:], y[25:], w[25:])  # two rounds add up to one fit over all samples
    coef = boot.coefficients()
    full, _, _ = _weighted_ridge(data.astype(float), y, w, 1.0)
    np.testing.assert_allclose(coef[0], full, rtol=1e-8, atol=1e-10)  # row 0: all samples once
    coef = coef[1:]
    stream = np.random.default_rng(3)  # the Poisson counts the bootstrap draws with that seed
    c1, c2 = stream.poisson(1.0, (25, 4)).T, stream.poisson(1.0, (35, 4)).T  # sample by sample
    for b in range(4):
        cw = np.concatenate([c1[b], c2[b]]) * w
        expected, _, _ = _weighted_ridge(data.astype(float), y, cw, 1.0)
        np.testing.assert_allclose(coef[b], expected, rtol=1e-8, atol=1e-10)
    same = (top_set(coef, 3) == top_set(full, 3)).all(1).mean()
    assert boot.stability(3) == same


@pytest.mark.parametrize("kwargs, message", [
    (dict(target=99), r"class index in 0\.\.2, got 99"),
    (dict(samples=0), r"samples \('auto' or a number\) as an integer in 2\.\.1000000, got 0"),
    (dict(samples=1), r"in 2\.\.1000000, got 1"),
    (dict(samples=2.5), r"in 2\.\.1000000, got 2\.5"),
    (dict(samples="many"), r"got 'many'"),
    (dict(samples=True), r"got True"),
    (dict(batch_size=0), r"batch_size as an integer in 1\.\.65536, got 0"),
    (dict(batch_size=-1), r"batch_size as an integer in 1\.\.65536, got -1"),
    (dict(batch_size=1.5), r"batch_size as an integer in 1\.\.65536"),
    (dict(confidence=1.0), r"confidence as a fraction in \(0, 1\)"),
    (dict(confidence=0), r"confidence as a fraction in \(0, 1\)"),
    (dict(top=0), r"top \('stable' or a number\) as an integer in 1\.\.10000"),
    (dict(max_samples=1), r"max_samples as an integer in 2\.\.1000000"),
    (dict(kernel_width=0), r"kernel_width as a number > 0"),
    (dict(alpha=-1), r"alpha as a number >= 0"),
])
def test_lime_arguments_are_range_checked(kwargs, message):
    args = dict(target=0, samples=10)
    args.update(kwargs)
    with pytest.raises(ValueError, match=message):
        nl.core.lime(ColourModel().eval(), torch.rand(3, 20, 20), **args)

"""LIME with top="stable": the largest top set the samples can back, and a stop once no larger one can be."""
import numpy as np
import pytest
import torch
from statistics import NormalDist
from torch import nn

import nnlens_widgets as nl
from nnlens_widgets.core.attribution import METHODS
from nnlens_widgets.core.attribution.lime import ROUND
from nnlens_widgets.core.attribution.lime_stability import BootstrapStability

from .attribution_models import single_thread  # noqa: F401 (fixture)
from .test_attribution_lime import ColourModel
from .test_attribution_lime_auto import _colour_input, _tiles


def _two_blobs(**kwargs):
    """Two coloured blobs drive class 0, the other ten superpixels tie at zero: only a top 2 is stable."""
    return nl.core.lime(ColourModel().eval(), _colour_input(), 0, kernel_size=2, output="score", **kwargs)


def test_stops_early_on_the_largest_stable_set_and_says_which(single_thread):
    fixed_top = _two_blobs(samples="auto")  # a fixed top 5 never becomes stable: it runs to the cap
    assert fixed_top.samples == 1000 and fixed_top.stable_top == 2
    res = _two_blobs(samples="auto", top="stable")
    assert res.samples < 1000 and res.samples % ROUND == 0
    assert res.top == res.stable_top == 2 and res.stable_search == 10 and res.stability >= 0.95
    assert res.confidence == res.stable_at == 0.95
    assert res.describe() == (f"top 2 stable at 95% after {res.samples} samples (in {100 * res.stability:.0f}% "
                              f"of {res.resamples} bootstrap resamples; no larger set up to 10 is)")
    # the largest: at the same samples (same bootstrap resamples) every larger top set is unstable
    assert all(_two_blobs(samples=res.samples, top=j).stability < 0.95 for j in range(3, 11))
    # a prefix of the fixed-count run, which reports the same set
    fixed = _two_blobs(samples=res.samples, top="stable")
    np.testing.assert_array_equal(fixed.data, res.data)
    np.testing.assert_allclose(fixed.coefficients, res.coefficients, rtol=1e-12, atol=1e-15)
    assert fixed.top == 2 and fixed.confidence is None and fixed.describe() == res.describe()


def test_keeps_drawing_while_a_larger_set_can_still_become_stable(single_thread):
    x, segments = _tiles(2)  # sixteen tiles, each counting differently
    model = ColourModel().eval()
    first_round = nl.core.lime(model, x, 0, samples=ROUND, top="stable", segments=segments, output="probability")
    assert 1 <= first_round.stable_top < 10  # a set was backed after one round, but not the largest
    res = nl.core.lime(model, x, 0, samples="auto", top="stable", segments=segments, output="probability")
    assert ROUND < res.samples < 1000 and res.top == res.stable_top == 10
    assert res.describe() == (f"top 10 stable at 95% after {res.samples} samples (in {100 * res.stability:.0f}% "
                              f"of {res.resamples} bootstrap resamples)")


def test_deterministic_under_seed(single_thread):
    x, segments = _tiles(0)
    model = ColourModel().eval()

    def run(seed):
        return nl.core.lime(model, x, 0, samples="auto", top="stable", segments=segments, seed=seed)

    a, b = run(3), run(3)
    assert torch.equal(a.weights, b.weights) and np.array_equal(a.data, b.data)
    assert (a.samples, a.top, a.stability, a.describe()) == (b.samples, b.top, b.stability, b.describe())
    other = run(4)
    assert not np.array_equal(other.data[:a.samples], a.data[:other.samples])


class CountNet(nn.Module):
    """Scores how many of eight checkered stripes are shown, through a symmetric bump: every
    stripe matters exactly as much as every other, so no top set can be stable."""

    def forward(self, x):
        stripes = x[:, 0].reshape(x.shape[0], x.shape[2], 8, -1)
        shown = stripes.std((1, 3), correction=0) / 0.5  # 1 for a checkered stripe, 0 hidden (flat)
        score = (shown.sum(1) - 4) ** 2
        return torch.stack([score, -score], 1)


def test_equals_the_fixed_count_run_where_nothing_is_stable():
    x = torch.zeros(3, 16, 32)
    x[0] = ((torch.arange(16)[:, None] + torch.arange(32)[None]) % 2).float()
    segments = np.repeat(np.arange(8), 4)[None].repeat(16, 0)
    res = nl.core.lime(CountNet(), x, 0, samples="auto", top="stable", segments=segments, max_samples=300,
                       output="score")
    fixed = nl.core.lime(CountNet(), x, 0, samples=300, top=7, segments=segments, output="score")
    assert res.samples == 300 and res.stable_top == fixed.stable_top == 0
    np.testing.assert_array_equal(res.coefficients, fixed.coefficients)
    assert (res.top, res.stability) == (fixed.top, fixed.stability) == (7, fixed.stability)  # 8 stripes: at most 7
    assert res.describe() == (f"no top set of 1 to 7 superpixels stable at 95% after 300 samples (the top 7 in "
                              f"{100 * fixed.stability:.0f}% of {fixed.resamples} bootstrap resamples)")


def test_samples_needed_follows_the_margin_against_its_spread():
    boot = BootstrapStability(3, alpha=1.0, resamples=4)
    boot.samples = 400
    coef = np.array([[3.0, 1.0, 0.0],  # the fit on all samples: margins 2 (top 1) and 1 (top 2)
                     [3.0, 1.0, 0.0], [1.0, 0.0, 0.0], [3.0, 1.0, 0.0], [1.0, 0.0, 0.0]])  # spreads 0.5, 0.5
    z = NormalDist().inv_cdf(0.95)
    np.testing.assert_allclose(boot.samples_needed(5, 0.95, coef), [400 * (z * 0.5 / 2) ** 2, 400 * (z * 0.5 / 1) ** 2])
    coef[0] = [3.0, 1.0, 1.0]  # ranks 2 and 3 tied exactly: never separated
    assert boot.samples_needed(2, 0.95, coef)[1] == np.inf


def test_the_explorer_can_offer_a_stable_top():
    spec = METHODS["lime"]
    top = {p.name: p for p in spec.params}["top"]
    assert top.kind == "choice" and "stable" in top.choices and top.default == 5 == spec.defaults()["top"]
    assert top.check("stable") == "stable"
    with pytest.raises(ValueError, match=r"expected top in \[1, 3, 5, 10, 'stable'\], got 'all'"):
        top.check("all")
    res = spec.function(ColourModel().eval(), _colour_input(), target=0, kernel_size=2,
                        **{**spec.defaults(), "top": "stable"})
    assert res.stable_search == 10 and res.samples == spec.defaults()["samples"]
    assert res.describe().startswith(f"top {res.top} stable at 95% after {res.samples} samples")


@pytest.mark.parametrize("kwargs, message", [
    (dict(top="stabel"), r"expected top \('stable' or a number\) as an integer in 1\.\.10000, got 'stabel'"),
    (dict(top=0), r"expected top \('stable' or a number\) as an integer in 1\.\.10000, got 0"),
    (dict(top=None), r"expected top \('stable' or a number\) as an integer in 1\.\.10000, got None"),
    (dict(top="stable", max_top=0), r"expected max_top as an integer in 1\.\.10000, got 0"),
    (dict(top="stable", max_top=2.5), r"expected max_top as an integer in 1\.\.10000, got 2\.5"),
])
def test_bad_values_get_clear_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        nl.core.lime(ColourModel().eval(), torch.rand(3, 20, 20), 0, samples=10, **kwargs)

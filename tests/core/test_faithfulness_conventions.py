"""faithfulness() under the "quantus" and "grad-cam" conventions equals those libraries (to 1e-5),
on a model with BatchNorm and one without; options, directions and errors."""
import numpy as np
import pytest
import torch

import nnlens_widgets as nl
from nnlens_widgets.core import FAITHFULNESS_METRICS, faithfulness
from nnlens_widgets.core.guard import ModelSnapshot
from tests.core import faithfulness_references as ref

TOL = 1e-5
MODELS = sorted(ref.MODELS)


def _close(ours, theirs, tol=TOL):
    ours, theirs = np.asarray(ours, dtype=np.float64), np.asarray(theirs, dtype=np.float64)
    assert ours.shape == theirs.shape
    assert np.abs(ours - theirs).max() <= tol * max(1.0, np.abs(theirs).max())


@pytest.mark.parametrize("name", MODELS)
@pytest.mark.parametrize("map_channels,step", [(1, 1), (3, 4)])
def test_pixel_flipping_equals_quantus(name, map_channels, step):
    model, x, a, t = ref.case(name, size=6)  # Quantus runs one pass per step: 108 at 6x6
    if map_channels == 3:
        a = nl.core.gradient(model, x, target=t)  # one value per channel value
    before = ModelSnapshot.of(model)
    r = faithfulness(model, x, a, t, "pixel_flipping", "quantus", features_in_step=step)
    assert ModelSnapshot.of(model) == before
    theirs = ref.quantus_curve("pixel_flipping", model, x, a, t, features_in_step=step)
    _close(r.curve, theirs)
    _close(r.score, np.trapezoid(theirs, dx=1))
    assert r.better == "lower" and len(r.x) == len(r.curve) == 3 * 36 // step
    assert r.options["features_in_step"] == step and r.options["perturb_baseline"] == "black"


@pytest.mark.parametrize("name", MODELS)
@pytest.mark.parametrize("order,patch,regions", [("morf", 8, 100), ("lerf", 5, 4), ("morf", 4, 6)])
def test_region_perturbation_equals_quantus(name, order, patch, regions):
    model, x, a, t = ref.case(name, seed=1)
    r = faithfulness(model, x, a, t, "region_perturbation", "quantus", patch_size=patch, order=order,
                     regions_evaluation=regions)
    theirs = ref.quantus_curve("region_perturbation", model, x, a, t, patch_size=patch, order=order,
                               regions_evaluation=regions)
    _close(r.curve, theirs)
    _close(r.score, np.trapezoid(theirs, dx=1))
    assert r.better == {"morf": "higher", "lerf": "lower"}[order]


@pytest.mark.parametrize("name", MODELS)
@pytest.mark.parametrize("patch", [8, 5])
def test_selectivity_equals_quantus(name, patch):
    model, x, a, t = ref.case(name, seed=2)
    r = faithfulness(model, x, a, t, "selectivity", "quantus", patch_size=patch)
    theirs = ref.quantus_curve("selectivity", model, x, a, t, patch_size=patch)
    _close(r.curve, theirs)
    _close(r.score, np.trapezoid(theirs, dx=1))


@pytest.mark.parametrize("name", MODELS)
def test_faithfulness_correlation_equals_quantus_given_its_draws(name):
    model, x, a, t = ref.case(name, seed=3)
    theirs, subsets = ref.quantus_faithfulness_correlation(model, x, a, t, seed=5, nr_runs=12, subset_size=40)
    r = faithfulness(model, x, a, t, "faithfulness_correlation", "quantus", nr_runs=12, subset_size=40,
                     subsets=subsets)
    assert abs(r.score - theirs) <= TOL
    assert r.better == "higher" and r.curve.shape == r.x.shape == (12,)
    # our own draws: seeded, so the same call gives the same score, another seed another one
    mine = faithfulness(model, x, a, t, "faithfulness_correlation", "quantus", nr_runs=12, subset_size=40, seed=1)
    assert mine.score == faithfulness(model, x, a, t, "faithfulness_correlation", "quantus", nr_runs=12,
                                      subset_size=40, seed=1).score
    assert mine.score != r.score


@pytest.mark.parametrize("name", ["digits", "batchnorm"])
def test_quantus_road_equals_quantus_on_one_channel_images(name):
    """Quantus 0.6's ROAD runs on one-channel images only (it fails on three); the zoo's digits model
    loses the class on the way, the small BatchNorm model does not."""
    if name == "digits":
        model, x = nl.zoo.digits_cnn(), nl.zoo.digits_data().x_test[:1]
        t = int(model(x).argmax())
        a = nl.core.gradient(model, x, target=t)
    else:
        model, x, a, t = ref.case(name, in_ch=1, seed=4)
    percentages = [5, 20, 45, 70, 95]
    r = faithfulness(model, x, a, t, "road_morf", "quantus", percentages=percentages, noise=0.0)
    theirs = ref.quantus_curve("road_morf", model, x, a, t, percentages=percentages, noise=0.0)
    np.testing.assert_array_equal(r.curve, theirs)
    if name == "digits":
        assert r.curve.min() == 0 and r.curve.max() == 1
    assert r.score == pytest.approx(theirs.mean()) and r.better == "lower"


def test_imputation_equals_both_libraries():
    from pytorch_grad_cam.metrics.road import NoisyLinearImputer
    from quantus.functions.perturb_func import noisy_linear_imputation

    from nnlens_widgets.core.trust.imputation import ImputationSystem

    g = torch.Generator().manual_seed(0)
    image = torch.rand(3, 14, 11, generator=g)
    for fraction in (0.1, 0.5, 0.9):
        removed = (torch.rand(14, 11, generator=g) < fraction).numpy()
        removed[0, 0] = False  # keep one pixel at least
        ours = ImputationSystem(removed).fill(image)
        assert torch.equal(ours[:, ~torch.from_numpy(removed)], image[:, ~torch.from_numpy(removed)])
        gradcam = NoisyLinearImputer(noise=0.0)(image, torch.from_numpy((~removed).astype(np.float32)))
        quantus = noisy_linear_imputation(image.numpy(), np.flatnonzero(removed), noise=0.0)
        assert (ours - gradcam).abs().max() < 1e-6
        assert np.abs(ours.numpy() - quantus).max() < 1e-6
        assert (ours - image).abs().max() > 0.05  # removed pixels did change
    # the row-major order gives the same values as the nested-dissection order
    np.testing.assert_allclose(ImputationSystem(removed, order="rows").fill(image), ours, atol=1e-6)


@pytest.mark.parametrize("name", MODELS)
@pytest.mark.parametrize("kind,kwargs", [
    ("morf", dict(percentile=80)), ("lerf", dict(percentile=20)), ("morf", dict(percentiles=[10, 40, 70])),
    ("lerf", dict(percentiles=[30, 60, 90])), ("combined", dict(percentiles=[10, 20, 30, 40, 50, 60, 70, 80, 90])),
])
@pytest.mark.parametrize("output", ["logits", "softmax"])
def test_road_equals_pytorch_grad_cam_with_noise_0(name, kind, kwargs, output):
    model, x, _, t = ref.case(name, seed=5)
    cam = torch.rand(ref.SIZE, ref.SIZE, generator=torch.Generator().manual_seed(9)).numpy()
    r = faithfulness(model, x, cam, t, f"road_{kind}", "grad-cam", noise=0.0, output=output, **kwargs)
    theirs = ref.gradcam_road(kind, model, x, cam, t, output=output, **kwargs)
    assert abs(r.score - theirs) <= TOL
    assert theirs != 0  # the removal changed the target's score
    assert r.better == ("lower" if kind == "morf" else "higher")


def test_percentile_meanings_differ_as_documented():
    """grad-cam's MoRF(80) removes the top 20%; Quantus's percentage 20 removes the top 20% too."""
    from nnlens_widgets.core.trust.road import _gradcam_masks

    cam = np.arange(100, dtype=np.float32).reshape(10, 10)
    removed = _gradcam_masks(cam, [80], least=False)[0]
    assert removed.sum() == 20 and removed.ravel()[80:].all()
    lerf = _gradcam_masks(cam, [20], least=True)[0]
    assert lerf.sum() == 80 and lerf.ravel()[:80].all()


def test_conventions_give_different_numbers_for_one_map():
    model, x, a, t = ref.case("plain", seed=6)
    nn_ = faithfulness(model, x, a, t, "road_morf", "nnlens", noise=0.0, percentiles=[20, 50, 80])
    gc = faithfulness(model, x, a, t, "road_morf", "grad-cam", noise=0.0, percentiles=[20, 50, 80])
    assert nn_.convention == "nnlens" and gc.convention == "grad-cam"
    assert nn_.y_label == "target probability" and "logits" in gc.y_label
    assert not np.allclose(nn_.curve, gc.curve)
    np.testing.assert_allclose(nn_.x, [0.2, 0.5, 0.8])


def test_a_metric_a_convention_does_not_define_is_refused_with_the_list():
    model, x, a, t = ref.case("plain")
    with pytest.raises(ValueError) as e:
        faithfulness(model, x, a, t, "pixel_flipping", "nnlens")
    msg = str(e.value)
    assert "'nnlens' convention does not define 'pixel_flipping'" in msg
    assert "deletion, insertion, road_morf, road_lerf, road_combined" in msg and "'quantus'" in msg
    with pytest.raises(ValueError, match="defines road_morf, road_lerf, road_combined"):
        faithfulness(model, x, a, t, "deletion", "grad-cam")
    with pytest.raises(ValueError, match="unknown faithfulness convention 'captum'"):
        faithfulness(model, x, a, t, "deletion", "captum")
    with pytest.raises(ValueError, match="did you mean 'selectivity'"):
        faithfulness(model, x, a, t, "selectivty", "quantus")


def test_options_are_checked():
    model, x, a, t = ref.case("plain")
    with pytest.raises(ValueError, match="takes the options percentile, percentiles, noise, output, seed; got unknown"):
        faithfulness(model, x, a, t, "road_morf", "grad-cam", percentages=[10])
    with pytest.raises(ValueError, match="perturb_baseline"):
        faithfulness(model, x, a, t, "selectivity", "quantus", perturb_baseline="mean")
    with pytest.raises(ValueError, match="strictly between 0 and 100"):
        faithfulness(model, x, a, t, "road_lerf", "grad-cam", percentile=100)
    with pytest.raises(ValueError, match="order in"):
        faithfulness(model, x, a, t, "region_perturbation", "quantus", order="middle")
    with pytest.raises(ValueError, match=r"expected a map shaped"):
        faithfulness(model, x, torch.ones(1, 2, ref.SIZE, ref.SIZE), t, "deletion")
    with pytest.raises(ValueError, match="class index"):
        faithfulness(model, x, a, ("0", 1), "selectivity", "quantus")
    assert set(FAITHFULNESS_METRICS) == {"deletion", "insertion", "pixel_flipping", "region_perturbation",
                                         "selectivity", "faithfulness_correlation", "road_morf", "road_lerf",
                                         "road_combined"}


def test_random_parts_are_seeded_and_leave_global_generators_alone():
    model, x, a, t = ref.case("batchnorm", seed=7)
    torch_state, numpy_state = torch.random.get_rng_state(), np.random.get_state()
    runs = [faithfulness(model, x, a, t, "road_combined", "nnlens", seed=s, percentiles=[30, 70]).curve
            for s in (0, 0, 1)]
    order = [faithfulness(model, x, a, t, "region_perturbation", "quantus", patch_size=4, order="random",
                          seed=s).curve for s in (3, 3)]
    assert torch.equal(torch_state, torch.random.get_rng_state())
    assert np.array_equal(numpy_state[1], np.random.get_state()[1])
    np.testing.assert_array_equal(runs[0], runs[1])
    assert not np.array_equal(runs[0], runs[2])  # the noise is drawn, and from the seed
    np.testing.assert_array_equal(order[0], order[1])
    assert faithfulness(model, x, a, t, "region_perturbation", "quantus", order="random").better is None


def test_nnlens_deletion_is_the_existing_curve_and_model_stays_untouched():
    from nnlens_widgets.core.guard import hook_count

    model, x, a, t = ref.case("batchnorm", seed=8)
    model.train()  # a training-mode model is looked at in eval mode and left in training mode
    before = ModelSnapshot.of(model)
    r = faithfulness(model, x, a, t, "deletion", steps=16)
    curve = nl.core.metrics.deletion_curve(model, x, a, t, steps=16)
    np.testing.assert_array_equal(r.curve, curve.scores)
    assert r.score == curve.auc and r.better == "lower" and r.options == {"steps": 16, "baseline": "zero"}
    for metric, convention in [("insertion", "nnlens"), ("road_lerf", "nnlens"), ("selectivity", "quantus"),
                               ("road_combined", "grad-cam"), ("faithfulness_correlation", "quantus")]:
        faithfulness(model, x, a, t, metric, convention)
    assert ModelSnapshot.of(model) == before and hook_count(model) == 0 and model.training

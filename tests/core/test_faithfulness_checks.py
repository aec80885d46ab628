"""Checks of the checks: blur confound, metric sanity, EfficientMPRT (equal to Quantus's), targets the
model does not give, and the trust report that carries them."""
import numpy as np
import pytest
import torch
from torch import nn

import nnlens_widgets as nl
from nnlens_widgets.core import blur_confound, efficient_mprt, low_target_caveat, metric_sanity
from nnlens_widgets.core.guard import ModelSnapshot, hook_count
from nnlens_widgets.core.trust import randomised_copy
from tests.core import faithfulness_references as ref

H = 32
SQUARE = slice(8, 24)
QUICK = {"deletion": {"steps": 16}, "insertion": {"steps": 16}}


def square_model() -> nn.Module:
    """Class 0's logit is the sum over a central square; class 1 a constant."""
    lin = nn.Linear(H * H, 2)
    with torch.no_grad():
        w = torch.zeros(H, H)
        w[SQUARE, SQUARE] = 0.05
        lin.weight.zero_()
        lin.weight[0] = w.flatten()
        lin.bias.copy_(torch.tensor([0.0, 3.0]))
    return nn.Sequential(nn.Flatten(), lin).eval()


def square_input() -> torch.Tensor:
    return 0.5 + 0.5 * torch.rand(1, 1, H, H, generator=torch.Generator().manual_seed(0))


def test_blur_confound_flags_a_metric_that_prefers_the_blurred_map():
    """Every other pixel of the square: deleting them first leaves the rest of the square for later,
    while the blurred map ranks the whole square first, so deletion scores the blur better."""
    model = square_model()
    checker = torch.zeros(H, H)
    checker[SQUARE, SQUARE] = ((torch.arange(16)[:, None] + torch.arange(16)) % 2 == 0).float()
    before = ModelSnapshot.of(model)
    r = blur_confound(model, square_input(), checker, 0, metric_options=QUICK)
    assert ModelSnapshot.of(model) == before
    assert r.flagged == ("deletion",) and r.convention == "nnlens"
    deletion = r.checks[0]
    assert deletion.preference > 0.05 and all(score < deletion.score for _, score in deletion.blurred)
    np.testing.assert_allclose(r.sigmas, (2 * H / 224, 4 * H / 224))  # scaled with the image
    (sentence,) = r.warnings
    assert sentence.startswith("the map blurred (sigma 0.57 px) scores") and "deletion favours blur here" in sentence


def test_blur_confound_leaves_a_map_blur_cannot_improve_alone():
    model = square_model()
    block = torch.zeros(H, H)
    block[SQUARE, SQUARE] = 1.0
    r = blur_confound(model, square_input(), block, 0, metric_options=QUICK)
    assert r.flagged == () and r.warnings == ()
    assert all(abs(c.preference) < 0.05 for c in r.checks)


def test_blur_confound_under_other_conventions_and_known_scores():
    model, x, a, t = ref.case("plain")
    with pytest.raises(ValueError, match="'quantus' convention does not define 'road_combined'"):
        blur_confound(model, x, a, t, ("selectivity", "road_combined"), "quantus")
    r = blur_confound(model, x, a, t, ("selectivity",), "quantus", metric_options={"selectivity": {"patch_size": 4}})
    assert r.checks[0].better == "lower" and len(r.checks[0].blurred) == 2
    known = blur_confound(model, x, a, t, ("selectivity",), "quantus",
                          metric_options={"selectivity": {"patch_size": 4}}, scores={"selectivity": 1e9})
    assert known.checks[0].score == 1e9 and known.checks[0].preference > 0.9  # the given score was used


class BufferLinear(nn.Module):
    """Weights held as buffers: nothing for a re-initialisation to change."""

    def __init__(self):
        super().__init__()
        g = torch.Generator().manual_seed(0)
        self.register_buffer("weight", torch.randn(3, H * H, generator=g) * 0.05)

    def forward(self, x):
        return x.flatten(1) @ self.weight.T


def test_metric_sanity_tells_noise_from_randomisation_for_the_digits_model():
    model = nl.zoo.digits_cnn()
    x = nl.zoo.digits_data().x_test[:1]
    before, rng = ModelSnapshot.of(model), torch.random.get_rng_state()
    r = metric_sanity(model, x, "gradient", metric_options=QUICK)
    assert ModelSnapshot.of(model) == before and hook_count(model) == 0
    assert torch.equal(rng, torch.random.get_rng_state())  # noise and re-initialisation from own generators
    assert r.failed == () and r.warnings == ()
    for c in r.checks:
        assert c.told_apart and c.randomisation_move >= 2 * c.noise_move > 0


def test_metric_sanity_warns_when_randomising_changes_nothing():
    model = BufferLinear().eval()
    x = square_input()
    r = metric_sanity(model, x, "gradient", metrics=("deletion",), metric_options=QUICK)
    (check,) = r.checks
    assert check.randomisation_move == 0 and not check.told_apart
    (sentence,) = r.warnings
    assert sentence.startswith("deletion (nnlens) did not tell a randomised model from a slightly noised input")
    with pytest.raises(ValueError, match="'nnlens' convention does not define 'selectivity'"):
        metric_sanity(model, x, "gradient", metrics=("selectivity",))


@pytest.mark.parametrize("name", sorted(ref.MODELS))
@pytest.mark.parametrize("method", ["gradient", "guided_backprop"])
def test_efficient_mprt_equals_quantus(name, method):
    model, x, _, t = ref.case(name)
    fn = nl.core.METHODS[method].function

    def explain(model, inputs, targets, **_):
        return fn(model, torch.as_tensor(inputs), target=int(targets[0])).numpy()

    torch_state = torch.random.get_rng_state()
    before = ModelSnapshot.of(model)
    ours = efficient_mprt(model, x, method, t)
    assert torch.equal(torch_state, torch.random.get_rng_state())  # own generators only
    assert ModelSnapshot.of(model) == before
    theirs = ref.quantus_efficient_mprt(model, x, t, explain)
    assert abs(ours.score - theirs) <= 1e-5
    assert ours.approximated == () and ours.layers[0] == next(n for n, m in model.named_modules()
                                                            if hasattr(m, "reset_parameters"))
    assert ours.map_entropy[0] != ours.map_entropy[1]


def test_randomised_copy_redraws_like_reset_parameters():
    model, *_ = ref.case("batchnorm")
    copy = randomised_copy(model, seed=7).model
    with ref.global_rng_kept():
        torch.manual_seed(8)
        expected = nn.Conv2d(3, 6, 3, padding=1)  # a fresh module draws as reset_parameters does
    assert torch.equal(copy.conv1.weight, expected.weight) and torch.equal(copy.conv1.bias, expected.bias)
    assert torch.equal(copy.bn.running_var, torch.ones(8)) and not torch.equal(model.bn.running_var, torch.ones(8))


def test_low_target_caveat_names_the_class_and_its_probability():
    model = nl.zoo.digits_cnn()
    x = nl.zoo.digits_data().x_test[:1]
    probs = torch.softmax(model(x), 1)[0].detach()
    low = int(probs.argmin())
    sentence = low_target_caveat(model, x, low, labels=nl.zoo.DIGIT_CLASSES)
    assert sentence.startswith(f"explaining class {low} ({low}), which the model gives {100 * float(probs[low]):.1f}%")
    assert low_target_caveat(model, x, None) is None and low_target_caveat(model, x, int(probs.argmax())) is None
    assert low_target_caveat(model, x, ("conv1", 0)) is None  # a unit has no probability


def test_trust_report_carries_convention_blur_check_and_caveat():
    model = nl.zoo.digits_cnn()
    x = nl.zoo.digits_data().x_test[:1]
    low = int(model(x).argmin())
    before = ModelSnapshot.of(model)
    predicted = nl.core.metrics.trust_report(model, x, "gradient", steps=8, sanity=False)
    caveated = nl.core.metrics.trust_report(model, x, "gradient", target=low, steps=8, sanity=False)
    assert ModelSnapshot.of(model) == before
    assert predicted.convention == "nnlens" and predicted.other_conventions == ("quantus", "grad-cam")
    assert predicted.caveat is None and predicted.target_probability > 0.5
    assert predicted.blur is not None and [c.metric for c in predicted.blur.checks] == ["deletion", "insertion"]
    assert predicted.blur.checks[0].score == predicted.deletion.auc  # not recomputed
    assert predicted.blur_flagged == predicted.blur.flagged and set(predicted.blur.warnings) <= set(predicted.warnings)
    assert caveated.target_probability < 0.01
    assert caveated.caveat.startswith(f"explaining class {low}, which the model gives 0.0%")
    assert caveated.warnings[0] == caveated.caveat
    assert predicted.mprt is None  # the randomisation checks run with sanity=True
    full = nl.core.metrics.trust_report(model, x, "gradient", steps=8, blur_check=False)
    assert full.blur is None and full.sanity is not None
    assert full.mprt.score == efficient_mprt(model, x, "gradient").score  # beside the cascading check


def test_trust_report_flags_the_blur_confound():
    model = square_model()
    checker = torch.zeros(H, H)
    checker[SQUARE, SQUARE] = ((torch.arange(16)[:, None] + torch.arange(16)) % 2 == 0).float()
    r = nl.core.metrics.trust_report(model, square_input(), "gradient", target=0, attribution=checker, steps=16,
                                     sanity=False)
    assert r.blur_flagged == ("deletion",)
    assert any("deletion favours blur here" in w for w in r.warnings)

"""core.ablate / core.ablation_effects: exact replacement, exact restoration, batched == one pass per channel."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

import nnlens_widgets as nl
from nnlens_widgets.core import ModelSnapshot, ablate, ablation_effects, channel_means, hook_count, probe
from tests.models import TinyNet, TupleNet, image


@pytest.fixture(scope="module")
def digits():
    return nl.zoo.digits_cnn(), nl.zoo.digits_data()


def manual_digits_logits(m, x, zero=(), fill=None):
    """DigitsCNN's forward written out by hand, with channels of relu3 replaced (independent reference)."""
    with torch.no_grad():
        h = F.relu(m.conv1(x))
        h = F.max_pool2d(F.relu(m.conv2(h)), 2)
        h = F.relu(m.conv3(h)).clone()
        for c in zero:
            h[:, c] = 0.0 if fill is None else fill[c]
        h = F.max_pool2d(h, 2)
        return m.fc(h.mean(dim=(2, 3)))


def test_zero_ablation_matches_a_hand_written_forward(digits):
    m, d = digits
    x = d.x_test[:3]
    with ablate(m, "relu3", [1, 7, 40]) as values, torch.no_grad():
        out = m(x)
    assert values == {1: 0.0, 7: 0.0, 40: 0.0}
    torch.testing.assert_close(out, manual_digits_logits(m, x, (1, 7, 40)), rtol=0, atol=1e-5)
    with torch.no_grad():
        assert not torch.allclose(m(x), out)  # nothing left behind: the normal output is back


def test_mean_and_fixed_value_modes(digits):
    m, d = digits
    reference = d.x_train[:50]
    means = channel_means(m, "relu3", reference)
    with probe(m, "relu3") as acts, torch.no_grad():
        m(reference)
    torch.testing.assert_close(means, acts["relu3"].mean(dim=(0, 2, 3)))
    x = d.x_test[:2]
    with ablate(m, "relu3", [3, 9], mode="mean", reference=reference):
        with probe(m, "relu3") as acts, torch.no_grad():
            out = m(x)
    seen = acts["relu3"]  # a probe hook registered later sees the replaced output
    assert torch.all(seen[:, 3] == means[3]) and torch.all(seen[:, 9] == means[9])
    torch.testing.assert_close(out, manual_digits_logits(m, x, (3, 9), fill=means), rtol=0, atol=1e-5)
    with ablate(m, "relu3", 5, mode=4.5), probe(m, "relu3") as acts, torch.no_grad():
        m(x)
    assert torch.all(acts["relu3"][:, 5] == 4.5)
    with ablate(m, "relu3", {2: -1.0, 6: 3.0}), probe(m, "relu3") as acts, torch.no_grad():
        m(x)
    assert torch.all(acts["relu3"][:, 2] == -1.0) and torch.all(acts["relu3"][:, 6] == 3.0)


def test_model_restored_exactly_even_when_the_forward_raises():
    model = TinyNet().train()
    model.bn.eval()  # mixed flags; and our own forward must not move BN statistics
    model.conv2.weight.requires_grad_(False)
    before = ModelSnapshot.of(model)
    calls = {"n": 0}

    def explode(_m, _i, _o):
        calls["n"] += 1
        raise RuntimeError("boom after the ablated layer")

    handle = model.bn.register_forward_hook(explode)  # the user's own hook, kept
    with pytest.raises(RuntimeError, match="boom"):
        with ablate(model, "conv2", [0, 2]):
            model(image()[None])
    handle.remove()
    assert calls["n"] == 1
    assert ModelSnapshot.of(model).differences(before) == {}
    assert hook_count(model) == 0
    # channel out of range: reported during the forward, hook removed too
    with pytest.raises(ValueError, match=r"channel 9 is out of range for layer 'conv2', which has 6"):
        with ablate(model, "conv2", [9]):
            model(image()[None])
    assert hook_count(model) == 0 and ModelSnapshot.of(model).differences(before) == {}


def test_in_place_relu_after_the_ablated_layer_does_not_break_it():
    model = TinyNet().eval()
    with ablate(model, "conv1", [1]), probe(model, "relu1") as acts, torch.no_grad():
        model(image()[None])
    assert torch.all(acts["relu1"][:, 1] == 0)


def test_batched_effects_equal_one_forward_per_channel(digits):
    m, d = digits
    x, target = d.x_test[4], int(d.y_test[4])
    before = ModelSnapshot.of(m)
    outputs = []
    for c in range(64):
        with ablate(m, "relu3", c), torch.no_grad():
            outputs.append(m(x[None])[0])
    outputs = torch.stack(outputs)
    with torch.no_grad():
        base = m(x[None])
    for score, fn in (("logit", lambda o: o), ("prob", lambda o: o.softmax(-1)), ("logprob", lambda o: o.log_softmax(-1))):
        effects = ablation_effects(m, x, "relu3", target, score=score, batch_size=7)  # 9 passes, last one short
        assert effects.channels.tolist() == list(range(64))
        torch.testing.assert_close(effects.scores, fn(outputs)[:, target], rtol=1e-5, atol=1e-5)
        assert effects.base_score == pytest.approx(float(fn(base)[0, target]), abs=1e-5)
        torch.testing.assert_close(effects.change, effects.scores - effects.base_score)
    assert ModelSnapshot.of(m).differences(before) == {}


class SkipNet(nn.Module):
    """A residual skip from before the ablated layer, and optionally a concatenation with it."""

    def __init__(self, concat=False):
        super().__init__()
        self.stem = nn.Conv2d(3, 4, 3, padding=1)
        self.mid = nn.Conv2d(4, 4, 3, padding=1)
        self.head = nn.Linear(8 if concat else 4, 3)
        self.concat = concat

    def forward(self, x):
        s = torch.relu(self.stem(x))
        h = torch.relu(self.mid(s))
        h = torch.cat([h, s], 1) if self.concat else h + s
        return self.head(h.mean((2, 3)))


def test_expanding_at_the_layer_equals_expanding_the_input(digits):
    m, d = digits
    for layer in ("relu2", "relu3"):
        fast = ablation_effects(m, d.x_test[2], layer, 1, expand="layer", batch_size=10)
        slow = ablation_effects(m, d.x_test[2], layer, 1, expand="input", batch_size=10)
        torch.testing.assert_close(fast.scores, slow.scores, rtol=1e-5, atol=1e-5)
    torch.manual_seed(0)
    skip = SkipNet().eval()
    fast = ablation_effects(skip, image(), "mid", 0, expand="layer", batch_size=3)
    for c in range(4):
        with ablate(skip, "mid", c), torch.no_grad():
            assert float(fast.scores[c]) == pytest.approx(float(skip(image()[None])[0, 0]), abs=1e-6)
    concat = SkipNet(concat=True).eval()
    with pytest.raises(ValueError, match='use expand="input"'):
        ablation_effects(concat, image(), "mid", 0, expand="layer")
    assert hook_count(concat) == 0
    assert ablation_effects(concat, image(), "mid", 0).scores.shape == (4,)
    with pytest.raises(ValueError, match='expand must be "input" or "layer"'):
        ablation_effects(concat, image(), "mid", 0, expand="both")


def test_mean_mode_effects_and_a_subset_of_channels(digits):
    m, d = digits
    x, reference = d.x_test[1], d.x_train[:40]
    chans = [5, 0, 33]
    effects = ablation_effects(m, x, "relu3", 2, channels=chans, mode="mean", reference=reference)
    expected = []
    for c in chans:
        with ablate(m, "relu3", c, "mean", reference=reference), torch.no_grad():
            expected.append(m(x[None])[0, 2])
    torch.testing.assert_close(effects.scores, torch.stack(expected), rtol=1e-5, atol=1e-5)
    assert effects.channels.tolist() == chans
    assert sorted(effects.ranking()) == sorted(chans)
    assert effects.ranking(1) == [chans[int(torch.argmin(effects.change))]]


def test_top_ranked_channels_hurt_more_than_random_ones(digits):
    m, d = digits
    rng = np.random.default_rng(0)
    n, top_drops, random_drops = 6, [], []
    for i in range(5):
        x, y = d.x_test[i], int(d.y_test[i])
        ranking = ablation_effects(m, x, "relu3", y).ranking(n)
        with torch.no_grad():
            base = m(x[None]).softmax(1)[0, y]
            with ablate(m, "relu3", ranking):
                top_drops.append(float(base - m(x[None]).softmax(1)[0, y]))
            for _ in range(5):
                with ablate(m, "relu3", rng.choice(64, n, replace=False).tolist()):
                    random_drops.append(float(base - m(x[None]).softmax(1)[0, y]))
    print(f"mean probability drop: top-{n} {np.mean(top_drops):.4f}, random {np.mean(random_drops):.4f}")
    assert np.mean(top_drops) > np.mean(random_drops) + 0.05
    assert np.median(top_drops) > np.median(random_drops)


def test_progress_and_stopping_from_the_callback(digits):
    m, d = digits
    seen = []
    ablation_effects(m, d.x_test[0], "relu3", 0, batch_size=16, on_progress=lambda a, b: seen.append((a, b)))
    assert seen == [(16, 64), (32, 64), (48, 64), (64, 64)]

    def stop(done, _total):
        if done >= 32:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        ablation_effects(m, d.x_test[0], "relu3", 0, batch_size=16, on_progress=stop)
    assert hook_count(m) == 0


def test_linear_layer_and_custom_score():
    model = TinyNet().eval()
    x = image()
    effects = ablation_effects(model, x, "fc", 0, score=lambda out: out[:, 1] - out[:, 0], batch_size=2)
    for c in range(5):
        with ablate(model, "fc", c), torch.no_grad():
            out = model(x[None])
        assert float(effects.scores[c]) == pytest.approx(float(out[0, 1] - out[0, 0]), abs=1e-6)


def test_bad_inputs_are_clear():
    model = TinyNet().eval()
    x = image()
    with pytest.raises(KeyError, match="conv2"):
        with ablate(model, "conv3", 0):
            pass
    with pytest.raises(ValueError, match='needs a reference batch'):
        with ablate(model, "conv2", 0, mode="mean"):
            pass
    with pytest.raises(ValueError, match='mode must be "zero", "mean" or a number'):
        with ablate(model, "conv2", 0, mode="half"):
            pass
    with pytest.raises(ValueError, match="finite"):
        with ablate(model, "conv2", 0, mode=float("nan")):
            pass
    with pytest.raises(ValueError, match="non-negative"):
        with ablate(model, "conv2", [-1]):
            pass
    with pytest.raises(ValueError, match="out of range"):
        ablation_effects(model, x, "conv2", 0, channels=[6])
    with pytest.raises(ValueError, match=r"expected a class index in 0\.\.4 as target, got 7"):
        ablation_effects(model, x, "conv2", 7)
    with pytest.raises(ValueError, match="score must be one of"):
        ablation_effects(model, x, "conv2", 0, score="margin")
    with pytest.raises(ValueError, match="expected 3 input channel"):
        ablation_effects(model, torch.rand(1, 8, 8), "conv2", 0)
    with pytest.raises(ValueError, match="not a tensor"):
        ablation_effects(TupleNet().eval(), image(), "pair", 0, score=lambda o: o.sum((1, 2, 3)))
    assert hook_count(model) == 0


def test_ablated_view_gives_the_hand_written_forward_and_leaves_the_model_alone(digits):
    m, d = digits
    m.train()  # a look runs in eval mode on a twin: the model stays in train mode
    try:
        before = ModelSnapshot.of(m)
        x = d.x_test[:4]
        view = nl.core.Ablated(m, "relu3", {5: 0.0, 17: 0.0})
        probs = nl.core.class_probabilities(view, x)
        expected = manual_digits_logits(m.eval(), x, zero=(5, 17)).softmax(1)
        m.train()
        torch.testing.assert_close(probs, expected, atol=1e-6, rtol=1e-5)
        pinned = nl.core.class_probabilities(nl.core.Ablated(m, "relu3", {9: 3.0}), x)
        torch.testing.assert_close(pinned, manual_digits_logits(m.eval(), x, zero=(9,), fill={9: 3.0}).softmax(1),
                                   atol=1e-6, rtol=1e-5)
        m.train()
        torch.testing.assert_close(nl.core.class_probabilities(nl.core.Ablated(m, "relu3", {}), x),
                                   nl.core.class_probabilities(m, x))
        assert ModelSnapshot.of(m).differences(before) == {} and hook_count(m) == 0
        with pytest.raises(TypeError, match="looking_at"):
            view.eval()
        assert ModelSnapshot.of(m).differences(before) == {}
        with pytest.raises(KeyError, match="relu3"):
            nl.core.Ablated(m, "relu9", {0: 0.0})
        with pytest.raises(ValueError, match="finite"):
            nl.core.Ablated(m, "relu3", {0: float("nan")})
        with pytest.raises(ValueError, match="out of range"):
            nl.core.class_probabilities(nl.core.Ablated(m, "relu3", {64: 0.0}), x)
        assert hook_count(m) == 0
    finally:
        m.eval()

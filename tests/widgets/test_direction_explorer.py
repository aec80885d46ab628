"""DirectionExplorer without a browser: a channel vs a random direction, the blind test, optimised images."""
from __future__ import annotations


import numpy as np
import pytest
import torch

import nnlens_widgets as nl
from nnlens_widgets.core import ModelSnapshot, featurevis as fv, hook_count, probe, random_direction, top_examples
from nnlens_widgets.render import fmt


@pytest.fixture(scope="module")
def setup():
    model, x = nl.zoo.digits_cnn(), nl.zoo.digits_data().x_test[:100]
    before = ModelSnapshot.of(model)
    w = nl.DirectionExplorer(model, layer="relu3", data=x, channel=4, seed=0, steps=8, seconds=0)
    assert w.wait(60) and w.error is None
    yield w, model, x
    assert ModelSnapshot.of(model).differences(before) == {} and hook_count(model) == 0


def test_channel_and_direction_examples_match_the_core_scan(setup):
    w, model, x = setup
    v = random_direction(64, 0)
    expected = top_examples(model, x, "relu3", units=[4], directions=v[None], k=9)
    channels, direction = w.scans()
    assert channels.top(unit=4)[0].tolist() == expected.top(unit=4)[0].tolist()
    assert direction.top(direction=0)[0].tolist() == expected.top(direction=0)[0].tolist()
    assert torch.equal(w.direction_vector, v)
    assert w.views["a examples"].title == "channel 4" and w.views["b examples"].title == "random direction (seed 0)"
    assert w.channel_side == "a" and not np.array_equal(w.side_frames["a"], w.side_frames["b"])


def test_both_sides_state_the_same_measures_read_the_same_way(setup):
    w, model, x = setup
    v = random_direction(64, 0)
    idx_c = top_examples(model, x, "relu3", units=[4], k=9).top(unit=4)[0]
    idx_d = top_examples(model, x, "relu3", units=[], directions=v[None], k=9).top(direction=0)[0]
    with probe(model, "relu3") as acts, torch.no_grad():
        model(x)
    a = acts["relu3"]
    along = torch.einsum("nchw,c->nhw", a, v)
    m = w.measures
    assert np.allclose(m["a"]["examples"]["peak"], a[idx_c, 4].amax((1, 2)).numpy(), rtol=1e-5)
    assert np.allclose(m["a"]["examples"]["mean"], a[idx_c, 4].mean((1, 2)).numpy(), rtol=1e-5)
    assert np.allclose(m["b"]["examples"]["peak"], along[idx_d].amax((1, 2)).numpy(), rtol=1e-4, atol=1e-5)
    assert np.allclose(m["b"]["examples"]["mean"], along[idx_d].mean((1, 2)).numpy(), rtol=1e-4, atol=1e-5)
    for side in "ab":
        text = w.views[f"{side} examples"].caption.value
        peaks = m[side]["examples"]["peak"]
        assert f"peak response {fmt(peaks[0])} (#1) … {fmt(peaks[-1])} (#9)" in text and "mean response" in text


def test_new_direction_is_seeded_and_redraws(setup):
    w, *_ = setup
    before = w.side_frames["b"].copy()
    w.new_direction()
    assert w.wait(60) and w.seed == 1
    assert torch.equal(w.direction_vector, random_direction(64, 1))
    assert not np.array_equal(w.side_frames["b"], before)
    w.seed = 0
    assert w.wait(60) and np.array_equal(w.side_frames["b"], before)  # same seed, same picture


def test_blind_test_gives_nothing_away_until_an_explicit_action(setup, tmp_path):
    w, *_ = setup
    w.blind = True
    sides = []
    try:
        for channel in range(8):
            w.channel = channel
            assert w.wait(60)
            assert w.channel_side is None and w.correct is None and not w.revealed
            assert [w.views[f"{s} examples"].title for s in "ab"] == ["A", "B"]
            assert [w.views[f"{s} image"].title for s in "ab"] == ["A: optimised image", "B: optimised image"]
            w.save_html(tmp_path / "blind.html")
            page = (tmp_path / "blind.html").read_text()
            assert "random direction (seed" not in page and f"channel {channel}:" not in page
            assert "Which side shows" in w.views["verdict"].body.value
            w.reveal()
            sides.append(w.channel_side)
            assert w.views[f"{w.channel_side} examples"].title == f"{w.channel_side.upper()}: channel {channel}"
        assert set(sides) == {"a", "b"}  # the order really varies
        w.channel = 4
        assert w.wait(60) and w.channel_side is None  # a new channel hides the answer again
        unit_examples = dict(w.side_frames)
        right = w.guess("a")
        side = w.channel_side
        assert right == (side == "a") and w.correct == right and w.revealed
        assert ("right" if right else "wrong") in w.views["verdict"].body.value
        assert all(np.array_equal(unit_examples[s], w.side_frames[s]) for s in "ab")  # revealed, not redrawn
        w.seed = 3
        assert w.wait(60) and not w.revealed and w.guessed is None
        with pytest.raises(ValueError, match="'a' or 'b'"):
            w.guess("c")
    finally:
        w.blind = False
        w.seed = 0
        w.channel = 4
        assert w.wait(60)


def test_refresh_optimises_both_sides_and_states_their_measures(setup):
    w, model, _ = setup
    assert w.image_frames["a"].shape[:2] == (34, 34)  # a grey stand-in until then
    w.refresh()
    assert w.wait(120) and w.error is None
    a, b = w.image_frames["a"], w.image_frames["b"]
    assert not np.array_equal(a, b)
    m = w.measures
    settings = fv.resolve_settings(model, 32)
    for side in "ab":
        assert m[side]["image"]["mean"].shape == (1,) and "(maximised)" in w.views[f"{side} image"].caption.value
    mean_a = float(m["a"]["image"]["mean"][0])
    assert f"mean response {fmt(mean_a)}" in w.views["a image"].caption.value
    assert settings.size == (32, 32)
    assert all(p.grad is None for p in model.parameters())


def test_bad_values(setup):
    w, model, x = setup
    with pytest.raises(ValueError, match=r"channel in 0..63"):
        w.channel = 64
    assert w.channel == 4 and w.controls["channel"].value == 4
    with pytest.raises(ValueError, match=r"seed in 0..2147483647"):
        w.seed = -1
    with pytest.raises(KeyError, match="relu3"):
        w.layer = "relu_3"
    with pytest.raises(KeyError, match="relu3"):
        nl.DirectionExplorer(model, layer="relu_3", data=x)
    with pytest.raises(ValueError, match="non-empty"):
        nl.DirectionExplorer(model, layer="relu3", data=x[:0])
    with pytest.raises(ValueError, match=r"channel in 0..15"):
        nl.DirectionExplorer(model, layer="relu1", data=x, channel=16)
    with pytest.raises(ValueError, match=r"k in 1..100"):
        nl.DirectionExplorer(model, layer="relu3", data=x, k=0)
    with pytest.raises(TypeError, match="layer"):
        nl.DirectionExplorer(model, data=x)  # layer and data are required
    assert w.error is None

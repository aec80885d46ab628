"""DirectionExplorer without a browser: unit vs random direction, blind test, optimised images."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import nnlens_widgets as nl
from nnlens_widgets.core import ModelSnapshot, random_direction, top_examples


@pytest.fixture(scope="module")
def explorer():
    model, x = nl.zoo.digits_cnn(), nl.zoo.digits_data().x_test[:100]
    before = ModelSnapshot.of(model)
    w = nl.DirectionExplorer(model, "relu3", x, unit=4, seed=0, steps=8)
    assert w.wait(60) and w.error is None
    return w, model, x, before


def test_unit_and_direction_examples_match_the_core_scan(explorer):
    w, model, x, _ = explorer
    v = random_direction(64, 0)
    expected = top_examples(model, x, "relu3", units=[4], directions=v[None], k=9)
    units, dirs = w.scans()
    assert units.top(unit=4)[0].tolist() == expected.top(unit=4)[0].tolist()
    assert dirs.top(direction=0)[0].tolist() == expected.top(direction=0)[0].tolist()
    assert torch.equal(w.direction_vector, v)
    assert "unit 4" in w._titles[0].value and "random direction (seed 0)" in w._titles[1].value
    assert not np.array_equal(w.side_frame("a"), w.side_frame("b"))


def test_new_direction_is_seeded_and_redraws(explorer):
    w, *_ = explorer
    before = w.side_frame("b").copy()
    w.new_direction()
    assert w.wait(60) and w.seed == 1
    assert torch.equal(w.direction_vector, random_direction(64, 1))
    assert not np.array_equal(w.side_frame("b"), before)
    w.seed = 0
    assert w.wait(60) and np.array_equal(w.side_frame("b"), before)  # same seed, same picture


def test_blind_mode_hides_labels_until_a_guess(explorer):
    w, *_ = explorer
    w.blind = True
    sides = []
    for unit in range(8):
        w.unit = unit
        assert w.wait(60)
        sides.append(w.unit_side)
        assert w._titles[0].value == "<b>A</b>" and w._titles[1].value == "<b>B</b>"
    assert set(sides) == {"a", "b"}  # the order really varies
    w.unit = 4
    side = w.unit_side
    assert w.unit_side == side  # and is reproducible
    unit_examples = w.side_frame(side).copy()
    wrong = "b" if side == "a" else "a"
    assert w.guess(wrong) is False and w.revealed
    assert "wrong" in w._verdict.value and "unit 4" in w._titles["ab".index(side)].value
    assert np.array_equal(w.side_frame(side), unit_examples)
    w.unit = 5  # a new unit hides again
    assert not w.revealed and w.guessed is None
    assert w.guess(w.unit_side) is True and "right" in w._verdict.value
    with pytest.raises(ValueError, match="'a' or 'b'"):
        w.guess("c")
    w.blind = False


def test_optimised_images_for_both_and_model_unchanged(explorer):
    w, model, _, before = explorer
    w.optimise()
    assert w.wait(120) and w.error is None
    a, b = w.vis_frame("a"), w.vis_frame("b")
    assert a is not None and b is not None and not np.array_equal(a, b)
    assert ModelSnapshot.of(model).differences(before) == {}
    assert all(p.grad is None for p in model.parameters())


def test_bad_inputs(explorer):
    w, model, x, _ = explorer
    with pytest.raises(ValueError, match="unit in 0..63"):
        w.unit = 64
    with pytest.raises(KeyError, match="relu3"):
        nl.DirectionExplorer(model, "relu_3", x)
    with pytest.raises(ValueError, match="non-empty"):
        nl.DirectionExplorer(model, "relu3", x[:0])
    with pytest.raises(ValueError, match="unit in 0..15"):
        nl.DirectionExplorer(model, "relu1", x, unit=16)

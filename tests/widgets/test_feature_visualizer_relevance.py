"""FeatureVisualizer's top examples by relevance (RelMax) beside those by activation."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import nnlens_widgets as nl
from nnlens_widgets.core import ModelSnapshot, probe, top_examples
from nnlens_widgets.render import fmt


@pytest.fixture(scope="module")
def digits():
    return nl.zoo.digits_cnn(), nl.zoo.digits_data().x_test[:40]


def test_relevance_ranked_examples_equal_the_core_scan_and_follow_the_channel(digits):
    model, x = digits
    before = ModelSnapshot.of(model)
    w = nl.FeatureVisualizer(model, layer="relu3", data=x, channel=7, k=5, steps=8, seconds=0, autorun=False)
    assert w.wait(60) and "relevance_examples" not in w.views
    assert w.views["examples"].title == "top 5 of 40 data images"
    w.compare_relevance(3)
    assert w.wait(120) and w.error is None
    view = w.views["relevance_examples"]
    assert view.title == "top 5 of 40 data images by relevance for class 3"
    assert w.views["examples"].title == "top 5 of 40 data images by activation"
    scan = top_examples(model, x, "relu3", units=[7], k=5, by="relevance", target=3)
    idx, values, _ = scan.top(unit=7)
    assert "relevance: " + ", ".join(fmt(v) for v in values.numpy()) in view.caption.value
    with probe(model, "relu3") as acts, torch.no_grad():
        model(x[idx])
    peaks = acts["relu3"][:, 7].amax((1, 2)).numpy()
    assert "peak activation: " + ", ".join(fmt(v) for v in peaks) in view.caption.value
    activation = top_examples(model, x, "relu3", units=[7], k=5).top(unit=7)[0]
    assert not torch.equal(idx, activation)  # the two panels show two rankings
    frame = view.frame.copy()
    w.channel = 8
    assert w.wait(60) and w.error is None
    assert not np.array_equal(view.frame, frame) and "channel 8's relevance" in view.caption.value
    w.close()
    assert ModelSnapshot.of(model).differences(before) == {}


def test_bad_requests_are_clear_errors(digits):
    model, x = digits
    w = nl.FeatureVisualizer(model, layer="relu3", data=x[:8], steps=4, seconds=0, autorun=False)
    with pytest.raises(ValueError, match="target"):
        w.compare_relevance(10)
    w.close()
    plain = nl.FeatureVisualizer(model, layer="relu3", input_size=32, steps=4, seconds=0, autorun=False)
    with pytest.raises(ValueError, match="expected data="):
        plain.compare_relevance(3)
    plain.close()


def test_a_relevance_scan_made_beforehand_is_shown_by_relevance_not_as_activation(digits, monkeypatch):
    model, x = digits
    made = top_examples(model, x, "relu3", k=4, by="relevance", target=5)
    w = nl.FeatureVisualizer(model, layer="relu3", data=x, channel=2, k=4, steps=4, seconds=0, autorun=False,
                             top_examples=made)
    assert w.wait(60) and w.error is None
    assert w.top_examples() is not made and w.top_examples().by == "activation"  # its own scan by activation
    from nnlens_widgets.widgets.feature_visualizer import relevance_examples

    def no_scan(*_args, **_kwargs):
        raise AssertionError("the adopted scan should have been used")

    monkeypatch.setattr(relevance_examples, "top_examples", no_scan)
    w.compare_relevance(5)
    assert w.wait(60) and w.error is None
    assert w._relevance.scan("relu3") is made
    assert w.views["relevance_examples"].title == "top 4 of 40 data images by relevance for class 5"
    w.close()

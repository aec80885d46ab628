"""RelMax: top_examples(..., by="relevance") against channel_relevance computed directly; merging, files, bad input."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import nnlens_widgets as nl
from nnlens_widgets.core import ModelSnapshot, channel_relevance
from nnlens_widgets.core.top_examples import TopExamples, top_examples

LAYER, CLASS = "relu3", 3


@pytest.fixture(scope="module")
def setup():
    model = nl.zoo.digits_cnn()
    x = nl.zoo.digits_data().x_test[:40]
    direct = channel_relevance(model, x, LAYER, target=CLASS, batch_size=20)
    return model, x, direct


def expected(scores: torch.Tensor, k: int, largest: bool):
    """Per channel: the k images with the largest (smallest) relevance, ties by the lower index."""
    out = []
    for c in range(scores.shape[1]):
        s = scores[:, c].numpy()
        order = np.argsort(-s if largest else s, kind="stable")[:k]
        out.append((order.tolist(), s[order]))
    return out


def test_ranks_images_by_each_channels_relevance_for_the_class(setup):
    model, x, direct = setup
    result = top_examples(model, x, LAYER, k=6, by="relevance", target=CLASS, batch_size=20)
    assert (result.by, result.target, result.count, result.skipped) == ("relevance", CLASS, 40, 0)
    assert result.layer_shape == tuple(direct.maps.shape[1:])
    w = direct.maps.shape[-1]
    relevant = 0
    for which, largest in (("top", True), ("bottom", False)):
        for c, (order, values) in enumerate(expected(direct.scores, 6, largest)):
            got = getattr(result, f"{which}_indices")[c].tolist()
            assert got == order, (which, c)
            assert np.allclose(getattr(result, f"{which}_values")[c].numpy(), values, rtol=1e-5, atol=1e-6)
            flat = direct.maps[order, c].flatten(1)
            peak = flat.argmax(1) if largest else flat.argmin(1)
            assert getattr(result, f"{which}_locations")[c].tolist() == [[int(p) // w, int(p) % w] for p in peak]
            relevant += int(values.any())
    assert relevant > 40  # most channels carry some relevance: the comparison is not all zeros


def test_ranking_differs_from_activation_ranking(setup):
    model, x, direct = setup
    by_relevance = top_examples(model, x, LAYER, k=5, by="relevance", target=CLASS, batch_size=40)
    by_activation = top_examples(model, x, LAYER, k=5)
    differs = [c for c in range(direct.scores.shape[1])
               if by_relevance.top_indices[c].tolist() != by_activation.top_indices[c].tolist()]
    assert len(differs) > 10


def test_batch_size_and_split_scans_merge_to_the_full_scan(setup):
    model, x, direct = setup
    full = top_examples(model, x, LAYER, units=[0, 7, 30], k=5, by="relevance", target=CLASS, batch_size=7)
    first = top_examples(model, x[:15], LAYER, units=[0, 7, 30], k=5, by="relevance", target=CLASS, batch_size=8)
    second = top_examples(model, x[15:], LAYER, units=[0, 7, 30], k=5, by="relevance", target=CLASS, offset=15,
                          batch_size=8)
    merged = first.merge(second)
    assert merged.count == 40
    for which in ("top", "bottom"):
        assert getattr(merged, f"{which}_indices").tolist() == getattr(full, f"{which}_indices").tolist()
        assert torch.allclose(getattr(merged, f"{which}_values"), getattr(full, f"{which}_values"), atol=1e-5)
        want = [o for o, _ in expected(direct.scores[:, [0, 7, 30]], 5, which == "top")]
        assert getattr(full, f"{which}_indices").tolist() == want


def test_file_round_trip_and_no_mixing_with_other_rankings(setup, tmp_path):
    model, x, _ = setup
    rel = top_examples(model, x[:10], LAYER, units=[1, 2], k=3, by="relevance", target=CLASS)
    rel.save(tmp_path / "rel.pt")
    back = TopExamples.load(tmp_path / "rel.pt")
    assert (back.by, back.target) == ("relevance", CLASS)
    assert torch.equal(back.top_values, rel.top_values) and torch.equal(back.top_indices, rel.top_indices)
    predicted = top_examples(model, x[:10], LAYER, units=[1, 2], k=3, by="relevance")
    assert predicted.target is None and TopExamples.from_state_dict(predicted.state_dict()).target is None
    act = top_examples(model, x[10:20], LAYER, units=[1, 2], k=3, offset=10)
    other_class = top_examples(model, x[10:20], LAYER, units=[1, 2], k=3, by="relevance", target=4, offset=10)
    for part in (act, other_class, predicted):
        with pytest.raises(ValueError, match="expected two scans"):
            rel.merge(part)


def test_predicted_class_target_and_model_untouched(setup):
    model, x, _ = setup
    before = ModelSnapshot.of(model)
    result = top_examples(model, x[:12], LAYER, units=[3], k=4, by="relevance")
    direct = channel_relevance(model, x[:12], LAYER)  # each image's predicted class
    assert result.top_indices[0].tolist() == expected(direct.scores[:, [3]], 4, True)[0][0]
    assert ModelSnapshot.of(model).differences(before) == {}


def test_non_finite_images_are_left_out(setup):
    model, x, direct = setup
    damaged = x[:10].clone()
    damaged[4, 0, 3, 3] = float("nan")
    result = top_examples(model, damaged, LAYER, units=[0, 1], k=10, by="relevance", target=CLASS, batch_size=4)
    assert result.skipped == 1 and result.count == 10
    assert 4 not in result.top_indices.tolist()[0]
    assert sorted(i for i in result.top_indices[0].tolist() if i >= 0) == [0, 1, 2, 3, 5, 6, 7, 8, 9]


def test_bad_requests_name_what_was_expected(setup):
    model, x, _ = setup
    with pytest.raises(ValueError, match="class index"):
        top_examples(model, x[:4], LAYER, by="relevance", target=-1)
    with pytest.raises(ValueError, match="by='activation' or by='relevance'"):
        top_examples(model, x[:4], LAYER, by="gradient")
    with pytest.raises(ValueError, match="no directions"):
        top_examples(model, x[:4], LAYER, by="relevance", directions=torch.ones(64))
    with pytest.raises(ValueError, match="by='activation' or by='relevance'"):
        top_examples(model, x[:4], LAYER, target=3)  # a target only means something for relevance
    with pytest.raises(ValueError, match="out of range"):
        top_examples(model, x[:4], LAYER, units=[99], by="relevance", target=CLASS)
    with pytest.raises(KeyError):
        top_examples(model, x[:4], "relu9", by="relevance", target=CLASS)
    with pytest.raises(ValueError, match="class indices"):
        top_examples(model, x[:4], LAYER, by="relevance", target=10)

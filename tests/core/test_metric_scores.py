"""metric_scores: per-image deletion / insertion AUCs over a data set, merged exactly across parts."""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader, Subset, TensorDataset

import nnlens_widgets as nl
from nnlens_widgets.core import MetricScores, ModelSnapshot, load_metric_scores, metric_scores
from nnlens_widgets.core.metrics import deletion_curve, insertion_curve


@pytest.fixture(scope="module")
def setup():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # per-image passes are tiny: one thread is fastest
    d = nl.zoo.digits_data()
    yield nl.zoo.digits_cnn(), TensorDataset(d.x_test[:8], d.y_test[:8])
    torch.set_num_threads(threads)


OPTS = dict(method="gradient", metrics=["deletion", "insertion"], steps=8)


def test_each_image_scored_as_the_single_image_functions_score_it(setup):
    model, data = setup
    before = ModelSnapshot.of(model)
    got = metric_scores(model, data, target="label", baseline="blur", **OPTS)
    assert got.indices.tolist() == list(range(8)) and got.targets.tolist() == data.tensors[1].tolist()
    for i in (0, 5):
        x, y = data[i]
        attribution = nl.core.gradient(model, x, target=int(y))
        deletion = deletion_curve(model, x, attribution, int(y), steps=8, baseline="blur")
        insertion = insertion_curve(model, x, attribution, int(y), steps=8)
        assert got.auc[i].tolist() == [deletion.auc, insertion.auc]
        assert got.curves[i, 0].tolist() == deletion.scores.tolist()
        assert got.fractions.tolist() == deletion.fractions.tolist()
    assert ModelSnapshot.of(model).differences(before) == {}


def test_predicted_target_is_the_top_class(setup):
    model, data = setup
    got = metric_scores(model, data.tensors[0], **OPTS)  # a bare tensor: no labels needed
    with torch.no_grad():
        assert got.targets.tolist() == model(data.tensors[0]).argmax(1).tolist()


def test_parts_merge_into_the_whole_and_the_summary_matches_numpy(setup, tmp_path):
    model, data = setup
    whole = metric_scores(model, data, target="label", **OPTS)
    first = metric_scores(model, Subset(data, range(3)), target="label", **OPTS)
    rest = metric_scores(model, DataLoader(Subset(data, range(3, 8)), batch_size=2), target="label", offset=3,
                         **OPTS)
    merged = rest.merge(first)  # any order: rows come back sorted by index
    for name in ("indices", "targets", "auc", "curves"):
        assert torch.equal(getattr(merged, name), getattr(whole, name)), name
    even, odd = (replace(whole, **{n: getattr(whole, n)[rows] for n in ("indices", "targets", "auc", "curves")})
                 for rows in (slice(0, None, 2), slice(1, None, 2)))
    interleaved = odd.merge(even)  # parts that are not neighbouring runs
    for name in ("indices", "targets", "auc", "curves"):
        assert torch.equal(getattr(interleaved, name), getattr(whole, name)), name
    s = merged.summary()["deletion"]
    v = whole.scores("deletion").numpy()
    assert (s.count, s.better) == (8, "lower")
    assert s.mean == pytest.approx(v.mean(), abs=1e-15) and s.std == pytest.approx(v.std(ddof=1), abs=1e-15)
    assert s.sem == pytest.approx(v.std(ddof=1) / np.sqrt(8)) and (s.min, s.max) == (v.min(), v.max())
    with pytest.raises(ValueError, match="distinct images; both hold index"):
        first.merge(whole)
    other = metric_scores(model, Subset(data, range(3)), target="label", method="gradient", metrics=["deletion"],
                          steps=8)
    with pytest.raises(ValueError, match="same method, metrics"):
        other.merge(rest)
    whole.save(tmp_path / "metric_scores.pt")
    for source in (tmp_path / "metric_scores.pt", tmp_path):
        back = load_metric_scores(source)
        assert isinstance(back, MetricScores) and torch.equal(back.auc, whole.auc) and back.metrics == whole.metrics
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="folder without metric_scores.pt"):
        load_metric_scores(tmp_path / "empty")


def test_bad_input(setup):
    model, data = setup
    with pytest.raises(ValueError, match="unknown attribution method 'magic'"):
        metric_scores(model, data, method="magic")
    with pytest.raises(ValueError, match="distinct metrics from deletion, insertion"):
        metric_scores(model, data, metrics=["deletion", "pointing"])
    with pytest.raises(ValueError, match="at least one metric"):
        metric_scores(model, data, metrics=[])
    with pytest.raises(ValueError, match="target in"):
        metric_scores(model, data, target="truth")
    with pytest.raises(ValueError, match="steps in 1..10000"):
        metric_scores(model, data, steps=0)
    with pytest.raises(ValueError, match="needs items \\(input, label\\); item 0 has no label"):
        metric_scores(model, data.tensors[0], target="label")
    with pytest.raises(ValueError, match="non-empty"):
        metric_scores(model, data.tensors[0][:0])
    with pytest.raises(TypeError, match="torch.nn.Module"):
        metric_scores("model", data)
    with pytest.raises(InterruptedError):
        metric_scores(model, data, should_stop=lambda: True)

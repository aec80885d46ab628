"""Several ranks' shards merged exactly (ranks run one after another here, results handed over in memory)."""
from __future__ import annotations

import csv
import json

import numpy as np
import pytest
import torch
from torch.utils.data import Subset

import nnlens_widgets as nl
from tests.scan.callables import digits_model, digits_test
from tests.scan.launch import DATA, MODEL, assert_same_top_examples, run_ranks_in_process


def test_metrics_of_three_ranks_equal_core_and_summary_merges_exactly(tmp_path, monkeypatch):
    args = ["metrics", "--model", MODEL, "--data", DATA, "--limit", "14", "--method", "integrated_gradients",
            "--method-arg", "steps=8", "--metric", "deletion,insertion", "--target", "label", "--steps", "8",
            "--batch-size", "2", "--checkpoint-every", "3", "--progress-every", "0", "--out", tmp_path]
    assert run_ranks_in_process(args, 3, monkeypatch) == 0
    core = nl.core.metric_scores(digits_model(), Subset(digits_test(), range(14)), "integrated_gradients",
                                 ["deletion", "insertion"], target="label", steps=8, method_kwargs={"steps": 8})
    got = nl.core.load_metric_scores(tmp_path)
    assert got.indices.tolist() == list(range(14)) and torch.equal(got.targets, digits_test().y[:14])
    for name in ("auc", "curves", "fractions", "targets"):
        assert torch.equal(getattr(got, name), getattr(core, name)), name
    info = json.loads((tmp_path / "scan.json").read_text())
    assert [(r["start"], r["end"]) for r in info["ranks"]] == [(0, 4), (4, 8), (8, 14)]
    summary = json.loads((tmp_path / "summary.json").read_text())["metrics"]
    for metric, s in core.summary().items():
        values = core.scores(metric).numpy()
        assert summary[metric]["mean"] == s.mean == pytest.approx(values.mean(), abs=1e-12)
        assert summary[metric]["std"] == s.std == pytest.approx(values.std(ddof=1), abs=1e-12)
        assert summary[metric]["count"] == 14 and summary[metric]["better"] == s.better
    with open(tmp_path / "scores.csv") as f:
        rows = list(csv.DictReader(f))
    assert [int(r["index"]) for r in rows] == list(range(14))
    assert [float(r["insertion_auc"]) for r in rows] == core.scores("insertion").tolist()


def test_more_ranks_than_batches_leave_empty_shards_and_the_same_result(tmp_path, monkeypatch):
    args = ["top-examples", "--model", MODEL, "--data", DATA, "--layer", "conv2", "--units", "0-3,9",
            "--k", "4", "--limit", "40", "--batch-size", "16", "--progress-every", "0", "--out", tmp_path]
    assert run_ranks_in_process(args, 4, monkeypatch) == 0
    core = nl.core.top_examples(digits_model(), Subset(digits_test(), range(40)), "conv2", units=[0, 1, 2, 3, 9],
                                k=4, batch_size=16)
    assert_same_top_examples(nl.core.load_top_examples(tmp_path), core)
    ranks = json.loads((tmp_path / "scan.json").read_text())["ranks"]
    assert [(r["start"], r["end"]) for r in ranks] == [(0, 0), (0, 16), (16, 32), (32, 40)]
    assert np.all(core.top_indices.numpy() < 40)

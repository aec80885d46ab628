"""The scan command ranking by relevance (``--by relevance --target C``): resume, ranks merged, refusals."""
from __future__ import annotations

import json

import pytest
import torch
from torch.utils.data import Subset

import nnlens_widgets as nl
from nnlens_widgets.scan import main
from tests.scan.callables import digits_model, digits_test
from tests.scan.launch import DATA, MODEL, assert_same_top_examples, run_ranks_in_process

RELEVANCE = ["top-examples", "--model", MODEL, "--data", DATA, "--layer", "relu3", "--units", "0-9", "--k", "4",
             "--limit", "48", "--batch-size", "8", "--checkpoint-every", "16", "--progress-every", "0",
             "--by", "relevance", "--target", "3"]


def run(args, out):
    return main([str(a) for a in args] + ["--out", str(out)])


def core_result(target=3):
    return nl.core.top_examples(digits_model(), Subset(digits_test(), range(48)), "relu3", units=range(10), k=4,
                                batch_size=8, by="relevance", target=target)


def test_a_crashed_relevance_scan_resumes_to_the_core_result(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("NNLENS_TEST_FAIL_AT", "20")  # checkpoint at 16, then image 20 fails
    with pytest.raises(RuntimeError, match="unreadable test image 20"):
        run(RELEVANCE, tmp_path)
    shard = torch.load(tmp_path / "shards" / "top-examples.rank00000-of-00001.pt", weights_only=True)
    assert shard["position"] == 16 and shard["result"]["by"] == "relevance" and shard["result"]["target"] == 3
    monkeypatch.delenv("NNLENS_TEST_FAIL_AT")

    other_class = list(RELEVANCE)
    other_class[other_class.index("--target") + 1] = "5"
    assert run(other_class + ["--resume"], tmp_path) == 2  # another class is another scan
    assert "other settings (target: 3 then, 5 now)" in capsys.readouterr().err
    by_activation = RELEVANCE[:RELEVANCE.index("--by")]
    assert run(by_activation + ["--resume"], tmp_path) == 2
    capsys.readouterr()

    assert run(RELEVANCE + ["--resume"], tmp_path) == 0
    assert "resuming at image 16" in capsys.readouterr().err
    got = nl.core.load_top_examples(tmp_path)
    assert (got.by, got.target) == ("relevance", 3)
    assert_same_top_examples(got, core_result())
    info = json.loads((tmp_path / "scan.json").read_text())
    assert info["settings"]["by"] == "relevance" and info["settings"]["target"] == 3


def test_three_ranks_merge_to_the_core_result(tmp_path, monkeypatch):
    args = RELEVANCE[:RELEVANCE.index("--target")] + ["--out", tmp_path]  # each image's predicted class
    assert run_ranks_in_process(args, 3, monkeypatch) == 0
    got = nl.core.load_top_examples(tmp_path)
    assert (got.by, got.target) == ("relevance", None)
    assert_same_top_examples(got, core_result(target=None))
    activation = nl.core.top_examples(digits_model(), Subset(digits_test(), range(48)), "relu3", units=range(10), k=4)
    assert not torch.equal(got.top_indices, activation.top_indices)  # a ranking of its own


def test_target_without_relevance_and_bad_class_exit_2(tmp_path, capsys):
    by_activation = RELEVANCE[:RELEVANCE.index("--by")] + ["--target", "3"]
    assert run(by_activation, tmp_path / "a") == 2
    assert "expected it with --by relevance" in capsys.readouterr().err
    bad = list(RELEVANCE)
    bad[bad.index("--target") + 1] = "12"
    assert run(bad, tmp_path / "b") == 2
    assert "expected class indices in 0..9, got [12]" in capsys.readouterr().err

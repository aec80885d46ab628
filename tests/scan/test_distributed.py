"""The scan command under torchrun (2 ranks, gloo, CPU) against one process and nl.core."""
from __future__ import annotations

import json
import re

import pytest

import nnlens_widgets as nl
from nnlens_widgets.scan import main
from tests.scan.callables import IMAGES, digits_model, digits_test
from tests.scan.launch import DATA, MODEL, assert_same_top_examples, torchrun

TOP = ["top-examples", "--model", MODEL, "--data", DATA, "--layer", "relu3", "--k", "5", "--batch-size", "16",
       "--checkpoint-every", "32", "--progress-every", "0"]


@pytest.fixture(scope="module")
def reference():
    """nl.core.top_examples over the whole data set, one process."""
    return nl.core.top_examples(digits_model(), digits_test(), "relu3", k=5, batch_size=16)


def test_two_ranks_give_exactly_the_one_process_and_core_result(tmp_path, reference):
    assert (reference.bottom_values == 0).any()  # ReLU zeros: ties that only the index can order
    run = torchrun(TOP + ["--out", tmp_path / "two"])
    assert run.returncode == 0, run.stderr[-4000:]
    assert main(TOP + ["--out", str(tmp_path / "one")]) == 0
    two, one = nl.core.load_top_examples(tmp_path / "two"), nl.core.load_top_examples(tmp_path / "one")
    assert_same_top_examples(two, reference)
    assert_same_top_examples(one, reference)
    for rank in (0, 1):  # each rank reports its own progress and checkpoints
        assert re.search(rf"\[rank {rank}/2\] top-examples: \d+/\d+ images .*checkpoint written", run.stderr)
    info = json.loads((tmp_path / "two" / "scan.json").read_text())
    assert info["world_size"] == 2 and info["backend"] == "gloo" and info["images"] == IMAGES
    assert [(r["start"], r["end"], r["scanned"]) for r in info["ranks"]] == [(0, 80, 80), (80, 150, 70)]
    assert sorted(p.name for p in (tmp_path / "two" / "shards").iterdir()) == [
        "top-examples.rank00000-of-00002.pt", "top-examples.rank00001-of-00002.pt"]

    # the folder feeds the widget as it is: no scan in the notebook
    from nnlens_widgets.widgets.feature_visualizer import FeatureVisualizer

    w = FeatureVisualizer(digits_model(), layer="relu3", data=digits_test(), autorun=False, top_examples=two)
    assert w.wait(60) and w.error is None and w.top_examples() is two
    assert len(w.examples_marks) == 5 and f"of {IMAGES} data images" in w.views["examples"].title


def test_a_failing_rank_fails_the_job_and_a_resume_completes_it(tmp_path, reference):
    out = tmp_path / "scan"
    # rank 1 scans images 80..150 in segments of 32: it writes a checkpoint at 112, then image 120 fails
    failed = torchrun(TOP + ["--out", out], env={"NNLENS_TEST_FAIL_AT": "120"})
    assert failed.returncode != 0
    root_cause = failed.stderr.split("Root Cause")[-1]
    assert re.search(r"rank\s*:\s*1 \(local_rank: 1\)", root_cause), failed.stderr[-4000:]
    assert "RuntimeError: unreadable test image 120" in root_cause
    assert not (out / "top_examples.pt").exists() and not (out / "scan.json").exists()  # no partial result

    resumed = torchrun(TOP + ["--out", out, "--resume"])
    assert resumed.returncode == 0, resumed.stderr[-4000:]
    assert "[rank 1/2] top-examples: resuming at image 112 (32 of 70 done)" in resumed.stderr
    info = json.loads((out / "scan.json").read_text())
    assert info["ranks"][1]["scanned"] == 38  # only what was left
    assert_same_top_examples(nl.core.load_top_examples(out), reference)

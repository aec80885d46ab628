"""The scan command in this process: resume after a crash, refusals, and clear errors for bad arguments."""
from __future__ import annotations

import pytest
import torch

import nnlens_widgets as nl
from nnlens_widgets.scan import main
from tests.scan.callables import digits_model, digits_test
from tests.scan.launch import DATA, MODEL, assert_same_top_examples

TOP = ["top-examples", "--model", MODEL, "--data", DATA, "--layer", "relu3", "--k", "5", "--batch-size", "16",
       "--checkpoint-every", "32", "--progress-every", "0"]


def run(args, out):
    return main([str(a) for a in args] + ["--out", str(out)])


def test_a_crash_after_the_first_checkpoint_resumes_to_the_same_result(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("NNLENS_TEST_FAIL_AT", "40")  # segments of 32: checkpoint at 32, then image 40 fails
    with pytest.raises(RuntimeError, match="unreadable test image 40"):
        run(TOP, tmp_path)
    shard = torch.load(tmp_path / "shards" / "top-examples.rank00000-of-00001.pt", weights_only=True)
    assert shard["position"] == 32 and shard["result"]["count"] == 32
    assert not (tmp_path / "top_examples.pt").exists()
    monkeypatch.delenv("NNLENS_TEST_FAIL_AT")

    assert run(TOP, tmp_path) == 2  # a fresh start would throw the checkpoint away: refused
    assert "already holds checkpoints of a top-examples scan; pass --resume" in capsys.readouterr().err
    assert run(TOP[:-4] + ["--k", "4"] + TOP[-4:] + ["--resume"], tmp_path) == 2
    assert "other settings (k: 5 then, 4 now)" in capsys.readouterr().err

    assert run(TOP + ["--resume"], tmp_path) == 0
    assert "resuming at image 32 (32 of 150 done)" in capsys.readouterr().err
    reference = nl.core.top_examples(digits_model(), digits_test(), "relu3", k=5, batch_size=16)
    assert_same_top_examples(nl.core.load_top_examples(tmp_path), reference)
    assert run(TOP, tmp_path) == 2  # a finished folder is not overwritten
    assert "already holds a finished top-examples scan" in capsys.readouterr().err


@pytest.mark.parametrize("change, message", [
    ({"--model": "no_such_module:make"}, "cannot import module 'no_such_module' for --model"),
    ({"--model": "tests.scan.callables:nothing_here"}, "has no 'nothing_here' for --model; callables there: "),
    ({"--model": "tests.scan.callables"}, "expected --model as MODULE:FUNCTION"),
    ({"--model": "tests.scan.callables:not_a_model"}, "to return a torch.nn.Module, got Tensor"),
    ({"--data": "tests.scan.callables:not_a_dataset"}, "map-style data set (with len() and [index]), got int"),
    ({"--layer": "relu9"}, "layer 'relu9' not found in DigitsCNN; closest names: 'relu3'"),
    ({"--units": "60-70"}, "channel(s) [64, 65, 66, 67, 68, 69, 70] out of range: layer 'relu3' has 64 channels"),
    ({"--units": "3,x"}, "expected --units as channel numbers or ranges like 0-63, got 'x'"),
    ({"--device": "tpu"}, "expected --device auto, cpu or cuda, got 'tpu'"),
])
def test_bad_arguments_exit_2_with_a_clear_message(tmp_path, capsys, change, message):
    args = list(TOP)
    for option, value in change.items():
        if option in args:
            args[args.index(option) + 1] = value
        else:
            args += [option, value]
    assert run(args, tmp_path) == 2
    err = capsys.readouterr().err
    assert "python -m nnlens_widgets.scan top-examples: error: " in err and message in err, err
    assert not (tmp_path / "top_examples.pt").exists()


@pytest.mark.parametrize("option, value, message", [
    ("--k", "0", "expected k (examples per unit) in 1..100000, got 0"),
    ("--batch-size", "-1", "expected batch size in 1..65536, got -1"),
    ("--checkpoint-every", "0", "expected images per checkpoint in 1..1000000000, got 0"),
    ("--progress-every", "-5", "expected a number of seconds in 0..86400, got -5.0"),
])
def test_out_of_range_numbers_are_refused_by_the_parser(tmp_path, capsys, option, value, message):
    args = list(TOP)
    args[args.index(option) + 1] = value
    with pytest.raises(SystemExit) as stop:
        run(args, tmp_path)
    assert stop.value.code == 2 and message in capsys.readouterr().err


def test_bad_metric_arguments(tmp_path, capsys):
    base = ["metrics", "--model", MODEL, "--data", DATA, "--limit", "2", "--progress-every", "0"]
    assert run(base + ["--method", "magic"], tmp_path) == 2
    assert "unknown attribution method 'magic'; known methods: gradient" in capsys.readouterr().err
    assert run(base + ["--metric", "deletion,pointing"], tmp_path) == 2
    assert "expected --metric from deletion, insertion" in capsys.readouterr().err
    assert run(base + ["--method-arg", "stepz=8"], tmp_path) == 2
    assert "integrated_gradients on image 0: " in capsys.readouterr().err
    assert run(base + ["--method-arg", "steps=0"], tmp_path) == 2
    assert "expected at least 1 step, got 0" in capsys.readouterr().err
    assert run(base + ["--method-arg", "steps"], tmp_path) == 2
    assert "expected --method-arg as NAME=VALUE, got 'steps'" in capsys.readouterr().err
    assert run(base + ["--method", "grad_cam", "--method-arg", "layer=conv3", "--steps", "4"], tmp_path) == 0
    assert nl.core.load_metric_scores(tmp_path).count == 2

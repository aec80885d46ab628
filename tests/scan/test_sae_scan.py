"""``top-examples --sae FILE``: every autoencoder feature's facts through the scan command, resumable,
sharded and merged exactly, refused for another model or layer, and opened by the FeatureBrowser."""
from __future__ import annotations

import json

import pytest
import torch

import nnlens_widgets as nl
from nnlens_widgets.core.sae import load_feature_facts
from nnlens_widgets.scan import main
from tests.scan.callables import IMAGES, digits_model, digits_test
from tests.scan.launch import DATA, MODEL, run_ranks_in_process, torchrun

EXACT = ("top_values", "top_indices", "top_positions", "image_counts", "position_counts", "hist_edges",
         "hist_counts", "predicted_counts", "label_counts")


@pytest.fixture(scope="module")
def sae_file(tmp_path_factory):
    model = digits_model()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as every scan here runs (conftest's one_thread starts only with each test)
    try:
        sae = nl.core.train_sae(model, "relu3", digits_test()[:60][0], features=32, k=4, steps=10,
                                batch_size=128, seed=0)
    finally:
        torch.set_num_threads(threads)
    path = tmp_path_factory.mktemp("sae") / "relu3.sae"
    sae.save(path)
    return path


@pytest.fixture(scope="module")
def reference(sae_file):
    """nl.core.feature_facts over the whole data set in one pass."""
    model = digits_model()
    return nl.core.feature_facts(model, nl.core.load_sae(sae_file, model), digits_test(), n_top=5, batch_size=16)


def command(sae_file):
    return ["top-examples", "--model", MODEL, "--data", DATA, "--sae", str(sae_file), "--k", "5",
            "--batch-size", "16", "--checkpoint-every", "32", "--progress-every", "0"]


def assert_same_facts(a, b) -> None:
    """Counts, rankings and histograms bit-identical; sums equal up to their float64 summation order."""
    assert (a.layer, a.model_hash, a.positions, a.count, a.input_shape) == (
        b.layer, b.model_hash, b.positions, b.count, b.input_shape)
    for name in EXACT:
        assert torch.equal(getattr(a, name), getattr(b, name)), name
    torch.testing.assert_close(a.value_sums, b.value_sums, rtol=1e-12, atol=1e-9)
    torch.testing.assert_close(a.prob_sums, b.prob_sums, rtol=1e-12, atol=1e-9)


def test_a_crash_resumes_to_the_one_pass_result_and_the_browser_opens_it(tmp_path, sae_file, reference,
                                                                         monkeypatch, capsys):
    args = command(sae_file) + ["--out", str(tmp_path)]
    monkeypatch.setenv("NNLENS_TEST_FAIL_AT", "40")  # segments of 32: checkpoint at 32, then image 40 fails
    with pytest.raises(RuntimeError, match="unreadable test image 40"):
        main(args)
    shard = torch.load(tmp_path / "shards" / "top-examples.rank00000-of-00001.pt", weights_only=True)
    assert shard["position"] == 32 and shard["result"]["count"] == 32
    assert not (tmp_path / "feature_facts.pt").exists()
    monkeypatch.delenv("NNLENS_TEST_FAIL_AT")
    assert main(args) == 2  # a fresh start would throw the checkpoint away
    assert "pass --resume" in capsys.readouterr().err
    assert main(args[:args.index("--k") + 1] + ["4"] + args[args.index("--k") + 2:] + ["--resume"]) == 2
    assert "other settings (k: 5 then, 4 now)" in capsys.readouterr().err

    assert main(args + ["--resume"]) == 0
    captured = capsys.readouterr()
    assert "resuming at image 32 (32 of 150 done)" in captured.err
    assert "32 feature(s) of 'relu3', k=5" in captured.out
    facts = load_feature_facts(tmp_path)
    assert_same_facts(facts, reference)
    info = json.loads((tmp_path / "scan.json").read_text())
    assert info["features"] == 32 and info["settings"]["sae_sha256"] and info["images"] == IMAGES

    model = digits_model()
    browser = nl.FeatureBrowser(model, nl.core.load_sae(sae_file, model), digits_test(), facts=tmp_path)
    assert browser.facts.count == IMAGES and browser.wait(60) and browser.error is None
    f = browser.feature
    assert browser.top_examples() == reference.top(f)[0].tolist()
    browser.close()


def test_two_ranks_merge_exactly(tmp_path, sae_file, reference, monkeypatch):
    assert run_ranks_in_process(command(sae_file) + ["--out", str(tmp_path)], 2, monkeypatch) == 0
    facts = load_feature_facts(tmp_path)
    assert_same_facts(facts, reference)
    info = json.loads((tmp_path / "scan.json").read_text())
    assert [(r["start"], r["end"]) for r in info["ranks"]] == [(0, 80), (80, 150)]


def test_two_ranks_under_torchrun_give_the_one_pass_result(tmp_path, sae_file, reference):
    run = torchrun(command(sae_file) + ["--out", tmp_path])
    assert run.returncode == 0, run.stderr[-4000:]
    assert_same_facts(load_feature_facts(tmp_path), reference)
    info = json.loads((tmp_path / "scan.json").read_text())
    assert info["world_size"] == 2 and info["backend"] == "gloo"
    assert [(r["start"], r["end"], r["scanned"]) for r in info["ranks"]] == [(0, 80, 80), (80, 150, 70)]


def test_an_autoencoder_of_another_model_or_layer_is_refused(tmp_path, sae_file, monkeypatch, capsys):
    assert main(command(sae_file) + ["--layer", "relu2", "--out", str(tmp_path / "a")]) == 2
    assert "it was made for layer 'relu3', not 'relu2'" in capsys.readouterr().err
    monkeypatch.setenv("NNLENS_TEST_MOVE_WEIGHT", "1")
    assert main(command(sae_file) + ["--out", str(tmp_path / "b")]) == 2
    assert "it was made for another model" in capsys.readouterr().err
    monkeypatch.delenv("NNLENS_TEST_MOVE_WEIGHT")
    assert main(command(sae_file) + ["--units", "0-3", "--out", str(tmp_path / "c")]) == 2
    assert "with --sae every feature is scanned" in capsys.readouterr().err
    assert main(command(sae_file) + ["--by", "relevance", "--out", str(tmp_path / "f")]) == 2
    assert "expected no --by relevance or --target" in capsys.readouterr().err
    assert main(command(tmp_path / "missing.sae") + ["--out", str(tmp_path / "d")]) == 2
    assert "cannot read --sae" in capsys.readouterr().err
    no_layer = ["top-examples", "--model", MODEL, "--data", DATA, "--out", str(tmp_path / "e")]
    assert main(no_layer) == 2
    assert "expected --layer NAME (the layer whose units to scan) or --sae FILE" in capsys.readouterr().err
    assert not any((tmp_path / d / "feature_facts.pt").exists() for d in "abcdef")

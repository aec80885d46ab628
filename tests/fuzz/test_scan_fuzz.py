"""The scan command where it should not write, and with files that are not what it wrote.

- ``--out`` that is a file, lies under a file or in a place nobody can write,
  holds the user's own files, or another scan: one line, exit status 2,
  before a single image is read, and every file there left as it was.
- A factory (``--model`` / ``--data``) that raises: one line naming it.
- A checkpoint or result whose bytes do not match the scan's manifest (one
  flipped byte, a well-formed file with other values), or one made by a run
  with another model, layer, k or data length: refused, naming the file.

Every case checks that the model the scan built is unchanged and has no hook.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Callable, Dict, NamedTuple

import pytest
import torch

import nnlens_widgets as nl
from nnlens_widgets.core import ModelSnapshot, hook_count
from nnlens_widgets.scan import main
from tests.scan import callables
from tests.scan.launch import assert_same_top_examples

COUNTING = "tests.scan.callables:counting_digits"
MODEL = "tests.scan.callables:digits_model"
DATA = "tests.scan.callables:digits_test"
SHARD = "shards/top-examples.rank00000-of-00001.pt"


def top(out, *extra, data=COUNTING, model=MODEL, limit=40):
    return ["top-examples", "--model", model, "--data", data, "--layer", "relu3", "--k", "5", "--batch-size", "8",
            "--checkpoint-every", "16", "--progress-every", "0", "--limit", str(limit), "--out", str(out), *extra]


def run(args) -> int:
    return main([str(a) for a in args])


def _files(folder: Path) -> Dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _scan_model_unchanged() -> None:
    """The model the scan built (its own instance) is as the factory made it, with no hook."""
    if callables.BUILT:
        used = callables.BUILT[-1]
        assert ModelSnapshot.of(used).differences(ModelSnapshot.of(nl.zoo.digits_cnn())) == {}
        assert hook_count(used) == 0


@pytest.fixture(autouse=True)
def fresh_counts():
    callables.READS[0] = 0
    callables.BUILT.clear()
    yield
    _scan_model_unchanged()


# -- where a scan may write ------------------------------------------------------------------
class Place(NamedTuple):
    make: Callable[[Path], Path]  # builds the situation under tmp_path, returns --out
    message: str
    args: Callable[[Path], list] = lambda out: top(out)


def _existing_file(tmp: Path) -> Path:
    (tmp / "results.txt").write_text("my results\n")
    return tmp / "results.txt"


def _under_a_file(tmp: Path) -> Path:
    (tmp / "notes").write_text("not a folder\n")
    return tmp / "notes" / "scan"


def _users_folder(tmp: Path) -> Path:
    out = tmp / "mine"
    out.mkdir()
    (out / "scan.json").write_text('{"mine": true}\n')
    (out / "notes.txt").write_text("keep me\n")
    return out


def _scanned(tmp: Path, name: str) -> Path:
    """A finished scan of 16 images (its reads not counted)."""
    out = tmp / name
    assert run(top(out, limit=16)) == 0
    callables.READS[0] = 0
    callables.BUILT.clear()
    return out


def _own_scan_with_a_users_file(tmp: Path) -> Path:
    out = _scanned(tmp, "scan")
    (out / "notes.txt").write_text("added by hand\n")
    return out


def _metrics_scan(tmp: Path) -> Path:
    out = tmp / "metrics"
    assert run(["metrics", "--model", MODEL, "--data", DATA, "--limit", "2", "--steps", "2", "--method", "gradient",
                "--progress-every", "0", "--out", out]) == 0
    callables.BUILT.clear()
    return out


def _bad_manifest(tmp: Path) -> Path:
    out = tmp / "odd"
    out.mkdir()
    (out / "manifest.json").write_text("{not json")
    return out


def _other_k(out: Path) -> list:
    args = top(out, "--resume", limit=16)
    args[args.index("--k") + 1] = "4"
    return args


PLACES = {
    "existing file": Place(_existing_file, "is a file; expected a folder for the scan"),
    "under a file": Place(_under_a_file, "cannot create --out"),
    "read-only place": Place(lambda tmp: Path("/proc/nnlens-scan-test"), "--out /proc/nnlens-scan-test"),
    "user's folder": Place(_users_folder, "is not empty and is not a scan's folder (it holds notes.txt, scan.json)"),
    "user's folder, resume": Place(_users_folder, "is not empty and is not a scan's folder",
                                   lambda out: top(out, "--resume")),
    "own scan plus a user's file": Place(_own_scan_with_a_users_file,
                                         "holds files this scan did not write (notes.txt)",
                                         lambda out: top(out, "--resume", limit=16)),
    "another job's folder": Place(_metrics_scan, "holds a metrics scan, not a top-examples one"),
    "finished scan, no resume": Place(lambda tmp: _scanned(tmp, "done"), "already holds a finished top-examples scan",
                                      lambda out: top(out, limit=16)),
    "finished scan, other k": Place(lambda tmp: _scanned(tmp, "done"), "other settings (k: 5 then, 4 now)", _other_k),
    "unreadable manifest": Place(_bad_manifest, "cannot read the scan manifest"),
}


@pytest.mark.parametrize("name", list(PLACES))
def test_a_scan_writes_only_where_it_may(name, tmp_path, capsys):
    place = PLACES[name]
    out = place.make(tmp_path)
    before = _files(tmp_path)
    capsys.readouterr()
    assert run(place.args(out)) == 2
    err = capsys.readouterr().err.strip()
    assert place.message in err and len(err.splitlines()) == 1, err
    assert callables.READS[0] == 0  # refused before any image was read
    assert _files(tmp_path) == before  # nothing written, nothing replaced


@pytest.mark.parametrize("option, spec, message", [
    ("--model", "tests.scan.callables:raising_model",
     "--model tests.scan.callables:raising_model raised FileNotFoundError: weights.pt is not here"),
    ("--data", "tests.scan.callables:raising_data",
     "--data tests.scan.callables:raising_data raised RuntimeError: the data share is not mounted"),
    ("--data", "tests.scan.callables:bad_length",
     "--data tests.scan.callables:bad_length raised OSError: index file unreadable"),
])
def test_a_factory_that_raises_is_one_line_naming_it(option, spec, message, tmp_path, capsys):
    args = top(tmp_path / "out")
    args[args.index(option) + 1] = spec
    assert run(args) == 2
    err = capsys.readouterr().err.strip()
    assert err.splitlines() == [f"python -m nnlens_widgets.scan top-examples: error: {message}"]
    assert not (tmp_path / "out").exists()


# -- files that are not what the scan wrote ---------------------------------------------------
def _crashed(out: Path, monkeypatch, *extra) -> None:
    """A scan of 40 images killed at image 20: a checkpoint at 16 is on disk."""
    monkeypatch.setenv("NNLENS_TEST_FAIL_AT", "20")
    with pytest.raises(RuntimeError, match="unreadable test image 20"):
        run(top(out, *extra))
    monkeypatch.delenv("NNLENS_TEST_FAIL_AT")
    assert torch.load(out / SHARD, weights_only=True)["position"] == 16


def _flip_a_tensor_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    values = torch.load(path, weights_only=True)["result"]["top_values"]
    marker = values.numpy().tobytes()[:8]  # the stored tensor's bytes, inside the zip archive
    at = bytes(data).index(marker)
    data[at + 2] ^= 0x01
    path.write_bytes(bytes(data))


def _altered_values(path: Path) -> None:
    state = torch.load(path, weights_only=True)
    state["result"]["top_values"] = state["result"]["top_values"] + 1.0
    torch.save(state, path)


class Damage(NamedTuple):
    hurt: Callable[[Path], None]
    name: str  # the file the message names


DAMAGES = {
    "one flipped byte in a shard's tensor": Damage(lambda out: _flip_a_tensor_byte(out / SHARD), SHARD),
    "a well-formed shard with other values": Damage(lambda out: _altered_values(out / SHARD), SHARD),
}


@pytest.mark.parametrize("name", list(DAMAGES))
def test_resume_refuses_a_checkpoint_the_manifest_does_not_vouch_for(name, tmp_path, monkeypatch, capsys):
    out = tmp_path / "scan"
    _crashed(out, monkeypatch)
    damage = DAMAGES[name]
    damage.hurt(out)
    assert run(top(out, "--resume")) == 2
    err = capsys.readouterr().err
    assert f"checksum mismatch: {damage.name}; delete it to rescan that part" in err, err
    assert not (out / "top_examples.pt").exists()
    (out / damage.name).unlink()  # as the message says: that part is scanned again
    assert run(top(out, "--resume")) == 0
    reference = nl.core.top_examples(callables.digits_model(), torch.utils.data.Subset(callables.digits_test(),
                                                                                          range(40)),
                                     "relu3", k=5, batch_size=8)
    assert_same_top_examples(nl.core.load_top_examples(out), reference)


@pytest.mark.parametrize("change, env, key", [
    ({}, {"NNLENS_TEST_MOVE_WEIGHT": "1"}, "model_hash"),
    ({"--layer": "relu2"}, {}, "layer"),
    ({"--k": "4"}, {}, "k"),
    ({}, {"NNLENS_TEST_IMAGES": "140"}, "data_length"),
])
def test_resume_refuses_checkpoints_of_another_run(change, env, key, tmp_path, monkeypatch, capsys):
    out = tmp_path / "scan"
    _crashed(out, monkeypatch)
    before = _files(out)
    args = top(out, "--resume", data=COUNTING)
    for option, value in change.items():
        args[args.index(option) + 1] = value
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    callables.READS[0] = 0
    capsys.readouterr()
    assert run(args) == 2
    err = capsys.readouterr().err.strip()
    assert f"with other settings ({key}: " in err and len(err.splitlines()) == 1, err
    assert callables.READS[0] == 0 and _files(out) == before
    callables.BUILT.clear()  # a model changed on purpose


def test_a_checkpoint_swapped_in_with_its_manifest_entry_is_checked_against_the_run(tmp_path, monkeypatch, capsys):
    """Even when the manifest is made to vouch for it, a checkpoint of another run is refused."""
    a, b = tmp_path / "a", tmp_path / "b"
    _crashed(a, monkeypatch)
    _crashed(b, monkeypatch, "--units", "0-9")
    (b / SHARD).write_bytes((a / SHARD).read_bytes())
    manifest = json.loads((b / "manifest.json").read_text())
    manifest["files"][SHARD] = json.loads((a / "manifest.json").read_text())["files"][SHARD]
    (b / "manifest.json").write_text(json.dumps(manifest))
    assert run(top(b, "--resume", "--units", "0-9")) == 2
    err = capsys.readouterr().err
    assert f"the checkpoint {SHARD} was written by a scan with other settings (units: None then, " in err, err
    assert "delete it to rescan that part" in err


@pytest.mark.parametrize("job, loader, result", [
    ("top-examples", nl.core.load_top_examples, "top_examples.pt"),
    ("metrics", nl.core.load_metric_scores, "metric_scores.pt"),
])
def test_loading_a_scan_folder_checks_the_result(job, loader, result, tmp_path):
    out = tmp_path / job
    args = top(out, limit=16) if job == "top-examples" else [
        "metrics", "--model", MODEL, "--data", DATA, "--limit", "2", "--steps", "2", "--method", "gradient",
        "--progress-every", "0", "--out", out]
    assert run(args) == 0
    good = loader(out)
    assert loader(out / result).count == good.count
    data = bytearray((out / result).read_bytes())
    data[len(data) // 2] ^= 0x10
    (out / result).write_bytes(bytes(data))
    for path in (out, out / result):
        with pytest.raises(ValueError, match=f"checksum mismatch: {result}; delete it to rescan that part"):
            loader(path)
    manifest = json.loads((out / "manifest.json").read_text())
    assert set(manifest["files"]) >= {result, "scan.json"} and manifest["pending"] == {}


def test_a_scan_leaves_out_images_that_are_not_finite_and_says_so(tmp_path, capsys):
    out = tmp_path / "scan"
    assert run(top(out, data="tests.scan.callables:digits_with_nan", limit=40)) == 0
    printed = capsys.readouterr().out
    assert "2 image(s) left out of every ranking (activations not finite)" in printed, printed
    got = nl.core.load_top_examples(out)
    assert got.skipped == 2 and got.count == 40
    indices = torch.cat([got.top_indices.flatten(), got.bottom_indices.flatten()])
    assert not ({7, 30} & set(indices.tolist()))
    info = json.loads((out / "scan.json").read_text())
    assert info["skipped"] == 2

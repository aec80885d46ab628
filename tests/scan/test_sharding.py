"""Shard ranges, atomic checkpoints, the small parsers and the progress line."""
from __future__ import annotations

import io

import pytest
import torch

from nnlens_widgets.scan.arguments import ScanError, parse_method_args, parse_units
from nnlens_widgets.scan.checkpoint import ShardCheckpoint, save_to
from nnlens_widgets.scan.folder import ScanFolder
from nnlens_widgets.scan.distributed import backend_for, shard_range
from nnlens_widgets.scan.progress import RankProgress


@pytest.mark.parametrize("n, batch, world", [(150, 16, 2), (40, 16, 4), (1, 8, 3), (1000, 7, 5), (64, 16, 4)])
def test_shards_are_contiguous_whole_batches_covering_every_image_once(n, batch, world):
    ranges = [shard_range(n, batch, r, world) for r in range(world)]
    assert ranges[0][0] == 0 and ranges[-1][1] == n
    assert all(a[1] == b[0] for a, b in zip(ranges, ranges[1:]))  # no gap, no overlap, in rank order
    assert all(start % batch == 0 for start, _ in ranges)  # batches as one process forms them
    sizes = [(end - start + batch - 1) // batch for start, end in ranges]
    assert max(sizes) - min(sizes) <= 1  # as even as whole batches allow
    with pytest.raises(ValueError, match="rank in 0.."):
        shard_range(n, batch, world, world)


class Partial:
    def __init__(self, value):
        self.value = value

    def state_dict(self):
        return {"value": torch.tensor([self.value])}


def _checkpoint(out, job, rank, world, start, end, settings):
    folder = ScanFolder(out, job, settings, rank, world)
    folder.claim(resume=True)
    return ShardCheckpoint(folder, start, end)


def test_a_failed_write_leaves_the_previous_checkpoint(tmp_path, monkeypatch):
    ckpt = _checkpoint(tmp_path, "top-examples", 1, 2, 80, 150, {"k": 5})
    ckpt.save(Partial(1.0), 112)
    real_save = torch.save

    def dies_halfway(obj, f, *a, **k):
        f.write(b"half a file")
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", dies_halfway)
    with pytest.raises(OSError, match="disk full"):
        ckpt.save(Partial(2.0), 144)
    monkeypatch.setattr(torch, "save", real_save)
    assert [p.name for p in (tmp_path / "shards").iterdir()] == ["top-examples.rank00001-of-00002.pt"]
    result, position = ckpt.load(lambda state, _src: float(state["value"]))
    assert (result, position) == (1.0, 112)


def test_checkpoints_of_another_job_shape_are_refused(tmp_path):
    """(The folder check refuses these runs first: their settings differ; the checkpoint checks too.)"""
    _checkpoint(tmp_path, "metrics", 0, 4, 0, 10, {"k": 5}).save(Partial(0.0), 5)
    two = lambda: _checkpoint(tmp_path, "metrics", 0, 2, 0, 20, {"k": 5})  # noqa: E731
    with pytest.raises(ScanError, match="another number of processes"):
        two().load(lambda s, _: s)
    _checkpoint(tmp_path, "metrics", 0, 2, 0, 10, {"k": 5}).save(Partial(0.0), 5)
    with pytest.raises(ScanError, match="covers images 0..10, this rank's shard is 0..20; delete it"):
        two().load(lambda s, _: s)
    ckpt = two()
    ckpt.folder.write(ckpt.name, save_to({"format": "something else"}))
    with pytest.raises(ScanError, match="is not a scan checkpoint"):
        ckpt.load(lambda s, _: s)
    assert _checkpoint(tmp_path, "top-examples", 0, 2, 0, 20, {}).load(lambda s, _: s) == (None, 0)


def test_units_and_method_arguments_parse():
    assert parse_units(["0-3", "7,9"]) == [0, 1, 2, 3, 7, 9]
    assert parse_units(None) is None
    for bad, message in ((["3-1"], "ranges like"), (["1", "1"], "each channel once"), (["-2"], "channel numbers >= 0")):
        with pytest.raises(ScanError, match=message):
            parse_units(bad)
    assert parse_method_args(["steps=32", "layer=conv3", "baseline=0.5", "flag=True"]) == dict(
        steps=32, layer="conv3", baseline=0.5, flag=True)
    with pytest.raises(ScanError, match="a number, a word"):
        parse_method_args(["steps=[1, 2]"])


def test_progress_lines_are_throttled_but_checkpoints_always_reported():
    out = io.StringIO()
    p = RankProgress(1, 4, "top-examples", 100, 300, every=3600, stream=out)
    p.begin(150)
    p.update(160)  # the first line comes at once
    p.update(170)  # within the hour: dropped
    p.update(200, force=True, suffix=", checkpoint written")
    lines = out.getvalue().splitlines()
    assert len(lines) == 2 and all(line.startswith("[rank 1/4] top-examples: ") for line in lines)
    assert lines[0].startswith("[rank 1/4] top-examples: 60/200 images (30.0%)")
    assert lines[1].endswith("left, checkpoint written") and "100/200 images (50.0%)" in lines[1]


def test_the_scan_package_uses_core_and_never_the_widgets():
    import ast
    from pathlib import Path

    import nnlens_widgets.scan as scan

    for path in Path(scan.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                names = [node.module or ""] + [a.name for a in node.names]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            else:
                continue
            assert not any("widgets" in n.split(".") or n.startswith(("ipywidgets", "anywidget"))
                           for n in names), (path.name, names)
    assert backend_for(torch.device("cpu")) == "gloo"
    assert backend_for(torch.device("cuda", 1)) == "cpu:gloo,cuda:nccl"

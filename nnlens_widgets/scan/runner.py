"""The steps every scan job shares: claim the folder, shard, scan with checkpoints, merge on rank 0, write.

Before any image is read, every rank checks ``--out`` (``folder.ScanFolder``),
the ranks agree that all of them may go on with the same settings (the
model's hash among them), each writes its manifest, and they agree again;
only then does the job read its first image (``probe``) and scan.
"""
from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Optional

from .arguments import ScanError
from .checkpoint import Fits, ShardCheckpoint, save_to
from .distributed import ScanGroup, shard_range
from .folder import ScanFolder
from .progress import RankProgress, duration
from .shard_loop import ScanPart, merge_on_first, scan_shard

__all__ = ["JobSpec", "run_job", "json_text"]

INFO_FILE = "scan.json"


@dataclass
class JobSpec:
    """What one kind of job adds to the shared steps."""

    name: str  # "top-examples", "metrics"
    result_file: str  # the merged result inside --out
    settings: dict  # everything that changes the result (checked on --resume)
    images: int  # how many images the whole job scans
    probe: Callable[[], None]  # runs the job on one image: ScanError for a wrong layer, method, ...
    scan_part: ScanPart
    from_state: Callable[[dict, str], Any]  # a result (TopExamples, MetricScores) from its state
    fits: Fits  # whether a checkpoint's result belongs to its images and settings
    count: Callable[[Any], int]  # images a (merged) result holds
    write_extra: Callable[[ScanFolder, Any], dict]  # more files; returns what goes into scan.json
    describe: Callable[[Any], str]  # one line about the merged result


def json_text(obj) -> str:
    return json.dumps(obj, indent=2, default=str) + "\n"


def _agree(group: ScanGroup, refusal: Optional[ScanError], settings: dict) -> None:
    """Every rank learns whether all may go on, with the same settings; ScanError otherwise."""
    digest = hashlib.sha256(json.dumps(settings, sort_keys=True, default=str).encode()).hexdigest()
    everyone = group.all_gather((group.rank, None if refusal is None else str(refusal), digest))
    if refusal is not None:
        raise refusal
    stopped = [(r, why) for r, why, _ in everyone if why]
    if stopped:
        raise ScanError(f"rank {stopped[0][0]} cannot go on: {stopped[0][1]}")
    if len({d for _, _, d in everyone}) > 1:
        raise ScanError("the ranks do not run the same scan: their settings differ (a --model factory that "
                        "gives other weights in each process? its model hash is one of the settings)")


def _prepare(spec: JobSpec, folder: ScanFolder, group: ScanGroup, resume: bool) -> None:
    """Check the folder on every rank, then (all agreeing) claim it, then read the first image.

    No rank writes before every rank has checked: what one rank writes first
    must not make the folder look foreign to another."""
    for step in (lambda: folder.check(resume, spec.result_file), lambda: folder.claim(resume)):
        refusal = None
        try:
            step()
        except ScanError as e:
            refusal = e
        _agree(group, refusal, spec.settings)
    spec.probe()


def run_job(spec: JobSpec, out: Path, group: ScanGroup, batch_size: int, every: int, resume: bool,
            progress_every: float) -> int:
    t0 = time.perf_counter()
    folder = ScanFolder(Path(out), spec.name, spec.settings, group.rank, group.world_size)
    _prepare(spec, folder, group, resume)
    start, end = shard_range(spec.images, batch_size, group.rank, group.world_size)
    checkpoint = ShardCheckpoint(folder, start, end)
    progress = RankProgress(group.rank, group.world_size, spec.name, start, end, progress_every)
    progress.note(f"images {start}..{end} of {spec.images} on {group.device}")
    result, scanned = scan_shard(checkpoint, progress, spec.scan_part, spec.from_state, spec.fits, batch_size,
                                 every, resume)
    stats = dict(rank=group.rank, start=start, end=end, scanned=scanned, seconds=round(progress.seconds, 3))
    merged = merge_on_first(group, result, stats, spec.from_state)
    if merged is None:
        return 0
    result, ranks, merge_seconds = merged
    got = 0 if result is None else spec.count(result)
    if got != spec.images:  # never write a partial result as if it were the whole
        raise RuntimeError(f"the shards hold {got} of {spec.images} images; the result was not written")
    folder.write(spec.result_file, save_to(result.state_dict()))
    wall = time.perf_counter() - t0
    scanned_now = sum(r["scanned"] for r in ranks)
    info = dict(job=spec.name, images=spec.images, world_size=group.world_size, backend=group.backend,
                device=group.device.type, seconds=round(wall, 3), scanned_now=scanned_now,
                images_per_second=round(scanned_now / wall, 3) if wall > 0 else None,
                merge_seconds=round(merge_seconds, 6), ranks=ranks, settings=spec.settings)
    info.update(spec.write_extra(folder, result))
    folder.write_text(INFO_FILE, json_text(info))
    print(f"{spec.name}: {spec.describe(result)}; {spec.images} images on {group.world_size} process(es) in "
          f"{duration(wall)} ({info['images_per_second']} img/s scanned now) -> {Path(out) / spec.result_file}",
          flush=True)
    return 0

"""The steps every scan job shares: shard, scan with checkpoints, merge on rank 0, write the folder."""
from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from .arguments import ScanError
from .checkpoint import ShardCheckpoint, atomic_save
from .distributed import ScanGroup, shard_range
from .progress import RankProgress, duration
from .shard_loop import ScanPart, merge_on_first, scan_shard

__all__ = ["JobSpec", "run_job", "write_json"]

INFO_FILE = "scan.json"


@dataclass
class JobSpec:
    """What one kind of job adds to the shared steps."""

    name: str  # "top-examples", "metrics"
    result_file: str  # the merged result inside --out
    settings: dict  # everything that changes the result (checked on --resume)
    images: int  # how many images the whole job scans
    scan_part: ScanPart
    from_state: Callable[[dict, str], object]
    count: Callable[[object], int]  # images a (merged) result holds
    write_extra: Callable[[Path, object], dict]  # more files; returns what goes into scan.json
    describe: Callable[[object], str]  # one line about the merged result


def write_json(obj, path: Path) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(obj, indent=2, default=str) + "\n")
    os.replace(tmp, path)


def run_job(spec: JobSpec, out: Path, group: ScanGroup, batch_size: int, every: int, resume: bool,
            progress_every: float) -> int:
    t0 = time.perf_counter()
    out = Path(out)
    if (out / spec.result_file).exists() and not resume:
        raise ScanError(f"{out} already holds a finished {spec.name} scan ({spec.result_file}); choose another "
                        "--out (or pass --resume to merge its checkpoints again)")
    start, end = shard_range(spec.images, batch_size, group.rank, group.world_size)
    checkpoint = ShardCheckpoint(out, spec.name, group.rank, group.world_size, start, end, spec.settings)
    if not resume:
        checkpoint.check_fresh_start()
    progress = RankProgress(group.rank, group.world_size, spec.name, start, end, progress_every)
    progress.note(f"images {start}..{end} of {spec.images} on {group.device}")
    result, scanned = scan_shard(checkpoint, progress, spec.scan_part, spec.from_state, batch_size, every, resume)
    stats = dict(rank=group.rank, start=start, end=end, scanned=scanned, seconds=round(progress.seconds, 3))
    merged = merge_on_first(group, result, stats, spec.from_state)
    if merged is None:
        return 0
    result, ranks, merge_seconds = merged
    got = 0 if result is None else spec.count(result)
    if got != spec.images:  # never write a partial result as if it were the whole
        raise RuntimeError(f"the shards hold {got} of {spec.images} images; the result was not written")
    atomic_save(result.state_dict(), out / spec.result_file)
    wall = time.perf_counter() - t0
    scanned_now = sum(r["scanned"] for r in ranks)
    info = dict(job=spec.name, images=spec.images, world_size=group.world_size, backend=group.backend,
                device=group.device.type, seconds=round(wall, 3), scanned_now=scanned_now,
                images_per_second=round(scanned_now / wall, 3) if wall > 0 else None,
                merge_seconds=round(merge_seconds, 6), ranks=ranks, settings=spec.settings)
    info.update(spec.write_extra(out, result))
    write_json(info, out / INFO_FILE)
    print(f"{spec.name}: {spec.describe(result)}; {spec.images} images on {group.world_size} process(es) in "
          f"{duration(wall)} ({info['images_per_second']} img/s scanned now) -> {out / spec.result_file}",
          flush=True)
    return 0

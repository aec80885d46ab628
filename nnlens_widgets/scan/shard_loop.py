"""Scan one rank's shard in checkpointed segments; gather and merge the shards on rank 0."""
from __future__ import annotations

import math
import time
from typing import Any, Callable, List, Optional, Tuple

from .checkpoint import Fits, ShardCheckpoint
from .distributed import ScanGroup
from .progress import RankProgress

__all__ = ["scan_shard", "merge_on_first"]

# scan_part(first, end, report) -> the partial result of images [first, end);
# report(images_done_in_part) is called as the part advances.
ScanPart = Callable[[int, int, Callable[[int], None]], Any]


def scan_shard(checkpoint: ShardCheckpoint, progress: RankProgress, scan_part: ScanPart,
               from_state: Callable[[dict, str], Any], fits: Fits, batch_size: int, every: int,
               resume: bool) -> Tuple[Optional[Any], int]:
    """This rank's merged partial result (None for an empty shard) and how many images it scanned now.

    Segments are whole batches long (``every`` rounded up), so every batch
    is one that a single process would form too; after each segment the
    merged result and the position go to the checkpoint.
    """
    start, end = checkpoint.start, checkpoint.end
    result, position = checkpoint.load(from_state, fits) if resume else (None, start)
    if resume:
        progress.note(f"resuming at image {position} ({position - start} of {end - start} done)"
                      if position > start else f"no checkpoint yet, starting at image {start}")
    segment = math.ceil(every / batch_size) * batch_size
    progress.begin(position)
    first = position
    while position < end:
        stop = min(end, position + segment)
        at = position
        part = scan_part(at, stop, lambda done: progress.update(at + done))
        result = part if result is None else result.merge(part)
        position = stop
        checkpoint.save(result, position)
        progress.update(position, force=True, suffix=", checkpoint written")
    return result, position - first


def merge_on_first(group: ScanGroup, result, stats: dict,
                   from_state: Callable[[dict, str], Any]) -> Optional[Tuple[Any, List[dict], float]]:
    """On rank 0: (merged result, every rank's ``stats``, merge seconds); None on the other ranks.

    The partial results travel through the process group (no shared file
    system needed between machines). Merging is exact in any order (ties go
    to the lower data set index), so neighbours merge pairwise.
    """
    parts = group.gather_to_first((None if result is None else result.state_dict(), stats))
    if parts is None:
        return None
    t = time.perf_counter()
    results = [from_state(state, f"rank {r}'s partial result") for r, (state, _) in enumerate(parts)
               if state is not None]
    while len(results) > 1:  # pairs of neighbouring shards: each image is copied log2(ranks) times, not ranks
        results = [results[i].merge(results[i + 1]) if i + 1 < len(results) else results[i]
                   for i in range(0, len(results), 2)]
    merged = results[0] if results else None
    return merged, [s for _, s in parts], time.perf_counter() - t

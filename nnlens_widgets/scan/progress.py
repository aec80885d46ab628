"""One progress line per rank, every so often, on stderr."""
from __future__ import annotations

import sys
import time
from typing import Optional, TextIO

__all__ = ["RankProgress", "duration"]


def duration(seconds: float) -> str:
    if seconds < 60:
        return f"{max(0.0, seconds):.1f}s"
    seconds = int(round(seconds))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}h{m:02d}m" if h else f"{m}m{s:02d}s"


class RankProgress:
    """Lines like ``[rank 1/4] top-examples: 2048/320000 images (0.6%), 310 img/s, about 17m left``.

    ``every`` seconds apart at most (0: every batch); checkpoints and the end
    of the shard always get a line.
    """

    def __init__(self, rank: int, world_size: int, job: str, start: int, end: int, every: float,
                 stream: Optional[TextIO] = None):
        self.prefix = f"[rank {rank}/{world_size}] {job}:"
        self.start, self.end, self.every = start, end, float(every)
        self.stream = stream if stream is not None else sys.stderr
        self.t0 = time.perf_counter()
        self.first: Optional[int] = None  # position when this run started
        self.last_line = float("-inf")

    def note(self, text: str) -> None:
        print(f"{self.prefix} {text}", file=self.stream, flush=True)

    def begin(self, position: int) -> None:
        self.first = position
        self.t0 = time.perf_counter()

    def update(self, position: int, force: bool = False, suffix: str = "") -> None:
        now = time.perf_counter()
        if not force and now - self.last_line < self.every:
            return
        self.last_line = now
        total = self.end - self.start
        done = position - self.start
        scanned = position - (self.first if self.first is not None else self.start)
        elapsed = now - self.t0
        rate = scanned / elapsed if elapsed > 0 else 0.0
        left = f", about {duration((self.end - position) / rate)} left" if rate > 0 and position < self.end else ""
        share = f" ({100.0 * done / total:.1f}%)" if total else ""
        self.note(f"{done}/{total} images{share}, {rate:.1f} img/s{left}{suffix}")

    @property
    def seconds(self) -> float:
        return time.perf_counter() - self.t0

"""Each rank's partial result and the position it reached, written atomically.

The file is ``DIR/shards/<job>.rank<r>-of-<n>.pt``: the rank's partial
result (``state_dict()`` of a ``TopExamples`` / ``MetricScores``), the
images ``[start, position)`` it covers and the settings that produced it.
It is written to a temporary name, flushed to disk and renamed over the old
one, so a job killed at any moment leaves either the previous checkpoint or
the new one, never half a file. The last checkpoint of a finished rank is
that rank's shard file.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Callable, Optional, Tuple

import torch

from .arguments import ScanError

__all__ = ["ShardCheckpoint", "atomic_save"]

_FORMAT = "nnlens-scan-checkpoint-1"


def atomic_save(obj, path: Path) -> None:
    """``torch.save`` to a temporary file next to ``path``, flushed, then renamed over it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as f:
            torch.save(obj, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


class ShardCheckpoint:
    """Checkpoint file of one rank of one job."""

    def __init__(self, out: Path, job: str, rank: int, world_size: int, start: int, end: int, settings: dict):
        self.folder = Path(out) / "shards"
        self.job, self.rank, self.world_size = job, rank, world_size
        self.start, self.end, self.settings = start, end, dict(settings)
        self.path = self.folder / f"{job}.rank{rank:05d}-of-{world_size:05d}.pt"

    def others(self):
        """Checkpoint files of this job written by a job with another number of processes."""
        return sorted(p for p in self.folder.glob(f"{self.job}.rank*-of-*.pt")
                      if not p.name.endswith(f"-of-{self.world_size:05d}.pt"))

    def check_fresh_start(self) -> None:
        if self.path.exists() or self.others():
            raise ScanError(f"{self.folder} already holds checkpoints of a {self.job} scan; pass --resume to "
                            "continue it, or choose another --out")

    def load(self, from_state: Callable[[dict, str], object]) -> Tuple[Optional[object], int]:
        """(partial result or None, position reached); (None, start) when this rank has no checkpoint yet."""
        if not self.path.exists():
            others = self.others()
            if others:
                raise ScanError(
                    f"the checkpoints in {self.folder} were written by a job with another number of processes "
                    f"({others[0].name}); resume with the same number of processes as before")
            return None, self.start
        try:
            state = torch.load(self.path, map_location="cpu", weights_only=True)
        except Exception as e:  # a file we did not write, or a damaged disk
            raise ScanError(f"cannot read the checkpoint {self.path}: {e}") from None
        if not isinstance(state, dict) or state.get("format") != _FORMAT:
            raise ScanError(f"{self.path} is not a scan checkpoint")
        if state["settings"] != self.settings:
            changed = sorted(k for k in set(state["settings"]) | set(self.settings)
                             if state["settings"].get(k) != self.settings.get(k))
            raise ScanError(
                f"the checkpoint {self.path} was written by a scan with other settings ("
                + "; ".join(f"{k}: {state['settings'].get(k)!r} then, {self.settings.get(k)!r} now" for k in changed)
                + "); resume with the same command, or choose another --out")
        position = int(state["position"])
        if (int(state["start"]), int(state["end"])) != (self.start, self.end) or not self.start <= position <= self.end:
            raise ScanError(f"the checkpoint {self.path} covers images {state['start']}..{state['end']}, "
                            f"this rank's shard is {self.start}..{self.end}")
        result = state["result"]
        return (None if result is None else from_state(result, str(self.path))), position

    def save(self, result, position: int) -> None:
        atomic_save(dict(format=_FORMAT, job=self.job, settings=self.settings, rank=self.rank,
                         world_size=self.world_size, start=self.start, end=self.end, position=int(position),
                         result=None if result is None else result.state_dict()), self.path)

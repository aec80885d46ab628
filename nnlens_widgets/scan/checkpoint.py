"""Each rank's partial result and the position it reached, written atomically and checksummed.

The file is ``DIR/shards/<job>.rank<r>-of-<n>.pt``: the rank's partial
result (``state_dict()`` of a ``TopExamples`` / ``MetricScores``), the
images ``[start, position)`` it covers and the settings that produced it.
It is written through the scan folder (``folder.ScanFolder.write``): to a
temporary name, flushed to disk, recorded in the rank's manifest and
renamed over the old one, so a job killed at any moment leaves either the
previous checkpoint or the new one, never half a file, and the manifest
vouches for whichever it is. On ``--resume`` a checkpoint is read only if
its SHA-256 matches the manifest and its content fits the run. The last
checkpoint of a finished rank is that rank's shard file.
"""
from __future__ import annotations

import io
from typing import Any, Callable, Optional, Tuple

import torch

from .arguments import ScanError
from .folder import SHARDS, ScanFolder

__all__ = ["ShardCheckpoint", "save_to"]

_FORMAT = "nnlens-scan-checkpoint-1"

# fits(result, start, position) -> None, or why the result does not belong to that run of images
Fits = Callable[[Any, int, int], Optional[str]]


def save_to(obj) -> Callable:
    """A ``fill(file)`` for ``ScanFolder.write`` that ``torch.save``s ``obj``."""
    return lambda f: torch.save(obj, f)


class ShardCheckpoint:
    """Checkpoint file of one rank of one job, in its scan folder."""

    def __init__(self, folder: ScanFolder, start: int, end: int):
        self.folder, self.start, self.end = folder, start, end
        self.job, self.rank, self.world_size = folder.job, folder.rank, folder.world_size
        self.settings = folder.settings
        self.name = f"{SHARDS}/{self.job}.rank{self.rank:05d}-of-{self.world_size:05d}.pt"
        self.path = folder.out / self.name

    def others(self):
        """Checkpoint files of this job written by a job with another number of processes."""
        return sorted(p for p in (self.folder.out / SHARDS).glob(f"{self.job}.rank*-of-*.pt")
                      if not p.name.endswith(f"-of-{self.world_size:05d}.pt"))

    def load(self, from_state: Callable[[dict, str], Any], fits: Optional[Fits] = None
             ) -> Tuple[Optional[Any], int]:
        """(partial result or None, position reached); (None, start) when this rank has no checkpoint yet."""
        data = self.folder.read(self.name)  # ScanError unless the manifest vouches for it
        if data is None:
            others = self.others()
            if others:
                raise ScanError(
                    f"the checkpoints in {self.folder.out / SHARDS} were written by a job with another number of "
                    f"processes ({others[0].name}); resume with the same number of processes as before")
            return None, self.start
        try:
            state = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
        except Exception as e:  # noqa: BLE001 - a file we did not write, or a damaged disk
            raise ScanError(f"cannot read the checkpoint {self.name}: {e}; delete it to rescan that part") from None
        if not isinstance(state, dict) or state.get("format") != _FORMAT:
            raise ScanError(f"{self.name} is not a scan checkpoint; delete it to rescan that part")
        if state["settings"] != self.settings:
            changed = sorted(k for k in set(state["settings"]) | set(self.settings)
                             if state["settings"].get(k) != self.settings.get(k))
            raise ScanError(
                f"the checkpoint {self.name} was written by a scan with other settings ("
                + "; ".join(f"{k}: {state['settings'].get(k)!r} then, {self.settings.get(k)!r} now" for k in changed)
                + "); delete it to rescan that part, or resume with the same command")
        position = int(state["position"])
        if (int(state["start"]), int(state["end"])) != (self.start, self.end) or not self.start <= position <= self.end:
            raise ScanError(f"the checkpoint {self.name} covers images {state['start']}..{state['end']}, "
                            f"this rank's shard is {self.start}..{self.end}; delete it to rescan that part")
        if state["result"] is None:
            return None, position
        try:
            result = from_state(state["result"], self.name)
        except (ValueError, KeyError, TypeError) as e:
            raise ScanError(f"the checkpoint {self.name} holds no readable result ({e}); delete it to rescan "
                            "that part") from None
        why = fits(result, self.start, position) if fits is not None else None
        if why:
            raise ScanError(f"the checkpoint {self.name} does not fit this run ({why}); delete it to rescan that part")
        return result, position

    def save(self, result, position: int) -> None:
        self.folder.write(self.name, save_to(dict(
            format=_FORMAT, job=self.job, settings=self.settings, rank=self.rank, world_size=self.world_size,
            start=self.start, end=self.end, position=int(position),
            result=None if result is None else result.state_dict())))

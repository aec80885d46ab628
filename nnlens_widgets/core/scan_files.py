"""The files a data set scan writes, each one recorded with its SHA-256 in the scan's manifest.

A scan's folder (its ``--out``) holds one manifest per process of the scan:
``manifest.json`` for the first (rank 0), ``manifest.rank00001-of-00004.json``
and so on for the others, so no two processes ever write one file. A
manifest says which run it belongs to (the job and the settings that make
its results: model hash, data length, layer, k, ...) and the SHA-256 of
every file that process wrote, recorded once the file is complete. A file
being replaced has its new digest recorded as ``pending`` before the rename
and settled after it, so a process killed at any moment leaves a file the
manifest accepts.

Whatever reads a scan's file back (``load_top_examples``,
``load_metric_scores``, ``--resume``) checks it against its manifest and
refuses a file that does not match, naming it: ``checksum mismatch:
shards/...; delete it to rescan that part``. A folder without any manifest
(a result saved with ``TopExamples.save`` and the like) is read as it is:
there is nothing to check it against.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional

__all__ = ["MANIFEST_FORMAT", "load_checked", "Manifest", "ChecksumError", "manifest_name", "is_manifest_name", "sha256",
           "manifests_in", "read_checked"]

MANIFEST_FORMAT = "nnlens-scan-manifest-1"
_MANIFEST = re.compile(r"^manifest(\.rank\d+-of-\d+)?\.json$")


class ChecksumError(ValueError):
    """A scan's file that its manifest does not vouch for."""


def manifest_name(rank: int, world_size: int) -> str:
    """The manifest file of process ``rank`` of ``world_size``."""
    return "manifest.json" if rank == 0 else f"manifest.rank{rank:05d}-of-{world_size:05d}.json"


def is_manifest_name(name: str) -> bool:
    return bool(_MANIFEST.match(name))


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass
class Manifest:
    """One process's record of a scan: the run it belongs to and the files it wrote."""

    path: Path
    job: str
    settings: dict
    files: Dict[str, str] = field(default_factory=dict)  # path inside the folder -> SHA-256
    pending: Dict[str, str] = field(default_factory=dict)  # a replacement being moved in -> its SHA-256

    @classmethod
    def read(cls, path: Path) -> "Manifest":
        """The manifest in ``path``; ValueError naming the file when it is not one."""
        try:
            state = json.loads(Path(path).read_text())
        except (OSError, ValueError) as e:
            raise ValueError(f"cannot read the scan manifest {path}: {e}") from None
        if not isinstance(state, dict) or state.get("format") != MANIFEST_FORMAT or not all(
                isinstance(state.get(k), dict) for k in ("settings", "files", "pending")):
            raise ValueError(f"{path} is not a scan manifest (expected format {MANIFEST_FORMAT!r})")
        return cls(Path(path), str(state.get("job")), state["settings"], dict(state["files"]), dict(state["pending"]))

    def save(self) -> None:
        """Write atomically: a temporary file, flushed to disk, renamed over the manifest."""
        text = json.dumps(dict(format=MANIFEST_FORMAT, job=self.job, settings=self.settings, files=self.files,
                               pending=self.pending), indent=1, sort_keys=True, default=str) + "\n"
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        try:
            with open(tmp, "w") as f:
                f.write(text)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.path)
        finally:
            if tmp.exists():
                tmp.unlink()

    def lists(self, name: str) -> bool:
        return name in self.files or name in self.pending

    def check(self, name: str, data: bytes) -> None:
        """ChecksumError unless ``data`` is what this manifest recorded for ``name``."""
        digest = sha256(data)
        if digest not in (self.files.get(name), self.pending.get(name)):
            raise ChecksumError(f"checksum mismatch: {name}; delete it to rescan that part")


def manifests_in(folder: Path) -> List[Manifest]:
    """Every manifest in a scan folder (first process first)."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    return [Manifest.read(p) for p in sorted(folder.iterdir()) if is_manifest_name(p.name) and p.is_file()]


def read_checked(path: Path, name: Optional[str] = None) -> bytes:
    """The bytes of ``path``, checked against the manifest of its scan folder when it has one.

    ``name``: the file's path inside the folder (default: its name, for a
    file at the top of the folder, whose manifests sit beside it).
    """
    path = Path(path)
    name = name or path.name
    folder = path.parents[len(Path(name).parts) - 1]
    data = path.read_bytes()
    manifests = manifests_in(folder)
    if not manifests:
        return data
    owners = [m for m in manifests if m.lists(name)]
    if not owners:
        raise ChecksumError(f"{name} is not recorded in the manifest of the scan in {folder}; delete it to "
                            "rescan that part")
    owners[0].check(name, data)
    return data


def load_checked(path: Path) -> Any:
    """A torch file of plain tensors and numbers, its bytes checked first (``read_checked``)."""
    import io

    import torch  # here: the manifest functions stay importable without torch

    return torch.load(io.BytesIO(read_checked(Path(path))), map_location="cpu", weights_only=True)

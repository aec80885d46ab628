"""The ``--out`` folder as one process of a scan sees it: may it write there, and what it wrote.

A scan writes only into a new or empty folder, or into a folder whose own
manifests say it belongs to this run (same job and settings; ``--resume``
to continue it). ``check`` decides that before any image is read, reading
only; ``claim`` then writes this process's manifest (an unwritable place is
reported here, still before any image). Every file is written through
``write``: to a temporary name, flushed, its SHA-256 recorded as pending in
the manifest, renamed into place, then recorded as done; a file the scan
did not write is never replaced. ``read`` gives a file back only if it
matches the manifest (``core.scan_files``).
"""
from __future__ import annotations

import os
import re
from pathlib import Path
from typing import BinaryIO, Callable, List, Optional

from ..core.scan_files import ChecksumError, Manifest, is_manifest_name, manifest_name, manifests_in, sha256
from .arguments import ScanError

__all__ = ["ScanFolder", "SHARDS"]

SHARDS = "shards"  # the checkpoints' subfolder
_TEMPORARY = re.compile(r"^\.(?P<name>.+)\.\d+\.tmp$")  # what a killed write leaves behind


def _entries(out: Path) -> List[str]:
    """Every file and folder under ``out``, as paths inside it."""
    return sorted(p.relative_to(out).as_posix() for p in out.rglob("*"))


def _changes(then: dict, now: dict) -> str:
    keys = sorted(k for k in set(then) | set(now) if then.get(k) != now.get(k))
    return "; ".join(f"{k}: {then.get(k)!r} then, {now.get(k)!r} now" for k in keys)


class ScanFolder:
    """The scan folder ``out`` for process ``rank`` of ``world_size`` of one run."""

    def __init__(self, out: Path, job: str, settings: dict, rank: int, world_size: int):
        self.out, self.job, self.settings = Path(out), job, dict(settings)
        self.rank, self.world_size = rank, world_size
        self.manifest = Manifest(self.out / manifest_name(rank, world_size), job, self.settings)

    # -- before any image is read ---------------------------------------------------------
    def check(self, resume: bool, result_file: str) -> None:
        """ScanError (one line) unless this run may write into the folder. Reads only."""
        out = self.out
        if out.exists() and not out.is_dir():
            raise ScanError(f"--out {out} is a file; expected a folder for the scan (a new or empty one, or this "
                            "scan's own folder to --resume)")
        if not out.exists():
            self._check_creatable()
            return
        if not os.access(out, os.W_OK | os.X_OK):
            raise ScanError(f"cannot write into --out {out}: permission denied")
        entries = _entries(out)
        if not entries:
            return
        try:
            manifests = manifests_in(out)
        except ValueError as e:
            raise ScanError(str(e)) from None
        if not manifests:
            raise ScanError(f"--out {out} is not empty and is not a scan's folder (it holds {_few(entries)}); a "
                            "scan writes only into a new or empty folder, or its own; choose another --out")
        claimed = self._claimed(manifests)
        for m in claimed:
            if m.job != self.job:
                raise ScanError(f"--out {out} holds a {m.job} scan, not a {self.job} one; choose another --out")
            if m.settings != self.settings:
                raise ScanError(f"--out {out} holds a {self.job} scan with other settings ("
                                f"{_changes(m.settings, self.settings)}); resume with the same command, or "
                                "choose another --out")
        foreign = [e for e in entries if not self._ours(e, manifests)]
        if foreign:
            raise ScanError(f"--out {out} holds files this scan did not write ({_few(foreign)}); a scan writes "
                            "only into a new or empty folder, or its own; choose another --out")
        own = [m for m in claimed if m.path.name == self.manifest.path.name]  # each rank judges its own part
        if not resume:
            if any(m.lists(result_file) for m in own):
                raise ScanError(f"{out} already holds a finished {self.job} scan ({result_file}); choose another "
                                "--out (or pass --resume to merge its checkpoints again)")
            if any(name.startswith(f"{SHARDS}/") for m in own for name in [*m.files, *m.pending]):
                raise ScanError(f"{out / SHARDS} already holds checkpoints of a {self.job} scan; pass --resume to "
                                "continue it, or choose another --out")

    def _check_creatable(self) -> None:
        parent = self.out.parent
        while not parent.exists() and parent != parent.parent:
            parent = parent.parent
        if not parent.is_dir():
            raise ScanError(f"cannot create --out {self.out}: {parent} is a file")
        if not os.access(parent, os.W_OK | os.X_OK):
            raise ScanError(f"cannot create --out {self.out}: {parent} is not writable")

    @staticmethod
    def _claimed(manifests: List[Manifest]) -> List[Manifest]:
        """Manifests that vouch for files; one that lists none (a run stopped before its first
        file) holds nothing and may be taken over."""
        return [m for m in manifests if m.files or m.pending]

    @staticmethod
    def _ours(entry: str, manifests: List[Manifest]) -> bool:
        """Whether a scan wrote ``entry``: a manifest, the shards folder, a listed file, or the
        temporary file of a write that was killed before its rename."""
        path = Path(entry)
        if entry == SHARDS or _TEMPORARY.match(path.name):
            return True
        if path.parent == Path(".") and is_manifest_name(path.name):
            return True
        return any(m.lists(entry) for m in manifests)

    def claim(self, resume: bool) -> None:
        """Create the folder and this process's manifest (keeping what it recorded before, on --resume)."""
        try:
            (self.out / SHARDS).mkdir(parents=True, exist_ok=True)
            self._remove_leftovers()
            path = self.manifest.path
            if resume and path.exists():
                before = Manifest.read(path)
                if before.job == self.job and before.settings == self.settings:
                    self.manifest.files, self.manifest.pending = before.files, before.pending
            self.manifest.save()
        except OSError as e:
            raise ScanError(f"cannot write into --out {self.out}: {e.strerror or e}") from None

    def _remove_leftovers(self) -> None:
        """Temporary files of this process's own manifest and shard, left by a write that was killed."""
        mine = {self.manifest.path.name, f"{self.job}.rank{self.rank:05d}-of-{self.world_size:05d}.pt"}
        for folder in (self.out, self.out / SHARDS):
            for p in folder.iterdir():
                left = _TEMPORARY.match(p.name)
                if left and left.group("name") in mine and p.is_file():
                    p.unlink()

    # -- files ----------------------------------------------------------------------------
    def write(self, name: str, fill: Callable[[BinaryIO], None]) -> None:
        """Write the file ``name`` (a path inside the folder) with ``fill(file)``, recorded in the manifest."""
        path = self.out / name
        if path.exists() and not self.manifest.lists(name):
            raise ScanError(f"{path} exists and this scan did not write it; it is left as it is")
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        try:
            with open(tmp, "wb") as f:
                fill(f)
                f.flush()
                os.fsync(f.fileno())
            digest = sha256(tmp.read_bytes())
            self.manifest.pending[name] = digest
            self.manifest.save()
            os.replace(tmp, path)
        finally:
            if tmp.exists():
                tmp.unlink()
        self.manifest.files[name] = digest
        self.manifest.pending.pop(name, None)
        self.manifest.save()

    def write_text(self, name: str, text: str) -> None:
        def fill(f: BinaryIO) -> None:
            f.write(text.encode())

        self.write(name, fill)

    def read(self, name: str) -> Optional[bytes]:
        """The file's bytes if it exists (None if not), when this process's manifest vouches for them."""
        path = self.out / name
        if not path.exists():
            return None
        data = path.read_bytes()
        if not self.manifest.lists(name):
            raise ScanError(f"{name} is not recorded in the scan's manifest; delete it to rescan that part")
        try:
            self.manifest.check(name, data)
        except ChecksumError as e:
            raise ScanError(str(e)) from None
        return data


def _few(names: List[str], n: int = 5) -> str:
    return ", ".join(names[:n]) + (f" and {len(names) - n} more" if len(names) > n else "")

"""One torch file whose content is checked when read: a SHA-256 digest over the saved bytes.

The file is a ``torch.save`` of ``{"format", "sha256", "payload"}`` where
``payload`` holds the bytes of an inner ``torch.save`` (plain tensors,
numbers and strings) and ``sha256`` their digest. Reading uses
``weights_only`` loading (no code runs from the file) and checks the
digest, so a damaged or altered file is refused with a clear error instead
of giving wrong numbers. Writing goes to a temporary name renamed over the
target, so a crash never leaves half a file.
"""
from __future__ import annotations

import hashlib
import io
import os
from pathlib import Path
from typing import Union

import torch

__all__ = ["write_verified", "read_verified"]

FILE_FORMAT = "nnlens-verified-file-1"


def write_verified(payload: dict, path: Union[str, Path]) -> None:
    """Write ``payload`` (plain tensors, numbers, strings, lists and dicts) to ``path`` with its digest."""
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    data = buffer.getvalue()
    outer = dict(format=FILE_FORMAT, sha256=hashlib.sha256(data).hexdigest(),
                 payload=torch.frombuffer(bytearray(data), dtype=torch.uint8))
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as f:
            torch.save(outer, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def read_verified(path: Union[str, Path], what: str) -> dict:
    """The payload written by ``write_verified``; a ValueError naming ``what`` was expected otherwise."""
    path = Path(path)
    try:
        outer = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise
    except Exception as e:  # damaged zip, a pickle with code in it, a file of another kind
        raise ValueError(f"{path} cannot be read as {what} (damaged or of another kind): {e}") from None
    if not isinstance(outer, dict) or outer.get("format") != FILE_FORMAT or not isinstance(
            outer.get("payload"), torch.Tensor):
        raise ValueError(f"{path} is not {what} (expected format {FILE_FORMAT!r})")
    data = outer["payload"].numpy().tobytes()
    if hashlib.sha256(data).hexdigest() != outer.get("sha256"):
        raise ValueError(f"{path} is damaged: its content does not match the SHA-256 digest stored with it")
    try:
        payload = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except Exception as e:
        raise ValueError(f"{path} is damaged: {e}") from None
    if not isinstance(payload, dict):
        raise ValueError(f"{path} is not {what}")
    return payload

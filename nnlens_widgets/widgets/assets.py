"""Locate the front-end modules in ``js/``.

In a wheel they sit inside the package (``nnlens_widgets/js``); in an editable
checkout they stay in the repository's top-level ``js/`` folder (the wheel
build copies that folder into the package).
"""
from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent.parent


def asset_path(name: str) -> Path:
    for folder in (_PACKAGE / "js", _PACKAGE.parent / "js"):
        path = folder / name
        if path.is_file():
            return path
    raise FileNotFoundError(f"front-end module {name!r} not found next to {_PACKAGE}")

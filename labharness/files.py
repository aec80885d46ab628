"""Notebooks on disk for a Lab server: copies of the project's notebooks and generated ones.

Servers run on copies so that executing notebooks (outputs, checkpoints)
never modifies files in the repository.
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any, Sequence

REPO_ROOT = Path(__file__).resolve().parents[1]
"""Repository root, computed from this file so the harness works from any cwd."""

NOTEBOOK_SOURCES = {
    "notebooks": REPO_ROOT / "notebooks",
    "browser_notebooks": REPO_ROOT / "tests" / "browser" / "notebooks",
}
"""Lab-root subdirectory -> repository directory, copied by :func:`copy_notebooks`."""


def copy_notebooks(dest: str | os.PathLike) -> Path:
    """Copy every directory of :data:`NOTEBOOK_SOURCES` into ``dest``; return ``dest``."""
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    for name, src in NOTEBOOK_SOURCES.items():
        if src.is_dir():
            shutil.copytree(
                src,
                dest / name,
                dirs_exist_ok=True,
                ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"),
            )
    return dest


def lab_root(tmp_path_factory: Any) -> Path:
    """A fresh Lab root (from pytest's ``tmp_path_factory``) holding copies of the notebooks.

    ``notebooks/`` is copied to ``<root>/notebooks`` and
    ``tests/browser/notebooks/`` to ``<root>/browser_notebooks``.
    """
    return copy_notebooks(tmp_path_factory.mktemp("lab_root"))


def write_notebook(path: str | os.PathLike, cells: Sequence[str]) -> Path:
    """Write a notebook of code cells with the ``python3`` kernelspec metadata.

    The kernelspec metadata lets JupyterLab start the kernel without asking.
    """
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell(src) for src in cells]
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, str(path))
    return path

"""What a data set scan reads: input batches from any kind of data set, and a finished scan's result file.

Shared by ``top_examples`` and ``metric_scores`` (and the scans that run
them over many processes).
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Iterator, Optional, Tuple

import torch

__all__ = ["inputs_of", "input_batches", "scan_result_file"]


def input_batches(data, batch_size: int) -> Tuple[Iterator[torch.Tensor], Optional[int]]:
    """Yield input batches from a tensor, a Dataset or a DataLoader; also the number of batches."""
    if isinstance(data, torch.Tensor):
        if data.ndim < 2:
            raise ValueError(f"expected a data tensor shaped (N, C, ...), got shape {tuple(data.shape)}")
        return ((data[i:i + batch_size] for i in range(0, len(data), batch_size)),
                math.ceil(len(data) / batch_size))
    if isinstance(data, torch.utils.data.DataLoader):
        return ((inputs_of(b) for b in data), len(data) if hasattr(data, "__len__") else None)
    if isinstance(data, torch.utils.data.Dataset) or (hasattr(data, "__getitem__") and hasattr(data, "__len__")):
        n = len(data)

        def gen():
            for i in range(0, n, batch_size):
                yield torch.stack([torch.as_tensor(inputs_of(data[j])) for j in range(i, min(n, i + batch_size))])

        return gen(), math.ceil(n / batch_size)
    raise ValueError(
        f"expected the data as a tensor (N, C, H, W), a torch Dataset or a DataLoader, got {type(data).__name__}")


def inputs_of(item):
    """The input part of a data set item or loader batch: ``x`` of an ``(x, y)`` pair, the
    ``"image"``/``"input"``/``"x"``/``"pixel_values"`` entry of a dict, else the item itself."""
    if isinstance(item, (tuple, list)):
        return item[0]
    if isinstance(item, dict):
        for key in ("image", "input", "x", "pixel_values"):
            if key in item:
                return item[key]
    return item


def scan_result_file(path, scan_file: str, scan: str, saver: str) -> Path:
    """``path`` itself, or ``path / scan_file`` when ``path`` is the ``--out`` folder of a finished ``scan``.

    A folder without ``scan_file`` is a ValueError naming what was expected
    (that folder, or a file written by ``saver``).
    """
    path = Path(path)
    if path.is_dir():
        if not (path / scan_file).is_file():
            raise ValueError(f"{path} is a folder without {scan_file}: expected the --out folder of a "
                             f"finished {scan} scan, or a file written by {saver}")
        path = path / scan_file
    return path

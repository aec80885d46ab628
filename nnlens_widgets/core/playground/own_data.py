"""Your own labelled points: a numpy array, a torch tensor, a pandas DataFrame or a CSV file.

``load_points(points, labels, classes)`` gives ``(points (N, 2) float32,
labels (N,) int64 class indices, class names)`` or a ``ValueError`` saying
what was expected. Accepted:

- an ``(N, 2)`` array or tensor of ``x, y`` with ``labels`` beside it, or an
  ``(N, 3)`` one whose third column is the label;
- a pandas DataFrame with columns ``x``, ``y`` and ``label`` (or ``labels``
  given apart); pandas is recognised without being imported;
- the path of a CSV file with a header row naming ``x``, ``y`` and ``label``.

Labels are whole numbers or names. ``classes`` is their number or their
names in order; without it the classes are the distinct labels, sorted.
"""
from __future__ import annotations

import csv
import os
from pathlib import Path
from typing import Any, List, Optional, Sequence, Tuple, Union

import numpy as np

from .data import MAX_CLASSES, MIN_CLASSES

__all__ = ["MAX_POINTS", "check_classes", "load_points"]

MAX_POINTS = 20_000
COLUMNS = ("x", "y", "label")

Classes = Union[None, int, Sequence[str]]


def _is_dataframe(obj: Any) -> bool:
    """A pandas DataFrame, told by its type's module so that pandas is never imported here."""
    return type(obj).__module__.split(".")[0] == "pandas" and hasattr(obj, "columns")


def _to_numpy(values: Any, what: str) -> np.ndarray:
    if hasattr(values, "detach") and hasattr(values, "cpu"):  # a torch tensor
        values = values.detach().cpu().numpy()
    elif hasattr(values, "to_numpy"):  # a pandas Series or DataFrame
        values = values.to_numpy()
    try:
        return np.asarray(values)
    except Exception as exc:  # noqa: BLE001 - anything numpy cannot read is a bad argument
        raise ValueError(f"expected {what} as an array, got {type(values).__name__}: {exc}") from None


def _column_map(names: Sequence[str], where: str) -> dict:
    """Our column name -> the given one (case and spaces ignored); a clear error when one is missing."""
    found = {str(n).strip().lower(): n for n in names}
    missing = [c for c in COLUMNS if c not in found]
    if missing:
        shown = ", ".join(repr(str(n)) for n in names) or "none"
        raise ValueError(f"expected columns x, y and label in {where}; missing {', '.join(missing)} "
                         f"(its columns: {shown})")
    return {c: found[c] for c in COLUMNS}


def _read_csv(path: Path) -> Tuple[np.ndarray, np.ndarray]:
    if not path.is_file():
        raise ValueError(f"expected points as an array, a DataFrame or a CSV file; no file {str(path)!r}")
    with open(path, newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        columns = _column_map(reader.fieldnames or [], f"the CSV file {path.name!r}")
        xy: List[Tuple[float, float]] = []
        labels: List[str] = []
        for row in reader:
            line = reader.line_num
            try:
                xy.append((float(row[columns["x"]]), float(row[columns["y"]])))
            except (TypeError, ValueError):
                raise ValueError(f"{path.name}, line {line}: expected numbers for x and y, got "
                                 f"{row[columns['x']]!r}, {row[columns['y']]!r}") from None
            label = row[columns["label"]]
            if label is None or not label.strip():
                raise ValueError(f"{path.name}, line {line}: the label is empty")
            labels.append(label.strip())
    return np.asarray(xy, dtype=np.float64).reshape(-1, 2), _whole_if_possible(np.asarray(labels, dtype=object))


def _whole_if_possible(labels: np.ndarray) -> np.ndarray:
    """Text labels that are all whole numbers (``"1"``, ``"-1"``, ``"2.0"``) as int64; others as they are."""
    try:
        values = np.asarray([float(v) for v in labels], dtype=np.float64)
    except (TypeError, ValueError):
        return labels.astype(str)
    if np.isfinite(values).all() and (values == np.round(values)).all():
        return values.astype(np.int64)
    return labels.astype(str)


def _split_table(points: Any, labels: Any) -> Tuple[np.ndarray, Any]:
    """(xy, labels) from any accepted form of ``points``."""
    if isinstance(points, (str, os.PathLike)):
        if labels is not None:
            raise ValueError("a CSV file holds its own labels (column 'label'); leave labels=None")
        return _read_csv(Path(points))
    if _is_dataframe(points):
        names = list(points.columns)
        if labels is None:
            columns = _column_map(names, "the DataFrame")
            return _to_numpy(points[[columns["x"], columns["y"]]], "points"), _to_numpy(points[columns["label"]],
                                                                                       "labels")
        found = {str(n).strip().lower(): n for n in names}
        if "x" not in found or "y" not in found:
            raise ValueError(f"expected columns x and y in the DataFrame, got {', '.join(map(str, names))}")
        return _to_numpy(points[[found["x"], found["y"]]], "points"), labels
    xy = _to_numpy(points, "points")
    if xy.ndim == 2 and xy.shape[1] == 3 and labels is None:
        return xy[:, :2], xy[:, 2]
    if labels is None:
        raise ValueError(f"expected labels for the points (or an (N, 3) array whose last column is the label), "
                         f"got points shaped {xy.shape} and no labels")
    return xy, labels


def _float_points(xy: np.ndarray) -> np.ndarray:
    if xy.ndim != 2 or xy.shape[1] != 2:
        raise ValueError(f"expected points shaped (N, 2) (x, y per row), got {xy.shape}")
    try:
        xy = xy.astype(np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"expected numbers for x and y, got values of type {xy.dtype}") from None
    bad = np.flatnonzero(~np.isfinite(xy).all(axis=1))
    if len(bad):
        rows = ", ".join(str(i) for i in bad[:5]) + (", ..." if len(bad) > 5 else "")
        raise ValueError(f"expected finite x and y for every point; {len(bad)} point(s) have NaN or infinite "
                         f"coordinates (rows {rows})")
    return xy


def check_classes(classes: Classes) -> Optional[List[str]]:
    """``classes`` as a list of names (None: from the labels); a ValueError outside 2..6."""
    if classes is None:
        return None
    if isinstance(classes, (bool, float, str, bytes)):
        raise ValueError(f"expected classes as a number of classes ({MIN_CLASSES} to {MAX_CLASSES}) "
                         f"or a list of names, got {classes!r}")
    names = [str(i) for i in range(int(classes))] if isinstance(classes, (int, np.integer)) \
        else [str(c) for c in classes]
    if not MIN_CLASSES <= len(names) <= MAX_CLASSES:
        raise ValueError(f"expected {MIN_CLASSES} to {MAX_CLASSES} classes, got {len(names)}")
    if len(set(names)) != len(names):
        raise ValueError(f"expected distinct class names, got {names}")
    return names


def _class_indices(raw: np.ndarray, names: Optional[List[str]]) -> Tuple[np.ndarray, List[str]]:
    """Labels as indices into the class names (which come from the labels when not given)."""
    if raw.dtype.kind == "f":
        if not np.isfinite(raw).all():
            raise ValueError("expected a label for every point; some labels are NaN")
        if (raw == np.round(raw)).all():
            raw = raw.astype(np.int64)
    if raw.dtype.kind == "b":
        raw = raw.astype(np.int64)
    if raw.dtype == object and any(v is None or (isinstance(v, float) and not np.isfinite(v)) for v in raw):
        raise ValueError("expected a label for every point; some labels are missing (None or NaN)")
    whole = raw.dtype.kind in "iu"
    text = raw.astype(str)
    if names is not None and whole and not set(text.tolist()) <= set(names):
        if len(raw) and (raw.min() < 0 or raw.max() >= len(names)):
            raise ValueError(f"expected whole-number labels in 0..{len(names) - 1} (one per class of {names}), "
                             f"got {raw.min()}..{raw.max()}")
        return raw.astype(np.int64), names  # whole numbers that are not names index the names
    if names is None:
        values = np.unique(raw) if whole else np.unique(text)
        names = [str(v) for v in values]
        if len(names) > MAX_CLASSES:
            raise ValueError(f"expected {MIN_CLASSES} to {MAX_CLASSES} classes, the labels hold {len(names)}: "
                             + ", ".join(names[:10]) + (", ..." if len(names) > 10 else ""))
    position = {n: i for i, n in enumerate(names)}
    unknown = sorted(set(text.tolist()) - set(position))
    if unknown:
        raise ValueError(f"expected labels among the classes {names}, got {', '.join(unknown[:5])}")
    return np.asarray([position[t] for t in text.tolist()], dtype=np.int64), names


def load_points(points: Any, labels: Any = None, classes: Classes = None) -> Tuple[np.ndarray, np.ndarray, Tuple[str, ...]]:
    """Your points as ``(points (N, 2) float32, labels (N,) int64, class names)``.

    Raises ``ValueError`` for a missing CSV column, NaN or infinite points,
    labels that do not match the points, fewer than 2 classes among the
    labels or more than 6 classes.
    """
    names = check_classes(classes)
    xy, raw = _split_table(points, labels)
    xy = _float_points(np.asarray(xy))
    raw = _to_numpy(raw, "labels").reshape(-1) if not isinstance(raw, np.ndarray) else raw.reshape(-1)
    if len(raw) != len(xy):
        raise ValueError(f"expected one label per point, got {len(raw)} labels for {len(xy)} points")
    if len(xy) > MAX_POINTS:
        raise ValueError(f"expected at most {MAX_POINTS} points, got {len(xy)}")
    index, names = _class_indices(raw, names)
    present = np.unique(index)
    if len(present) < 2:
        only = names[int(present[0])] if len(present) else "none"
        raise ValueError(f"expected points of at least 2 classes to tell apart, got one class only ({only!r})")
    return xy.astype(np.float32), index, tuple(names)

"""Faithfulness of an attribution method over a whole data set: one score per image.

For every image, the method's map (a name from ``METHODS``) and then the
deletion and/or insertion curve of that map (``core.metrics``) for one
target: the predicted class or the item's label. Every score keeps its data
set index, so parts of a data set scanned separately (``offset=``) merge
into exactly the result of one scan, and the summary (mean, spread) is
computed from the merged per-image values in index order.
"""
from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable, Dict, Iterator, Optional, Sequence, Tuple, Union

import numpy as np
import torch
from torch import nn

from .attribution.registry import method_function
from .guard import check_model
from .inputs import to_batch
from .metrics import deletion_curve, insertion_curve
from .scan_files import load_checked
from .scan_data import scan_result_file
from .targets import resolve_target

__all__ = ["METRICS", "TARGETS", "MetricSummary", "MetricScores", "metric_scores", "load_metric_scores"]

METRICS: Dict[str, Callable] = {"deletion": deletion_curve, "insertion": insertion_curve}
BETTER = {"deletion": "lower", "insertion": "higher"}
TARGETS = ("predicted", "label")
_FORMAT = "nnlens-metric-scores-1"
SCAN_FILE = "metric_scores.pt"  # the result inside a scan's output folder


@dataclass(frozen=True)
class MetricSummary:
    """Per-image AUCs of one metric, summarised (``std`` with ddof 1; ``sem`` = std / sqrt(count))."""

    metric: str
    count: int
    mean: float
    std: float
    sem: float
    min: float
    median: float
    max: float
    better: str  # "lower" or "higher"


@dataclass
class MetricScores:
    """Result of :func:`metric_scores`; rows are images, sorted by data set index.

    ``auc[i, j]`` is image ``indices[i]``'s area under the curve of metric
    ``metrics[j]``, ``curves[i, j]`` the curve itself (target probability at
    each of ``fractions``), ``targets[i]`` the class explained.
    """

    method: str
    metrics: Tuple[str, ...]
    target: str
    steps: int
    settings: dict  # method keyword arguments, baseline, blur sigma
    fractions: torch.Tensor  # (steps + 1,) float64
    indices: torch.Tensor  # (n,) int64
    targets: torch.Tensor  # (n,) int64
    auc: torch.Tensor  # (n, len(metrics)) float64
    curves: torch.Tensor  # (n, len(metrics), steps + 1) float64

    @property
    def count(self) -> int:
        return len(self.indices)

    def scores(self, metric: str) -> torch.Tensor:
        """Per-image AUCs of ``metric`` (in index order)."""
        return self.auc[:, self._column(metric)].clone()

    def _column(self, metric: str) -> int:
        if metric not in self.metrics:
            raise ValueError(f"metric {metric!r} was not computed; computed: {', '.join(self.metrics)}")
        return self.metrics.index(metric)

    def summary(self) -> Dict[str, MetricSummary]:
        """Mean, spread and range of each metric's AUC over the images."""
        out = {}
        for j, m in enumerate(self.metrics):
            v = self.auc[:, j].numpy()
            std = float(np.std(v, ddof=1)) if len(v) > 1 else 0.0
            out[m] = MetricSummary(m, len(v), float(np.mean(v)), std, std / math.sqrt(len(v)),
                                   float(np.min(v)), float(np.median(v)), float(np.max(v)), BETTER[m])
        return out

    def merge(self, other: "MetricScores") -> "MetricScores":
        """The result of scanning both parts' images (parts must not share indices)."""
        if not isinstance(other, MetricScores):
            raise ValueError(f"expected a MetricScores to merge with, got {type(other).__name__}")
        same = (self.method == other.method and self.metrics == other.metrics and self.target == other.target
                and self.steps == other.steps and self.settings == other.settings
                and torch.equal(self.fractions, other.fractions))
        if not same:
            raise ValueError(
                "expected two scans with the same method, metrics, target, steps and settings to merge; got "
                f"{self.method} {self.metrics} {self.settings} and {other.method} {other.metrics} {other.settings}")
        first, second = (self, other) if _starts_before(self, other) else (other, self)
        names = ("indices", "targets", "auc", "curves")
        if not len(first.indices) or not len(second.indices) or first.indices[-1] < second.indices[0]:
            # neighbouring runs of the data set (a rank's shard and the next): already in order
            return self._with({n: torch.cat([getattr(first, n), getattr(second, n)]) for n in names})
        shared = np.intersect1d(self.indices.numpy(), other.indices.numpy())
        if len(shared):
            raise ValueError(f"expected parts with distinct images; both hold index(es) {shared[:10].tolist()}")
        order = torch.argsort(torch.cat([self.indices, other.indices]), stable=True)
        return self._with({n: torch.cat([getattr(self, n), getattr(other, n)])[order] for n in names})

    def _with(self, rows: Dict[str, torch.Tensor]) -> "MetricScores":
        """A copy with the per-image tensors replaced (settings kept)."""
        return replace(self, indices=rows["indices"], targets=rows["targets"], auc=rows["auc"],
                       curves=rows["curves"])

    def state_dict(self) -> dict:
        """Plain tensors, numbers and strings (what :meth:`save` writes)."""
        return dict(format=_FORMAT, method=self.method, metrics=list(self.metrics), target=self.target,
                    steps=self.steps, settings=dict(self.settings), fractions=self.fractions,
                    indices=self.indices, targets=self.targets, auc=self.auc, curves=self.curves)

    @classmethod
    def from_state_dict(cls, state: dict, source: str = "the state") -> "MetricScores":
        if not isinstance(state, dict) or state.get("format") != _FORMAT:
            raise ValueError(f"{source} is not a MetricScores state (expected format {_FORMAT!r})")
        return cls(method=state["method"], metrics=tuple(state["metrics"]), target=state["target"],
                   steps=int(state["steps"]), settings=dict(state["settings"]),
                   **{n: state[n] for n in ("fractions", "indices", "targets", "auc", "curves")})

    def save(self, path: Union[str, Path]) -> None:
        torch.save(self.state_dict(), Path(path))

    @classmethod
    def load(cls, path: Union[str, Path]) -> "MetricScores":
        state = load_checked(Path(path))  # a scan's file must match its manifest
        return cls.from_state_dict(state, str(path))


def _starts_before(a: MetricScores, b: MetricScores) -> bool:
    return not len(b.indices) or (len(a.indices) > 0 and bool(a.indices[0] <= b.indices[0]))


def load_metric_scores(path) -> MetricScores:
    """Read a result written by :meth:`MetricScores.save`, or the folder a metrics scan wrote.

    Parameters
    ----------
    path : str or Path
        A file from ``MetricScores.save``, or the ``--out`` folder of
        ``python -m nnlens_widgets.scan metrics`` (its ``metric_scores.pt``).

    Returns
    -------
    MetricScores
    """
    return MetricScores.load(scan_result_file(path, SCAN_FILE, "metrics", "MetricScores.save"))


def _items(data) -> Tuple[Iterator[tuple], Optional[int]]:
    """(input, label or None) per image from a tensor, a Dataset or a DataLoader; also the count."""
    if isinstance(data, torch.Tensor):
        if data.ndim < 2:
            raise ValueError(f"expected a data tensor shaped (N, C, ...), got shape {tuple(data.shape)}")
        return ((x, None) for x in data), len(data)
    if isinstance(data, torch.utils.data.DataLoader):
        count = len(data.dataset) if hasattr(data.dataset, "__len__") else None
        if data.batch_size is None:  # the loader yields single items
            return (_split(item) for item in data), count
        return (pair for batch in data for pair in _rows(batch)), count
    if isinstance(data, torch.utils.data.Dataset) or (hasattr(data, "__getitem__") and hasattr(data, "__len__")):
        return (_split(data[i]) for i in range(len(data))), len(data)
    raise ValueError(
        f"expected the data as a tensor (N, C, H, W), a torch Dataset or a DataLoader, got {type(data).__name__}")


def _split(item):
    if isinstance(item, (tuple, list)):
        return item[0], (item[1] if len(item) > 1 else None)
    if isinstance(item, dict):
        x = next((item[k] for k in ("image", "input", "x", "pixel_values") if k in item), None)
        y = next((item[k] for k in ("label", "target", "y", "labels") if k in item), None)
        if x is None:
            raise ValueError(f"expected a dict item with an 'image'/'input'/'x' entry, got keys {sorted(item)}")
        return x, y
    return item, None


def _rows(batch):
    x, y = _split(batch)
    for i in range(len(x)):
        yield x[i], (None if y is None else y[i])


def _label(y, index: int) -> int:
    if y is None:
        raise ValueError(f"target='label' needs items (input, label); item {index} has no label")
    y = torch.as_tensor(y)
    if y.numel() != 1 or y.is_floating_point() or y.is_complex():
        raise ValueError(f"expected an integer class label for item {index}, got {y!r}")
    return int(y)


def metric_scores(
    model: nn.Module,
    data,
    method: str = "integrated_gradients",
    metrics: Sequence[str] = ("deletion",),
    target: str = "predicted",
    steps: int = 32,
    baseline="zero",
    blur_sigma: float = 5.0,
    method_kwargs: Optional[dict] = None,
    offset: int = 0,
    progress: Optional[Callable[[float, str], None]] = None,
    should_stop: Optional[Callable[[], bool]] = None,
) -> MetricScores:
    """Deletion / insertion AUC of ``method``'s map for every image of ``data``.

    Parameters
    ----------
    model : nn.Module
        A classifier (outputs ``(N, classes)``); it is looked at, never changed.
    data : Tensor, Dataset or DataLoader
        Images, or ``(image, label)`` items (loader batches are split into images).
    method : str
        An attribution method from ``METHODS``; ``method_kwargs`` go to it
        (e.g. ``{"steps": 32}``, ``{"layer": "conv3"}`` for Grad-CAM).
    metrics : sequence of str
        Any of ``"deletion"`` (pixels set to ``baseline``; lower is better) and
        ``"insertion"`` (pixels put into a copy blurred with ``blur_sigma``;
        higher is better).
    target : str
        ``"predicted"`` (the model's top class) or ``"label"`` (the item's label).
    steps : int
        Points on each curve after the start (``steps + 1`` in all).
    offset : int
        Added to the image numbers (the part's start when a data set is split).
    progress, should_stop
        ``progress(fraction, text)`` after each image; ``should_stop()``
        (checked per image) raises ``InterruptedError``.

    Returns
    -------
    MetricScores
    """
    check_model(model)
    fn = method_function(method)
    metrics = tuple(metrics)
    if not metrics:
        raise ValueError(f"expected at least one metric of {', '.join(METRICS)}")
    unknown = [m for m in metrics if m not in METRICS]
    if unknown or len(set(metrics)) != len(metrics):
        raise ValueError(f"expected distinct metrics from {', '.join(METRICS)}, got {list(metrics)}")
    if target not in TARGETS:
        raise ValueError(f"expected target in {TARGETS}, got {target!r}")
    if isinstance(steps, bool) or not isinstance(steps, numbers.Integral) or not 1 <= steps <= 10_000:
        raise ValueError(f"expected steps in 1..10000, got {steps!r}")
    if not float(blur_sigma) > 0:
        raise ValueError(f"expected blur_sigma > 0, got {blur_sigma}")
    kwargs = dict(method_kwargs or {})
    settings = dict(method_kwargs=kwargs, baseline=baseline if isinstance(baseline, (str, int, float)) else "tensor",
                    blur_sigma=float(blur_sigma))
    items, total = _items(data)
    indices, targets, aucs, curves, fractions = [], [], [], [], None
    for n, (x, y) in enumerate(items):
        if should_stop is not None and should_stop():
            raise InterruptedError("metric scan stopped")
        xb = to_batch(x, model)
        t = _label(y, offset + n) if target == "label" else resolve_target(model, xb, None)
        attribution = fn(model, xb, target=t, **kwargs)
        row_auc, row_curves = [], []
        for m in metrics:
            extra = dict(baseline=baseline) if m == "deletion" else dict(blur_sigma=float(blur_sigma))
            curve = METRICS[m](model, xb, attribution, t, steps=int(steps), **extra)
            if fractions is None:
                fractions = curve.fractions
            elif not np.array_equal(fractions, curve.fractions):
                raise ValueError(f"expected images of one size: item {offset + n} is {tuple(xb.shape[1:])}")
            row_auc.append(curve.auc)
            row_curves.append(curve.scores)
        indices.append(offset + n)
        targets.append(t)
        aucs.append(row_auc)
        curves.append(row_curves)
        if progress is not None:
            progress((n + 1) / total if total else 0.0, f"scored {n + 1} images")
    if not indices:
        raise ValueError("expected a non-empty data set, got no examples")
    return MetricScores(method=method, metrics=metrics, target=target, steps=int(steps), settings=settings,
                        fractions=torch.as_tensor(fractions, dtype=torch.float64),
                        indices=torch.tensor(indices, dtype=torch.long),
                        targets=torch.tensor(targets, dtype=torch.long),
                        auc=torch.tensor(aucs, dtype=torch.float64),
                        curves=torch.as_tensor(np.asarray(curves), dtype=torch.float64))

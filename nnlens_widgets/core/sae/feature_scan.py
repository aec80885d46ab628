"""Every feature's facts over a data set in one bounded pass (``feature_facts``).

Each batch runs the model once (on a private twin, a hook at the
autoencoder's layer); the layer's rows are encoded a few images at a time,
so no more than about ``CHUNK_VALUES`` feature activations exist at once,
and the running result has a fixed size whatever the data set: ``n`` top
images per feature, merged with each chunk by one sort of ``n + chunk``
values per feature, and per-feature counts.
"""
from __future__ import annotations

import math
from typing import Any, Callable, Dict, Optional

import torch
from torch import nn

from .ablation import _check_layer
from .autoencoder import SparseAutoencoder
from .facts import FeatureFacts, keep_best
from .reading import image_count, read_layer

__all__ = ["feature_facts", "CHUNK_VALUES"]

CHUNK_VALUES = 1 << 22  # feature activations held at once (16 MiB of float32)
HIST_DECADES = (-4.0, 1.0)  # histogram range around the typical row norm, in powers of ten


def _class_scores(out) -> Optional[torch.Tensor]:
    return out if isinstance(out, torch.Tensor) and out.ndim == 2 and out.shape[1] >= 1 else None


def _edges(sae: SparseAutoencoder, bins: int) -> torch.Tensor:
    """Log-spaced bin edges around the layer's typical row norm (``scale * sqrt(D)`` from training)."""
    scale = float(sae.settings.get("scale", 0.0) or 0.0)
    if not math.isfinite(scale) or scale <= 0:
        scale = float(sae.b_dec.norm()) / math.sqrt(sae.dim) or 1.0
    ref = math.log10(scale * math.sqrt(sae.dim))
    return torch.logspace(ref + HIST_DECADES[0], ref + HIST_DECADES[1], int(bins) + 1)


def feature_facts(model: nn.Module, sae: SparseAutoencoder, data, n_top: int = 16, labels=None,
                  batch_size: int = 64, progress: Optional[Callable[[float, str], None]] = None,
                  should_stop: Optional[Callable[[], bool]] = None, preprocess: Optional[Callable] = None,
                  offset: int = 0, bins: int = 32) -> FeatureFacts:
    """Scan ``data`` once; for every feature keep its top ``n_top`` images, densities, histogram and class facts.

    Parameters
    ----------
    model, sae
        The model and an autoencoder of one of its layers.
    data
        Images: a tensor ``(N, C, H, W)``, a Dataset or a DataLoader.
    n_top
        Top images kept per feature.
    labels
        Optional class labels ``(N,)`` of ``data`` (for "fires on class c"
        by label); class probabilities and predictions come from the model.
    batch_size, preprocess
        Images per forward pass; a callable applied to each batch.
    progress, should_stop
        ``progress(fraction, text)`` after each batch; ``should_stop()``
        before each one (raises ``InterruptedError``).
    offset
        Added to the data indices (a shard's start when a scan is split;
        see ``FeatureFacts.merge``).
    bins
        Bins of each feature's activation histogram.

    Returns
    -------
    FeatureFacts
    """
    _check_layer(sae, model, None)
    if isinstance(n_top, bool) or int(n_top) < 1 or int(bins) < 1:
        raise ValueError(f"expected n_top >= 1 and bins >= 1, got n_top={n_top!r}, bins={bins!r}")
    n_top, bins = int(n_top), int(bins)
    if labels is not None:
        labels = torch.as_tensor(labels).reshape(-1).long().cpu()
        if len(labels) and int(labels.min()) < 0:
            raise ValueError(f"expected class labels >= 0, got {int(labels.min())}")
    total = image_count(data)
    if labels is not None and total is not None and len(labels) != total:
        raise ValueError(f"expected one label per image: {total} images, {len(labels)} labels")
    positions, device = sae.positions, sae.W_enc.device
    n_features, p = sae.features, positions.count
    acc: Dict[str, torch.Tensor] = dict(
        top_values=torch.full((n_features, n_top), -math.inf), top_indices=torch.full((n_features, n_top), -1),
        top_positions=torch.full((n_features, n_top), -1), image_counts=torch.zeros(n_features, dtype=torch.int64),
        position_counts=torch.zeros(n_features, dtype=torch.int64),
        value_sums=torch.zeros(n_features, dtype=torch.float64), hist_edges=_edges(sae, bins),
        hist_counts=torch.zeros(n_features * bins, dtype=torch.int64))
    seen: Dict[str, Any] = {"images": 0, "input_shape": ()}

    def visit(x, acts, out):
        rows = positions.rows(acts).to(device)
        scores = _class_scores(out)
        if "prob_sums" not in acc:
            k = scores.shape[1] if scores is not None else 0
            acc["prob_sums"] = torch.zeros(n_features, k, dtype=torch.float64)
            acc["predicted_counts"] = torch.zeros(n_features, k, dtype=torch.int64)
            n_labels = (int(labels.max()) + 1 if len(labels) else 0) if labels is not None else 0
            acc["label_counts"] = torch.zeros(n_features, max(k, n_labels) if labels is not None else 0,
                                              dtype=torch.int64)
            seen["input_shape"] = tuple(x.shape[1:])
        probs = scores.float().softmax(1).cpu() if scores is not None and acc["prob_sums"].shape[1] else None
        step = max(1, CHUNK_VALUES // (p * n_features))
        for start in range(0, len(rows), step):
            local = seen["images"] + start
            mine = None if labels is None else labels[local:local + len(rows[start:start + step])]
            if mine is not None and len(mine) < len(rows[start:start + step]):
                raise ValueError(f"expected one label per image: more than {len(labels)} images, "
                                 f"{len(labels)} labels")
            _chunk(sae, rows[start:start + step], acc, bins, offset + local,
                   None if probs is None else probs[start:start + step], mine)
        seen["images"] += len(rows)
        if progress is not None:
            frac = seen["images"] / total if total else 0.0
            progress(min(1.0, frac), f"scanned {seen['images']} images for {n_features} features")

    read_layer(model, sae.layer, data, visit, batch_size=batch_size, preprocess=preprocess,
               should_stop=should_stop)
    if seen["images"] == 0:
        raise ValueError("expected a non-empty data set, got no images")
    if labels is not None and len(labels) != seen["images"]:
        raise ValueError(f"expected one label per image: {seen['images']} images, {len(labels)} labels")
    acc["hist_counts"] = acc["hist_counts"].view(n_features, bins)
    final = {name: t.clone() for name, t in acc.items()}  # normal tensors, not the scan's inference-mode ones
    return FeatureFacts(layer=sae.layer, model_hash=sae.model_hash, positions=positions,
                        input_shape=tuple(seen["input_shape"]), count=int(seen["images"]), **final)


def _chunk(sae: SparseAutoencoder, rows: torch.Tensor, acc: Dict[str, torch.Tensor], bins: int, first: int,
           probs: Optional[torch.Tensor], labels: Optional[torch.Tensor]) -> None:
    """Fold the facts of a few images' rows ``(c, P, D)`` (data indices from ``first``; their
    probabilities and labels) into ``acc``."""
    c, p, _ = rows.shape
    n_features = sae.features
    kept = sae.topk(rows.reshape(c * p, -1))
    values, indices = kept.values.cpu(), kept.indices.cpu()
    z = torch.zeros(c * p, n_features).scatter_(1, indices, values).view(c, p, n_features)
    best, where = z.max(dim=1)  # (c, F): an image's value is its maximum over positions
    on = values > 0
    fired, amounts = indices[on], values[on]
    acc["position_counts"] += torch.bincount(fired, minlength=n_features)
    acc["value_sums"] += torch.bincount(fired, weights=amounts.double(), minlength=n_features)
    slot = torch.bucketize(amounts, acc["hist_edges"][1:-1])
    acc["hist_counts"] += torch.bincount(fired * bins + slot, minlength=n_features * bins)
    fires = best > 0  # (c, F)
    acc["image_counts"] += fires.sum(0)
    index = torch.arange(first, first + c)
    candidates = (torch.where(fires, best, torch.tensor(-math.inf)).T,
                  torch.where(fires, index[:, None], torch.tensor(-1)).T,
                  torch.where(fires, where, torch.tensor(-1)).T)
    old_and_new = [torch.cat([acc[name], new], dim=1)
                   for name, new in zip(("top_values", "top_indices", "top_positions"), candidates)]
    acc["top_values"], acc["top_indices"], acc["top_positions"] = keep_best(
        old_and_new[0], old_and_new[1], old_and_new[2], acc["top_values"].shape[1])
    if probs is not None:
        acc["prob_sums"] += fires.T.double() @ probs.double()
        acc["predicted_counts"].index_add_(1, probs.argmax(1), fires.T.long())
    if labels is not None and len(labels):
        acc["label_counts"].index_add_(1, labels, fires.T.long())

"""Fingerprints of a model's weights: a saved result names the model it was made for."""
from __future__ import annotations

import hashlib

import torch
from torch import nn

__all__ = ["weights_hash"]


def _update(h, t: torch.Tensor) -> None:
    t = t.detach().cpu().contiguous()
    h.update(f"{t.dtype}{tuple(t.shape)}".encode())
    h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")


def weights_hash(model: nn.Module) -> str:
    """SHA-256 of every parameter and buffer (names, dtypes, shapes and bits), in order.

    The same fingerprint a Lens state records, so the two can be compared.
    """
    h = hashlib.sha256()
    for name, t in list(model.named_parameters()) + list(model.named_buffers()):
        h.update(name.encode())
        _update(h, t)
    return h.hexdigest()

"""A sparse autoencoder as one file: weights, layer, model fingerprint, settings and stats, verified on reading.

The file is a ``torch.save`` of ``{"format", "sha256", "payload"}`` where
``payload`` holds the bytes of an inner ``torch.save`` (plain tensors,
numbers and strings) and ``sha256`` their digest. Reading uses
``weights_only`` loading (no code runs from the file) and checks the
digest, so a damaged or altered file is refused with a clear error instead
of giving wrong features. It is written to a temporary name and renamed
over the target, so a crash never leaves half a file.
"""
from __future__ import annotations

import hashlib
import io
import os
import warnings
from pathlib import Path
from typing import Optional, Union

import torch
from torch import nn

from ..fingerprints import weights_hash
from .autoencoder import SAEStats, SparseAutoencoder
from .positions import LayerPositions

__all__ = ["save_sae", "load_sae"]

FILE_FORMAT = "nnlens-sae-file-1"
FORMAT = "nnlens-sae-1"
WEIGHTS = ("W_enc", "b_enc", "W_dec", "b_dec")


def save_sae(sae: SparseAutoencoder, path: Union[str, Path]) -> None:
    """Write ``sae`` to ``path`` (read it back with ``load_sae``)."""
    if not isinstance(sae, SparseAutoencoder):
        raise ValueError(f"expected a SparseAutoencoder to save, got {type(sae).__name__}")
    payload = dict(
        format=FORMAT, features=sae.features, k=sae.k, layer=sae.layer, model_hash=sae.model_hash,
        settings=dict(sae.settings), positions=sae.positions.state(),
        stats=None if sae.stats is None else sae.stats.state(),
        weights={name: getattr(sae, name).detach().cpu().contiguous().clone() for name in WEIGHTS})
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


def _read(path: Path) -> dict:
    what = "a sparse autoencoder file written by SparseAutoencoder.save"
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
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise ValueError(f"{path} holds an autoencoder in an unknown format (expected {FORMAT!r})")
    return payload


def load_sae(path: Union[str, Path], model: Optional[nn.Module] = None, layer: Optional[str] = None, *,
             allow_mismatch: bool = False) -> SparseAutoencoder:
    """Read an autoencoder written by ``SparseAutoencoder.save``, checked against the model and layer it is for.

    Parameters
    ----------
    path
        The file.
    model, layer
        When given, the file must have been made for this model (same
        weights fingerprint) and this layer; otherwise a ``ValueError``
        names what differs.
    allow_mismatch
        Load it anyway (with a warning) when the model or layer differ.

    Returns
    -------
    SparseAutoencoder
        On the CPU, parameters without gradients, ``stats`` and
        ``settings`` as saved.
    """
    path = Path(path)
    payload = _read(path)
    try:
        positions = LayerPositions.from_state(payload["positions"])
        sae = SparseAutoencoder(int(payload["features"]), int(payload["k"]), positions, str(payload["layer"]),
                                str(payload["model_hash"]), dict(payload["settings"]))
        sae.load_state_dict(payload["weights"])
        sae.stats = None if payload["stats"] is None else SAEStats.from_state(payload["stats"])
    except (KeyError, TypeError, RuntimeError) as e:
        raise ValueError(f"{path} is damaged or incomplete: {e}") from None
    differ = []
    if layer is not None and layer != sae.layer:
        differ.append(f"it was made for layer {sae.layer!r}, not {layer!r}")
    if model is not None:
        given = weights_hash(model)
        if given != sae.model_hash:
            differ.append(f"it was made for another model (weights {sae.model_hash[:12]}, given {given[:12]})")
    if differ:
        message = f"{path}: " + "; ".join(differ)
        if not allow_mismatch:
            raise ValueError(message + "; pass allow_mismatch=True to load it anyway")
        warnings.warn(message, stacklevel=2)
    sae.requires_grad_(False)
    return sae

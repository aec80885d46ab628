"""A sparse autoencoder as one verified file: weights, layer, model fingerprint, settings and stats.

Written by ``SparseAutoencoder.save`` through ``verified_file`` (SHA-256 over
the content, ``weights_only`` loading); ``load_sae`` refuses a damaged file,
one of another kind, and one made for another model or layer unless told.
"""
from __future__ import annotations

import warnings
from pathlib import Path
from typing import Optional, Union

from torch import nn

from ..fingerprints import weights_hash
from .autoencoder import FILE_KIND, SAEStats, SparseAutoencoder
from .positions import LayerPositions
from .verified_file import read_verified

__all__ = ["save_sae", "load_sae"]


def save_sae(sae: SparseAutoencoder, path: Union[str, Path]) -> None:
    """Write ``sae`` to ``path`` (the same as ``sae.save(path)``; read it back with ``load_sae``)."""
    if not isinstance(sae, SparseAutoencoder):
        raise ValueError(f"expected a SparseAutoencoder to save, got {type(sae).__name__}")
    sae.save(path)


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
    payload = read_verified(path, "a sparse autoencoder file written by SparseAutoencoder.save")
    if payload.get("format") != FILE_KIND:
        raise ValueError(f"{path} holds something other than a sparse autoencoder (expected {FILE_KIND!r})")
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

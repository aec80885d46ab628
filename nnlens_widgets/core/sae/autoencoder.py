"""A TopK sparse autoencoder over one layer's positions, and what it reports about itself.

    z  = TopK(ReLU(W_enc (a - b_dec) + b_enc))      (k largest kept, the rest 0)
    a' = W_dec z + b_dec                             (W_dec's columns have unit norm)

``a`` is one position's row of the layer (``LayerPositions``), in the
layer's own units, so ``z_f * W_dec[:, f]`` is feature ``f``'s share of the
activation, the part ``sae_ablate`` takes away. Weights are stored as
``W_enc`` ``(F, D)`` and ``W_dec`` ``(D, F)``.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Dict, List, NamedTuple, Optional, Union

import torch
from torch import nn

from .positions import LayerPositions
from .verified_file import write_verified

__all__ = ["SparseAutoencoder", "SAEStats", "TopK", "measure", "FILE_KIND"]

FILE_KIND = "nnlens-sae-1"  # what a saved autoencoder's payload says it is


class TopK(NamedTuple):
    """A row's kept features: ``values`` and ``indices``, ``(..., k)``; values may be 0 (ReLU)."""

    values: torch.Tensor
    indices: torch.Tensor


@dataclass(eq=False)
class SAEStats:
    """How well an autoencoder does on held-out positions (see ``measure``), and how its training went.

    ``explained_variance`` is ``1 - sum |a - a'|^2 / sum |a - mean(a)|^2``
    over the held-out rows; ``l0`` the mean number of non-zero features per
    row (at most k); ``frequency`` each feature's share of rows it fires on;
    ``dead`` features fire on none, ``dense`` ones on more than
    ``dense_threshold`` of them.
    """

    explained_variance: float
    l0: float
    dead: int
    dense: int
    rows: int
    frequency: torch.Tensor  # (F,) float32
    dense_threshold: float = 0.1
    steps: int = 0  # optimisation steps run
    seconds: float = 0.0  # wall time of the training (reading activations included)
    resampled: int = 0  # dead features given a new direction during training
    stopped: bool = False  # training ended early by should_stop
    history: List[Dict[str, float]] = field(default_factory=list)  # per logged step: step, loss, l0

    def state(self) -> dict:
        out = asdict(self)
        out["frequency"] = self.frequency.clone()
        out["history"] = [dict(h) for h in self.history]
        return out

    @classmethod
    def from_state(cls, state: dict) -> "SAEStats":
        return cls(**{k: state[k] for k in cls.__dataclass_fields__ if k in state})

    def summary(self) -> str:
        return (f"explained variance {self.explained_variance:.3f}, L0 {self.l0:.2f}, "
                f"{self.dead} dead and {self.dense} dense of {len(self.frequency)} features "
                f"({self.rows} held-out positions)")


class SparseAutoencoder(nn.Module):
    """TopK sparse autoencoder of ``features`` features over ``positions.dim`` numbers per position.

    ``encode``/``decode``/``forward`` take rows ``(..., D)``; ``layer``,
    ``model_hash`` and ``settings`` say what it was trained on, ``stats``
    how it does on held-out data. Build one with ``train_sae``; write it
    with ``save`` and read it back with ``load_sae``.
    """

    def __init__(self, features: int, k: int, positions: LayerPositions, layer: str = "",
                 model_hash: str = "", settings: Optional[Dict[str, Any]] = None):
        super().__init__()
        d = positions.dim
        if int(features) < 1 or not 1 <= int(k) <= int(features):
            raise ValueError(f"expected features >= 1 and 1 <= k <= features, got features={features}, k={k}")
        self.features, self.k, self.positions = int(features), int(k), positions
        self.layer, self.model_hash = str(layer), str(model_hash)
        self.settings: Dict[str, Any] = dict(settings or {})
        self.stats: Optional[SAEStats] = None
        self.W_enc = nn.Parameter(torch.zeros(self.features, d))
        self.b_enc = nn.Parameter(torch.zeros(self.features))
        self.W_dec = nn.Parameter(torch.zeros(d, self.features))
        self.b_dec = nn.Parameter(torch.zeros(d))

    @property
    def dim(self) -> int:
        return self.positions.dim

    def _rows(self, a: torch.Tensor) -> torch.Tensor:
        if not isinstance(a, torch.Tensor) or a.ndim < 1 or a.shape[-1] != self.dim:
            got = tuple(a.shape) if isinstance(a, torch.Tensor) else type(a).__name__
            raise ValueError(f"expected rows (..., {self.dim}) of layer {self.layer!r}, got {got}")
        return a.to(self.W_enc.dtype)

    def pre_activation(self, a: torch.Tensor) -> torch.Tensor:
        """``W_enc (a - b_dec) + b_enc``, ``(..., F)``: what TopK and ReLU pick from."""
        return (self._rows(a) - self.b_dec) @ self.W_enc.T + self.b_enc

    def topk(self, a: torch.Tensor) -> TopK:
        """The ``k`` kept features of each row, as values (ReLU applied) and indices, ``(..., k)``."""
        values, indices = torch.topk(self.pre_activation(a), self.k, dim=-1, sorted=False)
        return TopK(values.clamp_min(0), indices)

    def encode(self, a: torch.Tensor) -> torch.Tensor:
        """Feature activations ``z`` ``(..., F)``: at most ``k`` non-zero per row."""
        kept = self.topk(a)
        z = torch.zeros(*kept.values.shape[:-1], self.features, dtype=kept.values.dtype, device=kept.values.device)
        return z.scatter(-1, kept.indices, kept.values)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Reconstruction ``W_dec z + b_dec`` ``(..., D)`` of feature activations ``(..., F)``."""
        if not isinstance(z, torch.Tensor) or z.shape[-1] != self.features:
            got = tuple(z.shape) if isinstance(z, torch.Tensor) else type(z).__name__
            raise ValueError(f"expected feature activations (..., {self.features}), got {got}")
        return z.to(self.W_dec.dtype) @ self.W_dec.T + self.b_dec

    def decode_topk(self, kept: TopK) -> torch.Tensor:
        """``decode`` of a ``topk`` result without building the dense ``z``."""
        columns = self.W_dec.T[kept.indices]  # (..., k, D)
        return (kept.values.unsqueeze(-1) * columns).sum(-2) + self.b_dec

    def forward(self, a: torch.Tensor) -> torch.Tensor:
        """The reconstruction ``a'`` of rows ``a``."""
        return self.decode_topk(self.topk(a))

    def feature_part(self, a: torch.Tensor, features) -> torch.Tensor:
        """``sum_f z_f W_dec[:, f]`` over ``features`` (an int or a list): their share of each row ``a``."""
        index = torch.as_tensor(features, dtype=torch.long, device=self.W_dec.device).reshape(-1)
        if len(index) and not (0 <= int(index.min()) and int(index.max()) < self.features):
            raise ValueError(f"feature(s) {index.tolist()} out of range: the autoencoder has {self.features} "
                             f"features (0..{self.features - 1})")
        z = self.encode(a)[..., index]
        return z @ self.W_dec[:, index].T

    @torch.no_grad()
    def normalize_decoder(self) -> None:
        """Scale every decoder column to unit norm (the encoder keeps its scale)."""
        self.W_dec.div_(self.W_dec.norm(dim=0, keepdim=True).clamp_min(1e-12))

    def save(self, path: Union[str, Path]) -> None:
        """Write the autoencoder, its layer, model hash, settings and stats to one verified file (``load_sae``)."""
        write_verified(dict(
            format=FILE_KIND, features=self.features, k=self.k, layer=self.layer, model_hash=self.model_hash,
            settings=dict(self.settings), positions=self.positions.state(),
            stats=None if self.stats is None else self.stats.state(),
            weights={name: t.detach().cpu().contiguous().clone() for name, t in self.state_dict().items()}), path)

    def extra_repr(self) -> str:
        return f"layer={self.layer!r}, dim={self.dim}, features={self.features}, k={self.k}"


@torch.no_grad()
def measure(sae: SparseAutoencoder, rows: torch.Tensor, dense_threshold: float = 0.1,
            chunk: int = 8192) -> SAEStats:
    """Explained variance, L0, firing frequency, dead and dense counts of ``sae`` on ``rows`` ``(R, D)``."""
    rows = sae._rows(rows).reshape(-1, sae.dim)
    if len(rows) == 0:
        raise ValueError("expected at least one row of activations to measure the autoencoder on")
    device = sae.W_enc.device
    mean = rows.double().mean(0).to(device)
    error = total = active = 0.0
    fired = torch.zeros(sae.features, dtype=torch.float64)
    for start in range(0, len(rows), chunk):
        a = rows[start:start + chunk].to(device)
        kept = sae.topk(a)
        error += float((a - sae.decode_topk(kept)).double().pow(2).sum())
        total += float((a.double() - mean).pow(2).sum())
        on = kept.values > 0
        active += float(on.sum())
        fired += torch.bincount(kept.indices[on].cpu(), minlength=sae.features).double()
    frequency = (fired / len(rows)).float()
    return SAEStats(explained_variance=1.0 - error / total if total > 0 else float("nan"),
                    l0=active / len(rows), dead=int((frequency == 0).sum()),
                    dense=int((frequency > dense_threshold).sum()), rows=len(rows), frequency=frequency,
                    dense_threshold=float(dense_threshold))

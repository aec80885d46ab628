"""What a feature browser shows about every feature, as compact arrays (see ``feature_facts``).

One ``FeatureFacts`` holds, for ``F`` features, fixed-size tensors only (no
per-feature Python objects), so a result for 4,096 features is a few
megabytes and loads in milliseconds:

- ``top_indices`` / ``top_values`` / ``top_positions`` ``(F, n)``: the ``n``
  images where the feature is strongest (an image's value is its maximum
  over positions), data set indices best first, ties by lower index, and
  the position of that maximum; images where it never fires are not listed
  (index -1, value -inf, position -1);
- ``image_counts`` / ``position_counts`` ``(F,)``: images and positions it
  fires on (``z > 0``); ``value_sums`` the sum of its activations there;
- ``hist_counts`` ``(F, B)``: its positive activations counted in ``B``
  log-spaced bins with edges ``hist_edges`` (shared by all features, in the
  layer's units; values outside the range go to the end bins);
- ``prob_sums`` / ``predicted_counts`` ``(F, K)``: summed class
  probabilities and predicted-class counts of the images it fires on, and
  ``label_counts`` the same for given labels (``(F, 0)`` when none).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import NamedTuple, Tuple, Union

import torch

from ..scan_data import scan_result_file
from .positions import LayerPositions

__all__ = ["FeatureFacts", "DensityHistogram", "keep_best", "FACTS_FILE", "load_feature_facts"]

FACTS_FILE = "feature_facts.pt"  # the result inside the --out folder of a scan with --sae
_FORMAT = "nnlens-feature-facts-1"
_TENSORS = ("top_values", "top_indices", "top_positions", "image_counts", "position_counts", "value_sums",
            "hist_edges", "hist_counts", "prob_sums", "predicted_counts", "label_counts")
_BY = ("probability", "predicted", "label")


class DensityHistogram(NamedTuple):
    """Features counted by log10 of their firing density; ``dead`` never fire (left out of the bins)."""

    counts: torch.Tensor  # (bins,) int64
    edges: torch.Tensor  # (bins + 1,) log10 of the density
    dead: int
    per: str  # "images" or "positions"


def keep_best(values: torch.Tensor, indices: torch.Tensor, positions: torch.Tensor,
              n: int) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per row, the ``n`` largest values; ties (and empty slots, index -1) ordered by data set index."""
    big = torch.iinfo(torch.int64).max
    key = torch.where(indices < 0, torch.full_like(indices, big), indices)
    order = torch.sort(key, dim=1, stable=True).indices
    values, indices, positions = (t.gather(1, order) for t in (values, indices, positions))
    order = torch.sort(values, dim=1, descending=True, stable=True).indices[:, :n]
    return values.gather(1, order), indices.gather(1, order), positions.gather(1, order)


@dataclass(eq=False)
class FeatureFacts:
    """Per-feature facts over a data set (see the module docstring)."""

    layer: str
    model_hash: str
    positions: LayerPositions
    input_shape: Tuple[int, ...]
    count: int  # images scanned
    top_values: torch.Tensor
    top_indices: torch.Tensor
    top_positions: torch.Tensor
    image_counts: torch.Tensor
    position_counts: torch.Tensor
    value_sums: torch.Tensor
    hist_edges: torch.Tensor
    hist_counts: torch.Tensor
    prob_sums: torch.Tensor
    predicted_counts: torch.Tensor
    label_counts: torch.Tensor = field(default_factory=lambda: torch.zeros(0, 0, dtype=torch.int64))

    @property
    def features(self) -> int:
        return int(self.top_values.shape[0])

    @property
    def n_top(self) -> int:
        return int(self.top_values.shape[1])

    @property
    def classes(self) -> int:
        """Classes of the model's output (0 when it does not give class scores)."""
        return int(self.prob_sums.shape[1])

    def _feature(self, feature) -> int:
        f = int(feature)
        if not 0 <= f < self.features:
            raise ValueError(f"feature {f} is out of range: {self.features} features (0..{self.features - 1})")
        return f

    # -- one feature ----------------------------------------------------
    def top(self, feature: int, n=None):
        """(data indices, values, positions) of the feature's strongest images, best first (valid entries only)."""
        f = self._feature(feature)
        valid = int((self.top_indices[f] >= 0).sum())
        m = valid if n is None else min(int(n), valid)
        return self.top_indices[f, :m].clone(), self.top_values[f, :m].clone(), self.top_positions[f, :m].clone()

    def box(self, feature: int, rank: int) -> Tuple[int, int, int, int]:
        """``(x0, y0, x1, y1)`` input pixels of the position where the ``rank``-th top image fires most."""
        f = self._feature(feature)
        if not 0 <= int(rank) < self.n_top or int(self.top_indices[f, int(rank)]) < 0:
            raise ValueError(f"feature {f} has no top image number {rank}")
        return self.positions.box(int(self.top_positions[f, int(rank)]), self.input_shape[-2:])

    def mean_probabilities(self, feature: int) -> torch.Tensor:
        """``(K,)`` mean class probabilities of the images the feature fires on (zeros if none)."""
        f = self._feature(feature)
        return (self.prob_sums[f] / max(1, int(self.image_counts[f]))).float()

    def mean_activation(self) -> torch.Tensor:
        """``(F,)`` each feature's mean activation over the positions where it fires (0 for dead ones)."""
        return (self.value_sums / self.position_counts.clamp_min(1)).float()

    # -- all features ---------------------------------------------------
    def density(self, per: str = "images") -> torch.Tensor:
        """``(F,)`` share of images (or of all positions) each feature fires on."""
        if per == "images":
            return self.image_counts.double() / max(1, self.count)
        if per == "positions":
            return self.position_counts.double() / max(1, self.count * self.positions.count)
        raise ValueError(f'expected per="images" or per="positions", got {per!r}')

    def by_frequency(self, descending: bool = True, per: str = "images") -> torch.Tensor:
        """Feature numbers ordered by firing density (ties by feature number)."""
        return torch.sort(self.density(per), descending=descending, stable=True).indices

    def density_histogram(self, bins: int = 20, per: str = "positions") -> DensityHistogram:
        """How many features fire at each density, on a log10 axis from the sparsest to the densest live one."""
        d = self.density(per)
        live = d[d > 0].log10()
        if len(live) == 0:
            return DensityHistogram(torch.zeros(int(bins), dtype=torch.int64), torch.linspace(-1, 0, int(bins) + 1),
                                    int((d == 0).sum()), per)
        lo, hi = math.floor(float(live.min()) * 10) / 10, max(math.ceil(float(live.max()) * 10) / 10, 0.0)
        hi = hi if hi > lo else lo + 0.1
        edges = torch.linspace(lo, hi, int(bins) + 1, dtype=torch.float64)
        counts = torch.histc(live, bins=int(bins), min=lo, max=hi).round().long()
        return DensityHistogram(counts, edges, int((d == 0).sum()), per)

    def class_share(self, c: int, by: str = "probability") -> torch.Tensor:
        """``(F,)`` share of each feature's firing images that are class ``c`` (0 for features that never fire).

        ``by``: ``"probability"`` (mean probability of class ``c``),
        ``"predicted"`` (share the model predicts as ``c``) or ``"label"``
        (share labelled ``c``, when labels were given).
        """
        table = {"probability": self.prob_sums, "predicted": self.predicted_counts,
                 "label": self.label_counts}.get(by)
        if table is None:
            raise ValueError(f"expected by among {_BY}, got {by!r}")
        if table.shape[1] == 0:
            what = "labels were given to feature_facts" if by == "label" else "the model outputs class scores"
            raise ValueError(f'by="{by}" needs class facts, which are kept only when {what}')
        if not 0 <= int(c) < table.shape[1]:
            raise ValueError(f"class {c} is out of range: {table.shape[1]} classes (0..{table.shape[1] - 1})")
        return table[:, int(c)].double() / self.image_counts.clamp_min(1).double()

    def fires_on_class(self, c: int, by: str = "probability", min_share: float = 0.5,
                       min_images: int = 1) -> torch.Tensor:
        """Features whose firing images are mostly class ``c``: share at least ``min_share``, best first.

        Only features firing on at least ``min_images`` images count; ties are
        ordered by feature number.
        """
        share = self.class_share(c, by)
        eligible = (share >= float(min_share)) & (self.image_counts >= int(min_images))
        order = torch.sort(share, descending=True, stable=True).indices
        return order[eligible[order]]

    # -- combining and storing ------------------------------------------
    def merge(self, other: "FeatureFacts") -> "FeatureFacts":
        """The facts of both parts' data together (the parts must not share data set indices)."""
        same = (isinstance(other, FeatureFacts) and (self.layer, self.model_hash, self.positions, self.n_top,
                                                     self.features) ==
                (other.layer, other.model_hash, other.positions, other.n_top, other.features)
                and torch.equal(self.hist_edges, other.hist_edges) and self.classes == other.classes
                and self.label_counts.shape == other.label_counts.shape)
        if not same:
            raise ValueError("expected facts of the same autoencoder, layer, model and settings to merge")
        values, indices, positions = (torch.cat([getattr(self, name), getattr(other, name)], dim=1)
                                      for name in ("top_values", "top_indices", "top_positions"))
        top = keep_best(values, indices, positions, self.n_top)
        sums = {name: getattr(self, name) + getattr(other, name) for name in _TENSORS[3:] if name != "hist_edges"}
        return replace(self, count=self.count + other.count, top_values=top[0], top_indices=top[1],
                       top_positions=top[2], **sums)

    def state_dict(self) -> dict:
        """Plain tensors, numbers and strings (safe for ``weights_only`` loading)."""
        state = {name: getattr(self, name) for name in _TENSORS}
        state.update(format=_FORMAT, layer=self.layer, model_hash=self.model_hash,
                     positions=self.positions.state(), input_shape=list(self.input_shape), count=self.count)
        return state

    @classmethod
    def from_state_dict(cls, state: dict, source: str = "the state") -> "FeatureFacts":
        if not isinstance(state, dict) or state.get("format") != _FORMAT:
            raise ValueError(f"{source} is not a FeatureFacts state (expected format {_FORMAT!r})")
        return cls(layer=str(state["layer"]), model_hash=str(state["model_hash"]),
                   positions=LayerPositions.from_state(state["positions"]),
                   input_shape=tuple(state["input_shape"]), count=int(state["count"]),
                   **{name: state[name] for name in _TENSORS})

    def save(self, path: Union[str, Path]) -> None:
        torch.save(self.state_dict(), Path(path))

    @classmethod
    def load(cls, path: Union[str, Path]) -> "FeatureFacts":
        try:
            state = torch.load(Path(path), map_location="cpu", weights_only=True)
        except FileNotFoundError:
            raise
        except Exception as e:
            raise ValueError(f"{path} cannot be read as feature facts (damaged or of another kind): {e}") from None
        return cls.from_state_dict(state, str(path))


def load_feature_facts(path: Union[str, Path]) -> FeatureFacts:
    """A ``FeatureFacts`` file, or the ``--out`` folder of ``python -m nnlens_widgets.scan top-examples --sae``."""
    return FeatureFacts.load(scan_result_file(path, FACTS_FILE, "top-examples --sae", "FeatureFacts.save"))

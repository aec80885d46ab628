"""The dataset examples that excite a unit most (and least), in one bounded pass.

For every channel of a layer (and for any given direction vectors in the
layer's channel space) an image's *score* is the unit's strongest response
anywhere in it: the maximum over positions of the channel (or of
``<activation, v/|v|>`` for a direction). ``top`` keeps the ``k`` images with
the highest scores and where that maximum was; ``bottom`` keeps the ``k``
images with the lowest *minimum* over positions (the unit's most negative
response) and where it was.

An image whose activations at the layer are not all finite (NaN or inf,
from a damaged image or an overflow) would rank first or last everywhere;
it is left out of every ranking and counted in ``skipped``.

Memory is bounded: the scan keeps ``k`` entries per unit and merges each
batch in with a sort of ``k + batch`` values, whatever the data set size.
Ties are broken by the lower data set index, so a scan split over workers
(``offset=``) and merged gives exactly the same result as one full scan.
"""
from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable, List, Optional, Sequence, Tuple, Union

import torch
from torch import nn

from .activating_region import activating_region
from .best_k import grid_positions as _positions, keep_best as _keep_best, \
    model_batches, checked_units
from .guard import hooked, looking_at
from .inputs import model_device
from .probe import get_module
from .scan_files import load_checked
from .scan_data import input_batches, inputs_of, scan_result_file

__all__ = ["TopExamples", "top_examples", "load_top_examples", "activating_region", "random_direction", "inputs_of"]

_FIELDS = ("top_values", "top_indices", "top_locations", "bottom_values", "bottom_indices",
           "bottom_locations")
_FORMAT = "nnlens-top-examples-1"
SCAN_FILE = "top_examples.pt"  # the result inside a scan's output folder


@dataclass
class TopExamples:
    """Result of :func:`top_examples`.

    Rows ``0..len(units)-1`` are the layer's channels ``units``; the following
    rows are the direction vectors (``directions``, unit length). For row
    ``r``: ``top_indices[r]`` are data set indices, best first,
    ``top_values[r]`` their scores and ``top_locations[r]`` the (y, x) of the
    maximum in the layer's grid (``(0, 0)`` for a layer without positions).
    Entries past ``count`` (a data set smaller than ``k``) have index -1.
    ``count`` is every image scanned; ``skipped`` of them had activations
    that were not all finite and are in no ranking. ``by`` is what ranks the
    images: ``"activation"``, or ``"relevance"`` for ``target`` (a class;
    None: each image's predicted class), see ``relevance.relmax``.
    """

    layer: str
    units: List[int]
    directions: torch.Tensor  # (D, C) float32, unit rows
    k: int
    layer_shape: Tuple[int, ...]  # one sample's output shape, e.g. (C, H, W)
    count: int  # images scanned
    top_values: torch.Tensor
    top_indices: torch.Tensor
    top_locations: torch.Tensor
    bottom_values: torch.Tensor
    bottom_indices: torch.Tensor
    bottom_locations: torch.Tensor
    input_shape: Tuple[int, ...] = field(default=())
    skipped: int = 0
    by: str = "activation"
    target: Optional[int] = None

    # -- lookup ----------------------------------------------------------
    def row(self, unit: Optional[int] = None, direction: Optional[int] = None) -> int:
        """Row of channel ``unit`` or of direction number ``direction``."""
        if (unit is None) == (direction is None):
            raise ValueError("expected exactly one of unit= or direction=")
        if direction is not None:
            if not 0 <= direction < len(self.directions):
                raise ValueError(f"direction {direction} is out of range: {len(self.directions)} direction(s) scanned")
            return len(self.units) + int(direction)
        assert unit is not None  # exactly one of the two is given
        try:
            return self.units.index(int(unit))
        except ValueError:
            raise ValueError(
                f"channel {unit} was not scanned: scanned channels of {self.layer!r} are "
                f"{_span(self.units)}") from None

    def top(self, unit: Optional[int] = None, direction: Optional[int] = None, k: Optional[int] = None):
        """(indices, values, locations) of the best ``k`` examples (valid entries only)."""
        return self._pick("top", self.row(unit, direction), k)

    def bottom(self, unit: Optional[int] = None, direction: Optional[int] = None, k: Optional[int] = None):
        """(indices, values, locations) of the ``k`` examples with the lowest minimum."""
        return self._pick("bottom", self.row(unit, direction), k)

    def _pick(self, which: str, r: int, k: Optional[int]):
        idx = getattr(self, f"{which}_indices")[r]
        n = int((idx >= 0).sum()) if k is None else min(int(k), int((idx >= 0).sum()))
        return (idx[:n].clone(), getattr(self, f"{which}_values")[r, :n].clone(),
                getattr(self, f"{which}_locations")[r, :n].clone())

    # -- combining and storing ------------------------------------------
    def merge(self, other: "TopExamples") -> "TopExamples":
        """The result of scanning both parts' data (parts must not share indices)."""
        if not isinstance(other, TopExamples):
            raise ValueError(f"expected a TopExamples to merge with, got {type(other).__name__}")
        same = (self.layer == other.layer and self.units == other.units and self.k == other.k
                and self.layer_shape == other.layer_shape and (self.by, self.target) == (other.by, other.target)
                and self.directions.shape == other.directions.shape
                and torch.equal(self.directions, other.directions))
        if not same:
            raise ValueError(
                "expected two scans of the same layer, units, directions and k to merge; got "
                f"{self.layer!r} k={self.k} ({len(self.units)} units, {len(self.directions)} dirs, by {self.by}) and "
                f"{other.layer!r} k={other.k} ({len(other.units)} units, {len(other.directions)} dirs, by {other.by})")
        merged = {}
        for which, descending in (("top", True), ("bottom", False)):
            parts = [(getattr(t, f"{which}_values"), getattr(t, f"{which}_indices"),
                      getattr(t, f"{which}_locations")) for t in (self, other)]
            v, i, loc = (torch.cat(x, dim=1) for x in zip(*parts))
            v, i, loc = _keep_best(v, i, loc, self.k, descending)
            merged.update({f"{which}_values": v, f"{which}_indices": i, f"{which}_locations": loc})
        return replace(self, count=self.count + other.count, skipped=self.skipped + other.skipped, **merged)

    def state_dict(self) -> dict:
        """Plain tensors, numbers and strings (what :meth:`save` writes; safe for ``weights_only`` loading)."""
        state = {name: getattr(self, name) for name in _FIELDS}
        state.update(layer=self.layer, units=list(self.units), directions=self.directions, k=self.k,
                     layer_shape=list(self.layer_shape), count=self.count,
                     input_shape=list(self.input_shape), skipped=self.skipped, format=_FORMAT, by=self.by,
                     target=-1 if self.target is None else int(self.target))
        return state

    @classmethod
    def from_state_dict(cls, state: dict, source: str = "the state") -> "TopExamples":
        """The result :meth:`state_dict` describes."""
        if not isinstance(state, dict) or state.get("format") != _FORMAT:
            raise ValueError(f"{source} is not a TopExamples state (expected format {_FORMAT!r})")
        return cls(layer=state["layer"], units=list(state["units"]), directions=state["directions"],
                   k=int(state["k"]), layer_shape=tuple(state["layer_shape"]), count=int(state["count"]),
                   input_shape=tuple(state["input_shape"]), skipped=int(state.get("skipped", 0)),
                   by=str(state.get("by", "activation")), target=None if int(state.get("target", -1)) < 0 else
                   int(state["target"]),
                   **{n: state[n] for n in _FIELDS})

    def save(self, path: Union[str, Path]) -> None:
        """Write to ``path`` (a torch file of plain tensors and numbers; load with :meth:`load`)."""
        torch.save(self.state_dict(), Path(path))

    @classmethod
    def load(cls, path: Union[str, Path]) -> "TopExamples":
        state = load_checked(Path(path))  # a scan's file must match its manifest
        if not isinstance(state, dict) or state.get("format") != _FORMAT:
            raise ValueError(f"{path} is not a file written by TopExamples.save")
        return cls.from_state_dict(state, str(path))


def load_top_examples(path) -> TopExamples:
    """Read a result written by :meth:`TopExamples.save`, or the folder a data set scan wrote.

    Parameters
    ----------
    path : str or Path
        A file from ``TopExamples.save``, or the ``--out`` folder of
        ``python -m nnlens_widgets.scan top-examples`` (its ``top_examples.pt``).

    Returns
    -------
    TopExamples
    """
    return TopExamples.load(scan_result_file(path, SCAN_FILE, "top-examples", "TopExamples.save"))


def _span(units: Sequence[int]) -> str:
    if units and list(units) == list(range(units[0], units[-1] + 1)):
        return f"{units[0]}..{units[-1]}"
    return ", ".join(map(str, units[:20])) + (" ..." if len(units) > 20 else "")


def _scores(acts: torch.Tensor, units: torch.Tensor, directions: torch.Tensor):
    """Per image and row: (max, argmax position, min, argmin position) over positions."""
    b, c = acts.shape[:2]
    flat = acts.reshape(b, c, -1).float()
    maps = flat[:, units]
    if len(directions):
        maps = torch.cat([maps, torch.einsum("bcp,dc->bdp", flat, directions)], dim=1)
    hi, hi_at = maps.max(dim=2)
    lo, lo_at = maps.min(dim=2)
    return hi, hi_at, lo, lo_at


def top_examples(
    model: nn.Module,
    data,
    layer: str,
    units: Optional[Sequence[int]] = None,
    k: int = 9,
    directions=None,
    batch_size: int = 128,
    progress: Optional[Callable[[float, str], None]] = None,
    offset: int = 0,
    preprocess: Optional[Callable] = None,
    should_stop: Optional[Callable[[], bool]] = None,
    by: str = "activation",
    target: Optional[int] = None,
    **relevance_options,
) -> TopExamples:
    """Scan ``data`` once; keep per unit the ``k`` most and least activating examples.

    ``data``: a tensor ``(N, C, H, W)``, a Dataset or a DataLoader (items or
    batches may be ``(x, y)`` pairs). ``units``: channels of ``layer`` (all by
    default). ``directions``: vectors ``(D, C)`` (or one of length C) in the
    layer's channel space, scored like extra units. ``offset`` is added to
    the indices (the part's start when a scan is split; see ``merge``).
    ``progress(fraction, text)`` is called after each batch;
    ``should_stop()`` (checked per batch) raises ``InterruptedError``.
    ``preprocess`` maps each batch before the model.
    ``by="relevance"`` ranks by each channel's relevance for class ``target``
    (RelMax; ``relevance_options``: ``composite``, ``rule``, ``epsilon`` as in ``lrp``).
    """
    if by == "relevance" and directions is None:
        from .relevance.relmax import relevance_rankings  # zennit loads on first use
        return TopExamples(**relevance_rankings(model, data, layer, units, k, target, batch_size, progress, offset,
                                                preprocess, should_stop, **relevance_options))
    if by != "activation" or target is not None or relevance_options:
        raise ValueError(f"expected by='activation' or by='relevance' (with target=, composite=, rule=, epsilon=; "
                         f"no directions), got by={by!r}")
    if not isinstance(model, nn.Module):
        raise ValueError(f"expected a torch.nn.Module, got {type(model).__name__}")
    if isinstance(k, bool) or not isinstance(k, numbers.Integral) or k <= 0:
        raise ValueError(f"expected an integer k >= 1 examples per unit, got {k!r}")
    k = int(k)
    if int(batch_size) < 1:
        raise ValueError(f"expected batch_size >= 1, got {batch_size}")
    get_module(model, layer)  # KeyError with the closest names before any work
    device = model_device(model)
    batches, n_batches = input_batches(data, int(batch_size))

    state = {}
    count = 0
    captured = {}

    def hook(_m, _i, out):
        captured["out"] = out

    with looking_at(model) as twin, hooked(twin, {layer: hook}), torch.no_grad():
        for bi, x in enumerate(model_batches(model, batches, preprocess, device, should_stop)):
            captured.clear()
            twin(x)
            acts = captured.get("out")
            if not isinstance(acts, torch.Tensor):
                raise ValueError(f"layer {layer!r} did not output a single tensor (got {type(acts).__name__})")
            if not state:
                state = _start(acts, layer, units, directions, k, tuple(x.shape[1:]))
            _update(state, acts, offset + count)
            count += len(x)
            if progress is not None:
                frac = (bi + 1) / n_batches if n_batches else 0.0
                progress(frac, f"scanned {count} images")
    if count == 0:
        raise ValueError("expected a non-empty data set, got no examples")
    return TopExamples(layer=layer, units=state["units"], directions=state["directions"].cpu(), k=k,
                       layer_shape=state["layer_shape"], count=count, input_shape=state["input_shape"],
                       skipped=state["skipped"], **{name: state[name].cpu() for name in _FIELDS})


def _start(acts, layer, units, directions, k, input_shape):
    if acts.ndim < 2:
        raise ValueError(f"layer {layer!r} outputs shape {tuple(acts.shape)}; expected (N, C, ...)")
    c = acts.shape[1]
    units = checked_units(units, c, layer)
    if directions is None:
        dirs = torch.zeros(0, c)
    else:
        dirs = torch.as_tensor(directions, dtype=torch.float32).detach().cpu()
        if dirs.ndim == 1:
            dirs = dirs[None]
        if dirs.ndim != 2 or dirs.shape[1] != c:
            raise ValueError(
                f"expected direction vectors of length {c} (the channels of {layer!r}), got shape {tuple(dirs.shape)}")
        norms = dirs.norm(dim=1, keepdim=True)
        if not torch.isfinite(dirs).all() or (norms == 0).any():
            raise ValueError("expected finite, non-zero direction vectors")
        dirs = dirs / norms
    rows = len(units) + len(dirs)
    dev = acts.device
    state = dict(
        units=units, directions=dirs, layer_shape=tuple(acts.shape[1:]), input_shape=input_shape, k=k, skipped=0,
        unit_index=torch.tensor(units, dtype=torch.long, device=dev), dirs_dev=dirs.to(dev),
        top_values=torch.full((rows, k), -math.inf, device=dev),
        bottom_values=torch.full((rows, k), math.inf, device=dev),
    )
    for which in ("top", "bottom"):
        state[f"{which}_indices"] = torch.full((rows, k), -1, dtype=torch.long, device=dev)
        state[f"{which}_locations"] = torch.zeros((rows, k, 2), dtype=torch.long, device=dev)
    return state


def _update(state, acts, first_index):
    if tuple(acts.shape[1:]) != state["layer_shape"]:
        raise ValueError(f"layer output shape changed within the data set: {state['layer_shape']} "
                         f"then {tuple(acts.shape[1:])}; expected inputs of one size")
    finite = torch.isfinite(acts.reshape(len(acts), -1)).all(dim=1)
    index = torch.arange(first_index, first_index + len(acts), device=acts.device)
    if not bool(finite.all()):  # NaN or inf would rank first (or last) for every unit
        state["skipped"] += int((~finite).sum())
        acts, index = acts[finite], index[finite]
        if not len(acts):
            return
    hi, hi_at, lo, lo_at = _scores(acts, state["unit_index"], state["dirs_dev"])
    idx = index[None].expand(hi.shape[1], -1)
    for which, v, at, desc in (("top", hi, hi_at, True), ("bottom", lo, lo_at, False)):
        values = torch.cat([state[f"{which}_values"], v.T], dim=1)
        indices = torch.cat([state[f"{which}_indices"], idx], dim=1)
        locs = torch.cat([state[f"{which}_locations"], _positions(at.T, state["layer_shape"])], dim=1)
        out = _keep_best(values, indices, locs, state["k"], desc)
        state[f"{which}_values"], state[f"{which}_indices"], state[f"{which}_locations"] = out


def random_direction(channels: int, seed: int = 0) -> torch.Tensor:
    """A unit vector of length ``channels`` with a uniformly random direction (seeded).

    A standard normal draw, normalised: every direction is equally likely
    (Szegedy et al. 2014 compare units with such directions).
    """
    if int(channels) < 1:
        raise ValueError(f"expected at least one channel, got {channels}")
    v = torch.randn(int(channels), generator=torch.Generator().manual_seed(int(seed)))
    return v / v.norm()

"""Reading a layer over a data set: batches of its output through a private twin, and samples of its rows.

Everything runs on ``looking_at``'s twin with a hook there, so the user's
model keeps its mode and has no hook, even while a scan runs in a thread.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional, Tuple

import torch
from torch import nn

from ..guard import hooked, looking_at
from ..inputs import model_device
from ..probe import get_module
from ..scan_data import input_batches
from .positions import LayerPositions, positions_of

__all__ = ["read_layer", "image_count", "RowSample", "sample_rows"]

Progress = Optional[Callable[[float, str], None]]
Stop = Optional[Callable[[], bool]]


class _Reached(Exception):
    """Raised by the hook once the layer has run, when nothing after it is needed."""


def image_count(data) -> Optional[int]:
    """How many images ``data`` holds, when it can tell without being read."""
    if isinstance(data, torch.Tensor):
        return len(data)
    if isinstance(data, torch.utils.data.DataLoader):
        dataset = data.dataset
        return len(dataset) if hasattr(dataset, "__len__") else None  # type: ignore[arg-type]
    return len(data) if hasattr(data, "__len__") else None


def read_layer(model: nn.Module, layer: str, data, visit: Callable[[torch.Tensor, torch.Tensor, Any], None], *,
               batch_size: int, preprocess: Optional[Callable] = None, should_stop: Stop = None,
               whole_pass: bool = True) -> None:
    """Call ``visit(inputs, layer output, model output)`` for each batch of ``data`` (eval mode, no gradients).

    ``whole_pass=False`` stops each forward pass at the layer (model output
    None). ``should_stop()`` is checked before each batch and raises
    ``InterruptedError``. ``visit`` runs inside the look (a callback, not a
    generator, so the no-gradient mode never outlives the scan).
    """
    get_module(model, layer)  # KeyError with the closest names before any work
    if isinstance(batch_size, bool) or int(batch_size) < 1:
        raise ValueError(f"expected batch_size >= 1, got {batch_size!r}")
    device = model_device(model)
    batches, _ = input_batches(data, int(batch_size))
    seen: Dict[str, Any] = {}

    def hook(_m, _i, out):
        seen["out"] = out
        if not whole_pass:
            raise _Reached()

    with looking_at(model) as twin, hooked(twin, {layer: hook}), torch.inference_mode():
        for x in batches:
            if should_stop is not None and should_stop():
                raise InterruptedError(f"reading layer {layer!r} stopped")
            x = torch.as_tensor(x)
            if preprocess is not None:
                x = preprocess(x)
            x = x.to(device=device, dtype=x.dtype if x.is_floating_point() else torch.float32)
            seen.clear()
            out = None
            try:
                out = twin(x)
            except _Reached:
                pass
            if "out" not in seen:
                raise ValueError(f"layer {layer!r} did not run in the model's forward pass")
            if not isinstance(seen["out"], torch.Tensor):
                raise ValueError(f"layer {layer!r} outputs {type(seen['out']).__name__}, not one tensor; "
                                 "expected a layer whose output is one tensor")
            visit(x, seen["out"], out)


@dataclass
class RowSample:
    """Rows of a layer read from a data set: some images' rows for training, other images' for measuring."""

    train: torch.Tensor  # (R, D) float32
    held_out: torch.Tensor  # (R2, D) float32
    positions: LayerPositions
    images: int  # images read
    held_out_images: int
    input_shape: Tuple[int, ...]
    kept_fraction: float  # share of the training images' positions kept (1.0: all)


def _keep(rows: torch.Tensor, fraction: float, generator: torch.Generator) -> torch.Tensor:
    if fraction >= 1.0:
        return rows
    return rows[torch.rand(len(rows), generator=generator) < fraction]


def sample_rows(model: nn.Module, layer: str, data, *, held_out, class_token: bool, generator: torch.Generator,
                max_values: int, batch_size: int, preprocess: Optional[Callable] = None,
                progress: Progress = None, should_stop: Stop = None) -> RowSample:
    """Read ``layer`` over ``data``; keep training rows of at most ``max_values`` numbers in all.

    ``held_out`` is a fraction of ``data``'s images (drawn with
    ``generator``, whole images: neighbouring positions of one image are
    alike) or a separate data set; held-out rows are capped at a quarter of
    that. When the positions exceed the cap, each is kept with the
    same probability. ``progress(fraction, text)`` after each batch.
    """
    separate = not isinstance(held_out, (int, float)) or isinstance(held_out, bool)
    fraction = 0.0 if separate else float(held_out)
    if not separate and not 0.0 <= fraction < 1.0:
        raise ValueError(f"expected held_out as a fraction in [0, 1) of the images, or a data set; got {held_out!r}")
    caps: Dict[bool, int] = {}
    bags: Dict[bool, List[torch.Tensor]] = {False: [], True: []}
    kept = {False: 0, True: 0}
    images = {False: 0, True: 0}
    found: Dict[str, Any] = {}
    counts = [image_count(data), image_count(held_out) if separate else 0]
    total = None if None in counts else sum(c for c in counts if c is not None)

    def read(source, split: float) -> None:
        """Read ``source``, holding out each image with probability ``split`` (1.0: all of them)."""
        count = image_count(source)
        share: Dict[bool, float] = {}

        def visit(x, acts, _out):
            if "positions" not in found:
                found.update(positions=positions_of(model, layer, acts, x, class_token),
                             input_shape=tuple(x.shape[1:]))
            positions = found["positions"]
            if not caps:
                caps.update({False: max(1, int(max_values) // positions.dim)})
                caps[True] = max(1, caps[False] // 4)
            if tuple(acts.shape[1:]) != positions.shape:
                raise ValueError(f"layer {layer!r} output shape changed within the data: {positions.shape} then "
                                 f"{tuple(acts.shape[1:])}; expected inputs of one size")
            if not share:  # each position kept with one probability, so the sample stays uniform
                expected = max(1.0, (count or 0) * positions.count)
                for held in (False, True):
                    part = split if held else 1.0 - split
                    share[held] = min(1.0, caps[held] / (expected * part)) if count and part > 0 else 1.0
            rows = positions.rows(acts).float().cpu()
            to_held = torch.full((len(rows),), split >= 1.0)
            if 0.0 < split < 1.0:
                to_held = torch.rand(len(rows), generator=generator) < split
            for held in (False, True):
                part = rows[to_held == held]
                images[held] += len(part)
                flat = _keep(part.reshape(-1, positions.dim), share[held], generator)
                flat = flat[:max(0, caps[held] - kept[held])]
                if len(flat):
                    bags[held].append(flat.clone())
                    kept[held] += len(flat)
            if progress is not None and total:
                done = images[False] + images[True]
                progress(min(1.0, done / total), f"read {done} of {total} images at {layer!r}")

        read_layer(model, layer, source, visit, batch_size=batch_size, preprocess=preprocess,
                   should_stop=should_stop, whole_pass=False)
        found.setdefault("p_train", share.get(False, 1.0))

    read(data, fraction)
    if separate:
        read(held_out, 1.0)
    if not bags[False]:
        raise ValueError("expected a non-empty data set: no training positions were read")
    if not bags[True]:
        raise ValueError("no held-out positions to measure the autoencoder on: give held_out a larger fraction "
                         "of the images, or a data set of its own")
    return RowSample(torch.cat(bags[False]), torch.cat(bags[True]), found["positions"], images[False],
                     images[True], found["input_shape"], float(found["p_train"]))

"""What the unit widgets share: the layers they offer, paced optimisation runs, example regions.

``FeatureVisualizer`` and ``DirectionExplorer`` both optimise images in the
background and stream them, and both show data set examples with the region
that drives a unit outlined. The maths lives in ``core``; this module only
wires it to a background job.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch

from ..core import LayerInfo, TopExamples, activating_region, axis_response, get_module, layers, objective_values
from ..core.featurevis import OBJECTIVES, Objective, VisStep, feature_vis
from ..render.legend import fmt
from .checks import tensor_shape
from .scheduling import Job

__all__ = ["VisOptions", "channel_layers", "check_channel_layer", "stream_run", "regions_of", "spread_text", "measures_html",
           "adopted_scans", "channel_measures", "unit_objectives", "MEASURES", "PACE_TICK_S"]

PACE_TICK_S = 0.02  # how often a paced run looks whether it was stopped while it waits
MEASURES = {"mean": "mean activation", "peak": "peak activation"}


def unit_objectives() -> List[str]:
    """The objective kinds that read one channel of a layer, as registered (in that order)."""
    return [name for name, spec in OBJECTIVES.items() if spec.reads == "channel"]


@dataclass(frozen=True)
class VisOptions:
    """The settings of one optimisation run (equal options give equal pictures: a cache key)."""

    size: Tuple[int, int]
    steps: int
    lr: float
    param: str
    transforms: str
    batch: int
    seed: int


def channel_layers(model, input_shape: Sequence[int]) -> Dict[str, LayerInfo]:
    """Name -> ``LayerInfo`` of every layer with channels (run once per pass) for inputs of ``input_shape``."""
    probe_x = torch.zeros((1,) + tuple(input_shape))
    return {i.name: i for i in layers(model, probe_x, where=lambda i: i.has_channels)}


def check_channel_layer(model, channel_layers: Dict[str, LayerInfo], name: str, purpose: str) -> str:
    """``name`` if it is one of ``channel_layers``; else a KeyError listing the closest names when
    the model has no such layer, or a ValueError saying it has no channels ``purpose``."""
    if name not in channel_layers:
        get_module(model, name)  # KeyError with the closest names
        raise ValueError(f"layer {name!r} has no channels {purpose} (or runs more than once per pass); "
                         f"expected one of: {', '.join(list(channel_layers)[:12])}")
    return name


def stream_run(model, objective: Objective, options: VisOptions, job: Job, *, every: int, seconds: float,
               on_frame: Callable[[VisStep], None], label: str = "") -> VisStep:
    """Optimise ``objective``; call ``on_frame`` with each streamed state; return the last one.

    A run that would end sooner than ``seconds`` is spread over that long
    (waiting between frames, never between steps), so a person can watch the
    picture form; a stop or newer work ends the wait at once (``Cancelled``).
    """
    start = time.monotonic()
    last = None
    for state in feature_vis(model, objective, steps=options.steps, lr=options.lr, every=every,
                             param=options.param, batch=options.batch, input_size=options.size,
                             transforms=options.transforms, seed=options.seed,
                             should_stop=lambda: job.cancelled):
        job.check()
        last = state
        job.progress(state.step / state.steps, f"{label}step {state.step}/{state.steps}")
        on_frame(state)
        _wait_until(job, start + seconds * state.step / state.steps)  # the last one too: the run lasts `seconds`
    job.check()
    assert last is not None, "feature_vis streams at least its final state"
    return last


def _wait_until(job: Job, deadline: float) -> None:
    while not job.cancelled:
        left = deadline - time.monotonic()
        if left <= 0:
            return
        time.sleep(min(PACE_TICK_S, left))
    job.check()


def regions_of(model, images: torch.Tensor, layer: str, locations: torch.Tensor, *,
               channel: Optional[int] = None, direction=None) -> List[Tuple[int, int, int, int]]:
    """For each image, the box of input pixels that drives the unit at its peak location."""
    return [activating_region(model, images[i], layer, tuple(locations[i].tolist()), unit=channel,
                              direction=direction) for i in range(len(images))]


def channel_measures(model, images: torch.Tensor, layer: str, channel: int, objective: str,
                     settings=None) -> Dict[str, np.ndarray]:
    """The channel's mean and peak activation for each image, and the objective's value when it is
    another measure (``settings``: the images are optimised pictures, measured as the model sees them)."""
    response = axis_response(model, images, layer, channel, settings=settings)
    measures = {"mean": response.mean.numpy(), "peak": response.peak.numpy()}
    if objective not in ("channel", "peak"):
        made = OBJECTIVES[objective].make(layer, channel)
        measures[objective] = objective_values(model, made, images, settings=settings).numpy()
    return measures


def spread_text(values: Sequence[float]) -> str:
    """``"7.31 (#1) … 4.12 (#9)"`` for ranked values; one value as it is."""
    v = [float(x) for x in values]
    if not v:
        return "none"
    if len(v) == 1:
        return fmt(v[0])
    return f"{fmt(v[0])} (#1) … {fmt(v[-1])} (#{len(v)})"


def measures_html(measures: Dict[str, Sequence[float]], *, maximised: str = "", ranked: str = "") -> str:
    """One line per measure: its label and value (a range for several images; the ``ranked`` one
    from #1 to the last); the ``maximised`` one in bold."""
    lines = []
    for name, values in measures.items():
        label = MEASURES.get(name) or OBJECTIVES[name].title
        values = [float(v) for v in values]
        if len(values) == 1:
            value = fmt(values[0])
        elif name == ranked:
            value = spread_text(values)
        else:
            value = f"{fmt(min(values))} to {fmt(max(values))}"
        line = f"{label} {value}"
        lines.append(f"<b>{line}</b> (maximised)" if name == maximised else line)
    return "<br>".join(lines)


def adopted_scans(scans, data, channel_infos: Dict[str, LayerInfo], check_layer: Callable[[str], str],
                  by: str = "activation") -> Dict[str, TopExamples]:
    """Scans already made of ``data`` (a ``TopExamples`` or a list), checked against it, by layer; only
    those ranked ``by`` activation or relevance (``TopExamples.by``)."""
    if scans is None:
        return {}
    out = {}
    for scan in [scans] if isinstance(scans, TopExamples) else list(scans):
        if not isinstance(scan, TopExamples):
            raise ValueError("expected top_examples as TopExamples (e.g. from nl.core.load_top_examples), "
                             f"got {type(scan).__name__}")
        if data is None:
            raise ValueError("top_examples hold indices into a data set: pass that data set as data=")
        if scan.by != by:
            continue
        check_layer(scan.layer)
        shape = tensor_shape(channel_infos[scan.layer])[1:]
        if tuple(scan.layer_shape) != shape:
            raise ValueError(f"top_examples of {scan.layer!r} were scanned at shape {tuple(scan.layer_shape)}, "
                             f"but the layer outputs {shape} here")
        top = int(max(scan.top_indices.max(), scan.bottom_indices.max()))
        if top >= len(data):
            raise ValueError(f"top_examples of {scan.layer!r} refer to image {top}, but data has "
                             f"{len(data)} images: pass the data set they were scanned from")
        out[scan.layer] = scan
    return out

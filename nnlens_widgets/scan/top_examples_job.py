"""``top-examples``: the k most and least activating (or, ``--by relevance``, relevant) images of every unit of a layer."""
from __future__ import annotations

import argparse
import math
import os
from pathlib import Path
from typing import Any, Dict, Optional

import torch
from torch.utils.data import DataLoader, Subset

from ..core.top_examples import SCAN_FILE, TopExamples, top_examples
from .arguments import ScanError, as_scan_error, load_data, load_model, model_hash, parse_units
from .checkpoint import Fits
from .distributed import ScanGroup
from .runner import JobSpec, run_job

__all__ = ["run_top_examples", "loader_workers"]


def loader_workers(choice, group: ScanGroup) -> int:
    """Data loading processes per rank: 0 on CPU (they would take the model's cores), else up to 8."""
    if choice is not None:
        return int(choice)
    if group.device.type != "cuda":
        return 0
    return max(0, min(8, (os.cpu_count() or 1) // max(1, int(os.environ.get("LOCAL_WORLD_SIZE", "1"))) - 1))


def images_to_scan(data, limit) -> int:
    return len(data) if limit is None else min(len(data), int(limit))


def _fits(layer: str, units, k: int, ranking: tuple = ("activation", None)) -> Fits:
    """Whether a checkpoint's TopExamples belongs to this run's settings and images ``[start, position)``."""
    def fits(result: TopExamples, start: int, position: int) -> Optional[str]:
        if (result.layer, result.k, (result.by, result.target)) != (layer, k, ranking) or \
                (units is not None and result.units != units):
            return f"layer {result.layer!r}, k={result.k}, {len(result.units)} unit(s), by {result.by}"
        if result.count != position - start:
            return f"{result.count} images scanned for the {position - start} images {start}..{position}"
        indices = torch.cat([result.top_indices.flatten(), result.bottom_indices.flatten()])
        indices = indices[indices >= 0]
        if len(indices) and (int(indices.min()) < start or int(indices.max()) >= position):
            return f"examples outside its images {start}..{position}"
        return None

    return fits


def run_top_examples(args: argparse.Namespace, group: ScanGroup) -> int:
    if args.layer is None:
        raise ScanError("expected --layer NAME (the layer whose units to scan) or --sae FILE (an autoencoder's "
                        "features)")
    model = load_model(args.model).to(group.device)  # our own instance, built by the factory
    data = load_data(args.data)
    units = parse_units(args.units)
    if args.by == "activation" and args.target is not None:
        raise ScanError("--target names the class whose relevance ranks the images: expected it with --by relevance")
    # only a relevance scan names its ranking: the settings (checked on --resume) of activation scans stay as they were
    ranking: Dict[str, Any] = dict(by="relevance", target=args.target, composite=args.composite) if args.by == "relevance" else {}

    def probe():  # one image first: a wrong layer or channel is reported before any shard starts
        with as_scan_error():
            top_examples(model, Subset(data, [0]), args.layer, units=units, k=args.k, batch_size=1, **ranking)

    n = images_to_scan(data, args.limit)
    workers = loader_workers(args.workers, group)
    pin = group.device.type == "cuda"

    def scan_part(first, end, report):
        loader = DataLoader(Subset(data, range(first, end)), batch_size=args.batch_size, shuffle=False,
                            num_workers=workers, pin_memory=pin)
        batches = math.ceil((end - first) / args.batch_size)
        return top_examples(model, loader, args.layer, units=units, k=args.k, batch_size=args.batch_size,
                            offset=first, **ranking,
                            progress=lambda f, _t: report(min(end - first, round(f * batches) * args.batch_size)))

    settings = dict(job="top-examples", model=args.model, model_hash=model_hash(model), data=args.data,
                    data_length=len(data), images=n, layer=args.layer, units=units, k=args.k,
                    batch_size=args.batch_size, world_size=group.world_size, **ranking)

    def describe(result: TopExamples) -> str:
        left_out = (f"; {result.skipped} image(s) left out of every ranking (activations not finite)"
                    if result.skipped else "")
        by = "" if result.by == "activation" else (
            f", ranked by relevance for class {result.target}" if result.target is not None else
            ", ranked by relevance for each image's predicted class")
        return (f"{len(result.units)} unit(s) of {result.layer!r} {tuple(result.layer_shape)}, k={result.k}{by}"
                f"{left_out}")

    spec = JobSpec(name="top-examples", result_file=SCAN_FILE, settings=settings, images=n, probe=probe,
                   scan_part=scan_part, from_state=TopExamples.from_state_dict, fits=_fits(args.layer, units, args.k, (args.by, args.target)),
                   count=lambda r: r.count,
                   write_extra=lambda _folder, r: dict(layer=r.layer, units=len(r.units), k=r.k, skipped=r.skipped,
                                                       by=r.by, target=r.target),
                   describe=describe)
    return run_job(spec, Path(args.out), group, args.batch_size, args.checkpoint_every, args.resume,
                   args.progress_every)

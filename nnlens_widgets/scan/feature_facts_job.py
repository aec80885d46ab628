"""``top-examples --sae FILE``: every sparse-autoencoder feature's facts over a data set (``core.feature_facts``).

The same shards, checkpoints, ``--resume`` and exact merge as the unit scan;
the result is a ``FeatureFacts`` (``feature_facts.pt``) that
``nl.FeatureBrowser(..., facts=OUT)`` opens without scanning again.
"""
from __future__ import annotations

import argparse
import hashlib
import math
from pathlib import Path
from typing import Optional

from torch.utils.data import DataLoader, Subset

from ..core.sae import FACTS_FILE, FeatureFacts, feature_facts, load_sae
from .arguments import ScanError, as_scan_error, load_data, load_model, model_hash
from .checkpoint import Fits
from .distributed import ScanGroup
from .runner import JobSpec, run_job
from .top_examples_job import images_to_scan, loader_workers

__all__ = ["run_feature_facts"]


def _fits(layer: str, features: int, n_top: int) -> Fits:
    """Whether a checkpoint's FeatureFacts belongs to this run and holds exactly images ``[start, position)``."""
    def fits(result: FeatureFacts, start: int, position: int) -> Optional[str]:
        if (result.layer, result.features, result.n_top) != (layer, features, n_top):
            return f"layer {result.layer!r}, {result.features} features, k={result.n_top}"
        if result.count != position - start:
            return f"{result.count} images scanned for the {position - start} images {start}..{position}"
        indices = result.top_indices[result.top_indices >= 0]
        if len(indices) and (int(indices.min()) < start or int(indices.max()) >= position):
            return f"examples outside its images {start}..{position}"
        return None

    return fits


def _file_digest(path: Path) -> str:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError as e:
        raise ScanError(f"cannot read --sae {path}: {e.strerror or e}") from None


def run_feature_facts(args: argparse.Namespace, group: ScanGroup) -> int:
    if args.units is not None:
        raise ScanError("--units picks channels of a layer; with --sae every feature is scanned (leave --units out)")
    if args.by != "activation" or args.target is not None:
        raise ScanError("--sae ranks images by each feature's activation: expected no --by relevance or --target")
    model = load_model(args.model).to(group.device)  # our own instance, built by the factory
    data = load_data(args.data)
    path = Path(args.sae)
    digest = _file_digest(path)
    with as_scan_error():
        sae = load_sae(path, model, args.layer).to(group.device)

    def probe():  # one image first: a layer or data the autoencoder does not fit is reported before any shard
        with as_scan_error():
            feature_facts(model, sae, Subset(data, [0]), n_top=args.k, batch_size=1)

    n = images_to_scan(data, args.limit)
    workers = loader_workers(args.workers, group)

    def scan_part(first, end, report):
        loader = DataLoader(Subset(data, range(first, end)), batch_size=args.batch_size, shuffle=False,
                            num_workers=workers, pin_memory=group.device.type == "cuda")
        batches = math.ceil((end - first) / args.batch_size)
        return feature_facts(model, sae, loader, n_top=args.k, batch_size=args.batch_size, offset=first,
                             progress=lambda f, _t: report(min(end - first, round(f * batches) * args.batch_size)))

    settings = dict(job="top-examples", model=args.model, model_hash=model_hash(model), data=args.data,
                    data_length=len(data), images=n, sae=str(path), sae_sha256=digest, layer=sae.layer,
                    features=sae.features, k=args.k, batch_size=args.batch_size, world_size=group.world_size)

    def describe(result: FeatureFacts) -> str:
        dead = int((result.image_counts == 0).sum())
        return (f"{result.features} feature(s) of {result.layer!r}, k={result.n_top}, "
                f"{dead} never firing")

    spec = JobSpec(name="top-examples", result_file=FACTS_FILE, settings=settings, images=n, probe=probe,
                   scan_part=scan_part, from_state=FeatureFacts.from_state_dict,
                   fits=_fits(sae.layer, sae.features, args.k), count=lambda r: r.count,
                   write_extra=lambda _folder, r: dict(layer=r.layer, features=r.features, k=r.n_top),
                   describe=describe)
    return run_job(spec, Path(args.out), group, args.batch_size, args.checkpoint_every, args.resume,
                   args.progress_every)

"""``metrics``: deletion / insertion AUC of an attribution method for every image, and their summary."""
from __future__ import annotations

import argparse
import csv
import io
from dataclasses import asdict
from pathlib import Path
from typing import Optional

import torch
from torch.utils.data import DataLoader, Subset

from ..core.attribution.registry import METHODS
from ..core.metric_scores import SCAN_FILE, MetricScores, metric_scores
from .arguments import ScanError, load_data, load_model, model_hash, parse_method_args, parse_metrics
from .checkpoint import Fits
from .distributed import ScanGroup
from .folder import ScanFolder
from .runner import JobSpec, json_text, run_job
from .top_examples_job import images_to_scan, loader_workers

__all__ = ["run_metrics"]

SUMMARY_FILE = "summary.json"
CSV_FILE = "scores.csv"


def _baseline(text: str):
    try:
        return float(text)
    except ValueError:
        return text


def write_tables(folder: ScanFolder, result: MetricScores) -> dict:
    """summary.json (mean, spread per metric) and scores.csv (one row per image)."""
    summary = {m: asdict(s) for m, s in result.summary().items()}
    folder.write_text(SUMMARY_FILE, json_text(dict(method=result.method, target=result.target, steps=result.steps,
                                                   settings=result.settings, metrics=summary)))
    table = io.StringIO(newline="")
    w = csv.writer(table)
    w.writerow(["index", "target"] + [f"{m}_auc" for m in result.metrics])
    for i, t, row in zip(result.indices.tolist(), result.targets.tolist(), result.auc.tolist()):
        w.writerow([i, t] + [repr(v) for v in row])
    folder.write_text(CSV_FILE, table.getvalue())
    return dict(method=result.method, metrics=summary)


def _fits(method: str, metrics) -> Fits:
    """Whether a checkpoint's MetricScores belongs to this run and holds exactly images ``[start, position)``."""
    def fits(result: MetricScores, start: int, position: int) -> Optional[str]:
        if result.method != method or list(result.metrics) != list(metrics):
            return f"method {result.method}, metrics {list(result.metrics)}"
        if not torch.equal(result.indices, torch.arange(start, position)):
            return f"{result.count} images that are not exactly images {start}..{position}"
        return None

    return fits


def run_metrics(args: argparse.Namespace, group: ScanGroup) -> int:
    if args.method not in METHODS:
        raise ScanError(f"unknown attribution method {args.method!r}; known methods: {', '.join(METHODS)}")
    model = load_model(args.model).to(group.device)  # our own instance, built by the factory
    data = load_data(args.data)
    method_kwargs = parse_method_args(args.method_arg)
    metrics = parse_metrics(args.metric)
    options = dict(method=args.method, metrics=metrics, target=args.target, steps=args.steps,
                   baseline=_baseline(args.baseline), blur_sigma=args.blur_sigma, method_kwargs=method_kwargs)

    def probe():  # one image first: a wrong method argument or target is reported before any shard starts
        try:
            metric_scores(model, Subset(data, [0]), **options)
        except KeyError as e:
            raise ScanError(e.args[0] if e.args else str(e)) from None
        except (ValueError, TypeError) as e:
            raise ScanError(f"{args.method} on image 0: {e}") from None

    n = images_to_scan(data, args.limit)
    workers = loader_workers(args.workers, group)

    def scan_part(first, end, report):
        loader = DataLoader(Subset(data, range(first, end)), batch_size=args.batch_size, shuffle=False,
                            num_workers=workers)
        return metric_scores(model, loader, offset=first,
                             progress=lambda f, _t: report(round(f * (end - first))), **options)

    settings = dict(job="metrics", model=args.model, model_hash=model_hash(model), data=args.data,
                    data_length=len(data), images=n, world_size=group.world_size, batch_size=args.batch_size,
                    **options)

    def describe(result: MetricScores) -> str:
        return ", ".join(f"{m} AUC {s.mean:.4f} +- {s.std:.4f} ({s.better} is better)"
                         for m, s in result.summary().items()) + f" for {result.method}"

    spec = JobSpec(name="metrics", result_file=SCAN_FILE, settings=settings, images=n, probe=probe,
                   scan_part=scan_part, from_state=MetricScores.from_state_dict, fits=_fits(args.method, metrics),
                   count=lambda r: r.count, write_extra=write_tables, describe=describe)
    return run_job(spec, Path(args.out), group, args.batch_size, args.checkpoint_every, args.resume,
                   args.progress_every)

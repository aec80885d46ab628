"""Data set scans: images per second on 1 and 2 processes, the merge cost, and the ImageNet arithmetic.

Every figure comes from ``python -m nnlens_widgets.scan`` launched by
``torchrun`` (gloo; ``--threads`` CPU threads per rank, 1 by default), run
side by side in one go:

- top-examples of the zoo digits CNN (``relu3``, all 1,797 scikit-learn
  digits at 32 px) and of torchvision's resnet18 with random weights
  (``layer4``, the first ``--resnet-images`` digits upsampled to 224 px RGB);
- metrics (Integrated Gradients, 16 steps; deletion, 16 steps) on a few
  images of each model.

A launch's scan rate is images / the slowest rank's scan seconds (from the
``scan.json`` it writes); "start-up" is the rest of the launch (Python and
torch imports, loading the model and data, joining the group). The merge
cost is measured in the runs (rank 0) and in this process for 2 to 64
partial results shaped like resnet18's layer4 (512 units, k=9) and like
ImageNet-validation metric scores. The ImageNet lines then multiply the
measured per-image cost of one rank by the images and divide by the ranks,
plus the measured merge: they are extrapolations, labelled so. Nothing is
asserted.

    python benchmarks/scan.py [--resnet-images 256] [--threads 1] [--device cpu]

On a GPU machine ``--device cuda`` measures a GPU's per-image cost the same
way (``--nproc_per_node=2`` then needs two GPUs).
"""
from __future__ import annotations

import argparse
import json
import os
import pickle
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from timing import best_time  # noqa: E402

from nnlens_widgets.core import MetricScores, TopExamples  # noqa: E402
from nnlens_widgets.scan.distributed import ScanGroup  # noqa: E402
from nnlens_widgets.scan.shard_loop import merge_on_first  # noqa: E402

IMAGENET_TRAIN, IMAGENET_VAL = 1_281_167, 50_000


def launch(args, nproc: int, threads: int, out: Path) -> dict:
    """One torchrun launch of the scan command; its timings."""
    port = _free_port()
    cmd = [sys.executable, "-m", "torch.distributed.run", f"--nproc_per_node={nproc}", "--master_addr=127.0.0.1",
           f"--master_port={port}", "-m", "nnlens_widgets.scan", *args, "--out", str(out), "--progress-every", "600"]
    env = dict(os.environ, OMP_NUM_THREADS=str(threads),
               PYTHONPATH=os.pathsep.join([str(REPO), str(REPO / "benchmarks"), os.environ.get("PYTHONPATH", "")]))
    t = time.perf_counter()
    run = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t
    if run.returncode:
        raise SystemExit(f"scan failed:\n{run.stderr[-3000:]}")
    info = json.loads((out / "scan.json").read_text())
    scan = max(r["seconds"] for r in info["ranks"])
    per_rank = max(r["end"] - r["start"] for r in info["ranks"])
    return dict(nproc=nproc, images=info["images"], wall=wall, scan=scan, rate=info["images"] / scan,
                per_image=scan / per_rank, merge=info["merge_seconds"], startup=wall - scan)


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def compare(name: str, args, threads: int, tmp: Path) -> dict:
    """1 and 2 processes, side by side; prints both and the speed-up."""
    runs = {n: launch(args, n, threads, tmp / f"{name}-{n}") for n in (1, 2)}
    for n, r in runs.items():
        print(f"  {name:<28} {n} proc: {r['images']:>5} images, scan {r['scan']:7.2f} s = {r['rate']:8.1f} img/s "
              f"({1000 * r['per_image']:7.2f} ms/image/rank), merge {1000 * r['merge']:6.2f} ms, "
              f"start-up {r['startup']:5.1f} s   [measured]")
    print(f"  {name:<28} 2 vs 1 proc: {runs[2]['rate'] / runs[1]['rate']:.2f}x images/s   [measured]")
    return runs


def merge_top_examples(ranks: int, units: int = 512, k: int = 9) -> tuple:
    """Seconds to merge ``ranks`` partial results (as rank 0 does, from their state dicts) and bytes per rank."""
    g = torch.Generator().manual_seed(0)

    def part(r):
        idx = torch.arange(k)[None].expand(units, -1) + r * 10_000
        return TopExamples(layer="layer4", units=list(range(units)), directions=torch.zeros(0, units), k=k,
                           layer_shape=(units, 7, 7), count=10_000, top_values=torch.rand(units, k, generator=g),
                           top_indices=idx.clone(), top_locations=torch.zeros(units, k, 2, dtype=torch.long),
                           bottom_values=torch.rand(units, k, generator=g), bottom_indices=idx.clone(),
                           bottom_locations=torch.zeros(units, k, 2, dtype=torch.long)).state_dict()

    states = [part(r) for r in range(ranks)]

    return best_time(lambda: _merge(states, TopExamples.from_state_dict), 3), len(pickle.dumps(states[0]))


def merge_metric_scores(ranks: int, images: int = IMAGENET_VAL, steps: int = 16) -> float:
    g = torch.Generator().manual_seed(0)
    bounds = [images * r // ranks for r in range(ranks + 1)]
    states = []
    for a, b in zip(bounds, bounds[1:]):
        n = b - a
        states.append(MetricScores(method="integrated_gradients", metrics=("deletion",), target="predicted",
                                   steps=steps, settings={}, fractions=torch.linspace(0, 1, steps + 1).double(),
                                   indices=torch.arange(a, b), targets=torch.zeros(n, dtype=torch.long),
                                   auc=torch.rand(n, 1, generator=g).double(),
                                   curves=torch.rand(n, 1, steps + 1, generator=g).double()).state_dict())

    return best_time(lambda: _merge(states, MetricScores.from_state_dict).summary(), 3)


def _merge(states, from_state):
    """What rank 0 does with the gathered state dicts (``scan.shard_loop.merge_on_first``)."""
    group = ScanGroup(0, len(states), 0, torch.device("cpu"), False)
    group.gather_to_first = lambda _obj: [(s, {}) for s in states]
    return merge_on_first(group, None, {}, from_state)[0]


def extrapolate(label: str, per_image: float, images: int, merges: dict) -> None:
    for n, merge in merges.items():
        t = per_image * images / n + merge
        print(f"  {label} on {n:>2} rank(s): {per_image * 1000:.2f} ms x {images:,} / {n} + merge "
              f"{merge * 1000:.1f} ms = {t / 3600:8.2f} h   [extrapolated]")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--resnet-images", type=int, default=256)
    p.add_argument("--threads", type=int, default=1, help="CPU threads per rank (OMP_NUM_THREADS)")
    p.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    a = p.parse_args()
    if a.resnet_images < 2:
        raise SystemExit("expected --resnet-images >= 2")
    dev = ["--device", a.device]
    where = "this machine's CPU" if a.device == "cpu" else torch.cuda.get_device_name(0)
    print(f"torch {torch.__version__}; {os.cpu_count()} CPU cores; {where}; {a.threads} thread(s) per rank\n")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        print("top-examples (k=9, every unit):")
        compare("digits relu3 (32 px)", ["top-examples", "--model", "scan_sources:digits_model", "--data",
                                         "scan_sources:digits_32", "--layer", "relu3", "--batch-size", "64"] + dev,
                a.threads, tmp)
        resnet = compare("resnet18 layer4 (224 px)", ["top-examples", "--model", "scan_sources:resnet18_random",
                         "--data", "scan_sources:digits_224_rgb", "--layer", "layer4", "--limit",
                         str(a.resnet_images), "--batch-size", "32"] + dev, a.threads, tmp)
        print("\nmetrics (integrated gradients 16 steps, deletion 16 steps, predicted class):")
        metric = ["metrics", "--method", "integrated_gradients", "--method-arg", "steps=16", "--steps", "16",
                  "--batch-size", "1"] + dev
        compare("digits", metric + ["--model", "scan_sources:digits_model", "--data", "scan_sources:digits_32",
                                    "--limit", "64"], a.threads, tmp)
        resnet_metric = compare("resnet18", metric + ["--model", "scan_sources:resnet18_random", "--data",
                                                      "scan_sources:digits_224_rgb", "--limit", "6"], a.threads, tmp)

    torch.set_num_threads(a.threads)  # as rank 0 runs it
    print("\nmerge on rank 0, in this process (from the ranks' state dicts, in rank order):")
    top_merge, metric_merge = {}, {}
    for n in (1, 8, 64):
        top_merge[n], size = merge_top_examples(n) if n > 1 else (0.0, merge_top_examples(2)[1])
        metric_merge[n] = merge_metric_scores(n) if n > 1 else 0.0
        if n > 1:
            print(f"  {n:>2} ranks: top-examples 512 units k=9 {top_merge[n] * 1000:7.2f} ms ({size / 1024:.0f} KiB "
                  f"per rank); 50,000 metric scores {metric_merge[n] * 1000:7.2f} ms   [measured]")

    print(f"\nImageNet, from the per-image cost of one rank measured above on {where} "
          "(2-process runs: both ranks busy, as in a real job):")
    extrapolate("top-examples resnet18 layer4, train 1.28 M", resnet[2]["per_image"], IMAGENET_TRAIN, top_merge)
    extrapolate("IG + deletion resnet18,   val 50 k     ", resnet_metric[2]["per_image"], IMAGENET_VAL, metric_merge)
    if a.device == "cpu":
        print("  GPU ranks: not measured here (no GPU on this machine). The same formula holds with a GPU's "
              "per-image cost: run this script with --device cuda on a GPU machine to measure it.")
    print(f"  start-up per launch (imports, model, data, group) is extra: {resnet[2]['startup']:.1f} s measured here.")


if __name__ == "__main__":
    main()

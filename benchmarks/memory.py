"""Resident memory when a user re-runs the tour's resnet18 cell, CPU.

The cell builds ``nl.ActivationGrid(resnet, photo, layer="layer1",
preprocess=preprocess)`` on ``torchvision.models.resnet18(weights=None)``
and skimage's astronaut photo, as notebooks/00_tour.ipynb does. It is run
``--runs`` times in one process, twice:

- closed: each run closes the widget of the run before, as a careful user does;
- kept: every widget stays referenced (the kernel cannot tell that an old
  output was cleared, and the last one is the cell's ``Out``/variable).

After each run: resident memory (``/proc/self/statm``), its growth over the
process before the first run, the bytes counted in the shared cache budget
(``nl.core.memory.CACHES``), live threads and the widgets' worker threads.
The summary compares the growth with one widget's worth (the growth after the
first run) plus the budget: the activation caches of every widget share the
budget, so re-running the cell must not grow past that bound.

    python benchmarks/memory.py [--runs 20] [--budget-mib 512]

``--occlusion`` measures instead the peak resident memory of ``nl.core``
occlusion on a 2000x2000 image, the map streamed with every partial map
made (as an OcclusionExplorer draws them), for the zoo's shapes CNN and a
resnet18 (random weights); each case runs in a fresh process, so its peak
(``ru_maxrss``) is its own. ``core.batching.MEMORY_BUDGET`` is printed
beside it.

    python benchmarks/memory.py --occlusion [--size 2000]
"""
from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import subprocess
import sys
import threading
import time

import torch
import torchvision
from skimage import data as skdata
from torchvision.transforms import v2 as T

import nnlens_widgets as nl

MIB = 2**20


def resident() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def workers() -> int:
    return sum(t.name == "nnlens-work" for t in threading.enumerate())


def tour_cell(resnet, photo, preprocess):
    """The tour's cell, verbatim apart from the names."""
    grid = nl.ActivationGrid(resnet, photo, layer="layer1", preprocess=preprocess)
    grid.wait()
    return grid


def series(label: str, runs: int, cell, close_previous: bool) -> None:
    gc.collect()
    start, threads0 = resident(), threading.active_count()
    print(f"\n{label}: {runs} runs; before the first: {start / MIB:.0f} MiB resident, {threads0} threads")
    print(f"{'run':>4} {'resident MiB':>13} {'growth MiB':>11} {'in budget MiB':>14} {'threads':>8} {'workers':>8}")
    kept, growths, cached = [], [], []
    for i in range(1, runs + 1):
        if close_previous and kept:
            kept.pop().close()
        kept.append(cell())
        gc.collect()
        growths.append(resident() - start)
        cached.append(nl.core.memory.CACHES.used)
        print(f"{i:>4} {resident() / MIB:>13.0f} {growths[-1] / MIB:>11.0f} {cached[-1] / MIB:>14.0f}"
              f" {threading.active_count():>8} {workers():>8}")
    # a widget built in a warm process: run 2 over run 1 (run 1 reuses what the warm-up freed)
    one = growths[1] - growths[0] if runs > 1 else growths[0]
    budget = nl.core.memory.CACHES.budget
    bound = one + budget
    print(f"one widget's worth (run 2 over run 1): {one / MIB:.0f} MiB; shared cache budget "
          f"{budget / MIB:.0f} MiB; bound one + budget = {bound / MIB:.0f} MiB")
    print(f"growth after run {runs}: {growths[-1] / MIB:.0f} MiB = {growths[-1] / bound:.2f} x the bound; "
          f"threads {threads0} -> {threading.active_count()}")
    if not close_previous and runs > 1:
        # what each later run added beyond what it put in the budget: state the budget does not cover
        rest = (growths[-1] - growths[0] - (cached[-1] - cached[0])) / (runs - 1)
        print(f"outside the budget each kept widget adds {rest / MIB:.1f} MiB (pictures, the shown layer, "
              f"its input); one + budget + {runs - 1} x that = {(bound + (runs - 1) * rest) / MIB:.0f} MiB")
    for w in kept:
        w.close()
    kept.clear()
    gc.collect()
    print(f"after closing the {'last widget' if close_previous else f'{runs} widgets'}: "
          f"{(resident() - start) / MIB:.0f} MiB over the start, {threading.active_count()} threads, "
          f"{workers()} workers, {nl.core.memory.CACHES.used / MIB:.0f} MiB in the budget")


OCCLUSION_CASES = {  # model, window, stride (windows per side: 4 and 2)
    "shapes_cnn": (lambda: nl.zoo.shapes_cnn(), 500, 500),
    "resnet18": (lambda: torchvision.models.resnet18(weights=None).eval(), 1000, 1000),
}


def peak() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux


def occlusion_case(name: str, size: int) -> None:
    """One case in this process: resident memory before, peak during, as one JSON line."""
    make, window, stride = OCCLUSION_CASES[name]
    model = make()
    x = torch.rand(3, size, size, generator=torch.Generator().manual_seed(0))
    gc.collect()
    before, peak_before = resident(), peak()
    t0 = time.perf_counter()
    frames, method = 0, ""
    for frame in nl.core.occlusion_stream(model, x, 0, window, stride):
        frames += 1
        method = frame.method
    print(json.dumps(dict(case=name, before=before, peak_before=peak_before, peak=peak(), frames=frames,
                          method=method, seconds=time.perf_counter() - t0,
                          budget=nl.core.batching.MEMORY_BUDGET)), flush=True)


def occlusion_series(size: int, threads) -> None:
    print(f"torch {torch.__version__}, {threads or torch.get_num_threads()} torch threads; core occlusion "
          f"(method auto, every partial map made) on a {size}x{size} image, each case in a fresh process")
    print(f"{'case':>11} {'windows':>8} {'method':>12} {'frames':>7} {'before MiB':>11} {'peak MiB':>9} "
          f"{'peak - before':>14} {'budget MiB':>11} {'seconds':>8}")
    for name, (_, window, stride) in OCCLUSION_CASES.items():
        cmd = [sys.executable, __file__, "--occlusion-case", name, "--size", str(size)]
        if threads:
            cmd += ["--threads", str(threads)]
        run = subprocess.run(cmd, capture_output=True, text=True)
        if run.returncode:
            print(f"{name:>11}: failed\n{run.stderr[-2000:]}")
            continue
        r = json.loads(run.stdout.strip().splitlines()[-1])
        windows = (-(-(size - window) // stride) + 1) ** 2
        print(f"{name:>11} {windows:>8} {r['method']:>12} {r['frames']:>7} {r['before'] / MIB:>11.0f} "
              f"{r['peak'] / MIB:>9.0f} {(r['peak'] - r['before']) / MIB:>14.0f} {r['budget'] / MIB:>11.0f} "
              f"{r['seconds']:>8.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--budget-mib", type=int, default=None, help="shared cache budget (default: the library's)")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    parser.add_argument("--occlusion", action="store_true", help="peak memory of occlusion on a large image")
    parser.add_argument("--occlusion-case", choices=sorted(OCCLUSION_CASES), help=argparse.SUPPRESS)
    parser.add_argument("--size", type=int, default=2000, help="image side for --occlusion")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.occlusion_case:
        occlusion_case(args.occlusion_case, args.size)
        return
    if args.occlusion:
        occlusion_series(args.size, args.threads)
        return
    if args.budget_mib is not None:
        nl.core.memory.CACHES.budget = args.budget_mib * MIB

    resnet = torchvision.models.resnet18(weights=None).eval()
    preprocess = T.Compose([
        T.ToImage(), T.Resize(224), T.CenterCrop(224), T.ToDtype(torch.float32, scale=True),
        T.Normalize(mean=[0.485, 0.456, 0.406], std=[0.229, 0.224, 0.225]),
    ])
    photo = skdata.astronaut()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} torch threads, resnet18 (random weights), "
          f"astronaut photo -> 224x224, ActivationGrid layer1")
    tour_cell(resnet, photo, preprocess).close()  # warm-up: imports, kernels, first allocations
    cell = lambda: tour_cell(resnet, photo, preprocess)  # noqa: E731
    # closed first: the kept series leaves freed memory behind that a later series would reuse unseen
    series("closed (each run closes the widget before it)", args.runs, cell, close_previous=True)
    series("kept (every old widget still referenced)", args.runs, cell, close_previous=False)


if __name__ == "__main__":
    main()

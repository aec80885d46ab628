"""Playground speed: picture updates per second in a real browser, and train() against a hand-written loop.

1. ``train(1000)`` of the Playground's default-sized 2-8-8-1 tanh network on
   the 500-point spiral (250 training points, batch 10, SGD at 0.03) against
   a hand-written torch loop of the same network (same first weights), the
   same optimiser (``torch.optim.SGD``) and the same batch order, run
   alternately, best of ``--repeat``: once with the playground's loss
   formula, once with ``F.binary_cross_entropy_with_logits`` (what a hand
   loop would call). ``train`` also records the whole train and test loss
   every 10 steps; the hand loops record nothing.
2. The playground playing in JupyterLab in headless Chromium: distinct
   decision-map pictures drawn on the canvas per second, counted in the page
   (``labharness.frames``) over ``--windows`` windows of ``--seconds`` s,
   beside the frames and training steps per second the kernel made.

    python benchmarks/playground.py [--repeat 5] [--windows 5] [--seconds 3] [--no-browser]
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

import labharness as harness  # noqa: E402
from labharness.frames import count_canvas_frames, thread_wait_seconds  # noqa: E402
from nnlens_widgets.core.playground import DataSource, Trainer, build_net, derived_seeds  # noqa: E402
from timing import best_time  # noqa: E402

NOTEBOOK = "bench/playground.ipynb"
CELLS = ['import nnlens_widgets as nl\npg = nl.Playground(dataset="spiral", hidden=(8, 8), seed=0)\npg']
MAP = ".nnl-playground .nnl-playground-map canvas.nnl-canvas"
STEPS = 1000


def spiral():
    return DataSource().make("spiral", 0.0, 2, 0.5, seed=0)


def ours(data):
    trainer = Trainer(data, (8, 8), "tanh", seed=0)
    return lambda: trainer.train(STEPS)


def hand_loop(data, library_loss: bool):
    """The loop a person writes: the same network, first weights, optimiser and batch order."""
    seeds = derived_seeds(0)
    net = build_net((8, 8), ("tanh", "tanh"), 1, torch.Generator().manual_seed(seeds[2]))
    optimiser = torch.optim.SGD(net.parameters(), lr=0.03)
    x = torch.from_numpy(data.points[~data.test])
    y = torch.from_numpy(data.labels[~data.test]).float()
    batches = torch.Generator().manual_seed(seeds[3])

    def run():
        order, at = None, 0
        for _ in range(STEPS):
            if order is None or at >= len(order):
                order, at = torch.randperm(len(x), generator=batches), 0
            take = order[at:at + 10]
            at += 10
            z = net(x[take])[:, 0]
            if library_loss:
                loss = F.binary_cross_entropy_with_logits(z, y[take])
            else:
                loss = (z.clamp(min=0) - z * y[take] + torch.log1p(torch.exp(-z.abs()))).mean()
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
    return run


def train_speed(repeat: int) -> None:
    data = spiral()
    runs = {"Playground.train": ours(data), "hand loop, same loss": hand_loop(data, False),
            "hand loop, F.binary_cross_entropy_with_logits": hand_loop(data, True)}
    best = {name: float("inf") for name in runs}
    for _ in range(repeat):  # alternately, so every run sees the same machine load
        for name, run in runs.items():
            best[name] = min(best[name], best_time(run, 1))
    print(f"train({STEPS}) of 2-8-8-1 tanh on 250 training points, batch 10, SGD 0.03 "
          f"(best of {repeat}, run alternately; torch threads: {torch.get_num_threads()})")
    for name, seconds in best.items():
        ratio = seconds / best["hand loop, same loss"]
        print(f"  {name:48s} {seconds * 1000:8.1f} ms  {seconds / STEPS * 1e6:7.1f} us/step  "
              f"x{ratio:.2f} of the hand loop with the same loss")
    print(f"  Playground.train / hand loop with F.binary_cross_entropy_with_logits: "
          f"x{best['Playground.train'] / best['hand loop, F.binary_cross_entropy_with_logits']:.2f}")


def browser_speed(windows: int, seconds: float) -> None:
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "root"
        harness.write_notebook(root / NOTEBOOK, CELLS)
        with harness.LabServer(root, work_dir=Path(tmp) / "server") as lab, sync_playwright() as pw:
            browser = harness.launch_browser(pw)
            page = browser.new_context(viewport={"width": 1400, "height": 1100}).new_page()
            harness.open_notebook(page, lab, NOTEBOOK)
            harness.run_all_cells(page, timeout=600, relpath=NOTEBOOK)
            with lab.kernel_client(NOTEBOOK) as kc:
                harness.wait_until(lambda: harness.canvas_frame_id(page, MAP) is not None, 30, "map never drawn")
                page.locator(".nnl-playground .nnl-playground-play").first.click()
                harness.wait_for_kernel_value(kc, "pg.playing", True, timeout=10)
                rows = []
                for _ in range(windows):
                    f0, s0, t0 = harness.kernel_eval(kc, "(pg.frames_drawn, pg.steps, __import__('time').time())")
                    w0 = thread_wait_seconds(kc, "pg._loop.thread_id")
                    counted = count_canvas_frames(page, MAP, seconds)
                    f1, s1, t1 = harness.kernel_eval(kc, "(pg.frames_drawn, pg.steps, __import__('time').time())")
                    waited = 0.0 if w0 is None else thread_wait_seconds(kc, "pg._loop.thread_id") - w0
                    rows.append((counted["distinct"] / counted["seconds"], counted["frames"] / counted["seconds"],
                                 (f1 - f0) / (t1 - t0), (s1 - s0) / (t1 - t0), waited / counted["seconds"],
                                 counted["distinct"] / max(counted["seconds"] - waited, 1e-3)))
                cost = harness.kernel_eval(kc, "pg._loop.frame_seconds")
                page.locator(".nnl-playground .nnl-playground-play").first.click()
            browser.close()
    print(f"\nplaying 2-8-8-1 tanh on the 500-point spiral in JupyterLab + headless Chromium "
          f"({windows} windows of {seconds:g} s)")
    print(f"  {'window':>6s} {'distinct map frames/s (page)':>29s} {'frames/s (page)':>16s} "
          f"{'frames/s (kernel)':>18s} {'steps/s (kernel)':>17s} {'waiting for a core':>19s} "
          f"{'per second it could run':>24s}")
    for i, (distinct, shown, made, steps, waiting, could) in enumerate(rows, 1):
        print(f"  {i:6d} {distinct:29.1f} {shown:16.1f} {made:18.1f} {steps:17.0f} {waiting:18.0%} {could:24.1f}")
    print(f"  median distinct map frames per second in the page: {statistics.median(r[0] for r in rows):.1f}; "
          f"per second the playground's thread could run (time waiting for a core left out): "
          f"{statistics.median(r[5] for r in rows):.1f} (the loop draws at most 25 a second); "
          f"last frame made and drawn in {cost * 1000:.1f} ms")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--windows", type=int, default=5)
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--no-browser", action="store_true")
    args = ap.parse_args(argv)
    print(f"load average at start: {' '.join(f'{v:.1f}' for v in os.getloadavg())} "
          f"({os.cpu_count()} cores)")
    train_speed(args.repeat)
    if not args.no_browser:
        browser_speed(args.windows, args.seconds)


if __name__ == "__main__":
    main()

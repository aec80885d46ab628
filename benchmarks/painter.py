"""Painter network and SynapseExplorer timings, each beside the obvious alternative.

CPU, in this process:
- repaint (one weight moved -> new painting) at 96x96 and 256x256: our
  functional call over the flat synapse vector vs. what a user would write to
  keep the net unchanged (deepcopy the net, set the weight, run it);
- the whole widget repaint (painting + 34 neuron maps + pictures + canvases);
- ranking all 451 weights for one rectangle: the batched Jacobian pass (and
  re-ranking a new rectangle from the cached Jacobian, as during a drag) vs.
  central finite differences (two forward passes per weight);
- training steps per second (full batch of 9,216 pixels, and mini-batches).

In a real browser (JupyterLab + headless Chromium): key press on the weight
slider -> changed painting on the canvas, median over the moves, vs. the usual
``ipywidgets.interact`` + ``plt.imshow`` redraw of the same painting.

    python benchmarks/painter.py [--moves 20] [--repeats 30] [--no-browser] [--threads N]
"""
from __future__ import annotations

import argparse
import copy
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

import numpy as np  # noqa: E402
import torch  # noqa: E402

import nnlens_widgets as nl  # noqa: E402
from nnlens_widgets.core.synapses import SynapseSpace, plane_points  # noqa: E402


def median_ms(fn, repeats, best=False):
    """Median (or, with ``best``, also the fastest) time of ``fn`` in ms; the fastest
    run is the one least disturbed by other work on a shared machine."""
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    med = 1e3 * statistics.median(times)
    return (med, 1e3 * min(times)) if best else med


def cpu_figures(repeats):
    net = nl.zoo.painter()
    space = SynapseSpace(net)
    flat = space.original.clone()
    index = 42
    print(f"CPU, torch {torch.__version__}, {torch.get_num_threads()} threads; median of {repeats}")
    print("\nrepaint after one weight moved (ms)")
    print(f"{'size':10s} {'SynapseSpace.paint':>22s} {'deepcopy + set + forward':>26s} {'ratio':>7s}"
          "   (median / fastest)")
    for size in (96, 256):
        def ours():
            flat[index] += 1e-3
            space.paint(flat, size)

        points = plane_points(size)

        def naive():
            copy_ = copy.deepcopy(net)
            with torch.no_grad():
                copy_.fc1.bias[8] += 1e-3
                copy_(points).reshape(size, size, 3).numpy()

        (a, a_best), (b, b_best) = median_ms(ours, repeats, True), median_ms(naive, repeats, True)
        print(f"{size}x{size:<6d} {a:11.2f} / {a_best:7.2f} {b:15.2f} / {b_best:7.2f} {b / a:6.1f}x")

    explorer = nl.SynapseExplorer(net, nl.zoo.painter_image())
    explorer.synapse = index

    def widget_move():
        explorer.value = explorer.value + 0.01
        explorer.wait()

    med, best = median_ms(widget_move, repeats, True)
    print(f"\nSynapseExplorer repaint, 96x96 (painting, 34 neuron maps, canvases): "
          f"median {med:.2f} ms, fastest {best:.2f} ms")

    print("\nranking all 451 weights for one rectangle at 96x96 (ms)")
    box = (20, 28, 44, 48)
    t = time.perf_counter()
    sens = space.sensitivity(flat, 96)
    jac_ms = 1e3 * (time.perf_counter() - t)
    rerank_ms = median_ms(lambda: sens.rank(box), repeats)
    points = space.points(96)

    def finite_differences():
        energy = np.empty((96 * 96, space.count))
        for i in range(space.count):
            up, down = flat.clone(), flat.clone()
            up[i] += 1e-3
            down[i] -= 1e-3
            d = (space.evaluate(up, points) - space.evaluate(down, points)) / 2e-3
            energy[:, i] = (d ** 2).sum(1).numpy()
        return energy

    t = time.perf_counter()
    fd = finite_differences()
    fd_ms = 1e3 * (time.perf_counter() - t)
    top_fd = np.argsort(-(np.sqrt(fd.reshape(96, 96, -1)[28:48, 20:44].reshape(-1, space.count).mean(0))))[:10]
    print(f"batched Jacobian (vmap of jacrev) + rank   {jac_ms + rerank_ms:9.1f}")
    print(f"finite differences (902 forward passes)    {fd_ms:9.1f}   ratio {fd_ms / (jac_ms + rerank_ms):.1f}x")
    print(f"re-rank a new rectangle from the cache     {rerank_ms:9.3f}   (every step of a drag)")
    top_j = np.argsort(-sens.rank(box).inside)[:10]
    print(f"top-10 by inside strength, Jacobian vs finite differences: {len(set(top_j) & set(top_fd))}/10 shared")

    print("\ntraining steps per second (96x96 picture)")
    for batch, steps in ((None, 100), (1024, 300)):
        t = time.perf_counter()
        nl.zoo.train_painter(steps=steps, batch_size=batch)
        rate = steps / (time.perf_counter() - t)
        print(f"{'full batch (9,216 pixels)' if batch is None else f'mini-batch of {batch}':28s} {rate:8.1f} steps/s")


NOTEBOOK = "bench/painter.ipynb"
CELLS = [
    '''import ipywidgets as widgets, matplotlib.pyplot as plt, torch
import nnlens_widgets as nl
net = nl.zoo.painter()
image = nl.zoo.painter_image()
ours = nl.SynapseExplorer(net, image); ours.add_class("bench-ours"); ours.synapse = 42
points = nl.core.plane_points(96)

def show(value=float(net.fc1.bias[8])):
    """The alternative: a copy of the net, the weight set, the painting redrawn with imshow."""
    copy = __import__("copy").deepcopy(net)
    with torch.no_grad():
        copy.fc1.bias[8] = value
        painting = copy(points).reshape(96, 96, 3).numpy()
    plt.figure(figsize=(3, 3)); plt.imshow((painting + 1) / 2); plt.axis("off"); plt.show()

slider = widgets.FloatSlider(min=-4, max=4, step=0.01, value=float(net.fc1.bias[8]), continuous_update=True)
alt = widgets.interactive(show, value=slider); alt.add_class("bench-mpl")''',
    "ours",
    "alt",
]


def browser_figures(moves):
    from playwright.sync_api import sync_playwright

    from latency import _JS_WATCH_CANVAS, _JS_WATCH_IMG, slider_moves, summarise
    import labharness as harness

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "root"
        harness.write_notebook(root / NOTEBOOK, CELLS)
        with harness.LabServer(root, work_dir=Path(tmp) / "server") as lab, sync_playwright() as pw:
            browser = harness.launch_browser(pw)
            page = browser.new_page(viewport={"width": 1500, "height": 1100})
            harness.open_notebook(page, lab, NOTEBOOK)
            harness.run_all_cells(page, timeout=300, relpath=NOTEBOOK)
            ours = slider_moves(page, ".bench-ours .nnl-weight-slider", moves,
                                (_JS_WATCH_CANVAS, [".bench-ours", ".nnl-painting canvas", "keydown"]))
            mpl = slider_moves(page, ".bench-mpl", moves, (_JS_WATCH_IMG, [".bench-mpl"]))
            browser.close()
    (om, op), (mm, mp) = summarise(ours), summarise(mpl)
    print("\nin the browser: weight slider key press -> changed painting on screen, 96x96 (ms)")
    print(f"SynapseExplorer          median {om:6.1f}  p95 {op:6.1f}  (n={len(ours)}, target <= 100)")
    print(f"interact + plt.imshow    median {mm:6.1f}  p95 {mp:6.1f}  (n={len(mpl)})   ratio {mm / om:.1f}x")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--moves", type=int, default=20, help="slider moves per browser case (>= 20)")
    ap.add_argument("--repeats", type=int, default=30)
    ap.add_argument("--no-browser", action="store_true")
    ap.add_argument("--threads", type=int, default=None,
                    help="torch threads for the CPU figures (1 is steadier on a busy machine)")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    cpu_figures(args.repeats)
    if not args.no_browser:
        browser_figures(args.moves)


if __name__ == "__main__":
    main()

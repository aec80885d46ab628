"""Painter network and SynapseExplorer timings, each beside the obvious alternative.

CPU, in this process:
- repaint (one weight moved -> new painting) at 96x96 and 256x256: our
  functional call over the flat synapse vector vs. what a user would write to
  keep the net unchanged (deepcopy the net, set the weight, run it);
- the whole widget repaint (painting + 34 neuron maps + pictures + canvases);
- ranking all 451 weights for one rectangle: the batched Jacobian pass (and
  re-ranking a new rectangle from the cached Jacobian, as during a drag) vs.
  central finite differences (two forward passes per weight);
- the pad's colours (441 paintings, one per pair of values of two weights):
  one vectorised pass vs. one forward pass per pair;
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
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

import numpy as np  # noqa: E402
import torch  # noqa: E402

import nnlens_widgets as nl  # noqa: E402
from nnlens_widgets.core import SynapseSpace, load_picture, pair_landscape, picture_values, plane_points  # noqa: E402
from nnlens_widgets.render.synapse_pad import PadGeometry  # noqa: E402
from nnlens_widgets.widgets.synapse.panels import GOAL_PX  # noqa: E402


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

    explorer = nl.SynapseExplorer(net, picture=nl.zoo.painter_image())
    explorer.synapse = index
    drawn = threading.Event()
    explorer.views["painting"].canvas.observe(lambda _c: drawn.set(), "_frame")

    def everything_redrawn():
        explorer.value = explorer.value + 0.01
        explorer.wait()

    times = []
    for _ in range(repeats):
        drawn.clear()
        t = time.perf_counter()
        explorer.value = explorer.value + 0.01
        drawn.wait(30)
        times.append(time.perf_counter() - t)
        explorer.wait()  # the pad recolours after the painting; let it finish before the next move
    med, best = 1e3 * statistics.median(times), 1e3 * min(times)
    print(f"\nSynapseExplorer, weight moved -> painting, 34 neuron maps and canvases redrawn (96x96): "
          f"median {med:.2f} ms, fastest {best:.2f} ms")
    med, best = median_ms(everything_redrawn, repeats, True)
    print(f"... and the pad recoloured for the other weights: median {med:.2f} ms, fastest {best:.2f} ms")

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

    geometry = PadGeometry(2.0)
    cells = geometry.cells ** 2
    print(f"\npad colours: the painting's error over {geometry.cells}x{geometry.cells} values of two weights, "
          f"at {GOAL_PX}x{GOAL_PX} px (ms)")
    offsets = geometry.offsets()
    goal = picture_values(load_picture(nl.zoo.painter_image(), GOAL_PX))
    pair = (0, 418)
    values_a, values_b = float(flat[0]) + offsets, float(flat[418]) - offsets
    pad_points = space.points(GOAL_PX)

    def one_by_one():
        out = np.empty((len(values_b), len(values_a)))
        g = torch.as_tensor(goal).reshape(-1, 3)
        for r, b in enumerate(values_b):
            for c, a in enumerate(values_a):
                v = flat.clone()
                v[0], v[418] = a, b
                out[r, c] = float(((space.evaluate(v, pad_points) - g) ** 2).mean().sqrt())
        return out

    batched_ms = median_ms(lambda: pair_landscape(space, flat, pair, values_a, values_b, goal), max(3, repeats // 5))
    loop_ms = median_ms(one_by_one, max(3, repeats // 5))
    same = np.allclose(one_by_one(), pair_landscape(space, flat, pair, values_a, values_b, goal), rtol=1e-4)
    print(f"vmap passes over {cells} weight vectors            {batched_ms:9.1f}")
    print(f"{cells} separate forward passes                    {loop_ms:9.1f}   ratio {loop_ms / batched_ms:.1f}x"
          f"   (same errors: {same})")

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
ours = nl.SynapseExplorer(net, picture=image); ours.add_class("bench-ours"); ours.synapse = 42
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

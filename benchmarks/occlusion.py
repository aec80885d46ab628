"""Occlusion maps: nnlens vs Captum's Occlusion vs the physical limit, one run, CPU.

For each case the same model, image, window, stride and target are used:
- ours: ``nl.core.occlusion`` (automatic batch size);
- Captum ``Occlusion`` at its default ``perturbations_per_eval=1`` and at the
  best of several settings;
- the limit: number of windows x the best per-image forward time measured
  over batch sizes 1..64 (no method that runs the model once per window can
  beat it);
- time to our first coarse picture (first streamed frame) vs our total.

Then, in JupyterLab + headless Chromium, the live patch: mouse move over the
canvas -> updated probability text, median over the moves.

    python benchmarks/occlusion.py [--moves 20] [--skip-browser]
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch
import torchvision

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from timing import best_time as timed  # noqa: E402

import nnlens_widgets as nl  # noqa: E402
from nnlens_widgets.core import OcclusionGrid, occlusion, occlusion_stream  # noqa: E402


def per_image_forward(model, x, sizes=(1, 4, 16, 64)):
    """Best seconds per image over batch sizes (what a window costs at least)."""
    best = float("inf")
    with torch.inference_mode():
        for n in sizes:
            batch = x.expand(n, *x.shape[1:]).clone()
            model(batch)  # warm-up
            best = min(best, timed(lambda: model(batch), repeat=3) / n)
    return best


def case(name, model, x, window, stride, captum_settings=(1, 8, 32)):
    from captum.attr import Occlusion

    model.eval()
    with torch.inference_mode():
        target = int(model(x).argmax())
    c = x.shape[1]
    windows = OcclusionGrid.make(x.shape[1:], window, stride).total
    limit = windows * per_image_forward(model, x)
    ours = timed(lambda: occlusion(model, x, target, window, stride))

    def first_frame():
        t = time.perf_counter()
        stream = occlusion_stream(model, x, target, window, stride)
        next(stream)
        first = time.perf_counter() - t
        stream.close()
        return first

    first = first_frame()
    captum = {}
    for ppe in captum_settings:
        captum[ppe] = timed(lambda: Occlusion(model).attribute(
            x, sliding_window_shapes=(c, window, window), strides=(c, stride, stride),
            target=target, baselines=0.0, perturbations_per_eval=ppe))
    best_ppe = min(captum, key=captum.get)
    print(f"{name}: {windows} windows (window {window}, stride {stride})")
    print(f"  ours                         {ours:7.2f} s   first coarse picture {first:5.2f} s "
          f"({100 * first / ours:.1f}% of total)")
    print(f"  Captum ppe=1 (default)       {captum[1]:7.2f} s   ours is {captum[1] / ours:.2f}x faster")
    print(f"  Captum ppe={best_ppe:<3d} (best of {list(captum_settings)}) {captum[best_ppe]:7.2f} s   "
          f"ours is {captum[best_ppe] / ours:.2f}x faster")
    print(f"  limit (windows x best per-image forward) {limit:7.2f} s   ours / limit = {ours / limit:.2f}")


_JS_WATCH_TEXT = """
([root]) => { window.__benchDone = new Promise((resolve, reject) => {
  const readout = document.querySelector(`${root} .nnl-probs`);
  const canvas = document.querySelector(`${root} .nnl-occlusion-canvas canvas.nnl-canvas`);
  const before = readout.textContent;
  let t0 = null;
  const onMove = () => { if (t0 === null) t0 = performance.now(); };
  canvas.addEventListener("mousemove", onMove, true);
  const obs = new MutationObserver(() => {
    if (t0 === null || readout.textContent === before) return;
    obs.disconnect(); canvas.removeEventListener("mousemove", onMove, true);
    resolve(performance.now() - t0);
  });
  obs.observe(readout, { childList: true, subtree: true, characterData: true });
  setTimeout(() => reject(new Error("no update within 30 s")), 30000);
}); }
"""


def browser_patch_latency(moves):
    from playwright.sync_api import sync_playwright

    import labharness as harness

    cells = [
        "import torch, torchvision, nnlens_widgets as nl\n"
        "from skimage import data as skdata\n"
        "from torchvision.transforms import v2 as T\n"
        "shapes = nl.zoo.shapes_cnn(); img = nl.zoo.make_shapes(1, seed=5).images[0]\n"
        "resnet = torchvision.models.resnet18(weights=None).eval()\n"
        "pre = T.Compose([T.ToImage(), T.Resize(224), T.CenterCrop(224), T.ToDtype(torch.float32, scale=True)])\n"
        "photo = skdata.astronaut()",
        "a = nl.OcclusionExplorer(shapes, img, labels=nl.zoo.SHAPE_CLASSES, autorun=False); a.add_class('b-shapes'); a",
        "b = nl.OcclusionExplorer(resnet, photo, preprocess=pre, window=32, autorun=False); b.add_class('b-resnet'); b",
    ]
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "root"
        harness.write_notebook(root / "bench/occ.ipynb", cells)
        with harness.LabServer(root, work_dir=Path(tmp) / "s") as lab, sync_playwright() as pw:
            browser = harness.launch_browser(pw)
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            harness.open_notebook(page, lab, "bench/occ.ipynb")
            harness.run_all_cells(page, timeout=300, relpath="bench/occ.ipynb")
            for root_cls in (".b-shapes", ".b-resnet"):
                canvas = page.locator(f"{root_cls} .nnl-occlusion-canvas canvas.nnl-canvas").first
                canvas.scroll_into_view_if_needed()
                box = canvas.bounding_box()
                times = []
                for i in range(moves):
                    page.evaluate(_JS_WATCH_TEXT, [root_cls])
                    fx, fy = 0.15 + 0.7 * ((i * 7) % 11) / 10, 0.15 + 0.7 * ((i * 3) % 7) / 6
                    page.mouse.move(box["x"] + fx * box["width"], box["y"] + fy * box["height"])
                    times.append(page.evaluate("() => window.__benchDone"))
                out[root_cls] = times
            browser.close()
    return out


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--moves", type=int, default=20)
    ap.add_argument("--skip-browser", action="store_true")
    args = ap.parse_args(argv)
    torch.manual_seed(0)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, CPU\n")

    shapes = nl.zoo.shapes_cnn()
    img = nl.zoo.make_shapes(1, seed=5).images[:1]
    case("shapes_cnn 64x64", shapes, img, 8, 4)
    case("shapes_cnn 64x64", shapes, img, 4, 2)

    resnet = torchvision.models.resnet18(weights=None).eval()
    x = torch.rand(1, 3, 224, 224, generator=torch.Generator().manual_seed(0))
    case("resnet18 224x224", resnet, x, 32, 16)
    case("resnet18 224x224", resnet, x, 16, 8, captum_settings=(1, 8))

    if not args.skip_browser:
        lat = browser_patch_latency(args.moves)
        print("\nlive patch in the browser: mouse move -> updated probability text (ms)")
        for name, key in (("shapes_cnn", ".b-shapes"), ("resnet18 224", ".b-resnet")):
            t = sorted(lat[key])
            print(f"  {name:14s} median {statistics.median(t):6.1f}  p95 "
                  f"{t[min(len(t) - 1, round(0.95 * (len(t) - 1)))]:6.1f}  (n={len(t)})")


if __name__ == "__main__":
    main()

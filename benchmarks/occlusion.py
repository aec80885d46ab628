"""Occlusion maps: nnlens vs Captum's Occlusion vs the physical limit, one run, CPU.

For each case the same model, image, window, stride and target are used:
- ours, dense: ``nl.core.occlusion(..., method="dense")`` (one forward pass
  per window, automatic batch size);
- ours, default (``method="auto"``: incremental when it pays), and which
  method it chose;
- ours, approximate (``approximate=tau``, the projective-field threshold, or
  ``"linear"``, first order after the changes cover the maps), with the
  correlation of its map to the exact one;
- Captum ``Occlusion`` at the best of several ``perturbations_per_eval``;
- the limit: number of windows x the best per-image forward time measured
  over batch sizes (no method that runs the model once per window can beat
  it);
- time to our first coarse picture (first streamed frame) vs our total, and
  (resnet18) the whole run with every partial map made, as the explorer does.

Then, in JupyterLab + headless Chromium, the live patch: mouse move over the
canvas -> updated probability text, median over the moves. First line: the
import time of the package over ``import torch``.

    python benchmarks/occlusion.py [--cases shapes,resnet18,windows,vgg11] [--threads N] [--skip-browser]
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import torchvision

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from timing import best_time as timed  # noqa: E402

import nnlens_widgets as nl  # noqa: E402
from nnlens_widgets.core import OcclusionGrid, occlusion_stream  # noqa: E402


def per_image_forward(model, x, sizes=(1, 16, 64)):
    """Best seconds per image over batch sizes (what a window costs at least)."""
    best = float("inf")
    with torch.inference_mode():
        for n in sizes:
            batch = x.expand(n, *x.shape[1:]).clone()
            model(batch)  # warm-up
            best = min(best, timed(lambda: model(batch), repeat=2) / n)
    return best


def _correlation(a, b):
    return float(np.corrcoef(a.flatten().numpy(), b.flatten().numpy())[0, 1])


def case(name, model, x, window, stride, captum_settings=(1, 8, 32), approximate=(), limit=True,
         streamed=False):
    from captum.attr import Occlusion

    model.eval()
    with torch.inference_mode():
        target = int(model(x).argmax())
    c = x.shape[1]
    windows = OcclusionGrid.make(x.shape[1:], window, stride).total
    run = {}

    def ours(key, **kw):
        def go():
            frames = list(occlusion_stream(model, x, target, window, stride, frames=False, **kw))
            run[key] = frames[-1]
        return go

    dense = timed(ours("dense", method="dense"))
    auto = timed(ours("auto"))
    exact = run["auto"].heatmap
    approx = {tau: (timed(ours(tau, approximate=tau)), _correlation(run[tau].heatmap, exact)) for tau in approximate}

    def first_frame():
        t = time.perf_counter()
        stream = occlusion_stream(model, x, target, window, stride)
        next(stream)
        first = time.perf_counter() - t
        stream.close()
        return first

    first = first_frame()
    # as the explorer runs it: every partial map drawn (numpy between forward passes)
    with_frames = timed(lambda: list(occlusion_stream(model, x, target, window, stride))) if streamed else None
    captum, maps = {}, {}

    def captum_map(ppe):
        maps[ppe] = Occlusion(model).attribute(
            x, sliding_window_shapes=(c, window, window), strides=(c, stride, stride),
            target=target, baselines=0.0, perturbations_per_eval=ppe)[0]

    for ppe in captum_settings:
        captum[ppe] = timed(lambda: captum_map(ppe))
    best_ppe = min(captum, key=captum.get)
    best = captum[best_ppe]
    ref = maps[best_ppe]
    error = float((exact - ref).abs().max() / ref.abs().max())
    print(f"{name}: {windows} windows (window {window}, stride {stride})")
    print(f"  Captum ppe={best_ppe:<3d} (best of {list(captum_settings)})  {best:7.2f} s   "
          f"our default map vs Captum's: max relative error {error:.1e}")
    if 1 in captum and best_ppe != 1:
        print(f"  Captum ppe=1 (default)              {captum[1]:7.2f} s")
    print(f"  ours dense                          {dense:7.2f} s   {best / dense:5.2f}x Captum's best")
    print(f"  ours default (chose {run['auto'].method:<11s})     {auto:7.2f} s   {best / auto:5.2f}x Captum's best, "
          f"{dense / auto:.2f}x dense; first coarse picture {first:.2f} s")
    if with_frames is not None:
        print(f"  ours default, every partial map made {with_frames:7.2f} s   {auto / with_frames:5.2f}x without them")
    for tau, (t, corr) in approx.items():
        print(f"  ours approximate={tau!r:<10}         {t:7.2f} s   {best / t:5.2f}x Captum's best, "
              f"correlation to exact {corr:.3f}")
    if limit:
        bound = windows * per_image_forward(model, x)
        print(f"  limit (windows x best per-image forward) {bound:7.2f} s   default / limit = {auto / bound:.2f}")
    print(flush=True)


def import_time():
    """Seconds of ``import torch`` and of ``import nnlens_widgets`` after it, in a fresh interpreter."""
    code = ("import time; t = time.perf_counter(); import torch; u = time.perf_counter(); "
            "import nnlens_widgets; print(u - t, time.perf_counter() - u)")
    runs = [subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                           env={**os.environ, "PYTHONPATH": str(REPO)}).stdout.split() for _ in range(3)]
    return min(float(r[0]) for r in runs), min(float(r[1]) for r in runs)


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
    ap.add_argument("--cases", default="shapes,resnet18,windows,vgg11")
    ap.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    cases = args.cases.split(",")
    torch_s, ours_s = import_time()
    print(f"import torch {torch_s:.2f} s; import nnlens_widgets after it {ours_s:.3f} s (best of 3, fresh interpreters)")
    torch.manual_seed(0)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, CPU\n")

    if "shapes" in cases:
        shapes = nl.zoo.shapes_cnn()
        img = nl.zoo.make_shapes(1, seed=5).images[:1]
        case("shapes_cnn 64x64", shapes, img, 8, 4, approximate=(0.5, "linear"))
        case("shapes_cnn 64x64", shapes, img, 4, 2)

    torch.manual_seed(0)  # each model's random weights do not depend on which cases ran before
    resnet = torchvision.models.resnet18(weights=None).eval()
    x = torch.rand(1, 3, 224, 224, generator=torch.Generator().manual_seed(0))
    if "resnet18" in cases:
        case("resnet18 224x224", resnet, x, 16, 8, captum_settings=(8, 32), approximate=(0.4, 0.6, "linear"),
             streamed=True)
    if "windows" in cases:
        for window in (8, 32):  # Captum at its best setting of the window-16 case
            case("resnet18 224x224", resnet, x, window, 8, captum_settings=(32,), approximate=("linear",),
                 limit=False)
    if "vgg11" in cases:
        torch.manual_seed(0)
        vgg = torchvision.models.vgg11(weights=None).eval()
        x112 = torch.rand(1, 3, 112, 112, generator=torch.Generator().manual_seed(0))
        case("vgg11 112x112", vgg, x112, 16, 8, captum_settings=(8, 32), approximate=(0.5, "linear"))

    if not args.skip_browser:
        lat = browser_patch_latency(args.moves)
        print("\nlive patch in the browser: mouse move -> updated probability text (ms)")
        for name, key in (("shapes_cnn", ".b-shapes"), ("resnet18 224", ".b-resnet")):
            t = sorted(lat[key])
            print(f"  {name:14s} median {statistics.median(t):6.1f}  p95 "
                  f"{t[min(len(t) - 1, round(0.95 * (len(t) - 1)))]:6.1f}  (n={len(t)})")


if __name__ == "__main__":
    main()

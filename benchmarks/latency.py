"""Channel-slider latency in a real browser: ActivationGrid vs matplotlib + interact.

For each case a notebook runs in JupyterLab in headless Chromium; the script
presses ArrowRight on a channel slider and measures, inside the page, the time
from the key press to the changed picture being on screen:

- ActivationGrid: until the enlarged-channel canvas has the new pixels (its
  ``data-frame-id`` changes right after ``putImageData``);
- the usual alternative, ``ipywidgets.interact`` redrawing an 8x8 grid of
  ``plt.imshow`` subplots with the selected channel marked: until the new PNG
  is in the output area and decoded.

Cases: the digits model (conv3, 64 channels of 16x16) and torchvision's
resnet18 (random weights, offline) at layer1 (64 channels of 56x56). Also the
time for a layer change on resnet18 (dropdown change -> new grid drawn).
Prints median and p95 over the moves, and the ratios, measured in one run,
and the bytes the kernel sent to the browser for each step (every WebSocket
frame received between the key press and the redraw).

Also the bytes (and time) of a change to every resnet18 layer, one by one
(``--only-layer-bytes``: only that), against the 300 KB a layer change may send.

Then the ActivationGrid cases again through a local throttled link
(``throttle.ThrottledProxy``: 20 Mbit/s, 40 ms round trip), as a remote
JupyterHub, Binder or Colab user sees them.

    python benchmarks/latency.py [--moves 20] [--mpl-moves 20] [--no-throttle] [--only-layer-bytes]
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

import labharness as harness  # noqa: E402
from throttle import ThrottledProxy  # noqa: E402

NOTEBOOK = "bench/latency.ipynb"

SETUP = '''
import torch, torchvision, ipywidgets as widgets, matplotlib.pyplot as plt
import nnlens_widgets as nl
from skimage import data as skdata
from torchvision.transforms import v2 as T

digits = nl.zoo.digits_cnn()
digit = nl.zoo.digits_data().x_test[0]
resnet = torchvision.models.resnet18(weights=None).eval()
pre = T.Compose([T.ToImage(), T.Resize(224), T.CenterCrop(224), T.ToDtype(torch.float32, scale=True),
                 T.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])])
photo = skdata.astronaut()

def mpl_grid(model, x, layer):
    """The alternative: interact + an 8x8 grid of imshow subplots, redrawn on each move."""
    with nl.core.probe(model, layer) as acts, torch.no_grad():
        model(x)
    maps = acts[layer][0].numpy()
    def show(channel=0):
        fig, axes = plt.subplots(8, 8, figsize=(8, 8))
        for i, ax in enumerate(axes.flat):
            ax.imshow(maps[i], cmap="viridis")
            ax.set_xticks([]); ax.set_yticks([])
            if i == channel:
                for s in ax.spines.values():
                    s.set_color("red"); s.set_linewidth(3)
        fig.suptitle(f"{layer} channel {channel}")
        plt.show()
    slider = widgets.IntSlider(min=0, max=maps.shape[0] - 1, continuous_update=True)
    w = widgets.interactive(show, channel=slider)
    w.add_class("bench-mpl")
    return w
'''

CELLS = [
    SETUP,
    'g_digits = nl.ActivationGrid(digits, digit, layer="conv3"); g_digits.add_class("bench-digits"); g_digits',
    'g_resnet = nl.ActivationGrid(resnet, photo, layer="layer1", preprocess=pre); g_resnet.add_class("bench-resnet"); g_resnet',
    'm_digits = mpl_grid(digits, digit[None], "conv3"); m_digits.add_class("bench-mpl-digits"); m_digits',
    'm_resnet = mpl_grid(resnet, pre(photo)[None], "layer1"); m_resnet.add_class("bench-mpl-resnet"); m_resnet',
]

# Each watcher stores a promise in window.__benchDone that resolves with the ms
# from the next keydown (or change, for the dropdown) to the moment the watched
# picture has changed.
_JS_WATCH_CANVAS = """
([root, canvasSel, trigger]) => { window.__benchDone = new Promise((resolve, reject) => {
  const canvas = document.querySelector(`${root} ${canvasSel}`);
  let t0 = null;
  const onTrigger = () => { if (t0 === null) t0 = performance.now(); };
  document.addEventListener(trigger, onTrigger, true);
  const obs = new MutationObserver(() => {
    if (t0 === null) return;
    obs.disconnect(); document.removeEventListener(trigger, onTrigger, true);
    resolve(performance.now() - t0);
  });
  obs.observe(canvas, { attributes: true, attributeFilter: ["data-frame-id"] });
  setTimeout(() => reject(new Error("no redraw within 30 s")), 30000);
}); }
"""

_JS_WATCH_IMG = """
([root]) => { window.__benchDone = new Promise((resolve, reject) => {
  const out = document.querySelector(`${root} .widget-output`);
  const oldSrc = out.querySelector("img")?.src;
  let t0 = null;
  const onKey = () => { if (t0 === null) t0 = performance.now(); };
  document.addEventListener("keydown", onKey, true);
  const check = async () => {
    const img = out.querySelector("img");
    if (t0 === null || !img || img.src === oldSrc) return false;
    obs.disconnect(); document.removeEventListener("keydown", onKey, true);
    await img.decode();
    resolve(performance.now() - t0);
    return true;
  };
  const obs = new MutationObserver(() => { check(); });
  obs.observe(out, { childList: true, subtree: true, attributes: true });
  setTimeout(() => reject(new Error("no redraw within 60 s")), 60000);
}); }
"""


def summarise(ms):
    ms = sorted(ms)
    p95 = ms[min(len(ms) - 1, int(round(0.95 * (len(ms) - 1))))]
    return statistics.median(ms), p95


class ReceivedBytes:
    """Bytes of every WebSocket frame the page receives (kernel messages, widget frames)."""

    def __init__(self, page):
        self.total = 0
        page.on("websocket", lambda ws: ws.on("framereceived", self._count))

    def _count(self, payload) -> None:
        self.total += len(payload) if isinstance(payload, (bytes, bytearray)) else len(payload.encode())


def settle(page, bytes_seen, quiet_ms=150, limit_s=5.0):
    """Wait until no frame has arrived for ``quiet_ms`` (the step's trailing messages counted)."""
    end = time.perf_counter() + limit_s
    last = bytes_seen.total
    while time.perf_counter() < end:
        page.wait_for_timeout(quiet_ms)
        if bytes_seen.total == last:
            return
        last = bytes_seen.total


def slider_moves(page, root, n, watch, bytes_seen=None):
    """Press ArrowRight ``n`` times on ``root``'s slider; per-press latency in ms (and bytes received)."""
    handle = page.locator(f"{root} .noUi-handle").first
    handle.scroll_into_view_if_needed()
    times, sizes = [], []
    for _ in range(n):
        page.evaluate(*watch)
        start = bytes_seen.total if bytes_seen else 0
        handle.focus()
        handle.press("ArrowRight")
        times.append(page.evaluate("() => window.__benchDone"))
        if bytes_seen:
            settle(page, bytes_seen)
            sizes.append(bytes_seen.total - start)
    return (times, sizes) if bytes_seen else times


def layer_changes(page, root, layers, bytes_seen=None):
    select = page.locator(f"{root} .nnl-layer-dropdown select").first
    # ipywidgets writes option labels with non-breaking spaces
    labels = [t.replace("\xa0", " ") for t in select.evaluate("s => Array.from(s.options).map(o => o.textContent)")]
    times, sizes = [], []
    for name in layers:
        index = next(i for i, t in enumerate(labels) if t.startswith(f"{name} ("))  # name + shape
        page.evaluate(_JS_WATCH_CANVAS, [root, ".nnl-grid-canvas canvas", "change"])
        start = bytes_seen.total if bytes_seen else 0
        select.select_option(index=index)
        times.append(page.evaluate("() => window.__benchDone"))
        if bytes_seen:
            settle(page, bytes_seen)
            sizes.append(bytes_seen.total - start)
    return (times, sizes) if bytes_seen else times


def every_layer(page, root, bytes_seen):
    """Select every layer of ``root``'s dropdown once, in order: [(layer, ms, bytes received)]."""
    select = page.locator(f"{root} .nnl-layer-dropdown select").first
    labels = [t.replace("\xa0", " ") for t in select.evaluate("s => Array.from(s.options).map(o => o.textContent)")]
    names = [t.split(" (")[0] for t in labels]
    current = names[select.evaluate("s => s.selectedIndex")]
    names = [n for n in names if n != current] + [current]  # each selection a change
    times, sizes = layer_changes(page, root, names, bytes_seen)
    return list(zip(names, times, sizes))


CYCLE = ["layer2", "layer3", "layer4", "layer1", "conv1", "layer4.1.bn2", "layer1"]
DETAIL = ".nnl-detail-canvas canvas"


def grid_cases(page, seen, moves, n_layers):
    """The ActivationGrid cases alone: (digits steps, resnet steps, resnet layer changes), each (ms, bytes)."""
    digits = slider_moves(page, ".bench-digits .nnl-channel-slider", moves,
                          (_JS_WATCH_CANVAS, [".bench-digits", DETAIL, "keydown"]), seen)
    resnet = slider_moves(page, ".bench-resnet .nnl-channel-slider", moves,
                          (_JS_WATCH_CANVAS, [".bench-resnet", DETAIL, "keydown"]), seen)
    layers = [CYCLE[i % len(CYCLE)] for i in range(n_layers)]
    return digits, resnet, layer_changes(page, ".bench-resnet", layers, seen)


def open_and_run(browser, lab, url=None):
    """A fresh page on the notebook (through ``url`` instead of the server's own when given), run."""
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    seen = ReceivedBytes(page)  # before the notebook opens its kernel's WebSocket
    own = lab.url
    lab.url = url or own
    try:
        harness.open_notebook(page, lab, NOTEBOOK)
    finally:
        lab.url = own
    t = time.perf_counter()
    harness.run_all_cells(page, timeout=600, relpath=NOTEBOOK)
    return page, seen, time.perf_counter() - t


def kb(sizes):
    return f"median {statistics.median(sizes) / 1024:7.1f} KB  max {max(sizes) / 1024:7.1f} KB"


LIMIT_KB = 300


def print_layer_bytes(per_layer) -> None:
    print("\nresnet18 at 224 px: bytes received per layer change (all WebSocket frames until quiet)")
    print(f"{'layer':24s} {'KB':>8s} {'ms':>8s}")
    for name, ms, size in per_layer:
        print(f"{name:24s} {size / 1024:8.1f} {ms:8.1f}" + ("   over 300 KB" if size > LIMIT_KB * 1024 else ""))
    big = max(per_layer, key=lambda r: r[2])
    over = sum(size > LIMIT_KB * 1024 for _n, _ms, size in per_layer)
    print(f"{len(per_layer)} layers: largest {big[0]} {big[2] / 1024:.1f} KB; {over} over {LIMIT_KB} KB")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--moves", type=int, default=20, help="slider moves per ActivationGrid case")
    ap.add_argument("--mpl-moves", type=int, default=20, help="slider moves per matplotlib case")
    ap.add_argument("--layer-changes", type=int, default=20)
    ap.add_argument("--no-throttle", action="store_true", help="skip the throttled-link pass")
    ap.add_argument("--only-layer-bytes", action="store_true",
                    help="only the bytes (and time) of a change to every resnet18 layer")
    ap.add_argument("--mbit", type=float, default=20.0, help="throttled link bandwidth (Mbit/s)")
    ap.add_argument("--rtt", type=float, default=40.0, help="throttled link round trip (ms)")
    args = ap.parse_args(argv)

    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "root"
        harness.write_notebook(root / NOTEBOOK, CELLS)
        with harness.LabServer(root, work_dir=Path(tmp) / "server") as lab, sync_playwright() as pw:
            browser = harness.launch_browser(pw)
            page, seen, took = open_and_run(browser, lab)
            print(f"notebook ran in {took:.1f} s ({harness.chromium_path()}, JupyterLab on 127.0.0.1)")
            per_layer = every_layer(page, ".bench-resnet", seen)
            print_layer_bytes(per_layer)
            if args.only_layer_bytes:
                browser.close()
                return
            digits, resnet, layer = grid_cases(page, seen, args.moves, args.layer_changes)
            mpl = {
                "digits conv3 (64 x 16x16)": slider_moves(page, ".bench-mpl-digits", args.mpl_moves,
                                                          (_JS_WATCH_IMG, [".bench-mpl-digits"])),
                "resnet18 layer1 (64 x 56x56)": slider_moves(page, ".bench-mpl-resnet", args.mpl_moves,
                                                             (_JS_WATCH_IMG, [".bench-mpl-resnet"])),
            }
            page.close()
            slow = None
            if not args.no_throttle:
                port = int(lab.url.rsplit(":", 1)[1])
                with ThrottledProxy(port, mbit_per_s=args.mbit, rtt_ms=args.rtt) as proxy:
                    page, seen, took = open_and_run(browser, lab, proxy.url)
                    print(f"through the throttled link ({args.mbit:g} Mbit/s, {args.rtt:g} ms round trip) "
                          f"the notebook ran in {took:.1f} s")
                    slow = grid_cases(page, seen, args.moves, args.layer_changes)
                    page.close()
            browser.close()

    print()
    print("channel slider: key press -> changed pixels on the canvas (ms), loopback")
    print(f"{'case':32s} {'ActivationGrid':>22s} {'interact + 8x8 imshow':>24s} {'ratio':>9s}")
    for (case, runs), ours in zip(mpl.items(), (digits, resnet)):
        (om, op), (mm, mp) = summarise(ours[0]), summarise(runs)
        print(f"{case:32s} median {om:6.1f} p95 {op:6.1f}   median {mm:7.1f} p95 {mp:7.1f}"
              f"   {mm / om:6.1f}x   (n={len(ours[0])}/{len(runs)})")
    lm, lp = summarise(layer[0])
    print(f"\nresnet18 layer change (dropdown -> new grid drawn): median {lm:.1f} ms, "
          f"p95 {lp:.1f} ms (n={len(layer[0])})")
    print("\nbytes received by the browser per step (all WebSocket frames until quiet)")
    for case, sizes in (("digits conv3 channel step", digits[1]), ("resnet18 layer1 channel step", resnet[1]),
                        ("resnet18 layer change", layer[1])):
        print(f"{case:32s} {kb(sizes)}")
    if slow is not None:
        print(f"\nthrough the throttled link ({args.mbit:g} Mbit/s, {args.rtt:g} ms round trip)")
        for case, (ms, _sizes), (fast_ms, _) in (("digits conv3 channel step", slow[0], digits),
                                                 ("resnet18 layer1 channel step", slow[1], resnet),
                                                 ("resnet18 layer change", slow[2], layer)):
            (sm, sp), (fm, _fp) = summarise(ms), summarise(fast_ms)
            print(f"{case:32s} median {sm:6.1f} p95 {sp:6.1f}   loopback median {fm:6.1f}   "
                  f"x{sm / fm:4.1f}   (n={len(ms)})")


if __name__ == "__main__":
    main()

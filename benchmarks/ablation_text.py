"""Ablation ranking and LSTM-on-text speed, measured side by side in one run.

1. Ranking every channel of a layer by its ablation effect
   (``core.ablation_effects``): one forward pass per channel (``core.ablate``
   in a loop, what a user would write) vs batched passes that repeat the
   input (``expand="input"``) vs batched passes that run the part before the
   layer once and repeat only the layer's output (``expand="layer"``).
   Cases: torchvision resnet18 (random weights, 224x224 input) layer4 (512
   channels) and the zoo's digits CNN (relu2, relu3). The scores of the three
   ways are compared too.
2. ``core.lstm_states`` throughput (characters/s) on the shipped char LSTM,
   vs a step-by-step ``nn.LSTMCell`` loop with the same weights, with the
   default thread count and with one thread.
3. In JupyterLab + headless Chromium: a TextNeuronViewer on a 20,000-character
   text; time from a key press on the cell slider to the recoloured text (the
   view's ``data-version`` changes right after the spans are repainted),
   first with only the visible part of the text laid out, then after
   scrolling through the whole text (every character's span exists).

    python benchmarks/ablation_text.py [--moves 20] [--resnet-channels 512] [--no-browser]
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

import torch  # noqa: E402
from torch import nn  # noqa: E402

import nnlens_widgets as nl  # noqa: E402
from nnlens_widgets.core import ablate, ablation_effects, lstm_states  # noqa: E402
from nnlens_widgets.zoo.char_lstm import HELD_OUT_FILES, encode_text, stdlib_text  # noqa: E402


def timed(fn):
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def one_forward_per_channel(model, x, layer, target, channels):
    scores = []
    with torch.inference_mode():
        for c in channels:
            with ablate(model, layer, c):
                scores.append(float(model(x)[0, target]))
    return torch.tensor(scores)


def ranking_case(name, model, x, layer, channels, batch_size):
    model.eval()
    x = nl.core.to_batch(x, model)
    with torch.inference_mode():
        target = int(model(x).argmax(1))
    t_loop, loop = timed(lambda: one_forward_per_channel(model, x, layer, target, channels))
    t_input, by_input = timed(lambda: ablation_effects(model, x, layer, target, channels=channels,
                                                       batch_size=batch_size, expand="input"))
    t_layer, by_layer = timed(lambda: ablation_effects(model, x, layer, target, channels=channels,
                                                       batch_size=batch_size, expand="layer"))
    diff = max(float((by_input.scores - loop).abs().max()), float((by_layer.scores - loop).abs().max()))
    print(f"{name:34s} {len(channels):5d} ch  loop {t_loop:7.2f} s   batched(input) {t_input:7.2f} s "
          f"({t_loop / t_input:4.1f}x)   batched(layer) {t_layer:6.2f} s ({t_loop / t_layer:5.1f}x)   "
          f"max |score diff| {diff:.1e}")


def cell_loop_states(model, text):
    """The reference: nn.LSTMCell stepped once per character with the LSTM's weights."""
    lstm = model.lstm
    cell = nn.LSTMCell(lstm.input_size, lstm.hidden_size)
    with torch.no_grad():
        for n in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            getattr(cell, n).copy_(getattr(lstm, f"{n}_l0"))
        x = model.embed(encode_text(text))
        h = torch.zeros(1, lstm.hidden_size)
        c = torch.zeros(1, lstm.hidden_size)
        hs, cs = [], []
        for t in range(len(text)):
            h, c = cell(x[t : t + 1], (h, c))
            hs.append(h)
            cs.append(c)
    return torch.cat(hs), torch.cat(cs)


def lstm_throughput(chars):
    model = nl.zoo.char_lstm()
    text = (stdlib_text(HELD_OUT_FILES) * 2)[:chars]
    t_ours, states = timed(lambda: lstm_states(model, text))
    t_loop, (h, c) = timed(lambda: cell_loop_states(model, text))
    diff = max(float((states.h[0] - h).abs().max()), float((states.c[0] - c).abs().max()))
    print(f"lstm_states on {len(text)} characters (1 layer x 256 cells): {len(text) / t_ours:9.0f} chars/s "
          f"({t_ours:.2f} s, with the logits)   nn.LSTMCell loop: {len(text) / t_loop:8.0f} chars/s "
          f"({t_loop:.2f} s)   ratio {t_loop / t_ours:.1f}x   max |diff| {diff:.1e}")


SETUP = """
import nnlens_widgets as nl
from nnlens_widgets.zoo.char_lstm import HELD_OUT_FILES, stdlib_text
text = (stdlib_text(HELD_OUT_FILES) * 2)[:20000]
viewer = nl.TextNeuronViewer(nl.zoo.char_lstm(), text, height_px=400)
viewer.add_class("bench-text")
viewer
"""

_JS_WATCH = """
() => { window.__benchDone = new Promise((resolve, reject) => {
  const view = document.querySelector(".bench-text .nnl-text-view");
  let t0 = null;
  const onKey = () => { if (t0 === null) t0 = performance.now(); };
  document.addEventListener("keydown", onKey, true);
  const obs = new MutationObserver(() => {
    if (t0 === null) return;
    obs.disconnect(); document.removeEventListener("keydown", onKey, true);
    resolve(performance.now() - t0);
  });
  obs.observe(view, { attributes: true, attributeFilter: ["data-version"] });
  setTimeout(() => reject(new Error("no recolour within 30 s")), 30000);
}); }
"""


def summarise(ms):
    ms = sorted(ms)
    return statistics.median(ms), ms[min(len(ms) - 1, int(round(0.95 * (len(ms) - 1))))]


def key_moves(page, n):
    handle = page.locator(".bench-text .nnl-channel-slider .noUi-handle").first
    handle.scroll_into_view_if_needed()
    times = []
    for i in range(n):
        page.evaluate(_JS_WATCH)
        handle.focus()
        handle.press("ArrowRight" if i % 2 == 0 else "ArrowLeft")
        times.append(page.evaluate("() => window.__benchDone"))
    return times


def browser_recolour(moves):
    from playwright.sync_api import sync_playwright

    import labharness as harness

    notebook = "bench/text_neurons.ipynb"
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "root"
        harness.write_notebook(root / notebook, [SETUP])
        with harness.LabServer(root, work_dir=Path(tmp) / "server") as lab, sync_playwright() as pw:
            browser = harness.launch_browser(pw)
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            harness.open_notebook(page, lab, notebook)
            harness.run_all_cells(page, timeout=600, relpath=notebook)
            view = ".bench-text .nnl-text-view"
            page.wait_for_function(f"() => document.querySelector('{view}')?.dataset.version")
            spans = lambda: page.evaluate(f"() => document.querySelectorAll('{view} span').length")  # noqa: E731
            visible_spans = spans()
            first = key_moves(page, moves)
            # scroll through the whole text so that every block is laid out
            for fraction in [i / 20 for i in range(21)]:
                page.evaluate(f"() => {{ const v = document.querySelector('{view}'); "
                              f"v.scrollTop = {fraction} * (v.scrollHeight - v.clientHeight); }}")
                page.wait_for_timeout(30)  # let the IntersectionObserver fill the blocks in view
            all_spans = spans()
            full = key_moves(page, moves)
            browser.close()
    for label, n, ms in (("visible part laid out", visible_spans, first), ("whole text laid out", all_spans, full)):
        med, p95 = summarise(ms)
        print(f"cell slider key -> recoloured text, 20,000 characters, {label:22s} ({n:5d} spans): "
              f"median {med:6.1f} ms  p95 {p95:6.1f} ms  (n={len(ms)}, target <= 100 ms)")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--moves", type=int, default=20)
    ap.add_argument("--resnet-channels", type=int, default=512, help="channels of resnet18 layer4 to rank")
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--chars", type=int, default=20000)
    ap.add_argument("--no-browser", action="store_true")
    args = ap.parse_args(argv)
    import torchvision

    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; batch size {args.batch_size}")
    print("\nablation ranking: every channel alone, target = the predicted class's logit")
    torch.manual_seed(0)
    resnet = torchvision.models.resnet18(weights=None)
    ranking_case("resnet18 layer4 (random, 224x224)", resnet, torch.randn(3, 224, 224), "layer4",
                 list(range(args.resnet_channels)), args.batch_size)
    digits, data = nl.zoo.digits_cnn(), nl.zoo.digits_data()
    for layer, n in (("relu2", 32), ("relu3", 64)):
        ranking_case(f"digits_cnn {layer} (32x32)", digits, data.x_test[0], layer, list(range(n)), args.batch_size)
    print()
    threads = torch.get_num_threads()
    for n in sorted({threads, 1}, reverse=True):  # nn.LSTM's per-step parallel sections suffer most on a busy machine
        torch.set_num_threads(n)
        print(f"[{n} thread{'s' if n > 1 else ''}] ", end="")
        lstm_throughput(args.chars)
    torch.set_num_threads(threads)
    if not args.no_browser:
        print()
        browser_recolour(args.moves)


if __name__ == "__main__":
    main()

"""Sparse autoencoders on the zoo models: training time and quality, per-feature facts, result size.

1. ``nl.core.train_sae`` with its defaults on each zoo model's training
   images (digits CNN ``relu3``: 64 channels at 16x16; shapes CNN ``relu4``:
   64 at 8x8; shapes ViT's last block: 64 patch tokens of 64 numbers):
   wall time, steps, rows, held-out explained variance, L0, dead and dense
   features. Next to it, on the test images' rows, the autoencoder's
   explained variance and that of the best linear code of the same size
   (PCA with k components, fitted on training rows), for scale.
2. ``nl.core.feature_facts`` over the test images (top 16 images per
   feature with positions, densities, activation histograms, class facts)
   vs a plain loop that keeps every image's per-feature maximum in one
   ``(N, F)`` array and ranks at the end (memory grows with N; ours does
   not), timed alternately.
3. A 4,096-feature autoencoder of the shapes ViT: facts over the test
   images, their file size and the time to load it (what a feature browser
   reads when it opens on finished results).
4. ``nl.FeatureBrowser`` over that 4,096-feature autoencoder: open time
   from the finished facts file (first page drawn, then its model work done)
   next to opening it on the data with no facts (it scans first), and a
   feature page's latency over 20 features (what the facts draw at once,
   then with switching off and the gradient done).

    python benchmarks/sae.py [--threads 1] [--repeat 3] [--models digits,shapes,vit] [--steps N]

On a shared, loaded machine ``--threads 1`` gives steadier figures.
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

import nnlens_widgets as nl  # noqa: E402
from nnlens_widgets.core import probe  # noqa: E402
from nnlens_widgets.core.sae import FeatureFacts, feature_facts, measure  # noqa: E402


def zoo(name):
    """(model, layer, train images, test images, test labels)."""
    if name == "digits":
        d = nl.zoo.digits_data()
        return nl.zoo.digits_cnn(), "relu3", d.x_train, d.x_test, d.y_test
    s = nl.zoo.shapes_data()
    if name == "shapes":
        return nl.zoo.shapes_cnn(), "relu4", s.x_train, s.x_test, s.y_test
    return nl.zoo.shapes_vit(), "encoder.layers.encoder_layer_3", s.x_train, s.x_test, s.y_test


def layer_rows(model, sae, x, batch=200):
    """Every position's row of the autoencoder's layer for images ``x``: ``(N * P, D)``."""
    out = []
    for i in range(0, len(x), batch):
        with probe(model, sae.layer) as acts, torch.no_grad():
            model(x[i:i + batch])
        out.append(sae.positions.rows(acts[sae.layer]).reshape(-1, sae.dim))
    return torch.cat(out)


def pca_explained(train_rows, test_rows, k):
    """Explained variance on ``test_rows`` of the top-k principal components of ``train_rows``."""
    mean = train_rows.double().mean(0)
    _, _, v = torch.linalg.svd(train_rows.double() - mean, full_matrices=False)
    basis = v[:k]
    centred = test_rows.double() - mean
    recon = centred @ basis.T @ basis
    test_centred = test_rows.double() - test_rows.double().mean(0)
    return float(1 - (centred - recon).pow(2).sum() / test_centred.pow(2).sum())


def plain_facts(model, sae, x, n_top=16, batch=64):
    """The simple way: every image's per-feature maximum kept, ranked once at the end."""
    best = []
    for i in range(0, len(x), batch):
        with probe(model, sae.layer) as acts, torch.no_grad():
            model(x[i:i + batch])
        best.append(sae.encode(sae.positions.rows(acts[sae.layer])).max(1).values)
    values = torch.cat(best)  # (N, F)
    return torch.sort(values.T, dim=1, descending=True, stable=True).indices[:, :n_top]


def best_of(fn, repeat):
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def train_and_measure(name, steps, repeat):
    model, layer, x_train, x_test, y_test = zoo(name)
    t = time.perf_counter()
    sae = nl.core.train_sae(model, layer, x_train, steps=steps, seed=0)
    seconds = time.perf_counter() - t
    s, st = sae.settings, sae.stats
    print(f"\n{name}: {layer}, {s['rows']} training rows of {sae.dim} from {s['images']} images "
          f"({s['held_out_images']} held out), {sae.features} features, k={sae.k}")
    print(f"  training: {seconds:.1f} s, {st.steps} steps of {s['batch_size']} rows "
          f"({1000 * seconds / max(1, st.steps):.1f} ms/step incl. reading), {st.resampled} resampled")
    print(f"  held-out: explained variance {st.explained_variance:.4f}, L0 {st.l0:.2f}, "
          f"dead {st.dead}, dense (>{st.dense_threshold:.0%} of positions) {st.dense} of {sae.features}")
    test_rows = layer_rows(model, sae, x_test)
    train_rows = layer_rows(model, sae, x_train[:1000])
    ours = measure(sae, test_rows)
    print(f"  test images ({len(x_test)}, {len(test_rows)} rows): SAE explained variance "
          f"{ours.explained_variance:.4f} at L0 {ours.l0:.2f}, dead {ours.dead}; PCA with {sae.k} components "
          f"{pca_explained(train_rows, test_rows, sae.k):.4f}")
    facts = None

    def ours_facts():
        nonlocal facts
        facts = feature_facts(model, sae, x_test, n_top=16, labels=y_test)

    t_ours, t_plain = [], []
    for _ in range(repeat):
        t_ours.append(best_of(ours_facts, 1))
        t_plain.append(best_of(lambda: plain_facts(model, sae, x_test), 1))
    a, b = statistics.median(t_ours), statistics.median(t_plain)
    print(f"  facts over {len(x_test)} test images: {a:.2f} s ({len(x_test) / a:.0f} img/s); plain loop "
          f"keeping (N, F) maxima, top images only: {b:.2f} s; ratio plain/ours {b / a:.2f}")
    plain = plain_facts(model, sae, x_test)
    same = sum(int(torch.equal(facts.top(f)[0][:5], plain[f][:5]))
               for f in range(sae.features) if len(facts.top(f)[0]) >= 5)
    full = sum(1 for f in range(sae.features) if len(facts.top(f)[0]) >= 5)
    classes = {c: len(facts.fires_on_class(c, min_share=0.5, min_images=5)) for c in range(facts.classes)}
    print(f"  top-5 images agree with the plain loop for {same}/{full} features; features whose firing "
          f"images are mostly (mean probability >= 0.5) one class: {classes}")
    return sae


def wide_vit(steps, repeat):
    model, layer, x_train, x_test, y_test = zoo("vit")
    t = time.perf_counter()
    sae = nl.core.train_sae(model, layer, x_train, features=4096, k=8, steps=steps, seed=0)
    seconds = time.perf_counter() - t
    print(f"\nvit, 4096 features (k=8): training {seconds:.1f} s for {sae.stats.steps} steps; "
          f"{sae.stats.summary()}")
    t = time.perf_counter()
    facts = feature_facts(model, sae, x_test, n_top=16, labels=y_test)
    print(f"  facts over {len(x_test)} test images: {time.perf_counter() - t:.2f} s")
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "facts.pt"
        facts.save(path)
        size = path.stat().st_size
        load = best_of(lambda: FeatureFacts.load(path), repeat)
        sae_path = Path(folder) / "vit.sae"
        sae.save(sae_path)
        sae_load = best_of(lambda: nl.core.load_sae(sae_path, model, layer), repeat)
        print(f"  facts file {size / 2**20:.2f} MiB, loaded in {1000 * load:.1f} ms; autoencoder file "
              f"{sae_path.stat().st_size / 2**20:.2f} MiB, loaded and checked against the model in "
              f"{1000 * sae_load:.1f} ms (best of {repeat})")
        browser_timings(model, sae, x_test, path, repeat)


def browser_timings(model, sae, x_test, facts_path, repeat):
    """Open time of the feature browser from finished facts vs with its own scan; one feature page's latency."""
    labels = nl.zoo.SHAPE_CLASSES

    def open_browser(facts):
        t = time.perf_counter()
        browser = nl.FeatureBrowser(model, sae, x_test, facts=facts, labels=labels)
        drawn = time.perf_counter() - t
        browser.wait(600)
        done = time.perf_counter() - t
        return browser, drawn, done

    opened = []
    for _ in range(repeat):
        browser, drawn, done = open_browser(facts_path)
        opened.append((drawn, done))
        browser.close()
    scanned = []
    for _ in range(max(1, repeat // 2)):
        browser, _drawn, done = open_browser(None)
        scanned.append(done)
        browser.close()
    drawn, done = min(d for d, _ in opened), min(d for _, d in opened)
    print(f"  FeatureBrowser, {sae.features} features, {len(x_test)} images: opens from the facts file with its "
          f"first page drawn in {1000 * drawn:.0f} ms, the page's model work done at {1000 * done:.0f} ms "
          f"(best of {repeat}); opening on the data without facts (scanning first): {min(scanned):.2f} s; "
          f"ratio {min(scanned) / done:.1f}x")
    browser, _, _ = open_browser(facts_path)
    order = browser.facts.by_frequency()
    live = order[:int((browser.facts.image_counts > 0).sum())]
    picks = live[torch.linspace(0, len(live) - 1, 20).long()].tolist()
    at_once, full = [], []
    for f in picks:
        t = time.perf_counter()
        browser.feature = int(f)
        at_once.append(time.perf_counter() - t)
        browser.wait(60)
        full.append(time.perf_counter() - t)
    browser.close()
    ms = [1000 * statistics.median(at_once), 1000 * max(at_once), 1000 * statistics.median(full), 1000 * max(full)]
    print(f"  feature page over {len(picks)} live features: drawn from the facts in {ms[0]:.1f} ms median "
          f"({ms[1]:.1f} max), with switching off and the gradient done in {ms[2]:.1f} ms median ({ms[3]:.1f} max)")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--models", default="digits,shapes,vit")
    ap.add_argument("--steps", type=int, default=None, help="training steps (default: train_sae's)")
    ap.add_argument("--wide-steps", type=int, default=600,
                    help="steps of the 4,096-feature run and its browser timings (0: skip them)")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} CPU threads")
    for name in args.models.split(","):
        train_and_measure(name.strip(), args.steps, args.repeat)
    if args.wide_steps:
        wide_vit(args.wide_steps, args.repeat)  # with the browser timings


if __name__ == "__main__":
    main()

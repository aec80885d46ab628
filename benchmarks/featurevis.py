"""Feature visualisation speed, side by side with lucent, plus widget and scan timings.

1. Optimisation steps per second, ours (``nl.core.feature_vis``) vs lucent
   (``torch-lucent``'s ``render_vis``) at identical settings: same image size,
   Fourier basis with 1/f scaling (decorrelated colour for RGB), Adam lr 0.05,
   lucent's standard transforms (pad 12, jitter 8, scale 0.90-1.10, rotate
   +-10 deg, jitter 4), and for torchvision's resnet18 (random weights)
   ImageNet normalisation and enlargement of the 128 px image to 224 px.
   The digits model gets the same unscaled transforms and is fed 32 px.
   Differences that remain: lucent's jitter is a translation (kornia warp),
   ours a random crop (lucid's original); lucent hooks every module and
   back-propagates into the weights too, ours reads only the objective's
   layers, stops the forward pass after them and differentiates with respect
   to the image only.
2. Time to the first streamed image in ``FeatureVisualizer``: from
   ``refresh()`` until the first optimised frame has been handed to the
   canvas (kernel side; the browser draws it a few ms later, see
   benchmarks/latency.py). The first frame comes after one step, so the
   widget's pace (a run spread over ``seconds``) does not delay it.
3. ``top_examples`` throughput (images/s) vs a plain loop with a forward hook
   that keeps every image's per-channel maximum and takes the top k at the
   end.

    python benchmarks/featurevis.py [--steps 10] [--repeats 3]
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
import warnings
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import torch  # noqa: E402

import nnlens_widgets as nl  # noqa: E402
from nnlens_widgets.core import featurevis as fv  # noqa: E402
from nnlens_widgets.core.featurevis.transforms import ResizeTo, standard_transforms  # noqa: E402


def timed(fn, repeats):
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def side_by_side(a, b, repeats):
    """Median times of ``a`` and ``b``, run alternately so machine noise hits both alike."""
    ta, tb = [], []
    for _ in range(repeats):
        ta.append(timed(a, 1))
        tb.append(timed(b, 1))
    return statistics.median(ta), statistics.median(tb)


def lucent_run(model, layer, unit, size, channels, steps, imagenet):
    from lucent.optvis import param, render

    def run():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            render.render_vis(
                model, f"{layer}:{unit}",
                param_f=lambda: param.image(size, channels=None if channels == 3 else channels),
                thresholds=(steps,), show_image=False, progress=False, preprocess=imagenet,
                fixed_image_size=None if imagenet else size,
            )
        model.zero_grad(set_to_none=True)  # lucent leaves gradients in the model

    return run


def ours_run(model, layer, unit, size, steps, imagenet):
    if imagenet:  # the defaults for a torchvision model are lucent's settings
        kwargs = {}
    else:  # lucent's unscaled transforms, the image fed at its own size
        kwargs = dict(transforms=standard_transforms(128, "constant") + [ResizeTo((size, size))],
                      normalize=None, resize_to=None)

    def run():
        fv.optimize_image(model, fv.channel(layer, unit), steps=steps, every=steps, input_size=size, **kwargs)

    return run


def steps_per_second(args):
    import torchvision

    print(f"\n== optimisation steps per second (median of {args.repeats} alternating runs) ==")
    print(f"{'case':34s} {'ours':>9s} {'lucent':>9s} {'ours/lucent':>12s}")
    resnet = torchvision.models.resnet18(weights=None).eval()
    digits = nl.zoo.digits_cnn()
    cases = [("resnet18 layer1 @128->224", resnet, "layer1", 5, 128, 3, True),
             ("resnet18 layer3 @128->224", resnet, "layer3", 5, 128, 3, True),
             ("resnet18 layer4 @128->224", resnet, "layer4", 5, 128, 3, True),
             ("digits relu3 @32 (1 channel)", digits, "relu3", 3, 32, 1, False)]
    shapes = _shapes_model()
    if shapes is not None:
        cases.append(("shapes (last conv layer) @64", shapes[0], shapes[1], 3, 64, 3, False))
    for name, model, layer, unit, size, ch, imagenet in cases:
        steps = args.steps if imagenet else 5 * args.steps  # small models: more steps per timing
        ours = ours_run(model, layer, unit, size, steps, imagenet)
        theirs = lucent_run(model, layer, unit, size, ch, steps, imagenet)
        ours(), theirs()  # warm up
        t_ours, t_lucent = side_by_side(ours, theirs, args.repeats)
        print(f"{name:34s} {steps / t_ours:9.1f} {steps / t_lucent:9.1f} {t_lucent / t_ours:11.2f}x")


def _shapes_model():
    weights = REPO / "nnlens_widgets" / "zoo" / "weights" / "shapes_cnn.pt"
    if not weights.exists() or not hasattr(nl.zoo, "shapes_cnn"):
        print("(shapes model weights not found: shapes case skipped)")
        return None
    model = nl.zoo.shapes_cnn()
    convs = [n for n, m in model.named_modules() if isinstance(m, torch.nn.Conv2d)]
    return model, convs[-1]


def first_image(args):
    import torchvision

    print("\n== FeatureVisualizer: refresh() -> first optimised frame on the canvas (kernel side) ==")
    digits = nl.zoo.digits_cnn()
    x = nl.zoo.digits_data().x_test
    resnet = torchvision.models.resnet18(weights=None).eval()
    cases = [("digits relu3, 32 px", lambda: nl.FeatureVisualizer(digits, layer="relu3", input_size=32,
                                                                   autorun=False)),
             ("digits relu3, 32 px, new widget + 450-image scan", None),
             ("resnet18 layer3, 128 px", lambda: nl.FeatureVisualizer(resnet, layer="layer3", autorun=False))]
    for name, make in cases:
        times = []
        for _ in range(args.repeats):
            if make is None:  # construction, the layer's scan of the data, then the first frame
                t0 = time.perf_counter()
                w = nl.FeatureVisualizer(digits, layer="relu3", data=x)
            else:
                w = make()
                t0 = time.perf_counter()
                w.refresh()
            deadline = t0 + 120
            while w.frames_streamed == 0 and time.perf_counter() < deadline:
                time.sleep(0.001)
            times.append(time.perf_counter() - t0)
            w.stop()
            w.wait(60)
            w.close()
        print(f"{name:50s} median {1000 * statistics.median(times):7.0f} ms  (max {1000 * max(times):.0f} ms)")


def plain_top_k(model, data, layer, k, batch_size):
    """What one would write by hand: hook, keep every image's channel maxima, top-k at the end."""
    module = nl.core.get_module(model, layer)
    maxima = []
    handle = module.register_forward_hook(lambda _m, _i, out: maxima.append(out.flatten(2).max(2).values))
    try:
        with torch.no_grad():
            for i in range(0, len(data), batch_size):
                model(data[i:i + batch_size])
    finally:
        handle.remove()
    return torch.cat(maxima).topk(k, dim=0)


def scan_throughput(args):
    print("\n== top_examples throughput (images/s), all channels, k=9 ==")
    digits = nl.zoo.digits_cnn()
    d = nl.zoo.digits_data()
    data = torch.cat([d.x_train, d.x_test] * 3)  # 5,391 images
    for layer in ("relu1", "relu3"):
        ours, plain = side_by_side(lambda: nl.core.top_examples(digits, data, layer, k=9, batch_size=256),
                                   lambda: plain_top_k(digits, data, layer, 9, 256), args.repeats)
        check = nl.core.top_examples(digits, data, layer, k=9, batch_size=256)
        agree = torch.allclose(check.top_values.T, plain_top_k(digits, data, layer, 9, 256).values)
        print(f"digits {layer:6s} {len(data)} images: ours {len(data) / ours:8.0f}/s  plain hook loop "
              f"{len(data) / plain:8.0f}/s  ratio {plain / ours:.2f}x  (same top-9 values: {agree}; ours also "
              f"keeps locations, bottom-k, bounded memory)")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=10, help="steps per timing on resnet18 (5x on small models)")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    import lucent

    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; lucent {getattr(lucent, '__version__', '0.1.8')}")
    steps_per_second(args)
    first_image(args)
    scan_throughput(args)


if __name__ == "__main__":
    main()

"""The pointing game and deletion for every attribution method: the shapes ViT next to the shapes CNN.

On ``make_shapes(--images, seed=321)`` (held-out images, each with its
shape's exact mask) every map explains the true class; a hit is its
maximum within 3 px of the shape (``core.pointing_hit``). The same map,
reduced to one value per pixel the same way, orders the pixels for
deletion (``core.metrics.deletion_curve``: most salient first set to 0,
``--deletion-steps`` steps, the true class's probability; the area under
the curve, lower is better; 0 skips it). Methods: every
registered attribution method (``core.attribution.METHODS``, parameters at
their registered defaults except LIME's sample count), occlusion (8 px window, stride
4, zero baseline) and, for the transformer, attention rollout and Chefer et
al.'s relevance. Channels are combined as each method is usually shown:
magnitude ("absolute") for plain and guided gradients, the positive part of
the channel sum for the rest. The last row is chance: the fraction of the
image the grown masks cover.

    python benchmarks/pointing.py [--images 100] [--lime-samples 300] [--models both|vit|cnn] [--threads N]
                                  [--deletion-steps 16]
"""
from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import nnlens_widgets as nl  # noqa: E402
from nnlens_widgets.core.attribution import METHODS  # noqa: E402

warnings.filterwarnings("ignore")

TOLERANCE = 3
#: how a method's channels become one map (see ``core.pointing``)
REDUCE = {"gradient": "absolute", "guided_backprop": "absolute", "deconvnet": "absolute", "smoothgrad": "absolute",
          "guided_grad_cam": "absolute"}


def methods(lime_samples: int):
    """(name, f(model, x, target), reduce, transformer only)."""
    out = []
    for name, spec in METHODS.items():
        options = {**spec.defaults(), **({"samples": lime_samples} if name == "lime" else {})}
        out.append((spec.title, lambda m, x, t, f=spec.function, o=options: f(m, x, target=t, **o),
                    REDUCE.get(name, "positive"), False))
    # a fixed batch: the automatic one measures speed batch by batch and settles low on a busy CPU
    out.append(("Occlusion 8 px / 4", lambda m, x, t: nl.core.occlusion(m, x, t, 8, 4, 0.0, batch_size=64)[None],
                "positive", False))
    out.append(("Attention rollout", lambda m, x, t: nl.core.attention_rollout(m, x), "positive", True))
    out.append(("Chefer relevance", lambda m, x, t: nl.core.transformer_attribution(m, x, t), "positive", True))
    return out


def saliency(result, reduce: str) -> torch.Tensor:
    """(1, 1, H, W): one value per pixel, channels combined as for the pointing game."""
    m = nl.core.pixel_map(result).detach().float()[0]
    one = m.sum(0).clamp(min=0) if reduce == "positive" else m.abs().amax(0)
    return one[None, None]


def scores(model, data, fn, reduce: str, deletion_steps: int):
    """(pointing-game hit rate, mean deletion AUC or nan) of one method on ``data``."""
    hits, aucs = [], []
    for x, label, mask in zip(data.images, data.labels, data.masks):
        result = fn(model, x, int(label))
        hits.append(nl.core.pointing_hit(result, mask, TOLERANCE, reduce))
        if deletion_steps:
            curve = nl.core.metrics.deletion_curve(model, x, saliency(result, reduce), int(label), deletion_steps)
            aucs.append(curve.auc)
    return float(np.mean(hits)), float(np.mean(aucs)) if aucs else float("nan")


def chance(masks: torch.Tensor) -> float:
    from scipy.ndimage import binary_dilation

    return float(np.mean([binary_dilation(m.numpy(), iterations=TOLERANCE).mean() for m in masks]))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=100)
    ap.add_argument("--lime-samples", type=int, default=300)
    ap.add_argument("--models", choices=("both", "vit", "cnn"), default="both")
    ap.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    ap.add_argument("--deletion-steps", type=int, default=16, help="deletion curve steps (0: pointing game only)")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    data = nl.zoo.make_shapes(args.images, seed=321)
    models = {"ViT": nl.zoo.shapes_vit if args.models in ("both", "vit") else None,
              "CNN": nl.zoo.shapes_cnn if args.models in ("both", "cnn") else None}
    models = {name: load() for name, load in models.items() if load is not None}
    print(f"torch {torch.__version__}, {torch.get_num_threads()} CPU threads; {args.images} held-out shapes "
          f"images, true class, hit = maximum within {TOLERANCE} px of the shape")
    for name, model in models.items():
        print(f"{name} accuracy on these images: {nl.zoo.shapes.accuracy(model, data.images, data.labels):.3f}")
    print(f"\n{'':<24} {'pointing':>13}   {'deletion AUC':>13}")
    print(f"{'method':<24} {'ViT':>6} {'CNN':>6}   {'ViT':>6} {'CNN':>6}   seconds (ViT, CNN)", flush=True)
    for title, fn, reduce, vit_only in methods(args.lime_samples):
        points, deletions, seconds = [], [], []
        for name in ("ViT", "CNN"):
            model = models.get(name)
            if model is None or (vit_only and name != "ViT"):
                points.append(float("nan"))
                deletions.append(float("nan"))
                seconds.append(0.0)
                continue
            t = time.perf_counter()
            hit_rate, deletion = scores(model, data, fn, reduce, args.deletion_steps)
            points.append(hit_rate)
            deletions.append(deletion)
            seconds.append(time.perf_counter() - t)
        shown = ["     -" if np.isnan(s) else f"{s:6.2f}" for s in points + deletions]
        print(f"{title:<24} {shown[0]} {shown[1]}   {shown[2]} {shown[3]}   ({seconds[0]:.0f} s, {seconds[1]:.0f} s)",
              flush=True)
    print(f"{'chance (mask area)':<24} {chance(data.masks):6.2f} {chance(data.masks):6.2f}")


if __name__ == "__main__":
    main()

"""Vision transformers: speed against the usual tools, and the pointing game on the shapes.

``--part speed`` (CPU, side by side in one run): torchvision ``vit_b_16``
(random weights, no download) at 224x224, 12 blocks of 12 heads over
1 + 14x14 tokens:

- Grad-CAM on the last block's ``ln_1``: ours vs pytorch-grad-cam with its
  documented ``reshape_transform``;
- attention capture of all 12 layers: ours (a pre-hook recomputes the
  probabilities from the layer's input and ``in_proj`` weights) vs the
  hand-written hook loop a user would write for a model that calls its
  attention with ``need_weights=False`` (each layer called again with
  ``need_weights=True``);
- attention rollout: ours vs that hook loop followed by the rollout formula.

Times are the best of ``--repeat`` runs, ours and theirs alternating; a ratio
is ours / theirs (below 1: we are faster). Nothing is asserted.

``--part pointing``: the pointing game (the map's maximum within 3 px of the
shape) on the same held-out shapes images for ``zoo.shapes_vit`` (Grad-CAM on
the last block, attention rollout, Chefer relevance, gradient, integrated
gradients, occlusion) and ``zoo.shapes_cnn`` (Grad-CAM, gradient, integrated
gradients, occlusion), each map explaining the true class.

    python benchmarks/vit.py [--part speed|pointing|all] [--repeat 3] [--images 100] [--threads N]
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
sys.path.insert(0, str(REPO / "benchmarks"))

from timing import paired_best as _pair  # noqa: E402

import nnlens_widgets as nl  # noqa: E402

warnings.filterwarnings("ignore")




def _vit_b_16():
    import torchvision

    torch.manual_seed(0)
    model = torchvision.models.vit_b_16(weights=None).eval()
    with torch.no_grad():  # torchvision starts the head at zero: no gradient would reach the blocks
        model.heads.head.weight.normal_(0, 0.02)
    return model


def hand_attention(model, x):
    """The hook loop a user writes: call each attention layer again asking for its weights."""
    maps = []

    def hook(module, args, _output):
        q = args[0]
        _, w = module.forward(q, q, q, need_weights=True, average_attn_weights=False)  # forward(): no hooks again
        maps.append(w[0])

    handles = [b.self_attention.register_forward_hook(hook) for b in model.encoder.layers]
    try:
        with torch.no_grad():
            model(x)
    finally:
        for h in handles:
            h.remove()
    return maps


def hand_rollout(model, x):
    result = None
    for a in hand_attention(model, x):
        step = 0.5 * a.mean(0) + 0.5 * torch.eye(a.shape[-1])
        step = step / step.sum(-1, keepdim=True)
        result = step if result is None else step @ result
    return result[0, 1:].reshape(14, 14)


def speed(repeat):
    from pytorch_grad_cam import GradCAM
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

    model = _vit_b_16()
    x = torch.rand(1, 3, 224, 224, generator=torch.Generator().manual_seed(0))
    layer = "encoder.layers.encoder_layer_11.ln_1"
    with torch.no_grad():
        ranked = model(x)[0].argsort(descending=True).tolist()
    # random weights: take the highest-scoring class whose map has a positive part (a ReLU'd
    # all-negative map is all zeros, in both tools, and compares nothing)
    target = next(c for c in ranked if nl.core.grad_cam(model, x, c, layer=layer, relu=False).layer_map.max() > 0)

    def reshape(t):
        return t[:, 1:, :].reshape(t.size(0), 14, 14, t.size(2)).permute(0, 3, 1, 2)

    def pgc():
        with GradCAM(model=model, target_layers=[model.encoder.layers[-1].ln_1], reshape_transform=reshape) as cam:
            return cam(input_tensor=x, targets=[ClassifierOutputTarget(target)])

    # the same answers first, then the times
    ours_maps, theirs_maps = nl.core.attention_maps(model, x), hand_attention(model, x)
    err = max(float((a - b).abs().max()) for a, b in zip(ours_maps.values(), theirs_maps))
    roll = nl.core.attention_rollout(model, x).patch_map[0, 0]
    roll_err = float((roll - hand_rollout(model, x)).abs().max())
    cam = nl.core.grad_cam(model, x, target, layer=layer).layer_map[0, 0].numpy()
    corr = float(np.corrcoef(_scaled(cam, 224).ravel(), pgc()[0].ravel())[0, 1])
    rows = [
        ("Grad-CAM (last block ln_1)", "pytorch-grad-cam", *_pair(
            lambda: nl.core.grad_cam(model, x, target, layer=layer), pgc, repeat), f"map correlation {corr:.5f}"),
        ("attention capture, 12 layers", "hand hook loop", *_pair(
            lambda: nl.core.attention_maps(model, x), lambda: hand_attention(model, x), repeat),
         f"max |difference| {err:.1e}"),
        ("attention rollout", "hand hook loop", *_pair(
            lambda: nl.core.attention_rollout(model, x), lambda: hand_rollout(model, x), repeat),
         f"max |difference| {roll_err:.1e}"),
    ]
    print(f"{'vit_b_16 224px':<30} {'vs':<17} {'ours s':>8} {'theirs s':>9} {'ratio':>6}  note")
    for method, ref, ours, theirs, note in rows:
        print(f"{method:<30} {ref:<17} {ours:8.3f} {theirs:9.3f} {ours / theirs:6.2f}  {note}", flush=True)


def _scaled(low, size):
    """pytorch-grad-cam's presentation: min-max scale, OpenCV bilinear resize, scale again."""
    import cv2

    def scale(m):
        m = m - m.min()
        return m / (1e-7 + m.max())

    return scale(cv2.resize(scale(low).astype(np.float32), (size, size)))


def pointing_methods():
    """(model name, method name, f(model, x, target), reduce) for the pointing game."""
    window = dict(window=8, stride=4, baseline=0.0)
    common = [
        ("gradient", lambda m, x, t: nl.core.gradient(m, x, t), "absolute"),
        ("integrated gradients", lambda m, x, t: nl.core.integrated_gradients(m, x, t, steps=32), "positive"),
        ("occlusion 8px/4", lambda m, x, t: nl.core.occlusion(m, x, t, **window)[None], "positive"),
    ]
    vit = [
        ("Grad-CAM (last block ln_1)", lambda m, x, t: nl.core.grad_cam(m, x, t), "positive"),
        ("attention rollout", lambda m, x, t: nl.core.attention_rollout(m, x), "positive"),
        ("Chefer relevance", lambda m, x, t: nl.core.transformer_attribution(m, x, t), "positive"),
    ] + common
    cnn = [("Grad-CAM (relu4)", lambda m, x, t: nl.core.grad_cam(m, x, t), "positive")] + common
    return [("shapes_vit", *row) for row in vit] + [("shapes_cnn", *row) for row in cnn]


def pointing_table(images: int = 100, seed: int = 321, tolerance: int = 3):
    """[(model, method, pointing game, seconds)] on ``make_shapes(images, seed)``, true classes."""
    from scipy.ndimage import binary_dilation

    data = nl.zoo.make_shapes(images, seed=seed)
    models = {"shapes_vit": nl.zoo.shapes_vit(), "shapes_cnn": nl.zoo.shapes_cnn()}
    chance = float(np.mean([binary_dilation(m.numpy(), iterations=tolerance).mean() for m in data.masks]))
    rows = []
    for name, model in models.items():
        acc = nl.zoo.shapes.accuracy(model, data.images, data.labels)
        rows.append((name, f"(accuracy on these images {acc:.3f})", float("nan"), 0.0))
    for model_name, method, fn, reduce in pointing_methods():
        t = time.perf_counter()
        score = nl.core.pointing_game(models[model_name], data.images, data.labels, data.masks, fn, tolerance, reduce)
        rows.append((model_name, method, score, time.perf_counter() - t))
        print(f"{model_name:<11} {method:<28} {score:6.3f}  ({rows[-1][3]:.0f} s)", flush=True)
    rows.append(("any", "a random pixel (the grown shapes' area)", chance, 0.0))
    return rows


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--part", choices=("speed", "pointing", "all"), default="all")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--images", type=int, default=100)
    ap.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} CPU threads", flush=True)
    if args.part in ("speed", "all"):
        speed(args.repeat)
    if args.part in ("pointing", "all"):
        print(f"\npointing game, {args.images} held-out shapes images, tolerance 3 px, true class")
        rows = pointing_table(args.images)
        print(f"\n{'model':<11} {'method':<28} {'pointing':>8}")
        for model, method, score, _ in rows:
            print(f"{model:<11} {method:<28} {'' if np.isnan(score) else f'{score:8.3f}'}")


if __name__ == "__main__":
    main()

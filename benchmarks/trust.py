"""Faithfulness metrics: agreement with the reference libraries, checks of the checks, and ROAD speed.

Three parts, all measured in one run on the CPU:

- ``agreement``: for every metric x convention with a reference library,
  the largest difference to it (curve values and scores) over the test
  cases (a model with BatchNorm and one without, several maps and options):
  Quantus 0.6 for pixel flipping, region perturbation, selectivity,
  faithfulness correlation, ROAD (one-channel images: Quantus fails on three)
  and EfficientMPRT; pytorch-grad-cam 1.5.7 ROAD with its imputer's noise 0.
- ``checks``: the blur confound (does a metric score the map blurred with
  sigma 2 or 4 px at 224 px better by more than 5%?) and metric sanity (does
  it move at least twice as far for a randomised model as for a slightly
  noised input?) for gradient, guided backprop, integrated gradients,
  Grad-CAM and LIME on the zoo's shapes and digits models, over ``--images``
  test images each.
- ``road``: ROAD with 9 percentiles at 224 px on torchvision's resnet18
  (random weights): ours vs pytorch-grad-cam (ROAD...Average and ROADCombined)
  and vs Quantus's ROAD (on a one-channel resnet18, since Quantus's ROAD
  fails on three channels), on a Grad-CAM map (smooth) and a gradient map
  (noisy). Times are the best of ``--repeat`` runs, ours and theirs
  alternating; a ratio is ours / theirs (below 1: we are faster).

    python benchmarks/trust.py [--only agreement,checks,road] [--images 3] [--repeat 2] [--threads N]
"""
from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from timing import paired_best  # noqa: E402

import nnlens_widgets as nl  # noqa: E402
from nnlens_widgets.core import efficient_mprt, faithfulness  # noqa: E402
from tests.core import faithfulness_references as ref  # noqa: E402

warnings.filterwarnings("ignore")
PERCENTILES = [10, 20, 30, 40, 50, 60, 70, 80, 90]
METHODS = ("gradient", "guided_backprop", "integrated_gradients", "grad_cam", "lime")
CHECKED = (("deletion", "nnlens", {"steps": 32}), ("insertion", "nnlens", {"steps": 32}),
           ("road_combined", "nnlens", {}), ("selectivity", "quantus", {"patch_size": 8}))


# -- agreement ---------------------------------------------------------------
def _gap(ours, theirs) -> float:
    return float(np.abs(np.asarray(ours, dtype=np.float64) - np.asarray(theirs, dtype=np.float64)).max())


def agreement_cases():
    """(metric, convention, reference, curve gap or None, score gap) for every case."""
    for name in sorted(ref.MODELS):
        model, x, a, t = ref.case(name, size=6)
        for amap, step in ((a, 1), (nl.core.gradient(model, x, target=t), 4)):
            r = faithfulness(model, x, amap, t, "pixel_flipping", "quantus", features_in_step=step)
            theirs = ref.quantus_curve("pixel_flipping", model, x, amap, t, features_in_step=step)
            yield "pixel_flipping", "quantus", "Quantus", _gap(r.curve, theirs), abs(r.score - np.trapezoid(theirs))
        model, x, a, t = ref.case(name, seed=1)
        for order, patch, regions in (("morf", 8, 100), ("lerf", 5, 4), ("morf", 4, 6)):
            o = dict(patch_size=patch, order=order, regions_evaluation=regions)
            r = faithfulness(model, x, a, t, "region_perturbation", "quantus", **o)
            theirs = ref.quantus_curve("region_perturbation", model, x, a, t, **o)
            yield ("region_perturbation", "quantus", "Quantus", _gap(r.curve, theirs),
                   abs(r.score - np.trapezoid(theirs)))
        for patch in (8, 5):
            r = faithfulness(model, x, a, t, "selectivity", "quantus", patch_size=patch)
            theirs = ref.quantus_curve("selectivity", model, x, a, t, patch_size=patch)
            yield "selectivity", "quantus", "Quantus", _gap(r.curve, theirs), abs(r.score - np.trapezoid(theirs))
        for seed in (5, 6):
            theirs, subsets = ref.quantus_faithfulness_correlation(model, x, a, t, seed, 30, 40)
            r = faithfulness(model, x, a, t, "faithfulness_correlation", "quantus", nr_runs=30, subset_size=40,
                             subsets=subsets)
            yield "faithfulness_correlation", "quantus", "Quantus", None, abs(r.score - theirs)
        cam = torch.rand(ref.SIZE, ref.SIZE, generator=torch.Generator().manual_seed(9)).numpy()
        for kind, kw in (("morf", dict(percentile=80)), ("morf", dict(percentiles=[10, 40, 70])),
                         ("lerf", dict(percentile=20)), ("lerf", dict(percentiles=[30, 60, 90])),
                         ("combined", dict(percentiles=PERCENTILES))):
            for output in ("logits", "softmax"):
                r = faithfulness(model, x, cam, t, f"road_{kind}", "grad-cam", noise=0.0, output=output, **kw)
                theirs = ref.gradcam_road(kind, model, x, cam, t, output=output, **kw)
                yield f"road_{kind}", "grad-cam", "pytorch-grad-cam", None, abs(r.score - theirs)
        for method in ("gradient", "guided_backprop"):
            fn = nl.core.METHODS[method].function
            theirs = ref.quantus_efficient_mprt(model, x, t, lambda model, inputs, targets, **_: fn(
                model, torch.as_tensor(inputs), target=int(targets[0])).numpy())
            yield "efficient_mprt", "quantus", "Quantus", None, abs(efficient_mprt(model, x, method, t).score - theirs)
    digits, dx = nl.zoo.digits_cnn(), nl.zoo.digits_data().x_test[:3]
    one_channel = [(digits, dx[i:i + 1]) for i in range(3)] + [ref.case("batchnorm", in_ch=1, seed=4)[:2]]
    for model, x in one_channel:
        t = int(model(x).argmax())
        a = nl.core.gradient(model, x, target=t)
        r = faithfulness(model, x, a, t, "road_morf", "quantus", percentages=[5, 20, 45, 70, 95], noise=0.0)
        theirs = ref.quantus_curve("road_morf", model, x, a, t, percentages=[5, 20, 45, 70, 95], noise=0.0)
        yield "road_morf", "quantus", "Quantus (1 channel)", _gap(r.curve, theirs), abs(r.score - theirs.mean())


def agreement():
    table = {}
    for metric, convention, reference, curve, score in agreement_cases():
        row = table.setdefault((metric, convention), [reference, 0, 0.0, 0.0])
        row[1] += 1
        row[2] = max(row[2], curve) if curve is not None else None
        row[3] = max(row[3], score)
    print(f"{'metric':<25} {'convention':<10} {'reference':<20} {'cases':>5} {'max |d curve|':>14} "
          f"{'max |d score|':>14}")
    for (metric, convention), (reference, n, curve, score) in table.items():
        curve_text = "-" if curve is None else f"{curve:.2e}"
        print(f"{metric:<25} {convention:<10} {reference:<20} {n:>5} {curve_text:>14} {score:14.2e}")
    for metric in ("deletion", "insertion", "road_morf", "road_lerf", "road_combined"):
        print(f"{metric:<25} {'nnlens':<10} {'(ours: no reference)':<20}")


# -- checks of the checks ------------------------------------------------------
def _zoo(images: int):
    shapes = nl.zoo.shapes_data(n_train=10, n_test=max(images, 1)).x_test[:images]
    return (("shapes_cnn", nl.zoo.shapes_cnn(), shapes), ("digits_cnn", nl.zoo.digits_cnn(),
                                                          nl.zoo.digits_data().x_test[:images]))


def checks(images: int):
    from nnlens_widgets.core import blur_confound, metric_sanity

    options = {m: o for m, _, o in CHECKED}
    head = " ".join(f"{m[:9] + '/' + c[:2]:>22}" for m, c, _ in CHECKED)
    print(f"blur: metrics that score the blurred map >5% better (images flagged / images, largest preference);\n"
          f"sanity: images where the randomised model moved the score >= 2x the noise\n"
          f"{'model':<11} {'method':<21} {'check':<7} {head}")
    for name, model, data in _zoo(images):
        for method in METHODS:
            fn = nl.core.METHODS[method].function
            kwargs = {"samples": 300} if method == "lime" else {}
            blur = {m: [] for m, _, _ in CHECKED}
            sane = {m: [] for m, _, _ in CHECKED}
            for i in range(len(data)):
                x = data[i:i + 1]
                t = int(model(x).argmax())
                a = fn(model, x, target=t, **kwargs)
                for metric, convention, _ in CHECKED:
                    b = blur_confound(model, x, a, t, (metric,), convention, metric_options=options).checks[0]
                    blur[metric].append(b)
                    s = metric_sanity(model, x, method, t, (metric,), convention, attribution=a,
                                      metric_options=options, **kwargs).checks[0]
                    sane[metric].append(s)
            cells = [f"{sum(b.flagged for b in blur[m])}/{len(data)} ({100 * max(b.preference for b in blur[m]):+.0f}%)"
                     for m, _, _ in CHECKED]
            print(f"{name:<11} {method:<21} {'blur':<7} " + " ".join(f"{c:>22}" for c in cells), flush=True)
            cells = [f"{sum(s.told_apart for s in sane[m])}/{len(data)} told apart" for m, _, _ in CHECKED]
            print(f"{'':<11} {'':<21} {'sanity':<7} " + " ".join(f"{c:>22}" for c in cells), flush=True)


# -- ROAD speed --------------------------------------------------------------------
def _resnet18(channels: int):
    import torchvision

    model = torchvision.models.resnet18(weights=None).eval()  # random weights: only the time matters
    if channels == 1:
        model.conv1 = torch.nn.Conv2d(1, 64, 7, 2, 3, bias=False)
    return model.eval()


def road(repeat: int):
    import quantus
    from pytorch_grad_cam.metrics.road import ROADCombined, ROADMostRelevantFirstAverage
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

    g = torch.Generator().manual_seed(0)
    print(f"{'ROAD, 9 percentiles, 224 px':<56} {'map':<9} {'ours s':>8} {'theirs s':>9} {'ratio':>6}")
    for channels, reference in ((3, "pytorch-grad-cam"), (1, "Quantus")):
        model = _resnet18(channels)
        x = torch.rand(1, channels, 224, 224, generator=g)
        t = int(model(x).argmax())
        maps = {"Grad-CAM": nl.core.grad_cam(model, x, t, layer="layer4").upsampled[0, 0].detach().numpy(),
                "gradient": nl.core.gradient(model, x, t)[0].sum(0).abs().numpy()}
        for kind, cam in maps.items():
            cam = (cam - cam.min()) / (cam.max() - cam.min())
            if reference == "Quantus":
                qroad = quantus.ROAD(percentages=PERCENTILES, disable_warnings=True)
                runs = [("MoRF (Quantus ROAD)", lambda: faithfulness(model, x, cam, t, "road_morf", "quantus",
                                                                     percentages=PERCENTILES),
                         lambda: qroad(model, x.numpy(), np.array([t]), a_batch=cam[None, None], device="cpu"))]
            else:
                targets = [ClassifierOutputTarget(t)]
                runs = [("MoRF (ROADMostRelevantFirstAverage)",
                         lambda: faithfulness(model, x, cam, t, "road_morf", "grad-cam", percentiles=PERCENTILES),
                         lambda: ROADMostRelevantFirstAverage(PERCENTILES)(x, cam[None], targets, model)),
                        ("combined (ROADCombined)",
                         lambda: faithfulness(model, x, cam, t, "road_combined", "grad-cam", percentiles=PERCENTILES),
                         lambda: ROADCombined(PERCENTILES)(x, cam[None], targets, model))]
            for label, ours, theirs in runs:
                t_ours, t_theirs = paired_best(ours, theirs, repeat)
                print(f"{label + ' vs ' + reference:<56} {kind:<9} {t_ours:8.2f} {t_theirs:9.2f} "
                      f"{t_ours / t_theirs:6.2f}", flush=True)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--only", default="agreement,checks,road")
    p.add_argument("--images", type=int, default=3)
    p.add_argument("--repeat", type=int, default=2)
    p.add_argument("--threads", type=int, default=None)
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    parts = args.only.split(",")
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    if "agreement" in parts:
        print("\n== agreement with the reference libraries ==")
        agreement()
    if "checks" in parts:
        print(f"\n== checks of the checks, {args.images} test image(s) per model ==")
        checks(args.images)
    if "road" in parts:
        print(f"\n== ROAD speed, best of {args.repeat} ==")
        road(args.repeat)


if __name__ == "__main__":
    main()

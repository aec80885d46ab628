"""Attribution speed, side by side in one run on the CPU: ours vs the usual tools.

Models: torchvision's resnet18 at 224x224 (random weights, offline) and the
zoo's ``shapes_cnn`` (64x64). For each method the same work is done by both:

- Integrated Gradients, 50 steps, Gauss-Legendre: ours vs Captum
  ``IntegratedGradients``, each at its best batch size (``batch_size`` /
  ``internal_batch_size`` from a small sweep);
- SmoothGrad over the plain gradient, the same number of samples: ours vs
  Captum ``NoiseTunnel(Saliency)``, each at its best batch size;
- Saliency (gradient) and guided backprop: ours vs Captum;
- Grad-CAM on the last spatial layer: ours vs pytorch-grad-cam;
- LIME at 1000 samples, quickshift superpixels: ours (batched model
  evaluation, best of a small batch-size sweep) vs the ``lime`` package (its
  default batch size 10).

Then LIME that stops when it is sure: ours with ``samples="auto"`` (rounds
of 100, stop when the top 5 superpixels are the same in 95% of bootstrap
resamples, at most 1000), and ours with ``samples="auto", top="stable"``
(stop once the largest top set, of at most 10, that is stable at 95% is the
largest that more samples could still make stable within 1000; it reports
that set), vs the ``lime`` package at its default 1000 samples, all on the
same superpixels, over several seeds. Agreement is measured against a
5000-sample reference (ours at 5000 samples with another seed; it draws
lime's samples, so it is lime's answer too): a reported top set of k
superpixels is compared with the reference's top k, and its agreement is
the fraction of the k found there (|ours & reference| / k). The fixed runs
report a top 5; ``top="stable"`` reports a set of its own size (column
"top k", a mean over seeds), so the row "lime 1000, same k" gives lime's
agreement for the very sizes ``top="stable"`` reported, seed by seed.
Times: one run each, alternating; the ratios are ours / lime. shapes_cnn on
a shapes image with SLIC superpixels (quickshift gives only 3-5 there),
resnet18 (random weights) on scikit-image's astronaut photo with quickshift
superpixels.

Times are the best of ``--repeat`` runs, alternating ours and theirs; a ratio
is ours / theirs (below 1: we are faster). Nothing is asserted.

    python benchmarks/attribution.py [--repeat 3] [--models shapes_cnn,resnet18] [--threads N]
                                     [--only lime-auto] [--lime-seeds 5]

On a shared, loaded machine ``--threads 1`` gives far steadier figures: two
threads fighting other processes for two cores turn a 2 ms pass into hundreds.
"""
from __future__ import annotations

import argparse
import contextlib
import io
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from timing import best_time as _best, paired_best as _pair  # noqa: E402

import nnlens_widgets as nl  # noqa: E402

warnings.filterwarnings("ignore")




def _sweep(make, sizes, repeat):
    """(best time, best size) of ``make(size)()`` over ``sizes``."""
    timed = [(_best(make(s), repeat), s) for s in sizes]
    return min(timed)


def _models(names):
    import torchvision

    out = []
    for name in names:
        if name == "resnet18":
            torch.manual_seed(0)
            model = torchvision.models.resnet18(weights=None).eval()
            x = torch.rand(1, 3, 224, 224, generator=torch.Generator().manual_seed(0))
            out.append((name, model, x, "layer4", model.layer4))
        elif name == "shapes_cnn":
            model = nl.zoo.shapes_cnn()
            x = nl.zoo.make_shapes(1, seed=0).images[:1]
            out.append((name, model, x, "relu4", model.relu4))
        else:
            raise SystemExit(f"unknown model {name!r}: resnet18, shapes_cnn")
    return out


HEADER = f"{'model':<11} {'method':<28} {'vs':<17} {'ours s':>8} {'theirs s':>9} {'ratio':>6}  note"


def show(row):
    model, method, ref, ours, theirs, note = row
    print(f"{model:<11} {method:<28} {ref:<17} {ours:8.3f} {theirs:9.3f} {ours / theirs:6.2f}  {note}", flush=True)


class Rows(list):
    """Rows printed as soon as they are measured (a full run takes minutes)."""

    def append(self, row):
        super().append(row)
        show(row)


def run(names, repeat):
    from captum.attr import GuidedBackprop, IntegratedGradients, NoiseTunnel, Saliency
    from lime.lime_image import LimeImageExplainer
    from pytorch_grad_cam import GradCAM
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

    rows = Rows()
    for name, model, x, layer, module in _models(names):
        target = int(model(x).argmax())
        steps, sg_samples = 50, 20
        sizes = (10, 25, 50)

        # Integrated Gradients: both at their best batch size
        t_ours, b_ours = _sweep(lambda b: lambda: nl.core.integrated_gradients(
            model, x, target, steps=steps, batch_size=b), sizes, repeat)
        ig = IntegratedGradients(model)
        t_theirs, b_theirs = _sweep(lambda b: lambda: ig.attribute(
            x, target=target, n_steps=steps, internal_batch_size=b), sizes, repeat)
        rows.append((name, f"IntegratedGradients {steps} steps", "Captum", t_ours, t_theirs,
                     f"batch {b_ours} vs {b_theirs}"))

        # SmoothGrad over Saliency, same samples
        t_ours, b_ours = _sweep(lambda b: lambda: nl.core.smoothgrad(
            model, x, "gradient", target, samples=sg_samples, noise=0.15, batch_size=b), (5, 10, 20), repeat)
        nt = NoiseTunnel(Saliency(model))
        t_theirs, b_theirs = _sweep(lambda b: lambda: nt.attribute(
            x, nt_type="smoothgrad", nt_samples=sg_samples, nt_samples_batch_size=b, stdevs=0.15,
            target=target, abs=False), (5, 10, 20), repeat)
        rows.append((name, f"SmoothGrad {sg_samples} samples", "Captum", t_ours, t_theirs,
                     f"batch {b_ours} vs {b_theirs}"))

        fast = repeat * (20 if name != "resnet18" else 4)  # one pass each: more runs for a stable best
        sal = Saliency(model)
        rows.append((name, "Saliency", "Captum", *_pair(
            lambda: nl.core.gradient(model, x, target),
            lambda: sal.attribute(x, target=target, abs=False), fast), ""))
        gbp = GuidedBackprop(model)
        rows.append((name, "GuidedBackprop", "Captum", *_pair(
            lambda: nl.core.guided_backprop(model, x, target),
            lambda: gbp.attribute(x, target=target), fast), ""))

        def pgc():
            with GradCAM(model=model, target_layers=[module]) as cam:
                cam(input_tensor=x, targets=[ClassifierOutputTarget(target)])

        rows.append((name, f"Grad-CAM ({layer})", "pytorch-grad-cam", *_pair(
            lambda: nl.core.grad_cam(model, x, target, layer=layer), pgc, fast), ""))

        # LIME, 1000 samples, the lime package's segmentation defaults in both
        image = x[0].permute(1, 2, 0).double().numpy()

        def predict(images):
            batch = torch.from_numpy(np.asarray(images, dtype=np.float32).transpose(0, 3, 1, 2))
            with torch.no_grad():
                return torch.softmax(model(batch), 1).numpy()

        def theirs_lime():
            with contextlib.redirect_stderr(io.StringIO()):  # lime's tqdm bar
                LimeImageExplainer(random_state=0).explain_instance(
                    image, predict, labels=(target,), top_labels=None, num_samples=1000,
                    random_seed=0, hide_color=None)

        lime_repeat = 1 if name == "resnet18" else repeat
        sizes = (32,) if name == "resnet18" else (16, 32, 100)
        t_ours, b_ours = _sweep(lambda b: lambda: nl.core.lime(
            model, x, target, samples=1000, seed=0, batch_size=b), sizes, lime_repeat + 1)
        t_theirs = _best(theirs_lime, lime_repeat)
        rows.append((name, "LIME 1000 samples", "lime", t_ours, t_theirs, f"batch {b_ours} vs 10 (lime's default)"))
    return rows


def _lime_case(name):
    """(model, image (3, H, W), superpixels) for the stopping-rule comparison."""
    from nnlens_widgets.core.attribution.lime import superpixels

    if name == "shapes_cnn":
        x = nl.zoo.make_shapes(1, seed=0).images[0]
        model = nl.zoo.shapes_cnn()
        segments = superpixels(x.permute(1, 2, 0).double().numpy(), "slic", n_segments=40)
    else:
        import torchvision
        from skimage import data, transform

        torch.manual_seed(0)
        model = torchvision.models.resnet18(weights=None).eval()
        photo = transform.resize(data.astronaut(), (224, 224), anti_aliasing=True)
        x = torch.from_numpy(photo.transpose(2, 0, 1)).float()
        segments = superpixels(photo)
    return model, x, segments


def _agreement(found, reference_order) -> float:
    """Fraction of a reported top set found in the reference's top set of the same size."""
    found = list(found)
    return len(set(found) & set(reference_order[:len(found)])) / len(found)


def lime_auto(names, seeds):
    """LIME auto (top 5, and top="stable") vs the lime package at 1000 samples: agreement
    with a 5000-sample reference, samples, time."""
    from lime.lime_image import LimeImageExplainer

    print(f"\n{'model':<11} {'superpixels':>11} {'run':<22} {'top k':>6} {'agreement':>9} {'samples':>8} "
          f"{'seconds':>8}  (means over {seeds} seeds)", flush=True)
    for name in names:
        model, x, segments = _lime_case(name)
        with torch.no_grad():
            target = int(model(x[None]).argmax())
        reference = nl.core.lime(model, x, target, samples=5000, segments=segments, seed=10_000,
                                 batch_size=100).top_segments(int(segments.max()) + 1)
        image = x.permute(1, 2, 0).double().numpy()

        def predict(images):
            batch = torch.from_numpy(np.asarray(images, dtype=np.float32).transpose(0, 3, 1, 2))
            with torch.no_grad():
                return torch.softmax(model(batch), 1).numpy()

        rows = {"lime 1000": [], "ours auto": [], "ours auto, stable": [], "lime 1000, same k": []}
        for seed in range(seeds):
            def theirs():
                with contextlib.redirect_stderr(io.StringIO()):  # lime's tqdm bar
                    exp = LimeImageExplainer(random_state=seed).explain_instance(
                        image, predict, labels=(target,), top_labels=None, num_samples=1000,
                        random_seed=seed, hide_color=None, segmentation_fn=lambda _img: segments)
                return [f for f, _ in sorted(exp.local_exp[target], key=lambda fc: -fc[1])], 1000

            def ours():
                res = nl.core.lime(model, x, target, samples="auto", segments=segments, seed=seed, batch_size=100)
                return res.top_segments(5), res.samples

            def ours_stable():
                res = nl.core.lime(model, x, target, samples="auto", top="stable", segments=segments, seed=seed,
                                   batch_size=100)
                return res.top_segments(res.top), res.samples

            found = {}
            for key, fn in (("lime 1000", theirs), ("ours auto", ours), ("ours auto, stable", ours_stable)):
                t = time.perf_counter()
                found[key], used = fn()
                seconds = time.perf_counter() - t
                shown = found[key][:5] if key == "lime 1000" else found[key]
                rows[key].append((len(shown), _agreement(shown, reference), used, seconds))
            k = len(found["ours auto, stable"])
            rows["lime 1000, same k"].append((k, _agreement(found["lime 1000"][:k], reference), 1000,
                                              rows["lime 1000"][-1][3]))
        means = {key: np.mean(np.array(v), axis=0) for key, v in rows.items()}
        for key, (k, agree, used, seconds) in means.items():
            print(f"{name:<11} {int(segments.max()) + 1:>11} {key:<22} {k:>6.1f} {agree:>9.2f} {used:>8.0f} "
                  f"{seconds:>8.2f}")
        for key in ("ours auto", "ours auto, stable"):
            print(f"{name:<11} {'':>11} {key + ' / lime time':<42} {'':>8} "
                  f"{means[key][3] / means['lime 1000'][3]:>8.2f}", flush=True)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--models", default="shapes_cnn,resnet18")
    ap.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    ap.add_argument("--only", choices=["lime-auto"], help="run only the LIME stopping-rule comparison")
    ap.add_argument("--lime-seeds", type=int, default=5)
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} CPU threads")
    if args.only is None:
        print(HEADER, flush=True)
        run(args.models.split(","), args.repeat)
    lime_auto(args.models.split(","), args.lime_seeds)


if __name__ == "__main__":
    main()

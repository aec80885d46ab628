"""LRP: speed beside zennit and Captum, and how much relevance each composite conserves on every
torchvision classifier.

Timing (one run, side by side): resnet18 and vgg11 at 224x224 (random weights). Ours
(``nl.core.lrp``, EpsilonPlusFlat) against zennit's ``Gradient`` attributor with the same
composite and canonizer on a copy of the model; ours with ``rule="epsilon"`` against Captum's
``LRP`` (epsilon rule). Ours includes its private twin and the extra forward pass that finds
the BatchNorms to merge (and checks the canonical form); zennit and Captum get a copy made
before the clock starts and the logit to start from. Times are the best
of ``--repeat`` runs, alternating ours and theirs; ratio = ours / theirs. Beside each pair, the
largest difference of the two maps relative to the reference's largest value.

Conservation: every torchvision classifier our other methods handle, random weights,
BatchNorm statistics taken from a batch of random images (so activations have their trained
scale rather than vanishing) and zero-initialised heads drawn at random, at a small input where
the model allows. For each composite, the relevance's sum as a percentage of the logit of the
predicted class; then "bias-free eps": epsilon-LRP (epsilon 1e-12, float64) after zeroing
every bias, BatchNorm shift, position embedding and class token, where almost nothing absorbs
relevance (what is left: non-linear activations passing relevance on whole, softmax), so a
figure far from 100% would show relevance lost by a rule. Or the error a model raises.

    python benchmarks/lrp.py [--part timing|conservation|all] [--repeat 3] [--models a,b] [--threads N]
"""
from __future__ import annotations

import argparse
import copy
import sys
import time
import warnings
from pathlib import Path

import torch
import torchvision
from torch import nn

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from timing import paired_best  # noqa: E402

import nnlens_widgets as nl  # noqa: E402

warnings.filterwarnings("ignore")
M = torchvision.models

#: name -> (constructor, input size)
CLASSIFIERS = {
    "alexnet": (M.alexnet, 64), "vgg11_bn": (M.vgg11_bn, 32), "resnet18": (M.resnet18, 32),
    "resnext50_32x4d": (M.resnext50_32x4d, 32), "densenet121": (M.densenet121, 32),
    "squeezenet1_1": (M.squeezenet1_1, 64), "shufflenet_v2_x0_5": (M.shufflenet_v2_x0_5, 32),
    "mobilenet_v2": (M.mobilenet_v2, 32), "mobilenet_v3_small": (M.mobilenet_v3_small, 32),
    "mnasnet0_5": (M.mnasnet0_5, 32), "efficientnet_b0": (M.efficientnet_b0, 32),
    "efficientnet_v2_s": (M.efficientnet_v2_s, 32), "regnet_y_400mf": (M.regnet_y_400mf, 32),
    "convnext_tiny": (M.convnext_tiny, 32),
    "googlenet": (lambda: M.googlenet(init_weights=True, aux_logits=False), 64),
    "inception_v3": (lambda: M.inception_v3(init_weights=True, aux_logits=False), 96),
    "vit_b_16": (lambda: M.vit_b_16(image_size=64), 64), "swin_t": (M.swin_t, 64), "maxvit_t": (M.maxvit_t, 224),
}
OPTIONS = {"eps+flat": {}, "eps+gamma+box": {"composite": "epsilon_gamma_box"},
           "eps+alpha2beta1": {"composite": "epsilon_alpha2_beta1"}, "epsilon": {"rule": "epsilon"}}


def _gap(ours: torch.Tensor, ref: torch.Tensor) -> float:
    return float((ours - ref.detach()).abs().max() / ref.detach().abs().max())


def timing(repeat: int) -> None:
    from captum.attr import LRP as CaptumLRP
    from zennit.attribution import Gradient
    from zennit.composites import EpsilonPlusFlat
    from zennit.torchvision import ResNetCanonizer, VGGCanonizer

    print(f"{'model':<10} {'ours':>7} {'zennit':>7} {'ratio':>6} {'gap':>8}   {'ours-eps':>8} {'captum':>7} "
          f"{'ratio':>6} {'gap':>8}")
    for name, make, canonizer in (("resnet18", M.resnet18, ResNetCanonizer), ("vgg11", M.vgg11, VGGCanonizer)):
        torch.manual_seed(0)
        model = make().eval()
        x = torch.rand(1, 3, 224, 224, generator=torch.Generator().manual_seed(0))
        with torch.no_grad():
            logits = model(x)
        target = int(logits.argmax())
        start = torch.zeros_like(logits)
        start[0, target] = logits[0, target]  # zennit's output relevance: the logit, as ours starts
        theirs = copy.deepcopy(model)  # zennit merges BatchNorm into, Captum marks, the model they are given
        found = {}

        def ours():
            found["ours"] = nl.core.lrp(model, x, target)

        def zennit():
            with Gradient(theirs, EpsilonPlusFlat(canonizers=[canonizer()])) as attributor:
                found["zennit"] = attributor(x.clone().requires_grad_(True), start)[1]

        def ours_epsilon():
            found["ours_eps"] = nl.core.lrp(model, x, target, rule="epsilon", epsilon=1e-9)

        def captum():
            found["captum"] = CaptumLRP(theirs).attribute(x.clone().requires_grad_(True), target=target)

        t_ours, t_zennit = paired_best(ours, zennit, repeat)
        try:
            t_eps, t_captum = paired_best(ours_epsilon, captum, repeat)
            captum_text = f"{t_eps:8.2f} {t_captum:7.2f} {t_eps / t_captum:6.2f} " \
                          f"{_gap(found['ours_eps'].relevance, found['captum']):8.1e}"
        except Exception as e:  # Captum's LRP refuses some layers: say which
            captum_text = f"captum: {type(e).__name__}: {str(e)[:80]}"
        print(f"{name:<10} {t_ours:7.2f} {t_zennit:7.2f} {t_ours / t_zennit:6.2f} "
              f"{_gap(found['ours'].relevance, found['zennit']):8.1e}   {captum_text}", flush=True)


def _calibrated(make, size: int) -> nn.Module:
    torch.manual_seed(0)
    model = make()
    g = torch.Generator().manual_seed(1)
    norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    for norm in norms:
        norm.reset_running_stats()
        norm.momentum = None  # a plain average over the calibration batch
    if norms:
        model.train()
        with torch.no_grad():
            model(torch.rand(8, 3, size, size, generator=g))
    for m in model.modules():
        if isinstance(m, nn.Linear) and not m.weight.abs().max() > 0:  # vit's zero head
            with torch.no_grad():
                m.weight.normal_(0, 0.02, generator=g)
    return model.eval()


def _bias_free(model: nn.Module) -> nn.Module:
    model = copy.deepcopy(model).double()
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.modules.batchnorm._BatchNorm):
                m.running_mean.zero_()
            for key in ("bias", "relative_position_bias_table", "pos_embedding", "class_token"):
                value = getattr(m, key, None)
                if isinstance(value, torch.Tensor):
                    value.zero_()
    return model


def _percent(share: float) -> str:
    return f"{100 * share:.1f}%" if abs(share) < 100 else f"{100 * share:.1e}%"


def conservation(names) -> None:
    header = " | ".join(f"{k:>15}" for k in list(OPTIONS) + ["bias-free eps"])
    print(f"| {'model':<18} | {'input':>5} | {header} | {'seconds':>7} |")
    print("|" + "---|" * (len(OPTIONS) + 4))
    for name in names:
        make, size = CLASSIFIERS[name]
        x = torch.rand(1, 3, size, size, generator=torch.Generator().manual_seed(0))
        start = time.perf_counter()
        try:
            model = _calibrated(make, size)
            cells = [nl.core.lrp(model, x, **options) for options in OPTIONS.values()]
            cells.append(nl.core.lrp(_bias_free(model), x.double(), rule="epsilon", epsilon=1e-12))
            text = " | ".join(f"{_percent(float(r.conservation[0])):>15}" for r in cells)
            unruled = {w for r in cells for w in r.warnings}
            note = f" {'; '.join(unruled)}" if unruled else ""
        except Exception as e:
            text, note = f"error: {type(e).__name__}: {e}", ""
        print(f"| {name:<18} | {size:>5} | {text} | {time.perf_counter() - start:7.0f} |{note}", flush=True)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--part", choices=("timing", "conservation", "all"), default="all")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--models", default=",".join(CLASSIFIERS), help="classifiers for the conservation table")
    ap.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} CPU threads")
    if args.part in ("timing", "all"):
        timing(args.repeat)
    if args.part in ("conservation", "all"):
        names = [n for n in args.models.split(",") if n]
        unknown = [n for n in names if n not in CLASSIFIERS]
        if unknown:
            raise SystemExit(f"unknown models {unknown}; known: {', '.join(CLASSIFIERS)}")
        print("\nrelevance summed over the input, as a percentage of the logit (predicted class)")
        conservation(names)


if __name__ == "__main__":
    main()

"""Small models and the reference libraries' own numbers (Quantus 0.6, pytorch-grad-cam 1.5.7)
for the faithfulness cross-checks; shared by the tests and ``benchmarks/trust.py``.

The libraries draw from the process's global random generators; every call
here restores them afterwards, so no other test sees a difference.
"""
import contextlib
import warnings

import numpy as np
import torch
from torch import nn

from tests.core.attribution_models import ModuleReluNet

SIZE = 12  # small images keep Quantus's one-pass-per-step loops quick


@contextlib.contextmanager
def global_rng_kept():
    """Run a reference library that seeds or draws from the global generators, then put them back."""
    torch_state, numpy_state = torch.random.get_rng_state(), np.random.get_state()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        torch.random.set_rng_state(torch_state)
        np.random.set_state(numpy_state)


def _fill(model: nn.Module, seed: int, scale: float) -> nn.Module:
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * scale)
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.copy_(torch.randn(m.num_features, generator=g) * 0.2)
                m.running_var.copy_(torch.rand(m.num_features, generator=g) + 0.5)
    return model.eval()


def batchnorm_model(in_ch: int = 3) -> nn.Module:
    """conv -> ReLU -> conv -> BatchNorm -> ReLU -> conv -> ReLU -> pool -> linear (5 classes)."""
    return _fill(ModuleReluNet(in_ch=in_ch, classes=5, inplace=False), 1, 0.4)


def plain_model(in_ch: int = 3) -> nn.Module:
    """conv -> ReLU -> max-pool -> conv -> ReLU -> pool -> linear (4 classes), no normalisation."""
    model = nn.Sequential(nn.Conv2d(in_ch, 6, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Conv2d(6, 8, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(2), nn.Flatten(),
                          nn.Linear(32, 4))
    return _fill(model, 2, 0.3)


MODELS = {"batchnorm": batchnorm_model, "plain": plain_model}


def case(name: str, in_ch: int = 3, seed: int = 0, size: int = SIZE):
    """(model, x (1, C, S, S), map (1, 1, S, S) signed, target = the predicted class)."""
    model = MODELS[name](in_ch)
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(1, in_ch, size, size, generator=g)
    a = torch.randn(1, 1, size, size, generator=g)
    with torch.no_grad():
        target = int(model(x).argmax())
    return model, x, a, target


# -- Quantus ---------------------------------------------------------------
def quantus_curve(metric: str, model, x, a, target, **options) -> np.ndarray:
    """One Quantus metric's per-sample result for one image: its curve (or its score, as a 1-array)."""
    import quantus

    cls = {"pixel_flipping": quantus.PixelFlipping, "region_perturbation": quantus.RegionPerturbation,
           "selectivity": quantus.Selectivity, "road_morf": quantus.ROAD}[metric]
    with global_rng_kept():
        metric_object = cls(disable_warnings=True, **options)
        out = metric_object(model, x.numpy(), np.array([target]), a_batch=a.numpy(), device="cpu")
    if metric == "road_morf":
        return np.array([out[p] for p in metric_object.percentages], dtype=np.float64)
    return np.asarray(out[0], dtype=np.float64)


def quantus_faithfulness_correlation(model, x, a, target, seed: int, nr_runs: int, subset_size: int):
    """Quantus's score after seeding numpy with ``seed``, and the subsets it drew (same draws, in order)."""
    import quantus

    with global_rng_kept():
        np.random.seed(seed)
        score = quantus.FaithfulnessCorrelation(nr_runs=nr_runs, subset_size=subset_size, disable_warnings=True)(
            model, x.numpy(), np.array([target]), a_batch=a.numpy(), device="cpu")[0]
        # the same sequence again: per run, the subset, then the one uniform draw of the "black" baseline lookup
        np.random.seed(seed)
        features = int(np.prod(x.shape[1:]))
        subsets = []
        for _ in range(nr_runs):
            subsets.append(np.random.choice(features, subset_size, replace=False))
            np.random.uniform(size=1)
    return float(score), np.stack(subsets)


def quantus_efficient_mprt(model, x, target, explain) -> float:
    import quantus

    with global_rng_kept():
        return float(quantus.EfficientMPRT(disable_warnings=True)(
            model, x.numpy(), np.array([target]), a_batch=None, explain_func=explain, device="cpu")[0])


# -- pytorch-grad-cam ------------------------------------------------------
def gradcam_road(kind: str, model, x, cam: np.ndarray, target: int, percentile=None, percentiles=None,
                 output: str = "logits") -> float:
    """pytorch-grad-cam's ROAD score with its imputer's noise set to 0."""
    from pytorch_grad_cam.metrics import road
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputSoftmaxTarget, ClassifierOutputTarget

    class Noiseless(road.NoisyLinearImputer):
        def __init__(self, noise=0.0, weighting=road.neighbors_weights):
            super().__init__(0.0, weighting)

    saved = road.NoisyLinearImputer
    road.NoisyLinearImputer = Noiseless  # the ROAD classes build their imputer by this name
    try:
        if kind == "combined":
            metric = road.ROADCombined(percentiles)
        elif percentiles is not None:
            metric = {"morf": road.ROADMostRelevantFirstAverage, "lerf": road.ROADLeastRelevantFirstAverage}[kind](
                percentiles)
        else:
            metric = {"morf": road.ROADMostRelevantFirst, "lerf": road.ROADLeastRelevantFirst}[kind](percentile)
        targets = [(ClassifierOutputTarget if output == "logits" else ClassifierOutputSoftmaxTarget)(target)]
        with global_rng_kept():
            return float(metric(x, cam[None], targets, model)[0])
    finally:
        road.NoisyLinearImputer = saved

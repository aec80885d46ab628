"""How far to trust a saliency map.

- Faithfulness (Petsiuk et al. 2018): delete the most salient pixels first
  (set them to a baseline) and watch the class probability fall: a low area
  under the deletion curve is good; insert them into a blurred copy and watch
  it rise: a high insertion AUC is good.
- Sanity (Adebayo et al. 2018): re-initialise the layers of a *copy* of the
  model from the logits downward, cumulatively, and compare each map with the
  original (Spearman rank correlation of absolute values, SSIM). A method
  whose map survives the destruction of the model explains the image, not
  the model.
"""
from __future__ import annotations

import copy
from typing import Callable, List, NamedTuple, Optional, Tuple, Union

import numpy as np
import torch
from torch import nn

from .attribution.gradients import prepare
from .attribution.registry import method_function
from .attribution.results import pixel_map
from .initialisation import is_norm, reinitialise
from .trust.checks import BlurConfound, blur_confound, low_target_caveat, target_probability
from .trust.conventions import CONVENTIONS
from .trust.curves import Curve, deletion_curve, insertion_curve, pixel_saliency, random_map
from .trust.mprt import EfficientMPRT, efficient_mprt

__all__ = [
    "Curve",
    "deletion_curve",
    "insertion_curve",
    "pixel_saliency",
    "random_map",
    "spearman",
    "ssim",
    "RandomizationStep",
    "SanityCheck",
    "cascading_randomization",
    "randomizable_layers",
    "TrustReport",
    "trust_report",
]


# -- sanity check ---------------------------------------------------------
def spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman rank correlation of two maps (ties get their mean rank)."""
    from scipy.stats import spearmanr

    a, b = np.asarray(a, dtype=np.float64).ravel(), np.asarray(b, dtype=np.float64).ravel()
    if np.ptp(a) == 0 or np.ptp(b) == 0:
        return 0.0
    return float(spearmanr(a, b)[0])


def ssim(a: np.ndarray, b: np.ndarray) -> float:
    """SSIM of two maps, each scaled to [0, 1] by its own maximum."""
    from skimage.metrics import structural_similarity

    def unit(m):
        m = np.asarray(m, dtype=np.float64)
        top = m.max()
        return m / top if top > 0 else m

    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if np.ptp(a) == 0 or np.ptp(b) == 0:  # a blank map has no structure to compare
        return 1.0 if np.array_equal(a, b) else 0.0
    win = min(7, *a.shape)
    win -= 1 - win % 2
    return float(structural_similarity(unit(a), unit(b), data_range=1.0, win_size=win))


def randomizable_layers(model: nn.Module) -> List[str]:
    """Modules with their own parameters, from the logits down (reverse definition order)."""
    names = [n for n, m in model.named_modules() if n and any(True for _ in m.parameters(recurse=False))]
    return names[::-1]


def _reinitialise(module: nn.Module, seed: int) -> None:
    """Fresh random values for ``module``'s own parameters, from a generator of its own (the
    user's global random stream is never touched: this runs in widgets' background threads)."""
    generator = torch.Generator().manual_seed(seed)
    reinitialise(module, generator)
    if is_norm(module):  # the default is the identity, which would destroy nothing
        for name, p in module.named_parameters(recurse=False):
            values = torch.empty(tuple(p.shape), dtype=p.dtype).normal_(
                1.0 if name == "weight" else 0.0, 0.5, generator=generator)
            with torch.no_grad():
                p.copy_(values)


class RandomizationStep(NamedTuple):
    layer: str  # the last layer randomised (all above it are random too)
    map: np.ndarray  # |map| per pixel, (H, W)
    spearman: float
    ssim: float


class SanityCheck(NamedTuple):
    method: str
    original: np.ndarray
    steps: List[RandomizationStep]

    @property
    def mean_spearman(self) -> float:
        return float(np.mean([s.spearman for s in self.steps]))

    @property
    def mean_ssim(self) -> float:
        return float(np.mean([s.ssim for s in self.steps]))


def _method_name(method) -> str:
    return method if isinstance(method, str) else getattr(method, "__name__", repr(method))


def cascading_randomization(model, x, method: Union[str, Callable] = "gradient", target=None,
                            layers: Optional[List[str]] = None, seed: int = 0, preprocess=None,
                            progress=None, **method_kwargs) -> SanityCheck:
    """Cascading parameter randomisation on a deep copy of ``model``.

    The target is fixed to the original model's (so a destroyed model is
    asked the same question). ``layers`` default: every module with
    parameters, from the logits down.
    """
    fn = method_function(method) if isinstance(method, str) else method
    xb, t = prepare(model, x, target, preprocess)
    size = xb.shape[-2:]

    original = _absolute_map(fn(model, xb, target=t, **method_kwargs), size)
    twin = copy.deepcopy(model)
    modules = dict(twin.named_modules())
    names = randomizable_layers(twin) if layers is None else list(layers)
    for n in names:
        if n not in modules:
            raise KeyError(f"layer {n!r} not found; layers with parameters: {randomizable_layers(twin)}")
    steps = []
    for i, n in enumerate(names):
        _reinitialise(modules[n], seed + i)
        m = _absolute_map(fn(twin, xb, target=t, **method_kwargs), size)
        steps.append(RandomizationStep(n, m, spearman(original, m), ssim(original, m)))
        if progress is not None:
            progress((i + 1) / len(names))
    return SanityCheck(_method_name(method), original, steps)


def _absolute_map(result, size) -> np.ndarray:
    """Per-pixel magnitude: sum over channels of |attribution|."""
    m = pixel_map(result).detach().float().cpu()
    m = m[0] if m.ndim == 4 else m
    m = m.abs().sum(0) if m.ndim == 3 else m.abs()
    if tuple(m.shape) != tuple(size):
        raise ValueError(f"expected a map of size {tuple(size)}, got {tuple(m.shape)}")
    return m.numpy()


class TrustReport(NamedTuple):
    """Deletion / insertion curves (``convention`` "nnlens"), the randomisation check and what they cannot say.

    ``mprt``: Quantus's two-state randomisation (``trust.efficient_mprt``) beside
    the cascading one, when ``sanity`` is on;
    ``blur``: the same curves for the map blurred (``trust.blur_confound``);
    ``target_probability``: the model's probability of the class explained
    (None for a unit or a callable target); ``caveat``: a sentence when that is
    under 1%, in place of any pass; ``warnings``: every such sentence.
    ``other_conventions``: the conventions ``nl.core.faithfulness`` also scores in.
    """

    method: str
    deletion: Curve
    insertion: Curve
    sanity: Optional[SanityCheck]
    convention: str = "nnlens"
    blur: Optional[BlurConfound] = None
    target_probability: Optional[float] = None
    caveat: Optional[str] = None
    warnings: Tuple[str, ...] = ()
    other_conventions: Tuple[str, ...] = ()
    mprt: Optional[EfficientMPRT] = None

    @property
    def blur_flagged(self) -> Tuple[str, ...]:
        """Metrics that score a blurred copy of the map more than 5% better than the map."""
        return () if self.blur is None else self.blur.flagged

    def summary(self) -> str:
        s = (f"deletion AUC {self.deletion.auc:.3f} (lower is better), insertion AUC {self.insertion.auc:.3f} "
             f"({self.convention} convention)")
        if self.sanity is not None:
            s += (f", randomised-model similarity: Spearman {self.sanity.mean_spearman:.2f}, "
                  f"SSIM {self.sanity.mean_ssim:.2f} (lower is better)")
        return s


def trust_report(model, x, method: Union[str, Callable] = "gradient", target=None,
                 attribution=None, steps: int = 32, sanity: bool = True, preprocess=None,
                 progress=None, blur_check: bool = True, **method_kwargs) -> TrustReport:
    """Deletion and insertion curves for ``method``'s map, and the randomisation check.

    ``attribution``: the map already computed (else ``method`` is run once).
    ``blur_check``: also score the map blurred and flag a metric that prefers it.
    ``progress(fraction, text)`` reports each stage.
    """
    fn = method_function(method) if isinstance(method, str) else method
    xb, t = prepare(model, x, target, preprocess)
    report = (lambda lo, hi, text: (lambda f: progress(lo + (hi - lo) * f, text))) if progress else (
        lambda lo, hi, text: None)
    if attribution is None:
        attribution = fn(model, xb, target=t, **method_kwargs)
    deletion = deletion_curve(model, xb, attribution, t, steps, progress=report(0.0, 0.15, "deletion"))
    insertion = insertion_curve(model, xb, attribution, t, steps, progress=report(0.15, 0.3, "insertion"))
    blur = None
    if blur_check:
        blur = blur_confound(model, xb, attribution, t, ("deletion", "insertion"), "nnlens",
                             metric_options={"deletion": dict(steps=steps), "insertion": dict(steps=steps)},
                             scores={"deletion": deletion.auc, "insertion": insertion.auc},
                             progress=report(0.3, 0.45, "blurred map"))
    check = mprt = None
    if sanity:
        check = cascading_randomization(model, xb, fn, t, progress=report(0.45, 0.95, "randomisation"),
                                        **method_kwargs)
        mprt = efficient_mprt(model, xb, fn, t, **method_kwargs)
        if progress is not None:
            progress(1.0, "randomisation")
    caveat = low_target_caveat(model, xb, t)
    warnings = ((caveat,) if caveat else ()) + (blur.warnings if blur is not None else ())
    return TrustReport(_method_name(method), deletion, insertion, check, "nnlens", blur,
                       target_probability(model, xb, t), caveat, warnings,
                       tuple(c for c in CONVENTIONS if c != "nnlens"), mprt)

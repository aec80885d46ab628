"""LIME for images (Ribeiro et al. 2016), with the model evaluated in batches.

Superpixels come from scikit-image (quickshift with the ``lime`` package's
defaults, or SLIC); a sample switches superpixels on or off (off = filled
with the superpixel's mean colour); each sample is weighted by an
exponential kernel on its cosine distance to the all-on sample; a weighted
ridge regression of the target's probability on the on/off vectors gives one
coefficient per superpixel. Sampling follows the ``lime`` package (same
``numpy.random.RandomState`` draws), so with the same seed both explain the
same samples.

Samples are drawn in rounds; after each, a bootstrap over the samples so far
measures how stable the top superpixels are (``lime_stability``), and with
``samples="auto"`` sampling stops once they are stable enough. With
``top="stable"`` the set is not fixed in advance: the result reports the
largest top set that is stable, and ``samples="auto"`` stops as soon as no
larger set could become stable within ``max_samples``.
"""
from __future__ import annotations

from typing import Callable, Optional, Union

import numpy as np
import torch

from ..guard import looking_at
from ..preparation import batch_layout, prepare
from ..registry import Param
from .registry import register_method
from .results import LimeResult
from ..targets import UnitTarget, _class_scores, scores
from .lime_stability import BootstrapStability, kernel_weights

__all__ = ["lime", "superpixels", "SEGMENTATIONS", "ROUND"]

SEGMENTATIONS = ("quickshift", "slic")


def _image_hwc(xb: torch.Tensor) -> np.ndarray:
    if xb.ndim != 4 or xb.shape[1] not in (1, 3) or min(xb.shape[-2:]) < 2:
        raise ValueError(
            "LIME for images expects an image input shaped (C,H,W) with 1 or 3 channels; "
            f"got an input batch of shape {tuple(xb.shape)}"
        )
    img = xb[0].detach().cpu().double().numpy().transpose(1, 2, 0)
    return np.repeat(img, 3, axis=2) if img.shape[2] == 1 else img


def superpixels(image_hwc: np.ndarray, segmentation: str = "quickshift", seed: int = 0,
                **options) -> np.ndarray:
    """Superpixel labels 0..n-1 for an RGB ``HxWx3`` image.

    quickshift defaults as in ``lime``: kernel_size 4, max_dist 200, ratio 0.2;
    SLIC defaults: n_segments 50, compactness 10, start_label 0.
    """
    from skimage.segmentation import quickshift, slic

    if segmentation == "quickshift":
        import inspect

        seed_name = "rng" if "rng" in inspect.signature(quickshift).parameters else "random_seed"
        kw = dict(kernel_size=4, max_dist=200, ratio=0.2, **{seed_name: seed})  # renamed in skimage 0.21
        kw.update(options)
        seg = quickshift(image_hwc, **kw)
    elif segmentation == "slic":
        kw = dict(n_segments=50, compactness=10.0, start_label=0)
        kw.update(options)
        seg = slic(image_hwc, **kw)
    else:
        raise ValueError(f"expected a segmentation in {SEGMENTATIONS}, got {segmentation!r}")
    _, labels = np.unique(seg, return_inverse=True)  # consecutive labels 0..n-1
    return labels.reshape(seg.shape).astype(np.int64)


def _weighted_ridge(data: np.ndarray, y: np.ndarray, w: np.ndarray, alpha: float):
    """Ridge with an unpenalised intercept and sample weights (as scikit-learn's Ridge)."""
    sw = w / 1.0
    mean_x = (sw[:, None] * data).sum(0) / sw.sum()
    mean_y = (sw * y).sum() / sw.sum()
    xc, yc = data - mean_x, y - mean_y
    xs = xc * np.sqrt(sw)[:, None]
    ys = yc * np.sqrt(sw)
    coef = np.linalg.solve(xs.T @ xs + alpha * np.eye(data.shape[1]), xs.T @ ys)
    intercept = mean_y - mean_x @ coef
    pred = data @ coef + intercept
    ss_res = (sw * (y - pred) ** 2).sum()
    ss_tot = (sw * (y - mean_y) ** 2).sum()
    r2 = 1.0 - ss_res / ss_tot if ss_tot > 0 else 0.0
    return coef, float(intercept), float(r2)


ROUND = 100  # samples per round when the count is automatic
_MAX_SAMPLES = 1_000_000


def _count(value, name: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not low <= value <= high:
        raise ValueError(f"expected {name} as an integer in {low}..{high}, got {value!r}")
    return int(value)


def _check_options(samples, batch_size, confidence, top, max_top, max_samples, kernel_width, alpha) -> None:
    if not (isinstance(samples, str) and samples == "auto"):
        _count(samples, "samples ('auto' or a number)", 2, _MAX_SAMPLES)
    _count(batch_size, "batch_size", 1, 65536)
    if not (isinstance(top, str) and top == "stable"):
        _count(top, "top ('stable' or a number)", 1, 10_000)
    _count(max_top, "max_top", 1, 10_000)
    _count(max_samples, "max_samples", 2, _MAX_SAMPLES)
    if isinstance(confidence, bool) or not isinstance(confidence, (int, float)) or not 0 < confidence < 1:
        raise ValueError(f"expected confidence as a fraction in (0, 1), got {confidence!r}")
    for name, v, low in (("kernel_width", kernel_width, "> 0"), ("alpha", alpha, ">= 0")):
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not (v > 0 if name == "kernel_width" else v >= 0):
            raise ValueError(f"expected {name} as a number {low}, got {v!r}")


@register_method(
    "lime", "LIME", streams=True, to_pixels=lambda result: result.weights,
    params=(Param("samples", "LIME samples", 300, 10, 3000, 10, description="perturbed images fitted"),
            Param("top", "top superpixels", 5, choices=(1, 3, 5, 10, "stable"),
                  description="the top set whose stability is reported; 'stable': the largest stable one")),
)
def lime(
    model,
    x,
    target=None,
    samples: Union[int, str] = 1000,
    segmentation: str = "quickshift",
    segments: Optional[np.ndarray] = None,
    seed: int = 0,
    kernel_width: float = 0.25,
    alpha: float = 1.0,
    output: str = "probability",
    batch_size: int = 32,
    preprocess=None,
    progress: Optional[Callable[[float], None]] = None,
    confidence: float = 0.95,
    top: Union[int, str] = 5,
    max_samples: int = 1000,
    max_top: int = 10,
    **segmentation_options,
) -> LimeResult:
    """LIME superpixel weights for ``target`` (class or unit), shaped ``(1, 1, H, W)``.

    Parameters
    ----------
    samples : int or "auto"
        Number of on/off samples, or ``"auto"``: draw rounds of 100 and stop
        as soon as the ``top`` superpixels are the same in a ``confidence``
        fraction of bootstrap resamples (or at ``max_samples``).
    output : str
        Regress the target class's softmax "probability" (as the ``lime``
        package does with a ``predict_proba``) or its raw "score".
    segments : array, optional
        (H, W) ints replacing the segmentation.
    seed : int
        Drives the segmentation and the on/off samples exactly as ``lime``'s
        ``random_state`` and ``random_seed`` do; ``"auto"`` draws the same
        samples, so it equals a fixed count run with the count it stopped at.
    confidence, max_samples
        The stopping rule of ``samples="auto"``; by default it never draws
        more than the ``lime`` package's 1000. The stability of the ``top``
        set is measured (and returned) for any count.
    top : int or "stable"
        The size of the top set, or ``"stable"``: the largest top set (of at
        most ``max_top`` superpixels, and fewer than all) that is stable at
        ``confidence``, which becomes the result's ``top``. ``samples="auto"``
        then stops once the largest stable set so far is the largest that
        more samples could still make stable within ``max_samples``
        (projected from the bootstrap: ``BootstrapStability.samples_needed``).
        Where no set is stable, it draws ``max_samples`` like a fixed count
        and reports the largest set searched.

    Returns
    -------
    LimeResult
        Weights, segments, coefficients, fit, the samples, and
        ``stability`` (see ``LimeResult.describe()``).
    """
    _check_options(samples, batch_size, confidence, top, max_top, max_samples, kernel_width, alpha)
    xb, t = prepare(model, x, target, preprocess)
    img = _image_hwc(xb)
    if output not in ("probability", "score"):
        raise ValueError(f"expected output 'probability' or 'score', got {output!r}")
    if segments is None:
        segments = superpixels(img, segmentation, seed, **segmentation_options)
    else:
        segments = np.asarray(segments)
        if segments.shape != img.shape[:2]:
            raise ValueError(f"expected segments shaped {img.shape[:2]}, got {segments.shape}")
        _, inv = np.unique(segments, return_inverse=True)
        segments = inv.reshape(segments.shape).astype(np.int64)
    n = int(segments.max()) + 1
    auto, search = samples == "auto", top == "stable"
    total = int(max_samples) if auto else int(samples)

    # hidden superpixels show their mean colour (per channel of the model's input)
    seg_t = torch.as_tensor(segments, device=xb.device)
    flat = xb[0].reshape(xb.shape[1], -1)
    counts = torch.bincount(seg_t.flatten(), minlength=n).to(xb.dtype)
    sums = torch.zeros(xb.shape[1], n, dtype=xb.dtype, device=xb.device)
    sums.index_add_(1, seg_t.flatten(), flat)
    fudged = (sums / counts)[:, seg_t]  # (C, H, W)

    use_probability = output == "probability" and not isinstance(t, UnitTarget) and not callable(t)
    rng = np.random.RandomState(seed)  # drawn in rounds: the same stream as one draw of all samples
    bootstrap = BootstrapStability(n, float(alpha), seed=seed)
    # a search stops below the set of all superpixels, which is trivially stable
    k = max(1, min(int(max_top), n - 1)) if search else min(int(top), n)
    blocks, outputs = [], []
    drawn = 0
    with looking_at(model) as m, scores(m, t) as score, torch.inference_mode():
        while drawn < total:
            size = min(ROUND, total - drawn) if auto else total
            block = rng.randint(0, 2, size * n).reshape(size, n)
            if drawn == 0:
                block[0, :] = 1
            on = torch.as_tensor(block, dtype=xb.dtype, device=xb.device)
            preds = np.empty(size)
            for start in range(0, size, int(batch_size)):
                mask = on[start:start + batch_size][:, seg_t].unsqueeze(1)  # (B, 1, H, W)
                batch = batch_layout(xb * mask + fudged.unsqueeze(0) * (1 - mask))
                if use_probability:
                    p = _class_scores(torch.softmax(m(batch), dim=1), t)
                else:
                    p = score(batch)
                preds[start:start + len(batch)] = p.double().cpu().numpy()
                if progress is not None:
                    progress(min(1.0, (drawn + start + len(batch)) / total))
            blocks.append(block)
            outputs.append(preds)
            bootstrap.add(block, preds, kernel_weights(block, kernel_width))
            drawn += size
            if auto and (_nothing_larger_to_back(bootstrap, k, confidence, total) if search
                         else bootstrap.stability(k) >= confidence):
                break
    if progress is not None and auto and drawn < total:
        progress(1.0)

    data, preds = np.concatenate(blocks), np.concatenate(outputs)
    coef, intercept, r2 = _weighted_ridge(data.astype(np.float64), preds, kernel_weights(data, kernel_width),
                                          float(alpha))
    every = bootstrap.stabilities(k)  # stability of the top 1, 2, .., k
    stable_top = _largest_stable(every, confidence)
    shown = stable_top if search and stable_top else k  # the reported set's size
    weights = torch.as_tensor(coef[segments], dtype=xb.dtype, device=xb.device)[None, None]
    return LimeResult(weights, segments, coef, intercept, r2, data, preds, float(every[shown - 1]), shown,
                      bootstrap.resamples, float(confidence) if auto else None, stable_top,
                      k if search else 0, float(confidence))


def _largest_stable(stabilities: np.ndarray, confidence: float) -> int:
    """The largest j whose top-j set is stable at ``confidence`` (0: none); sizes need not nest."""
    stable = np.flatnonzero(stabilities >= confidence)
    return int(stable.max()) + 1 if len(stable) else 0


def _nothing_larger_to_back(bootstrap: BootstrapStability, k: int, confidence: float, total: int) -> bool:
    """Stop a ``top="stable"`` search: a set is stable and no larger one (up to ``k``) is
    stable or projected to become stable within ``total`` samples."""
    coef = bootstrap.coefficients()
    best = _largest_stable(bootstrap.stabilities(k, coef), confidence)
    if best == 0:
        return False
    return bool((bootstrap.samples_needed(k, confidence, coef)[best:] > total).all())

"""Scale arrays to [0, 1] for colouring, without ever dividing by zero.

A constant channel renders as one flat colour (the middle of the colormap for
per-channel scaling), never as NaN.
"""
from __future__ import annotations

import numpy as np

__all__ = ["scale01", "scale_channels", "NORMALIZATIONS"]

NORMALIZATIONS = ("channel", "shared")


def scale01(a: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """Map ``lo..hi`` to ``0..1`` (clipped); a zero range gives 0.5 everywhere."""
    a = np.asarray(a, dtype=np.float32)
    span = float(hi) - float(lo)
    if not np.isfinite(span) or span <= 0:
        return np.full(a.shape, 0.5, dtype=np.float32)
    return np.clip((a - float(lo)) / span, 0.0, 1.0)


def scale_channels(x: np.ndarray, mode: str = "channel", symmetric: bool = False) -> np.ndarray:
    """Scale a stack ``(C, ...)`` to [0, 1].

    ``mode="channel"``: each channel by its own range; ``"shared"``: all by the
    stack's range. ``symmetric=True`` centres zero at 0.5 (for diverging
    colormaps of signed values), scaling by the largest magnitude.
    """
    if mode not in NORMALIZATIONS:
        raise ValueError(f"expected normalisation to be one of {NORMALIZATIONS}, got {mode!r}")
    x = np.asarray(x, dtype=np.float32)
    if x.ndim == 0 or x.shape[0] == 0:
        return x.astype(np.float32)
    axes = tuple(range(1, x.ndim)) if mode == "channel" else None
    keep = mode == "channel"
    if symmetric:
        m = np.abs(x).max(axis=axes, keepdims=keep) if x.size else np.float32(0)
        safe = np.where(m > 0, m, 1.0)
        return np.clip(0.5 + 0.5 * x / safe, 0.0, 1.0).astype(np.float32)
    lo = x.min(axis=axes, keepdims=keep)
    hi = x.max(axis=axes, keepdims=keep)
    span = hi - lo
    out = (x - lo) / np.where(span > 0, span, 1.0)
    return np.where(span > 0, np.clip(out, 0.0, 1.0), 0.5).astype(np.float32)

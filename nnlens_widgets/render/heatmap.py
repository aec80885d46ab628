"""Heat maps (signed attributions, occlusion maps) and their overlay on an image."""
from __future__ import annotations

from typing import Optional

import numpy as np

from .colormap import apply_cmap

__all__ = ["SIGNS", "image_rgba", "heatmap_rgba", "blend", "overlay_maps"]

SIGNS = ("both", "positive", "negative", "absolute")


def image_rgba(x: np.ndarray) -> np.ndarray:
    """An input image ``(C, H, W)`` (C = 1 or 3) or ``(H, W[, C])`` as RGBA uint8.

    uint8 is shown as is; floats already in [0, 1] as is; any other float
    range (e.g. ImageNet-normalised tensors) is min-max scaled for display.
    """
    a = np.asarray(x)
    if a.ndim == 3 and a.shape[0] in (1, 3) and a.shape[2] not in (1, 3):
        a = a.transpose(1, 2, 0)
    if a.ndim == 2:
        a = a[:, :, None]
    if a.ndim != 3 or a.shape[2] not in (1, 3):
        raise ValueError(f"expected an image shaped (C,H,W) or (H,W,C) with 1 or 3 channels, got {np.shape(x)}")
    if a.dtype != np.uint8:
        a = a.astype(np.float32)
        lo, hi = float(a.min()), float(a.max())
        if lo < 0.0 or hi > 1.0:
            a = (a - lo) / (hi - lo) if hi > lo else np.zeros_like(a)
        a = np.clip(np.rint(a * 255), 0, 255).astype(np.uint8)
    out = np.empty(a.shape[:2] + (4,), dtype=np.uint8)
    out[..., :3] = a if a.shape[2] == 3 else a[..., :1]
    out[..., 3] = 255
    return out


def heatmap_rgba(
    values: np.ndarray,
    sign: str = "both",
    cmap: Optional[str] = None,
    vmax: Optional[float] = None,
) -> np.ndarray:
    """Colour a 2-D map, with alpha following the magnitude shown.

    ``sign``: "both" (diverging, zero in the middle), "positive" / "negative"
    (only that side, the other transparent), "absolute" (magnitude). ``vmax``
    is the value at full colour; by default the map's largest shown magnitude
    (pass a fixed number for "no normalisation": maps then compare across
    inputs and methods). A zero map is fully transparent, never NaN.
    """
    if sign not in SIGNS:
        raise ValueError(f"expected sign in {SIGNS}, got {sign!r}")
    v = np.asarray(values, dtype=np.float32)
    if v.ndim != 2:
        raise ValueError(f"expected a 2-D heat map, got shape {v.shape}")
    if sign == "positive":
        shown = np.clip(v, 0, None)
    elif sign == "negative":
        shown = np.clip(-v, 0, None)
    elif sign == "absolute":
        shown = np.abs(v)
    else:
        shown = v
    m = float(np.abs(shown).max()) if vmax is None else float(vmax)
    scale = m if m > 0 and np.isfinite(m) else 1.0
    if sign == "both":
        rgba = apply_cmap(0.5 + 0.5 * shown / scale, cmap or "RdBu_r")
    else:
        default = {"positive": "Reds", "negative": "Blues", "absolute": "inferno"}[sign]
        rgba = apply_cmap(shown / scale, cmap or default)
    rgba[..., 3] = np.clip(np.rint(np.abs(shown) / scale * 255), 0, 255).astype(np.uint8)
    return rgba


def blend(image: np.ndarray, heat: np.ndarray, opacity: float = 0.6) -> np.ndarray:
    """Draw RGBA ``heat`` over RGBA ``image`` (same size), scaled by ``opacity``."""
    if image.shape != heat.shape:
        raise ValueError(f"image {image.shape} and heat map {heat.shape} differ in size")
    a = (heat[..., 3:4].astype(np.float32) / 255.0) * float(np.clip(opacity, 0.0, 1.0))
    out = image.copy()
    out[..., :3] = np.rint(image[..., :3] * (1 - a) + heat[..., :3] * a).astype(np.uint8)
    out[..., 3] = 255
    return out


def overlay_maps(image: np.ndarray, maps: np.ndarray, vmax: Optional[float] = None,
                 opacity: float = 0.6) -> np.ndarray:
    """One overlay per map: ``maps`` ``(K, h, w)`` enlarged to ``image`` (RGBA ``H x W``), diverging colours.

    One ``vmax`` for all K (default: their largest magnitude), so the overlays
    compare with each other. Returns ``(K, H, W, 4)`` uint8.
    """
    maps = np.asarray(maps, dtype=np.float32)
    if maps.ndim != 3:
        raise ValueError(f"expected maps shaped (K, h, w), got {maps.shape}")
    h, w = image.shape[:2]
    rows = (np.arange(h) * maps.shape[1] // h)[:, None]  # nearest cell: what each map cell covers
    cols = (np.arange(w) * maps.shape[2] // w)[None, :]
    top = float(np.abs(maps).max()) if vmax is None else float(vmax)
    return np.stack([blend(image, heatmap_rgba(m[rows, cols], "both", vmax=top or 1.0), opacity) for m in maps])

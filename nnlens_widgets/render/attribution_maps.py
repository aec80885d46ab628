"""Attribution and occlusion maps that read at a glance, alone and over a photo.

- **Outlier clipping.** A few extreme pixels would leave the rest of a
  gradient map faint speckle; as Captum's ``visualize_image_attr`` does, the
  colour saturates at a high percentile of ``|value|`` (``saturation_value``)
  and the legend says so.
- **Magnitude as opacity over a grey photo.** An overlay keeps the photo's
  shapes but not its hues (``grey_photo``), and the map's colour is laid on
  with an opacity that grows with ``|value|`` (``overlay_rgba``): a red map
  over a green object stays red, never brown.
- **The map alone** (``map_rgba``) is the colormap itself, opaque, so it
  matches its colour bar exactly; each colormap's zero end (black for
  magnitudes, white for signed maps) is where an overlay is transparent.
"""
from __future__ import annotations

from typing import Dict, Optional

import numpy as np

from .colormap import apply_cmap
from .heatmap import SIGNS

__all__ = ["SIGNS", "SIGN_CMAPS", "DIVERGING", "shown_values", "saturation_value", "grey_photo",
           "colour_layer", "map_rgba", "overlay_rgba", "side_by_side", "ordinal"]

#: colormaps whose strong end stays vivid over grey (low ends fade out anyway)
SIGN_CMAPS: Dict[str, str] = {"absolute": "inferno", "positive": "Reds", "negative": "Blues",
                              "both": "RdBu_r"}
DIVERGING = "RdBu_r"


def shown_values(values: np.ndarray, sign: str) -> np.ndarray:
    """The part of a 2-D signed map that is shown: ``|v|``, ``max(v, 0)``, ``max(-v, 0)`` or ``v``."""
    if sign not in SIGNS:
        raise ValueError(f"expected sign in {SIGNS}, got {sign!r}")
    v = np.nan_to_num(np.asarray(values, dtype=np.float32), nan=0.0, posinf=0.0, neginf=0.0)
    if v.ndim != 2:
        raise ValueError(f"expected a 2-D map, got shape {v.shape}")
    if sign == "absolute":
        return np.abs(v)
    if sign == "positive":
        return np.clip(v, 0, None)
    if sign == "negative":
        return np.clip(-v, 0, None)
    return v


def saturation_value(values: np.ndarray, percentile: float = 99.0) -> float:
    """The ``|value|`` at which colour saturates: that percentile of ``|values|``.

    Falls back to the largest ``|value|`` when the percentile is 0 (a sparse
    map), and to 1 for an all-zero map, so the result is always positive.
    """
    if not 0.0 < float(percentile) <= 100.0:
        raise ValueError(f"expected a percentile in (0, 100], got {percentile}")
    a = np.abs(np.asarray(values, dtype=np.float64)).ravel()
    a = a[np.isfinite(a)]
    if a.size == 0:
        return 1.0
    v = float(np.percentile(a, percentile))
    if not v > 0:
        v = float(a.max())
    return v if v > 0 else 1.0


def grey_photo(rgba: np.ndarray, low: float = 0.25, high: float = 0.75) -> np.ndarray:
    """A grey copy of an RGBA photo, its luminance squeezed into ``[low, high]``.

    Grey keeps the shapes without the hues; the squeeze leaves room above and
    below so both dark and bright map colours stand out on any photo.
    """
    rgb = np.asarray(rgba, dtype=np.float32)[..., :3] / 255.0
    # sums, not a matrix product: BLAS threads spinning after it slow the next forward pass
    luminance = 0.2126 * rgb[..., 0] + 0.7152 * rgb[..., 1] + 0.0722 * rgb[..., 2]
    grey = np.rint((low + (high - low) * luminance) * 255).astype(np.uint8)
    out = np.empty(grey.shape + (4,), dtype=np.uint8)
    out[..., :3] = grey[..., None]
    out[..., 3] = 255
    return out


def colour_layer(shown: np.ndarray, sign: str, vmax: float, cmap: Optional[str] = None) -> np.ndarray:
    """RGBA colour of each value (clipped at ``vmax``) with alpha = ``min(|v| / vmax, 1)``."""
    if not (np.isfinite(vmax) and vmax > 0):
        raise ValueError(f"expected a positive, finite vmax, got {vmax}")
    cmap = cmap or SIGN_CMAPS[sign]
    t = np.clip(shown / vmax, -1.0, 1.0)
    rgba = apply_cmap(0.5 + 0.5 * t if sign == "both" else t, cmap)
    rgba[..., 3] = np.rint(np.abs(t) * 255).astype(np.uint8)
    return rgba


def _lay(base: np.ndarray, layer: np.ndarray, opacity: float) -> np.ndarray:
    a = layer[..., 3:4].astype(np.float32) / 255.0 * float(opacity)
    out = base.copy()
    out[..., :3] = np.rint(base[..., :3] * (1 - a) + layer[..., :3] * a).astype(np.uint8)
    out[..., 3] = 255
    return out


def map_rgba(values: np.ndarray, sign: str, vmax: float, cmap: Optional[str] = None) -> np.ndarray:
    """The map alone, opaque: exactly the colours of its colour bar."""
    rgba = colour_layer(shown_values(values, sign), sign, vmax, cmap)
    rgba[..., 3] = 255
    return rgba


def overlay_rgba(photo: np.ndarray, values: np.ndarray, sign: str, vmax: float, opacity: float = 0.8,
                 cmap: Optional[str] = None) -> np.ndarray:
    """The map over a grey copy of ``photo`` (RGBA, same size), opacity ``opacity * min(|v| / vmax, 1)``."""
    shown = shown_values(values, sign)
    if photo.shape[:2] != shown.shape:
        raise ValueError(f"photo {photo.shape[:2]} and map {shown.shape} differ in size")
    if not 0.0 <= float(opacity) <= 1.0:
        raise ValueError(f"expected opacity in 0..1, got {opacity}")
    return _lay(grey_photo(photo), colour_layer(shown, sign, vmax, cmap), opacity)


def side_by_side(left: np.ndarray, right: np.ndarray, gap: int = 1) -> np.ndarray:
    """Two RGBA pictures of one height with a transparent gap (the page shows through)."""
    if left.shape[0] != right.shape[0]:
        raise ValueError(f"expected pictures of one height, got {left.shape[0]} and {right.shape[0]}")
    space = np.zeros((left.shape[0], int(gap), 4), dtype=np.uint8)
    return np.concatenate([left, space, right], axis=1)


def ordinal(value: float) -> str:
    """``99`` -> "99th", ``92`` -> "92nd", ``99.5`` -> "99.5th" (for legends)."""
    v = float(value)
    if v != int(v):
        return f"{v:g}th"
    n = int(v)
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"

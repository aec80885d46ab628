"""Pictures of what a 2-input network draws over the plane.

Outputs ``(H, W, k)`` become RGBA: three outputs in [-1, 1] are a colour,
one output a diverging map, several outputs the winning class coloured by
its confidence (TensorFlow-Playground style). Neuron maps are tiled with one
fixed scale (tanh units: -1..1) so tiles compare with each other.
"""
from __future__ import annotations

from typing import Optional, Sequence

import numpy as np

from .colormap import apply_cmap, lut
from .tiling import TileLayout, tile, upscale

__all__ = [
    "PLANE_MODES",
    "class_rgba",
    "difference_rgba",
    "draw_points",
    "magnitude_rgba",
    "neuron_grid",
    "plane_rgba",
    "rgb_from_signed",
    "signed_rgba",
]

PLANE_MODES = ("auto", "rgb", "signed", "classes")


def rgb_from_signed(values: np.ndarray) -> np.ndarray:
    """``(H, W, 3)`` colours in [-1, 1] -> RGBA uint8 (clipped)."""
    v = np.asarray(values, dtype=np.float32)
    out = np.empty(v.shape[:2] + (4,), dtype=np.uint8)
    out[..., :3] = np.clip(np.rint((np.nan_to_num(v) + 1.0) * 127.5), 0, 255)
    out[..., 3] = 255
    return out


def signed_rgba(values: np.ndarray, vmax: Optional[float] = None, cmap: str = "RdBu_r") -> np.ndarray:
    """One signed map ``(H, W)`` on a diverging colormap, zero in the middle.

    ``vmax`` is the magnitude at either end (default: the map's largest).
    """
    v = np.nan_to_num(np.asarray(values, dtype=np.float32))
    m = float(np.abs(v).max()) if vmax is None else float(vmax)
    m = m if m > 0 and np.isfinite(m) else 1.0
    return apply_cmap(0.5 + 0.5 * v / m, cmap)


def class_rgba(values: np.ndarray, palette: str = "tab10") -> np.ndarray:
    """``(H, W, k)`` scores -> the argmax class's colour, paler where softmax is unsure."""
    v = np.asarray(values, dtype=np.float64)
    p = np.exp(v - v.max(axis=2, keepdims=True))
    p /= p.sum(axis=2, keepdims=True)
    winner = p.argmax(axis=2)
    k = v.shape[2]
    confidence = (p.max(axis=2) - 1.0 / k) / (1.0 - 1.0 / k)  # 0 at a tie, 1 when certain
    colours = lut(palette)[np.linspace(0, 255, 10).astype(int)][:, :3].astype(np.float64)
    if k > 10:
        colours = lut("hsv")[np.linspace(0, 255, k, endpoint=False).astype(int)][:, :3].astype(np.float64)
    c = colours[winner % len(colours)]
    a = 0.25 + 0.75 * confidence[..., None]
    out = np.empty(v.shape[:2] + (4,), dtype=np.uint8)
    out[..., :3] = np.clip(np.rint(c * a + 255.0 * (1 - a)), 0, 255)
    out[..., 3] = 255
    return out


def plane_rgba(values: np.ndarray, mode: str = "auto", output: Optional[int] = None) -> np.ndarray:
    """What a network draws, ``(H, W, k)`` -> RGBA.

    ``mode``: ``"rgb"`` (k = 3, values in [-1, 1]), ``"signed"`` (one output,
    ``output`` picks it, default 0), ``"classes"`` (argmax over k >= 2);
    ``"auto"`` picks rgb for 3 outputs, signed for 1, classes otherwise.
    """
    v = np.asarray(values)
    if v.ndim != 3 or v.shape[2] < 1:
        raise ValueError(f"expected plane outputs shaped (H, W, k), got {v.shape}")
    k = v.shape[2]
    if mode not in PLANE_MODES:
        raise ValueError(f"expected mode in {PLANE_MODES}, got {mode!r}")
    if mode == "auto":
        mode = "rgb" if k == 3 and output is None else "signed" if k == 1 or output is not None else "classes"
    if mode == "rgb":
        if k != 3:
            raise ValueError(f"the rgb view needs 3 outputs, the network has {k}")
        return rgb_from_signed(v)
    if mode == "classes":
        if k < 2:
            raise ValueError("the classes view needs at least 2 outputs")
        return class_rgba(v)
    o = 0 if output is None else int(output)
    if not 0 <= o < k:
        raise ValueError(f"expected an output in 0..{k - 1}, got {o}")
    return signed_rgba(v[:, :, o])


def magnitude_rgba(values: np.ndarray, cmap: str = "inferno") -> np.ndarray:
    """A non-negative map ``(H, W)`` from black (zero) to bright (its largest value)."""
    v = np.nan_to_num(np.asarray(values, dtype=np.float32))
    m = float(v.max()) if v.size else 0.0
    return apply_cmap(v / m if m > 0 else np.zeros_like(v), cmap)


def difference_rgba(now: np.ndarray, before: np.ndarray, gain: float = 1.0) -> np.ndarray:
    """Now minus before for ``(H, W, 3)`` colours in [-1, 1]: mid-grey where nothing
    changed, tinted towards the colour that was added (``gain`` amplifies)."""
    if np.shape(now) != np.shape(before):
        raise ValueError(f"pictures differ in shape: {np.shape(now)} vs {np.shape(before)}")
    d = (np.asarray(now, dtype=np.float32) - np.asarray(before, dtype=np.float32)) * float(gain)
    if d.shape[2] != 3:
        return signed_rgba(d[:, :, 0], vmax=1.0)
    return rgb_from_signed(np.clip(d, -1, 1))


def draw_points(rgba: np.ndarray, points: np.ndarray, labels: Optional[np.ndarray],
                extent: Sequence[float], radius: int = 1, palette: str = "tab10") -> np.ndarray:
    """Mark data points ``(N, 2)`` (plane coordinates) on a plane picture, as small
    squares in their label's colour with a dark outline (white without labels)."""
    out = np.array(rgba, copy=True)
    h, w = out.shape[:2]
    pts = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    x0, x1, y0, y1 = (float(v) for v in extent)
    cols = np.rint((pts[:, 0] - x0) / (x1 - x0) * (w - 1)).astype(int)
    rows = np.rint((pts[:, 1] - y0) / (y1 - y0) * (h - 1)).astype(int)
    colours = lut(palette)[np.linspace(0, 255, 10).astype(int)]
    r = int(radius)
    for i, (cy, cx) in enumerate(zip(rows, cols)):
        if not (0 <= cy < h and 0 <= cx < w):
            continue
        out[max(cy - r - 1, 0):cy + r + 2, max(cx - r - 1, 0):cx + r + 2, :3] = 20
        colour = colours[int(labels[i]) % 10] if labels is not None else (255, 255, 255, 255)
        out[max(cy - r, 0):cy + r + 1, max(cx - r, 0):cx + r + 1] = colour
    return out


def neuron_grid(maps: np.ndarray, tile_px: int = 48, cols: Optional[int] = None,
                vmax: float = 1.0, cmap: str = "RdBu_r") -> tuple:
    """Tile neuron maps ``(n, h, w)`` on one fixed diverging scale (+-``vmax``).

    Each map is enlarged by the largest integer factor that fits ``tile_px``.
    Returns ``(rgba, layout)``; ``layout.index_at(x, y)`` maps a click back.
    """
    m = np.asarray(maps, dtype=np.float32)
    if m.ndim != 3 or m.shape[0] == 0:
        raise ValueError(f"expected neuron maps shaped (n, h, w), got {m.shape}")
    factor = max(1, int(tile_px) // max(m.shape[1], m.shape[2]))
    tiles = upscale(signed_rgba(m.reshape(-1, m.shape[2]), vmax=vmax, cmap=cmap)
                    .reshape(m.shape + (4,)).transpose(1, 2, 0, 3), factor)
    tiles = tiles.transpose(2, 0, 1, 3)
    layout = TileLayout.for_count(m.shape[0], tiles.shape[1], tiles.shape[2], gap=2, cols=cols)
    return tile(tiles, layout), layout

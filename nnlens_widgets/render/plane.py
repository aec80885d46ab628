"""Pictures of what a 2-input network draws over the plane, and what their colours mean.

Outputs ``(H, W, k)`` become RGBA: three outputs in [-1, 1] are a colour,
one output a diverging map, several outputs the winning class coloured by
its confidence (TensorFlow-Playground style). Neuron maps are tiled on one
scale so tiles compare with each other. Each picture has a ``Scale`` (or,
for classes, a named colour key) saying what its colours mean.
"""
from __future__ import annotations

import html
from typing import Optional, Sequence, Tuple

import numpy as np

from .colormap import apply_cmap, lut
from .legend import THEME, Scale
from .tiling import TileLayout, tile, upscale

__all__ = [
    "CLASS_PALETTE",
    "DIVERGING",
    "PLANE_MODES",
    "RATE_CMAP",
    "class_colours",
    "class_key_html",
    "class_rgba",
    "difference_rgba",
    "difference_scale",
    "draw_points",
    "magnitude_rgba",
    "neuron_grid",
    "neuron_range",
    "painting_scale",
    "plane_picture",
    "plane_rgba",
    "rate_scale",
    "rgb_from_signed",
    "signed_rgba",
]

PLANE_MODES = ("auto", "rgb", "signed", "classes")
DIVERGING = "RdBu_r"  # signed maps: blue below zero, white at zero, red above
RATE_CMAP = "inferno"  # magnitudes: black at zero
CLASS_PALETTE = "tab10"  # one colour per class (ten, then evenly spaced hues)
POINT_OUTLINE = 20  # grey level of the outline around a marked data point


def class_colours(count: int) -> np.ndarray:
    """``(count, 3)`` uint8 colours for classes ``0..count-1`` (tab10, hues beyond ten)."""
    if count > 10:
        return lut("hsv")[np.linspace(0, 255, count, endpoint=False).astype(int)][:, :3]
    return lut(CLASS_PALETTE)[np.linspace(0, 255, 10).astype(int)][:, :3]


def rgb_from_signed(values: np.ndarray) -> np.ndarray:
    """``(H, W, 3)`` colours in [-1, 1] -> RGBA uint8 (clipped)."""
    v = np.asarray(values, dtype=np.float32)
    out = np.empty(v.shape[:2] + (4,), dtype=np.uint8)
    out[..., :3] = np.clip(np.rint((np.nan_to_num(v) + 1.0) * 127.5), 0, 255)
    out[..., 3] = 255
    return out


def signed_rgba(values: np.ndarray, vmax: Optional[float] = None, cmap: str = DIVERGING) -> np.ndarray:
    """One signed map ``(H, W)`` on a diverging colormap, zero in the middle.

    ``vmax`` is the magnitude at either end (default: the map's largest).
    """
    v = np.nan_to_num(np.asarray(values, dtype=np.float32))
    m = float(np.abs(v).max()) if vmax is None else float(vmax)
    m = m if m > 0 and np.isfinite(m) else 1.0
    return apply_cmap(0.5 + 0.5 * v / m, cmap)


def class_rgba(values: np.ndarray, palette: str = CLASS_PALETTE) -> np.ndarray:
    """``(H, W, k)`` scores -> the argmax class's colour, paler where softmax is unsure."""
    v = np.asarray(values, dtype=np.float64)
    p = np.exp(v - v.max(axis=2, keepdims=True))
    p /= p.sum(axis=2, keepdims=True)
    winner = p.argmax(axis=2)
    k = v.shape[2]
    confidence = (p.max(axis=2) - 1.0 / k) / (1.0 - 1.0 / k)  # 0 at a tie, 1 when certain
    colours = (class_colours(k) if palette == CLASS_PALETTE
               else lut(palette)[np.linspace(0, 255, 10).astype(int)][:, :3]).astype(np.float64)
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


def magnitude_rgba(values: np.ndarray, cmap: str = RATE_CMAP) -> np.ndarray:
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
                extent: Sequence[float], radius: int = 1, palette: str = CLASS_PALETTE,
                classes: Optional[int] = None) -> np.ndarray:
    """Mark data points ``(N, 2)`` (plane coordinates) on a plane picture, as small
    squares in their label's colour with a dark outline (white without labels).
    ``classes``: how many classes there are (picks the palette as ``class_rgba`` does)."""
    out = np.array(rgba, copy=True)
    h, w = out.shape[:2]
    pts = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    x0, x1, y0, y1 = (float(v) for v in extent)
    cols = np.rint((pts[:, 0] - x0) / (x1 - x0) * (w - 1)).astype(int)
    rows = np.rint((pts[:, 1] - y0) / (y1 - y0) * (h - 1)).astype(int)
    if classes is None:
        classes = 0 if labels is None or not len(labels) else int(np.max(labels)) + 1
    colours = (class_colours(classes) if palette == CLASS_PALETTE
               else lut(palette)[np.linspace(0, 255, 10).astype(int)][:, :3])
    r = int(radius)
    for i, (cy, cx) in enumerate(zip(rows, cols)):
        if not (0 <= cy < h and 0 <= cx < w):
            continue
        out[max(cy - r - 1, 0):cy + r + 2, max(cx - r - 1, 0):cx + r + 2, :3] = POINT_OUTLINE
        colour = colours[int(labels[i]) % len(colours)] if labels is not None else (255, 255, 255)
        out[max(cy - r, 0):cy + r + 1, max(cx - r, 0):cx + r + 1, :3] = colour
        out[max(cy - r, 0):cy + r + 1, max(cx - r, 0):cx + r + 1, 3] = 255
    return out


def neuron_grid(maps: np.ndarray, tile_px: int = 48, cols: Optional[int] = None,
                vmax: float = 1.0, cmap: str = DIVERGING) -> tuple:
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


# -- what the colours mean ------------------------------------------------------
def painting_scale() -> Scale:
    """The colour bar of an RGB painting: each channel from output -1 (dark) to +1 (full)."""
    return Scale("gray", -1.0, 1.0, "output per colour channel (R, G, B): -1 dark, +1 full")


def difference_scale(gain: float, outputs: int = 3) -> Scale:
    """The colour bar of ``difference_rgba(..., gain)``: per channel, mid-grey is no change."""
    if outputs != 3:
        return Scale(DIVERGING, -1.0 / gain, 1.0 / gain, f"output 0 minus original (shown x{gain:.3g})",
                     middle="0")
    return Scale("gray", -1.0 / gain, 1.0 / gain, f"output minus original, per channel, shown x{gain:.3g}",
                 middle="0")


def plane_picture(values: np.ndarray, mode: str = "auto", output: int = 0,
                  names: Optional[Sequence[str]] = None) -> Tuple[np.ndarray, Optional[Scale], str]:
    """What a network draws, with what its colours mean: ``(rgba, scale, key_html)``.

    ``mode`` as in ``plane_rgba``; the scale is ``None`` for the classes view,
    whose colours are named by ``key_html`` instead (``names``: the outputs' names).
    """
    k = np.shape(values)[2]
    if mode == "auto":
        mode = "rgb" if k == 3 else "signed" if k == 1 else "classes"
    rgba = plane_rgba(values, mode, output if mode == "signed" else None)
    if mode == "rgb":
        return rgba, painting_scale(), ""
    if mode == "signed":
        m = float(np.nanmax(np.abs(np.asarray(values)[:, :, output]))) or 1.0
        name = f"output {output}" + (f" ({names[output]})" if names is not None and str(names[output]) != str(output)
                                      else "")
        return rgba, Scale(DIVERGING, -m, m, name, middle="0"), ""
    return rgba, None, class_key_html(names if names is not None else [str(i) for i in range(k)])


def rate_scale(high: float, what: str) -> Scale:
    """The colour bar of ``magnitude_rgba``: black at 0, bright at ``high``."""
    return Scale(RATE_CMAP, 0.0, float(high), f"change of the pixel per unit of {what} (RMS over outputs)")


def neuron_range(activations: Sequence[str], maps: np.ndarray) -> Tuple[float, str]:
    """One symmetric range for every neuron map, and what it means.

    tanh neurons share the range -1..1 (their whole range); other neurons
    the largest ``|value|`` among all maps, so tiles compare with each other.
    """
    kinds = sorted(set(activations))
    if kinds == ["Tanh"]:
        return 1.0, "neuron activation (tanh, -1..1)"
    m = float(np.nanmax(np.abs(maps))) if np.size(maps) else 0.0
    m = m if np.isfinite(m) and m > 0 else 1.0
    after = ", ".join(k.lower() for k in kinds)
    return m, f"neuron output ({after}), one range for all neurons"


def class_key_html(names: Sequence[str]) -> str:
    """A colour key for ``class_rgba``: one swatch and name per class (names are escaped)."""
    colours = class_colours(len(names))
    items = "".join(
        f"<span style='display:inline-flex;align-items:center;gap:4px;margin-right:10px'>"
        f"<span style='width:12px;height:12px;border:1px solid {THEME['border']};"
        f"background:rgb({c[0]},{c[1]},{c[2]})'></span>{html.escape(str(name))}</span>"
        for name, c in zip(names, colours[np.arange(len(names)) % len(colours)]))
    return (f"<div class='nnl-class-key' style='color:{THEME['fg']};font-family:{THEME['font']};"
            f"font-size:12px;line-height:1.6;max-width:320px'>{items}"
            f"<div>each point: the class with the highest output; paler where softmax is less sure</div></div>")

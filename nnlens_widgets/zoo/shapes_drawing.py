"""How the synthetic shapes look: classes, palette, textures, sizes, and the exact rasteriser.

``shapes`` draws the random parameters and builds the data sets; this module
holds the constants that define the images and turns parameters into exact
masks and painted pixels.
"""
from __future__ import annotations

import math
from typing import Dict, List

import numpy as np
import torch
import torch.nn.functional as F

__all__ = [
    "SHAPE_CLASSES",
    "PALETTE",
    "TEXTURES",
    "SIZES",
    "SHAPE_CONCEPTS",
    "SIZE_THRESHOLD",
    "SMALL_AREAS",
    "LARGE_AREAS",
    "COLOR_JITTER",
    "SHAPE_NOISE",
    "BACKGROUND_NOISE",
    "STAR_INNER",
    "CROSS_HALF_WIDTH",
]

SHAPE_CLASSES: List[str] = ["circle", "square", "triangle", "star", "cross"]

#: Shape colours before jitter (RGB in [0, 1]); saturated, so that they stand
#: out from the greyish, tinted backgrounds without being the only cue.
PALETTE: Dict[str, tuple] = {
    "red": (0.90, 0.12, 0.12),
    "green": (0.12, 0.78, 0.18),
    "blue": (0.15, 0.30, 0.95),
    "yellow": (0.95, 0.88, 0.12),
    "magenta": (0.88, 0.15, 0.88),
    "cyan": (0.12, 0.85, 0.90),
}
TEXTURES: List[str] = ["noise", "stripes", "checker", "gradient"]
SIZES: List[str] = ["small", "large"]

#: Categorical attributes usable as concepts, with their possible values.
SHAPE_CONCEPTS: Dict[str, List[str]] = {
    "color": list(PALETTE),
    "texture": list(TEXTURES),
    "size": list(SIZES),
}

#: A shape is "large" when its mask covers at least this many pixels of a
#: 64x64 image (scaled by (size / 64)^2 for other sizes). Areas are drawn from
#: SMALL_AREAS or LARGE_AREAS, well away from the threshold on either side, so
#: the size class is never ambiguous.
SIZE_THRESHOLD = 400
SMALL_AREAS = (150.0, 330.0)
LARGE_AREAS = (480.0, 780.0)

COLOR_JITTER = 0.06  # per channel, uniform, on the palette colour of each image
SHAPE_NOISE = 0.04  # per pixel, uniform, on the shape's pixels
BACKGROUND_NOISE = 0.06  # per pixel, uniform, on the background's pixels

# Star: inner vertices at this fraction of the outer radius. Cross: arm
# half-width as a fraction of the circumradius.
STAR_INNER = 0.45
CROSS_HALF_WIDTH = 0.32


def _area_factor(kind: str) -> float:
    """Area of the shape with circumradius 1 (so area = factor * radius^2)."""
    if kind == "circle":
        return math.pi
    if kind == "square":
        return 2.0
    if kind == "triangle":
        return 1.5 * math.sqrt(3) / 2
    if kind == "star":
        return 5 * STAR_INNER * math.sin(math.pi / 5)
    w = CROSS_HALF_WIDTH
    return 8 * w * math.sqrt(1 - w * w) - 4 * w * w  # two arms minus their overlap


_AREA_FACTORS = np.array([_area_factor(k) for k in SHAPE_CLASSES])

# --- rasterisation ----------------------------------------------------------


def _star_polygon(rho, phi, points: int, inner: float) -> np.ndarray:
    """Inside test for a polygon with ``points`` outer vertices at radius 1 (angle 0, 2pi/points, ...)
    alternating with inner vertices at radius ``inner``; ``rho`` in units of the circumradius.

    The polygon is star-shaped around its centre and symmetric, so folding the
    polar angle into ``[0, pi/points]`` leaves one edge, from the outer vertex
    A = (1, 0) to the inner vertex B; a point is inside when it lies on the
    centre's side of that edge. A regular polygon is the case where B is the
    midpoint of an edge (``inner = cos(pi/points)``).
    """
    period = 2 * np.pi / points
    folded = np.mod(phi, period)
    folded = np.minimum(folded, period - folded)
    bx, by = inner * np.cos(np.pi / points), inner * np.sin(np.pi / points)
    px, py = rho * np.cos(folded), rho * np.sin(folded)
    return (bx - 1.0) * py - by * (px - 1.0) >= 0


def _shape_frame(p: Dict[str, np.ndarray], k: np.ndarray, size: int):
    """Pixel-centre coordinates of images ``k`` in each shape's own frame, in circumradii."""
    coords = np.arange(size, dtype=np.float64)
    dx = coords[None, None, :] - p["cx"][k, None, None]
    dy = coords[None, :, None] - p["cy"][k, None, None]
    cos, sin = np.cos(p["angle"][k])[:, None, None], np.sin(p["angle"][k])[:, None, None]
    radius = p["radius"][k, None, None]
    return (dx * cos + dy * sin) / radius, (-dx * sin + dy * cos) / radius


def _rasterise(p: Dict[str, np.ndarray], size: int) -> np.ndarray:
    """Exact boolean masks ``(n, size, size)``: pixel centres inside each shape."""
    masks = np.zeros((len(p["label"]), size, size), dtype=bool)
    for label, kind in enumerate(SHAPE_CLASSES):
        k = np.flatnonzero(p["label"] == label)
        if not len(k):
            continue
        u, v = _shape_frame(p, k, size)
        if kind == "circle":
            inside = u * u + v * v <= 1
        elif kind == "cross":
            w = CROSS_HALF_WIDTH
            length = math.sqrt(1 - w * w)  # the arm ends' corners lie on the circumcircle
            au, av = np.abs(u), np.abs(v)
            inside = ((au <= w) & (av <= length)) | ((av <= w) & (au <= length))
        else:
            points, inner = {
                "square": (4, math.cos(math.pi / 4)),
                "triangle": (3, math.cos(math.pi / 3)),
                "star": (5, STAR_INNER),
            }[kind]
            inside = _star_polygon(np.hypot(u, v), np.arctan2(v, u), points, inner)
        masks[k] = inside
    return masks


def _texture(kind: str, p: Dict[str, np.ndarray], k: np.ndarray, size: int, rng: np.random.Generator) -> np.ndarray:
    """Mixing weights ``(len(k), size, size)`` in [0, 1] between the two background colours."""
    coords = np.arange(size, dtype=np.float32)
    x, y = coords[None, None, :], coords[None, :, None]
    period = p["period"][k, None, None].astype(np.float32)
    shift = p["phase"][k, :, None, None].astype(np.float32)
    if kind == "noise":
        # Blotchy value noise: a coarse random grid, upsampled smoothly, stretched to [0, 1].
        coarse = torch.from_numpy(rng.random((len(k), 1, 9, 9), dtype=np.float32))
        blotches = F.interpolate(coarse, size=(size, size), mode="bilinear", align_corners=False)[:, 0].numpy()
        lo = blotches.min(axis=(1, 2), keepdims=True)
        hi = blotches.max(axis=(1, 2), keepdims=True)
        return (blotches - lo) / np.maximum(hi - lo, 1e-6)
    if kind == "checker":
        cells = np.floor(x / period + shift[:, 0]) + np.floor(y / period + shift[:, 1])
        return np.mod(cells, 2.0).astype(np.float32)
    direction = p["direction"][k].astype(np.float32)
    along = x * np.cos(direction)[:, None, None] + y * np.sin(direction)[:, None, None]
    if kind == "stripes":
        return (np.mod(along / period + shift[:, 0], 1.0) < 0.5).astype(np.float32)
    # Gradient: a linear ramp across the whole image along ``direction``.
    lo = along.min(axis=(1, 2), keepdims=True)
    hi = along.max(axis=(1, 2), keepdims=True)
    return (along - lo) / (hi - lo)


def _paint(p: Dict[str, np.ndarray], masks: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Images ``(n, 3, size, size)``: shape colour inside the masks, textured background outside, noise on both."""
    n, size = masks.shape[0], masks.shape[1]
    weight = np.empty((n, 1, size, size), dtype=np.float32)
    for index, kind in enumerate(TEXTURES):
        k = np.flatnonzero(p["texture"] == index)
        if len(k):
            weight[k, 0] = _texture(kind, p, k, size, rng)
    bg0 = p["bg0"].astype(np.float32)[:, :, None, None]
    bg1 = p["bg1"].astype(np.float32)[:, :, None, None]
    inside = masks[:, None]
    base = np.where(inside, p["rgb"].astype(np.float32)[:, :, None, None], bg0 + (bg1 - bg0) * weight)
    amplitude = np.where(inside, np.float32(SHAPE_NOISE), np.float32(BACKGROUND_NOISE))
    noise = rng.random((n, 3, size, size), dtype=np.float32) * 2 - 1
    # Clipping to [0, 1] only moves a shape pixel towards its colour (which is in [0, 1]).
    return np.clip(base + amplitude * noise, 0, 1, out=base)

"""Text that stays readable on any coloured background (WCAG 2 contrast).

Relative luminance is computed on linearised sRGB; the contrast of two
colours is ``(L_lighter + 0.05) / (L_darker + 0.05)``. For every background
one of pure black or pure white reaches at least 4.58:1 (the worst case is a
background of luminance ~0.18), so picking the better of the two always meets
the 4.5:1 asked of normal text. A translucent background is first blended
with the page behind it.
"""
from __future__ import annotations

from typing import Sequence, Union

import numpy as np

__all__ = ["relative_luminance", "contrast_ratio", "blend_over", "ink_for", "BLACK", "WHITE", "AA_TEXT"]

BLACK = np.array([0, 0, 0], dtype=np.uint8)
WHITE = np.array([255, 255, 255], dtype=np.uint8)
AA_TEXT = 4.5  # WCAG 2 level AA for normal text

Colors = Union[np.ndarray, Sequence]


def relative_luminance(rgb: Colors) -> np.ndarray:
    """WCAG relative luminance of sRGB colours ``(..., 3)`` given as 0..255."""
    c = np.asarray(rgb, dtype=np.float64)[..., :3] / 255.0
    linear = np.where(c <= 0.03928, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    return linear @ np.array([0.2126, 0.7152, 0.0722])


def contrast_ratio(a: Colors, b: Colors) -> np.ndarray:
    """WCAG contrast ratio (1..21) between colours ``a`` and ``b`` (broadcast, ``(..., 3)``)."""
    la, lb = relative_luminance(a), relative_luminance(b)
    return (np.maximum(la, lb) + 0.05) / (np.minimum(la, lb) + 0.05)


def blend_over(rgba: Colors, page_rgb: Colors) -> np.ndarray:
    """What a translucent colour ``(..., 4)`` (alpha 0..255) looks like over ``page_rgb``; uint8 RGB."""
    c = np.asarray(rgba, dtype=np.float64)
    page = np.asarray(page_rgb, dtype=np.float64)[..., :3]
    if c.shape[-1] == 3:
        return np.asarray(np.rint(c), dtype=np.uint8)
    alpha = c[..., 3:4] / 255.0
    return np.rint(c[..., :3] * alpha + page * (1 - alpha)).astype(np.uint8)


def ink_for(background_rgb: Colors) -> np.ndarray:
    """Black or white for text on each background ``(..., 3)``, whichever contrasts more; uint8 RGB."""
    bg = np.asarray(background_rgb)[..., :3]
    white_wins = contrast_ratio(bg, WHITE) > contrast_ratio(bg, BLACK)
    return np.where(white_wins[..., None], WHITE, BLACK).astype(np.uint8)

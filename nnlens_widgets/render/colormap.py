"""Colour lookup: values in [0, 1] -> RGBA bytes via matplotlib colormap tables."""
from __future__ import annotations

from functools import lru_cache

import numpy as np

__all__ = ["lut", "apply_cmap"]


@lru_cache(maxsize=64)
def lut(name: str) -> np.ndarray:
    """A (256, 4) uint8 table sampled from the matplotlib colormap ``name``."""
    import matplotlib

    try:
        cmap = matplotlib.colormaps[name]
    except KeyError:
        raise KeyError(
            f"unknown colormap {name!r}; expected a matplotlib name such as "
            "'viridis', 'gray', 'magma' or 'RdBu_r'"
        ) from None
    table = np.round(cmap(np.linspace(0.0, 1.0, 256)) * 255).astype(np.uint8)
    table.setflags(write=False)
    return table


def apply_cmap(values: np.ndarray, cmap: str = "viridis") -> np.ndarray:
    """Map an array of values in [0, 1] to ``values.shape + (4,)`` RGBA uint8.

    Values outside [0, 1] are clipped; NaN maps to the low end, so a picture is
    always fully drawn.
    """
    v = np.nan_to_num(np.asarray(values, dtype=np.float32), nan=0.0)
    idx = np.clip(np.rint(v * 255.0), 0, 255).astype(np.uint8)
    return lut(cmap)[idx]

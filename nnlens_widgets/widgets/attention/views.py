"""The AttentionExplorer's pictures and words: the head grid, maps over the image, the entropy chart."""
from __future__ import annotations

import math

import numpy as np

from ...render.attention_pictures import ATTENTION_CMAP, patch_overlay, patch_tiles
from ...render.charts import SERIES_COLORS, line_chart_svg
from ...render.legend import Scale
from .data import AttentionInput
from ..views import PictureView

__all__ = ["query_words", "entropy_chart", "grid_picture", "show_patch_map"]

UNIFORM_GREY = "#8a8a8a"  # the reference line: at least 3:1 on light and dark backgrounds
MAX_HEAD_LINES = 4  # more heads than this: their mean, lowest and highest instead of one line each


def query_words(data: AttentionInput, token: int) -> str:
    """"class token", "token 2 (a register token)" or "patch row 3, column 5 (token 30)"."""
    patch = data.patch_of(token)
    if patch is None:
        return "class token" if token == 0 else f"token {token} (a prefix token)"
    return f"patch row {patch[0]}, column {patch[1]} (token {token})"


def entropy_chart(data: AttentionInput, layer: str, width: int = 330, height: int = 200) -> str:
    """Each head's mean attention entropy (bits) against depth, with the uniform attention's entropy
    (``log2 T``) as a grey reference line; the chosen layer is named in the x label."""
    names = data.names
    depth = np.arange(len(names), dtype=float)
    heads = data.max_heads
    table = np.full((len(names), heads), np.nan)
    for i, n in enumerate(names):
        table[i, :data.heads[n]] = data.entropy[n]
    if heads <= MAX_HEAD_LINES:
        series = [(f"head {h}", depth, table[:, h], SERIES_COLORS[h]) for h in range(heads)]
    else:
        series = [("mean of heads", depth, np.nanmean(table, 1), SERIES_COLORS[0]),
                  ("lowest head", depth, np.nanmin(table, 1), SERIES_COLORS[1]),
                  ("highest head", depth, np.nanmax(table, 1), SERIES_COLORS[2])]
    uniform = math.log2(data.tokens)
    series.append((f"uniform over {data.tokens} tokens", depth, np.full(len(names), uniform), UNIFORM_GREY))
    chosen = names.index(layer)
    x_range = (0.0, max(1.0, float(len(names) - 1)))
    lines = [(name, np.asarray(x, float).tolist(), np.asarray(y, float).tolist(), colour) for name, x, y, colour in series]
    return line_chart_svg(lines, x_label=f"layer (0 = first; chosen: {chosen})", y_label="entropy (bits)",
                          width=width, height=height, x_range=x_range, y_range=(0.0, math.ceil(uniform)))


def grid_picture(values: np.ndarray, present: np.ndarray, normalization: str):
    """(rgba, layout, legend) of the layer x head grid: one colour range ("shared") or each tile its own."""
    if normalization == "shared":
        vmax = float(values[present].max())
        legend = Scale(ATTENTION_CMAP, 0.0, vmax, "attention probability (query to patch), one range")
    else:
        vmax = values.reshape(values.shape[:2] + (-1,)).max(-1)
        legend = Scale(ATTENTION_CMAP, 0.0, 1.0, "attention probability, each tile 0 to its own max",
                       ends=("0", "tile max"))
    rgba, layout = patch_tiles(values, present, vmax)
    return rgba, layout, legend


def show_patch_map(view: PictureView, photo: np.ndarray, values: np.ndarray, *, title: str, meaning: str,
                   caption: str) -> None:
    """``values`` (h, w) over the photo, coloured from 0 to their maximum, with that colour bar."""
    top = float(values.max())
    view.show(patch_overlay(photo, values, top), title=title,
              legend=Scale(ATTENTION_CMAP, 0.0, top, meaning, opacity=True), caption=caption)

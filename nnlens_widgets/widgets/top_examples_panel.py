"""FeatureVisualizer's top-examples panel: the unit's top data images, or why there are none.

When the unit's top images all tie (a unit that is 0 on every image of the
data), "top examples" would be an arbitrary pick among equals: the panel
shows a grey hatch and says so, and the sentence joins the widget's warnings.
"""
from __future__ import annotations

import numpy as np

from ..render import TileLayout, box_marks, example_grid, fit_factor
from ..render.constant_tiles import hatch
from .checks import text
from .unit_runs import measures_html

__all__ = ["REGION", "draw_top_examples", "tie_sentence"]

REGION = "#ff3b30"  # the box around the region that drives a unit: red, readable on grey and colour


def tie_sentence(values, layer: str, channel: int, scanned: int) -> str:
    """Why no top examples are shown ("" when the top values do not all tie)."""
    v = np.asarray(values, dtype=np.float64)
    if len(v) < 2 or np.ptp(v) != 0:
        return ""
    return (f"{layer} channel {channel} peaks at {v[0]:.4g} on its top {len(v)} of {scanned} data images: they "
            "tie, so no top examples are shown (any choice among them would be arbitrary)")


def draw_top_examples(view, found: dict, scanned: int, layer: str, channel: int, suffix: str = "") -> str:
    """Fill ``view`` (a ``TileGridView``) from ``found`` (indices, images, values, regions, measures;
    ``suffix`` ends the title); return the tie sentence when the examples are withheld, else ""."""
    sentence = tie_sentence(found["values"], layer, channel, scanned)
    if sentence:
        h, w = found["images"].shape[-2:]
        empty = TileLayout.for_count(0, int(h), int(w))  # nothing to click
        picture = hatch(empty.height, empty.width)
        view.show_tiles(picture, empty, scale=fit_factor(max(picture.shape[:2]), view.display_px),
                        title=f"{layer} channel {channel}: no top examples", caption=text(sentence))
        view.select()
        return sentence
    grid, layout = example_grid(found["images"])
    view.show_tiles(
        grid, layout, scale=fit_factor(max(grid.shape[:2]), view.display_px),
        title=f"top {len(found['indices'])} of {scanned} data images{suffix}",
        caption=(f"ranked by the peak activation<br>of channel {channel} in {text(layer)}; box: the input<br>"
                 f"region driving the peak<br>{measures_html(found['measures'], ranked='peak')}"))
    view.select(extra=box_marks(layout, found["regions"], REGION))
    return ""

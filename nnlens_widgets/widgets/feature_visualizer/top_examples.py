"""FeatureVisualizer's top-examples side: the layer's scan, the unit's top data images and their
regions, drawn, or why there are none.

When the unit's top images all tie (a unit that is 0 on every image of the
data), "top examples" would be an arbitrary pick among equals: the panel
shows a grey hatch and says so, and the sentence joins the widget's warnings.
"""
from __future__ import annotations

import numpy as np

from ...render import TileLayout, box_marks, example_grid, fit_factor
from ...render.constant_tiles import hatch
from ..checks import text
from ...core import TopExamples, top_examples
from ..unit_runs import channel_measures, measures_html, regions_of

__all__ = ["REGION", "scan_layer", "find_examples", "draw_top_examples", "tie_sentence"]

REGION = "#ff3b30"  # the box around the region that drives a unit: red, readable on grey and colour


def scan_layer(model, data, layer: str, k: int, job) -> TopExamples:
    """The ``k`` top images of every channel of ``layer`` in ``data`` (a ``DataView``), as a background job."""
    job.progress(0.0, f"scanning {len(data)} images for {layer}")
    return top_examples(model, data.data, layer, k=k, progress=lambda f, t: job.progress(f, f"{layer}: {t}"),
                        should_stop=lambda: job.cancelled)


def find_examples(model, data, scan: TopExamples, key: tuple, job) -> dict:
    """For ``key`` = (layer, channel, objective): the channel's top images, the regions driving their peaks,
    their values and the measures read off them."""
    layer, channel, objective = key
    idx, values, locations = scan.top(unit=channel)
    images = data.images(idx.tolist())
    job.progress(0.0, f"finding the regions of {len(idx)} examples")
    regions = regions_of(model, images, layer, locations, channel=channel)
    job.check()
    return dict(indices=idx, images=images, regions=regions, values=values.numpy(),
                measures=channel_measures(model, images, layer, channel, objective))


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

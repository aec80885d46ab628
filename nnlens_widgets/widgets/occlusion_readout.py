"""One measure under one name for an occlusion map and the patch under the mouse.

The map's value at a pixel is the drop of the score averaged over every
window that covers the pixel (Captum's convention), while the patch under
the mouse is one window, placed where the mouse is. The two differ (a pixel
at a window's edge shares it with windows that miss what matters), so the
readout shows both, each under its own name, in the unit the map uses: the
map's value at the pixel on the colour bar's scale, and the one window's drop.
"""
from __future__ import annotations

from typing import Optional, Tuple

import torch

from ..core.predictions import class_scores
from ..render.charts import probability_rows_html
from ..render.legend import THEME, fmt
from .checks import text

__all__ = ["covered_scores", "map_measure", "hover_html", "readout_html"]


def map_measure(what: str) -> str:
    """What the map's value at a pixel is, e.g. "mean drop in P(star) over the windows covering the pixel"."""
    return f"mean drop in {what} over the windows covering the pixel"


def hover_html(what: str, map_value: Optional[float], window_drop: float, window: int, x: int, y: int) -> str:
    """The map at pixel (x, y) (None: no map yet) and the drop for the one window centred there."""
    lines = []
    if map_value is not None:
        lines.append(f"<span class='nnl-occlusion-map-value' data-value='{map_value:.9g}'>map at x {x}, y {y}: "
                     f"<b>{fmt(map_value)}</b></span>, the {text(map_measure(what))} (the colour bar's scale)")
    lines.append(f"<span class='nnl-occlusion-window-drop' data-value='{window_drop:.9g}'>this one "
                 f"{window}x{window} px window: <b>{fmt(window_drop)}</b></span> drop in {text(what)}")
    return (f"<div class='nnl-occlusion-hover' style='color:{THEME['fg']};font-family:{THEME['font']};"
            f"font-size:12px;line-height:1.35;max-width:320px;margin-top:4px'>"
            + "<br>".join(lines) + "</div>")


def covered_scores(model, xb: torch.Tensor, fill: torch.Tensor, box: Tuple[int, int, int, int], target: int,
                   logit: bool) -> Tuple[torch.Tensor, torch.Tensor, float]:
    """``xb`` with ``box`` (y0, y1, x0, x1) taken from ``fill``, its class probabilities, and the drop of
    ``target``'s logit (``logit``) or probability that covering the box causes."""
    y0, y1, x0, x1 = box
    covered = xb.clone()
    covered[..., y0:y1, x0:x1] = fill[..., y0:y1, x0:x1]
    scores = class_scores(model, torch.cat([xb, covered]))  # clean and covered in one pass
    measured = scores if logit else scores.softmax(1)
    return covered, scores[1].softmax(0), float(measured[0, target] - measured[1, target])


def readout_html(labels, probs: torch.Tensor, clean: torch.Tensor, target: int, top_k: int, where: str) -> str:
    """P(class) rows: the ``top_k`` likeliest classes and ``target``; with a patch (``where``), each
    beside its probability without the patch (``clean``)."""
    order = [int(i) for i in probs.argsort(descending=True)[:top_k]]
    if target not in order:
        order.append(target)
    before = [float(clean[i]) for i in order] if where else None
    title = f"P(class) with the {where}" if where else "P(class), no patch"
    return probability_rows_html([labels[i] for i in order], [float(probs[i]) for i in order], before=before,
                                 highlight=target, indices=order, title=title)

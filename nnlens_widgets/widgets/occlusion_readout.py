"""One measure under one name for an occlusion map and the patch under the mouse.

The map's value at a pixel is the drop of the score averaged over every
window that covers the pixel (Captum's convention), while the patch under
the mouse is one window, placed where the mouse is. The two differ (a pixel
at a window's edge shares it with windows that miss what matters), so the
readout shows both, each under its own name, in the unit the map uses: the
map's value at the pixel on the colour bar's scale, and the one window's drop.
"""
from __future__ import annotations

import threading
from typing import Hashable, Optional, Tuple

import torch

from ..core.predictions import class_scores
from ..render.charts import probability_rows_html
from ..render.legend import THEME, fmt
from .checks import text
from .scheduling import weights_stamp

__all__ = ["PatchScores", "map_measure", "hover_html", "readout_html"]


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


class PatchScores:
    """Class scores for the patch under the mouse. The clean input's scores are kept per input and
    weights, so a mouse move runs the model on the covered image alone (running both in one batch
    made each move on resnet18 half as slow again)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._clean: Optional[Tuple[torch.Tensor, Hashable, torch.Tensor]] = None  # input, weights stamp, scores

    def clean(self, model, xb: torch.Tensor) -> torch.Tensor:
        """The raw class scores of ``xb`` (one image), computed again when the input or the weights change."""
        stamp = weights_stamp(model)
        with self._lock:
            kept = self._clean
        if kept is not None and kept[0] is xb and kept[1] == stamp:
            return kept[2]
        scores = class_scores(model, xb)[0]
        with self._lock:
            self._clean = (xb, stamp, scores)
        return scores

    def covered(self, model, xb: torch.Tensor, fill: torch.Tensor, box: Tuple[int, int, int, int], target: int,
                logit: bool) -> Tuple[torch.Tensor, torch.Tensor, float]:
        """``xb`` with ``box`` (y0, y1, x0, x1) taken from ``fill``, its class probabilities, and the drop of
        ``target``'s logit (``logit``) or probability that covering the box causes."""
        y0, y1, x0, x1 = box
        covered = xb.clone()
        covered[..., y0:y1, x0:x1] = fill[..., y0:y1, x0:x1]
        clean, scores = self.clean(model, xb), class_scores(model, covered)[0]
        if logit:
            drop = clean[target] - scores[target]
        else:
            drop = clean.softmax(0)[target] - scores.softmax(0)[target]
        return covered, scores.softmax(0), float(drop)


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

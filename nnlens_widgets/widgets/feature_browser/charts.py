"""The DOM charts of a feature's page, from ``FeatureFacts`` alone (no model run): numbers as text and bars."""
from __future__ import annotations

import math
from typing import List, Optional, Sequence

import numpy as np

from ...core.sae import FeatureFacts
from ...render.bars import bar_chart_svg
from ...render.legend import THEME, fmt
from ..checks import text

__all__ = ["percent", "activation_histogram_html", "density_histogram_html", "channels_html", "facts_html"]


def percent(share: float) -> str:
    """A share as a percentage that never reads 0% for a feature that fires."""
    p = 100 * float(share)
    if p == 0:
        return "0%"
    return f"{p:.2g}%" if p < 1 else f"{p:.1f}%"


def _share_label(log10: float) -> str:
    """A bin's start (log10 of a share of images) as a percentage."""
    return percent(10.0 ** log10)


def activation_histogram_html(facts: FeatureFacts, feature: int) -> str:
    """The feature's positive activations counted per bin (edges in the layer's units), as bars."""
    counts = facts.hist_counts[feature].numpy()
    edges = facts.hist_edges.numpy()
    used = np.nonzero(counts)[0]
    if len(used) == 0:
        return _note("it never fires on the data scanned")
    lo, hi = max(0, int(used[0]) - 1), min(len(counts), int(used[-1]) + 2)
    names = [f"{fmt(float(edges[i]))}" for i in range(lo, hi)]
    svg = bar_chart_svg(counts[lo:hi].tolist(), names, value_label="positions", width=360, height=190,
                        css_class="nnl-activation-histogram")
    return svg + _note("x: activation where it fires (bin start, log-spaced, the layer's units)")


def density_histogram_html(facts: FeatureFacts, feature: int, bins: int = 16) -> str:
    """How many features fire on each share of images (log10), the bar holding ``feature`` marked."""
    hist = facts.density_histogram(bins=bins, per="images")
    density = float(facts.density("images")[feature])
    selected = None
    if density > 0:
        edges = hist.edges.numpy()
        selected = int(np.clip(np.searchsorted(edges, math.log10(density), side="right") - 1, 0, bins - 1))
    names = [_share_label(float(e)) for e in hist.edges[:-1].tolist()]
    svg = bar_chart_svg(hist.counts.tolist(), names, value_label="features", selected=selected, width=360,
                        height=190, css_class="nnl-density-histogram")
    where = ("red bar: this feature" if selected is not None else "this feature never fires (not in the bars)")
    return svg + _note(f"x: share of images a feature fires on (bin start, log-spaced); {where}; "
                       f"{hist.dead} dead feature(s) left out")


def channels_html(channels: Sequence[int], weights: Sequence[float], what: str) -> str:
    """The channels a feature's encoder row weighs most, as signed bars named by their number."""
    svg = bar_chart_svg([float(w) for w in weights], [str(int(c)) for c in channels], value_label="encoder weight",
                        width=360, height=200, css_class="nnl-feature-channels")
    return svg + _note(f"x: {what} number, largest |weight| first; y: the weight the feature's encoder gives it")


def facts_html(facts: FeatureFacts, feature: int, rank: int, class_names: Optional[List[str]]) -> str:
    """One paragraph of the feature's numbers: densities, mean activation, frequency rank, top classes."""
    f = int(feature)
    imgs, pos = float(facts.density("images")[f]), float(facts.density("positions")[f])
    mean = float(facts.mean_activation()[f])
    parts = [f"<b>feature {f}</b> of {facts.features} in <b>{text(facts.layer)}</b>",
             f"fires on {percent(imgs)} of {facts.count} images ({percent(pos)} of positions); "
             f"number {rank + 1} of {facts.features} by frequency",
             f"mean activation where it fires: {fmt(mean)}"]
    if facts.classes and int(facts.image_counts[f]) > 0:
        share = facts.predicted_counts[f].double() / float(facts.image_counts[f])
        top = np.argsort(-share.numpy(), kind="stable")[:3]
        names = class_names or [str(i) for i in range(facts.classes)]
        parts.append("its images are predicted as " + ", ".join(
            f"{text(names[int(c)])} {percent(float(share[int(c)]))}" for c in top if share[int(c)] > 0))
    return (f"<div class='nnl-feature-facts' style='color:{THEME['fg']};font-family:{THEME['font']};"
            f"font-size:12px;line-height:1.45'>" + "<br>".join(parts) + "</div>")


def _note(message: str) -> str:
    return (f"<div class='nnl-caption' style='color:{THEME['fg']};font-family:{THEME['font']};font-size:11px;"
            f"max-width:360px'>{message}</div>")

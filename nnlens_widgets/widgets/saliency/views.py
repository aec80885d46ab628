"""One method's column in the saliency explorer: the map beside its overlay with a
colour bar that says what the colour means, and the map's trust report."""
from __future__ import annotations

import numbers
from typing import Any, Iterable, Optional

import ipywidgets as W
import numpy as np

from ...render.attribution_maps import (
    SIGN_CMAPS, map_rgba, ordinal, overlay_rgba, saturation_value, shown_values, side_by_side,
)
from ...render.charts import SERIES_COLORS, line_chart_svg
from ...render.legend import THEME, Scale, fmt
from ..base import text
from ..views import HtmlView, PictureView

__all__ = ["MethodCard", "map_values", "legend_for", "shared_vmax", "stability_text", "SCREEN_GAP"]

SCREEN_GAP = 8  # on-screen pixels between a map and its overlay
REPORT_PX = 300  # width of a trust report: two cards and the input fit 850 px of notebook
WHAT = {
    "absolute": "|attribution|",
    "positive": "positive attribution",
    "negative": "negative attribution",
    "both": "attribution (red +, blue \u2212)",
}


def map_values(m, sign: str) -> np.ndarray:
    """A pixel map (1 or C channels) as one value per pixel: |values| or values summed over channels."""
    m = m[0] if m.ndim == 4 else m
    m = m.detach().float().cpu()
    return (m.abs().sum(0) if sign == "absolute" else m.sum(0)).numpy()


def shared_vmax(maps: Iterable, sign: str, percentile: float) -> float:
    """One scale for several maps: the largest of their own saturation values (1 for none)."""
    return max((saturation_value(shown_values(map_values(m, sign), sign), percentile) for m in maps), default=1.0)


def legend_for(sign: str, vmax: float, percentile: Optional[float]) -> Scale:
    """The colour bar of a map: its numeric range and what the colour means.

    ``percentile``: the colour saturates at that percentile of the shown values;
    None: at ``vmax``, one fixed scale for every map.
    """
    what = WHAT[sign]
    if percentile is None:
        meaning = f"{what}, one fixed scale for every map (saturates at {fmt(vmax)})"
    elif percentile >= 100:
        meaning = f"{what}, colour saturates at the largest value"
    else:
        meaning = f"{what}, colour saturates at the {ordinal(percentile)} percentile"
    if sign == "both":
        return Scale(SIGN_CMAPS[sign], -vmax, vmax, meaning, opacity=True, middle="0")
    if sign == "negative":
        return Scale(SIGN_CMAPS[sign], 0.0, -vmax, meaning, opacity=True)
    return Scale(SIGN_CMAPS[sign], 0.0, vmax, meaning, opacity=True)


def stability_text(stability: Any) -> str:
    """LIME's stability figure as plain text, whatever form the core gives it in."""
    if isinstance(stability, numbers.Real):
        return fmt(float(stability))
    summary = getattr(stability, "summary", None)
    if callable(summary):
        return str(summary())
    return str(stability)


class MethodCard(W.VBox):
    """The method's picture (``[map | overlay]``) and, once computed, its trust report."""

    def __init__(self, key: str, title: str, scale: int):
        self.key, self.title, self.scale = key, title, int(scale)
        slug = "".join(c if c.isalnum() else "-" for c in key.lower())
        self.picture = PictureView(title)
        self.picture.add_class("nnl-saliency-map")
        self.picture.add_class(f"nnl-method-{slug}")
        self.trust = HtmlView(css_class="nnl-trust")
        self.trust.layout.display = "none"
        super().__init__([self.picture, self.trust], layout=W.Layout(max_width="100%"))

    def fit(self, width: int) -> None:
        """Keep captions as wide as the picture (``width`` picture pixels a pane), at least the report's."""
        self.picture.layout.max_width = f"{max(REPORT_PX, (2 * width + self.gap) * self.scale)}px"

    @property
    def gap(self) -> int:
        return max(1, round(SCREEN_GAP / self.scale))

    def show_map(self, m, photo: np.ndarray, sign: str, opacity: float, percentile: float,
                 vmax: Optional[float] = None, stability: Any = None, conservation: Optional[str] = None) -> np.ndarray:
        """Draw pixel map ``m`` beside its overlay; returns the picture drawn (``conservation``:
        LRP's share of the score the relevance sums to, said under the map).

        The colour saturates at ``vmax`` when given (one scale for every
        map), else at the ``percentile`` of the shown values.
        """
        values = map_values(m, sign)
        shown = shown_values(values, sign)
        clipped_at: Optional[float] = percentile if vmax is None else None  # the legend names the percentile used
        if vmax is None:
            vmax = saturation_value(shown, percentile)
        notes = ["left: the map; right: over a grey copy of the input"]
        if not np.abs(shown).max() > 0:
            notes.append(f"this map has no {sign} values" if sign in ("positive", "negative")
                         else "this map is zero everywhere")
        channels = m.shape[-3] if m.ndim >= 3 else 1
        if channels > 1:
            notes.append(f"{'|values|' if sign == 'absolute' else 'values'} summed over {channels} input channels")
        if stability is not None:
            notes.append(f"stability: {stability_text(stability)}")
        if conservation:
            notes.append(conservation)
        picture = side_by_side(map_rgba(values, sign, vmax), overlay_rgba(photo, values, sign, vmax, opacity),
                               self.gap)
        self.picture.show(picture, scale=self.scale, legend=legend_for(sign, vmax, clipped_at),
                          caption=text("; ".join(notes)))
        return picture

    def show_waiting(self, photo: np.ndarray, message: str) -> None:
        """The grey input alone, beside an empty space the map will fill."""
        blank = np.zeros_like(photo)
        self.picture.show(side_by_side(blank, overlay_rgba(photo, np.zeros(photo.shape[:2]), "absolute", 1.0),
                                       self.gap),
                          scale=self.scale, legend=None, caption=text(message))

    def show_trust(self, report, score_label: str, probability: bool, stability: Any = None) -> None:
        """Deletion / insertion AUC and curves (of a probability, or of a unit's score), the
        randomisation check, and LIME's stability when the result has one."""
        lines = [
            f"<b>deletion AUC {fmt(report.deletion.auc)}</b>: area under {text(score_label)} as the pixels "
            "the map ranks highest are removed first (lower is better: the map found what matters)",
            f"<b>insertion AUC {fmt(report.insertion.auc)}</b>: the same as they are put back into a "
            "blurred copy (higher is better)",
        ]
        if report.sanity is not None:
            lines.append(
                f"<b>randomised model: Spearman {report.sanity.mean_spearman:.2f}, SSIM "
                f"{report.sanity.mean_ssim:.2f}</b>: how much the map still looks like itself when the "
                "model's layers are re-initialised (lower is better: the map depends on the model)")
        if stability is not None:
            lines.append(f"<b>stability: {text(stability_text(stability))}</b> (how far repeated runs agree)")
        # what the numbers cannot say: a target under 1% (no verdict), a metric that favours blur
        lines.extend(f"<b>\u26a0 {text(w)}</b>" for w in getattr(report, "warnings", ()))
        chart = line_chart_svg(
            [("deletion", report.deletion.fractions, report.deletion.scores, SERIES_COLORS[0]),
             ("insertion", report.insertion.fractions, report.insertion.scores, SERIES_COLORS[1])],
            x_label="fraction of pixels removed / inserted", y_label=score_label, width=REPORT_PX, height=180,
            x_range=(0.0, 1.0), y_range=(0.0, 1.0) if probability else None, css_class="nnl-trust-curves")
        badge = (f"<div class='nnl-trust-badge' style='color:{THEME['fg']};font-family:{THEME['font']};"
                 f"font-size:12px;line-height:1.35;max-width:{REPORT_PX}px'>"
                 + "".join(f"<div style='margin-bottom:3px'>{line}</div>" for line in lines) + "</div>")
        self.trust.show(badge + chart, title="trust report")
        self.trust.layout.display = "flex"

    def clear_trust(self) -> None:
        self.trust.show("")
        self.trust.layout.display = "none"

    def close(self) -> None:
        self.picture.close()
        self.trust.close()
        super().close()


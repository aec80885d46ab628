"""The Lens's panels: each draws one result with its title, colour bar and caption.

Nothing here runs the model; the widget hands each panel numbers (from the
activation cache or from ``computations``) and the panel turns them into a
picture through ``render``.
"""
from __future__ import annotations

from typing import List, Sequence

import ipywidgets as W
import numpy as np

from ...render import TileLayout, channel_grid, example_grid, flat_tiles_note, overlay_maps
from ...render.attribution_maps import map_rgba, overlay_rgba, saturation_value
from ...render.charts import probability_rows_html
from ...render.constant_tiles import hatch, hatch_tiles
from ...render.legend import THEME, Scale, fmt
from ..base import text
from ..saliency.views import legend_for
from ..occlusion_readout import map_measure
from ..view_warnings import WarningsView, constant_sentences
from ..views import HtmlView, PictureView, TileGridView

__all__ = ["LensPanels", "PERCENTILE", "occlusion_measure", "sanity_line", "trust_html"]

PERCENTILE = 99.0  # maps saturate at this percentile of |value| (a few outliers would leave the rest faint)


def _photo_sized(rgba: np.ndarray, size) -> np.ndarray:
    """``rgba`` enlarged by whole factors (nearest) to ``size`` (H, W), for an overlay on the input."""
    h, w = size
    rows = (np.arange(h) * rgba.shape[0] // h)[:, None]
    cols = (np.arange(w) * rgba.shape[1] // w)[None, :]
    return rgba[rows, cols]


class LensPanels:
    """Every view of the Lens, created once; ``draw_*`` methods fill them."""

    def __init__(self, register, grid_px: int, picture_px: int):
        px = picture_px
        self.warnings = register("warnings", WarningsView())  # ``Lens.warnings``: what the views cannot tell
        self.input = register("input", PictureView("input", display_px=px, plain_rgb=True,
                                                   css_class="nnl-lens-input"))
        self.classes = register("classes", HtmlView("the model's top classes", css_class="nnl-lens-classes"))
        self.channels = register("channels", TileGridView("channels", display_px=grid_px,
                                                          css_class="nnl-lens-channels"))
        self.activation = register("activation", PictureView("activation", display_px=px,
                                                             css_class="nnl-lens-activation"))
        self.unit_gradient = register("unit_gradient", PictureView("what drives this unit", display_px=px,
                                                                   css_class="nnl-lens-unit-gradient"))
        self.feature_vis = register("feature_vis", PictureView("what this unit wants", display_px=px,
                                                               plain_rgb=True, css_class="nnl-lens-feature-vis"))
        self.examples = register("examples", TileGridView("top examples", display_px=px,
                                                          css_class="nnl-lens-examples"))
        self.ablation = register("ablation", HtmlView("switching this unit off", css_class="nnl-lens-ablation"))
        self.attribution = register("attribution", PictureView("attribution", display_px=px,
                                                               css_class="nnl-lens-attribution"))
        self.occlusion = register("occlusion", PictureView("occlusion", display_px=px,
                                                           css_class="nnl-lens-occlusion"))
        for view in (self.input, self.activation, self.unit_gradient, self.feature_vis, self.attribution,
                     self.occlusion):
            view.layout.width = f"{max(px, 180) + 30}px"  # a narrow column: titles and captions wrap
        self.channels.layout.max_width = f"{max(grid_px, 180) + 30}px"  # its caption wraps under the tiles
        self.examples.layout.width = f"{max(px, 180) + 50}px"
        self.examples.add_class("nnl-plain-rgb")  # data images as they are: no colour map, no colour bar
        self.occlusion.layout.display = "none"  # shown once asked for (it runs the model many times)
        self.scan_progress = W.FloatProgress(min=0.0, max=1.0, layout=W.Layout(width="160px"))
        self.scan_text = W.Label()
        self.scan_row = W.HBox([self.scan_progress, self.scan_text])
        self.scan_row.layout.display = "none"

    # -- cheap panels (cache only) ------------------------------------------
    def draw_input(self, photo: np.ndarray, shape: Sequence[int]) -> None:
        self.input.show(photo, title="input",
                        caption=f"{shape[-1]}x{shape[-2]} px, {shape[-3]} channel(s)")

    def draw_classes(self, names: List[str], probs: np.ndarray, order: List[int], target: int) -> None:
        self.classes.show(probability_rows_html([names[i] for i in order], probs[order].tolist(), indices=order,
                                                highlight=target, title="P(class) for this input"),
                          title=f"the model's top classes (target: {names[target]})")

    def draw_channels(self, maps: np.ndarray, layer: str, grid_px: int, constant) -> None:
        """Every channel of ``layer``; those in ``constant`` (``core.ConstantChannels``) hatched grey."""
        grid = hatch_tiles(channel_grid(maps, "channel", "viridis", 0, None, grid_px, enlarge=False),
                           constant.channels)
        note = (f"{len(constant.channels)} hatched grey tile(s): channels constant for this input, with no "
                "range to colour (not a colour of the map)") if constant.channels else flat_tiles_note(maps)
        self.channels.show_tiles(
            grid.rgba, grid.layout, scale=grid.factor,
            title=f"{layer}: all {maps.shape[0]} channels (click one)",
            legend=Scale("viridis", 0.0, 1.0, "activation, each tile from its own min to its own max",
                         ends=("tile min", "tile max")),
            caption=note)
        self.warnings.set("constant", constant_sentences(constant))

    def draw_activation(self, photo: np.ndarray, maps: np.ndarray, layer: str, channel: int) -> None:
        m = maps[channel]
        if np.ptp(m) == 0:  # a constant channel: no map to colour, its value in words
            self.activation.show(hatch(*m.shape), title=f"{layer} channel {channel} on the input", legend=None,
                                 caption=f"constant: {fmt(float(m.flat[0]))} at every position for this input")
            return
        top = float(np.abs(m).max()) or 1.0
        picture = overlay_maps(photo, m[None], vmax=top, opacity=0.7)[0]
        self.activation.show(
            picture, title=f"{layer} channel {channel} on the input",
            legend=Scale("RdBu_r", -top, top, f"activation of channel {channel} (red > 0, blue < 0)",
                         opacity=True, middle="0"),
            caption=f"{m.shape[1]}x{m.shape[0]} map over the input; min {fmt(float(m.min()))}, "
                    f"max {fmt(float(m.max()))}, mean {fmt(float(m.mean()))}")

    def draw_examples(self, images, values: np.ndarray, indices: Sequence[int], layer: str, channel: int,
                      scanned: int) -> None:
        values = np.asarray(values, dtype=np.float64)[:len(indices)]
        tie = len(values) > 1 and np.ptp(values) == 0
        if len(values) == 0 or tie:  # k images tied at one value: "top" would be arbitrary
            level = fmt(float(values[0])) if len(values) else "?"
            sentence = (f"{layer} channel {channel} peaks at {level} on its top {len(values)} of {scanned} data "
                        "images: they tie, so no top examples are shown (any choice among them would be "
                        "arbitrary)")
            h, w = np.asarray(images[0]).shape[-2:]
            empty = TileLayout.for_count(0, int(h), int(w))  # nothing to click
            self.examples.show_tiles(hatch(empty.height, empty.width), empty,
                                     title=f"{layer} channel {channel}: no top examples", caption=text(sentence))
            self.warnings.set("examples", (sentence,))
            return
        self.warnings.set("examples", ())
        picture, layout = example_grid(images)
        self.examples.show_tiles(
            picture, layout, title=f"{layer} channel {channel}: top {len(indices)} of {scanned} data images",
            caption=text("peak activations: " + ", ".join(fmt(float(v)) for v in values[:len(indices)]))
            + "<br>click one to make it the input")

    def waiting(self, view, message: str) -> None:
        """Say what is being computed (a chart is replaced; a picture keeps its own title meanwhile)."""
        note = f"<i class='nnl-waiting'>{text(message)}</i>"
        if isinstance(view, HtmlView):
            view.show(note)
        else:
            view.set_caption(note)

    # -- background results --------------------------------------------------
    def draw_unit_gradient(self, values: np.ndarray, layer: str, channel: int) -> None:
        if not np.any(values):  # an all-zero map has no range: no placeholder colour bar, the fact in words
            self.unit_gradient.show(hatch(*values.shape), title=f"input pixels driving {layer} channel {channel}",
                                    legend=None, caption="|gradient| is 0 at every pixel: no input pixel moves "
                                                         "this unit here (it does not fire)")
            return
        vmax = saturation_value(values, PERCENTILE)
        self.unit_gradient.show(
            map_rgba(values, "absolute", vmax), title=f"input pixels driving {layer} channel {channel}",
            legend=Scale("inferno", 0.0, vmax, f"|gradient|, colour saturates at the {PERCENTILE:g}th percentile"),
            caption="|gradient| of the channel's mean activation per input pixel")

    def draw_feature_vis(self, images, step: int, steps: int, layer: str, channel: int, seed: int,
                         notes: Sequence[str] = (), sanity=None) -> None:
        """The picture so far; ``notes``: what it cannot show (the unit never fired);
        ``sanity``: ``core.featurevis_sanity``'s verdict once computed."""
        picture, _ = example_grid(images)
        state = ("done" if step >= steps else "running") + (", the unit never fired" if notes else "")
        caption = f"feature visualisation, step {step} of {steps} ({state}, seed {seed})"
        if sanity is not None:
            caption += "<br>" + text(sanity_line(sanity))
        self.feature_vis.show(picture, title=f"the picture {layer} channel {channel} wants", caption=caption)
        self.warnings.set("vis", tuple(notes) + (tuple(sanity.warnings) if sanity is not None else ()))

    def draw_ablation(self, names: List[str], before: np.ndarray, after: np.ndarray, order: List[int],
                      layer: str, channel: int, target: int) -> None:
        self.ablation.show(
            probability_rows_html([names[i] for i in order], after[order].tolist(), before=before[order].tolist(),
                                  indices=order,
                                  highlight=target, title=f"P(class) with {layer} channel {channel} set to 0"),
            title=f"switching channel {channel} off")

    def draw_attribution(self, photo: np.ndarray, values: np.ndarray, method_title: str, target_name: str,
                         trust_html: str) -> None:
        vmax = saturation_value(values, PERCENTILE)
        base = photo if photo.shape[:2] == values.shape else _photo_sized(photo, values.shape)
        self.attribution.show(
            overlay_rgba(base, values, "absolute", vmax), title=f"{method_title}: why {target_name}",
            legend=legend_for("absolute", vmax, PERCENTILE), caption=trust_html)

    def draw_occlusion(self, photo: np.ndarray, heat: np.ndarray, target_name: str, window: int,
                       stride: int) -> None:
        self.occlusion.layout.display = "flex"
        vmax = saturation_value(heat, PERCENTILE)
        base = photo if photo.shape[:2] == heat.shape else _photo_sized(photo, heat.shape)
        self.occlusion.show(
            overlay_rgba(base, heat, "both", vmax), title=f"occlusion: what {target_name} needs",
            legend=Scale("RdBu_r", -vmax, vmax, f"{occlusion_measure(target_name)} "
                         f"(saturates at the {PERCENTILE:g}th percentile)", opacity=True, middle="0"),
            caption=f"a {window}x{window} px window set to 0, moved {stride} px at a time")


def occlusion_measure(target_name: str) -> str:
    """What an occlusion map's value at a pixel is, in the words both occlusion views use."""
    return map_measure(f"P({target_name})")


def sanity_line(sanity) -> str:
    """``core.featurevis_sanity``'s verdict in one line."""
    if sanity.flagged:
        return "sanity check: never processed like its top natural examples (see the warnings)"
    return (f"sanity check: processed like its top natural examples from {sanity.first_layer} on "
            "(Spearman over each layer's channels)")


def trust_html(method: str, trust) -> str:
    """The trust badge: the map's deletion AUC against a random map's; a caveat, not a verdict, when
    the model gives the target under 1%."""
    if trust is None:
        return f"<i>{text(method)}: checking the map against a random one…</i>"
    if getattr(trust, "caveat", None):
        return (f"<span class='nnl-trust nnl-trust-caveat' style='color:{THEME['fg']};font-weight:bold'>"
                f"\u26a0 caveat</span>: {text(trust.caveat)} (deletion AUC {fmt(trust.auc)} vs "
                f"{fmt(trust.random_auc)} for a random map, {trust.steps} steps)")
    verdict = "\u2713 better than a random map" if trust.better_than_random else "\u2717 no better than a random map"
    return (f"<span class='nnl-trust' style='color:{THEME['fg']};font-weight:bold'>{verdict}</span>: "
            f"deletion AUC {fmt(trust.auc)} vs {fmt(trust.random_auc)} for a random map "
            f"({trust.steps} steps, lower is better)")

"""The views of one feature's page and how each is drawn (pictures from ``render``, charts from ``charts``)."""
from __future__ import annotations

from typing import Callable, List, Optional, Sequence

import ipywidgets as W
import numpy as np
import torch

from ...core.sae import FeatureFacts, feature_channels
from ...render import box_marks, example_grid, fit_factor, image_rgba
from ...render.attribution_maps import overlay_rgba, saturation_value
from ...render.charts import probability_rows_html
from ...render.legend import Scale, fmt
from ..checks import text
from ..views import HtmlView, PictureView, TileGridView, column, row
from .charts import activation_histogram_html, channels_html, density_histogram_html, facts_html
from .page_work import InputLook, SwitchOff

__all__ = ["FeaturePage", "BOX", "CHANNELS_SHOWN"]

BOX = "#ff3b30"  # the firing patch: red, readable on grey digits and coloured shapes
SELECTED_INPUT = "#ffd60a"  # the example shown in the input panels (yellow, distinct from the patch boxes)
CHANNELS_SHOWN = 12


class FeaturePage:
    """Every view of a feature's page; ``add`` registers each with the widget (for ``views`` and exports)."""

    def __init__(self, add: Callable[[str, W.Widget], W.Widget], examples_px: int, picture_px: int):
        self.facts_text = add("facts", HtmlView("feature", css_class="nnl-feature-summary"))
        self.examples = add("examples", TileGridView("top data images", display_px=examples_px,
                                                     css_class="nnl-examples-canvas", plain_rgb=True))
        self.fires = add("fires", PictureView("where it fires", display_px=picture_px,
                                              css_class="nnl-fires-canvas"))
        self.drives = add("drives", PictureView("input pixels that drive it", display_px=picture_px,
                                                css_class="nnl-drives-canvas"))
        self.switch = add("switch off", HtmlView("switched off", css_class="nnl-switch-off"))
        self.activations = add("activation histogram", HtmlView("its activations",
                                                                css_class="nnl-activation-hist"))
        self.density = add("density histogram", HtmlView("all features by density", css_class="nnl-density-hist"))
        self.channels = add("channels", HtmlView("channels it reads most", css_class="nnl-channels"))
        self.marks: List[dict] = []

    def layout(self) -> List[W.Widget]:
        return [row(column(self.facts_text, self.examples), column(self.fires, self.drives),
                    column(self.switch)),
                row(self.activations, self.density, self.channels)]

    # -- from the facts (no model run) ----------------------------------
    def draw_facts(self, facts: FeatureFacts, feature: int, rank: int, names: Optional[List[str]],
                   images: torch.Tensor, chosen: Optional[int], warnings: Sequence[str]) -> None:
        f = int(feature)
        notes = "".join(f"<div class='nnl-warning' role='note' style='font-style:italic'>{text(w)}</div>"
                        for w in warnings)
        self.facts_text.show(facts_html(facts, f, rank, names) + notes, title=f"feature {f}")
        self.draw_examples(facts, f, images, chosen)
        self.activations.show(activation_histogram_html(facts, f), title=f"feature {f}: its activations")
        self.density.show(density_histogram_html(facts, f), title="all features by how often they fire")

    def draw_examples(self, facts: FeatureFacts, feature: int, images: torch.Tensor,
                      chosen: Optional[int]) -> None:
        indices, values, _ = facts.top(feature)
        view = self.examples
        if len(indices) == 0:
            grey, layout = example_grid(torch.full((1,) + tuple(facts.input_shape), 0.5))
            view.show_tiles(grey, layout, scale=fit_factor(max(grey.shape[:2]), view.display_px),
                            title="top data images: none",
                            caption=f"feature {feature} fires on none of the {facts.count} images scanned")
            view.select()
            self.marks = []
            return
        grid, layout = example_grid(images, cols=min(len(images), 4))
        view.show_tiles(grid, layout, scale=fit_factor(max(grid.shape[:2]), view.display_px),
                        title=f"top {len(indices)} of {facts.count} data images",
                        caption=(f"ranked by the feature's peak over positions (best first: "
                                 f"{fmt(float(values[0]))} … {fmt(float(values[-1]))})<br>red box: the "
                                 f"patch where it peaks; yellow: the image in the panels to the right; "
                                 f"click an image to pick it"))
        boxes = [facts.box(feature, r) for r in range(len(indices))]
        self.marks = box_marks(layout, boxes, BOX)
        view.select(*([chosen] if chosen is not None else []), color=SELECTED_INPUT, extra=self.marks)

    def draw_channels(self, sae, feature: int, what: str) -> None:
        ch = feature_channels(sae, feature, CHANNELS_SHOWN)
        self.channels.show(channels_html(ch.channels.tolist(), ch.weights.tolist(), what),
                           title=f"the {len(ch.channels)} {what}s feature {feature} reads most (|encoder weight|)")

    # -- from model runs -------------------------------------------------
    def draw_switch(self, result: Optional[SwitchOff], feature: int, names: List[str]) -> None:
        if result is None:
            self.switch.show("<div class='nnl-caption'>no class scores to compare (the model's output is not "
                             "(N, classes)), or no image where it fires</div>", title="switched off")
            return
        order = np.argsort(-np.maximum(result.before, result.after), kind="stable")[:6]
        body = probability_rows_html([names[i] for i in order], result.after[order].tolist(),
                                     before=result.before[order].tolist(),
                                     indices=order.tolist(), title="mean P(class) over its top images")
        change = result.after - result.before
        moved = np.argsort(-np.abs(change), kind="stable")[:3]
        body += ("<div class='nnl-caption nnl-largest-change' style='font-size:12px'>largest changes: " + ", ".join(
            f"P({text(names[i])}) {100 * float(change[i]):+.2g} pts" for i in moved) + "</div>")
        self.switch.show(body, title=f"feature {feature} switched off ({result.images} image(s))")

    def draw_blank_input(self, shape, note: str) -> None:
        grey = np.full(tuple(shape[-2:]) + (4,), 128, dtype=np.uint8)
        grey[..., 3] = 255
        for view in (self.fires, self.drives):
            view.show(grey, caption=note, legend=None)
            view.set_legend(None)

    def draw_input(self, x: torch.Tensor, look: InputLook, feature: int, peak: float, where: str) -> None:
        photo = image_rgba(x[0].detach().cpu().numpy())
        h, w = photo.shape[:2]
        gh, gw = look.fires.shape
        cells = look.fires[(np.arange(h) * gh // h)[:, None], (np.arange(w) * gw // w)[None, :]]
        top = peak if peak > 0 else float(look.fires.max()) or 1.0
        self.fires.show(overlay_rgba(photo, cells, "positive", top),
                        title=f"where feature {feature} fires: {where}",
                        legend=Scale("Reds", 0.0, top, f"activation of feature {feature} per {gh}x{gw} cell "
                                     "(top image's peak = full colour)", opacity=True),
                        caption=f"peak here {fmt(float(look.fires.max()))} &middot; transparent: 0")
        g = look.gradient
        vmax = saturation_value(g) if float(g.max()) > 0 else 1.0
        vmax = vmax if vmax > 0 else float(g.max()) or 1.0
        self.drives.show(overlay_rgba(photo, g, "absolute", vmax),
                         title=f"pixels that drive feature {feature}",
                         legend=Scale("inferno", 0.0, vmax, "|d feature / d pixel|, clipped at the 99th percentile",
                                      opacity=True),
                         caption=f"gradient at the position where it is strongest here (cell {look.position}, "
                                 f"value {fmt(look.value)})")


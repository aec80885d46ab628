"""Read a concept-whitened layer axis by axis: purity, top images, and where each concept fires."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List, Mapping, Optional, Tuple

import ipywidgets as W
import numpy as np
import torch
import traitlets

from ..core import check_model, forward_capture, get_module
from ..core.concepts import Purity, axis_scores, best_channels, concept_layers, concept_purity, concept_tensors, \
    layer_scores
from ..core.inputs import model_device
from ..render import axis_overlays, example_grid, fit_factor, image_rgba
from ..render.bars import bar_chart_svg
from ..render.legend import THEME, Scale, fmt
from .checks import forget
from .base import LensWidget, check_count, check_index, text
from .examples import Example, concept_data, concept_net, images
from .traits import LayerTrait
from .data_views import DataView
from .views import HtmlView, PictureView, TileGridView, row

__all__ = ["ConceptExplorer"]


@dataclass(frozen=True)
class _LayerReport:
    """Everything shown for one layer, computed once: purity, baseline, test-image scores."""

    purity: Purity
    baseline: Optional[Purity]
    scores: np.ndarray  # (test images, axes)
    baseline_scores: Optional[np.ndarray]


class ConceptExplorer(LayerTrait, LensWidget):
    """A concept-whitened layer axis by axis, and every axis over one test image.

    - one row per concept: its name, its purity (AUC of its axis separating
      its ``concept_data`` examples from the other concepts', mean +- spread
      over ``splits`` random halves) and its top ``k`` images of
      ``test_data``; with ``baseline`` (the same network with BatchNorm), the
      AUC of that layer's best single channel for the concept, scored the
      same way (the paper's comparison);
    - choosing a concept (click its row, or set ``concept``) shows its top
      images larger, beside the baseline channel's top images;
    - choosing an example (``example``: an index into ``test_data``; slider,
      or click a top image) shows the image, each concept axis as a heat map
      over it (one panel per concept, one colour scale for all) and each
      axis's score as a labelled bar;
    - ``layer`` picks among the model's concept-whitening layers.

    Purity and the ranking of ``test_data`` run once per layer in the
    background (progress and Stop below); choosing concepts and examples
    reuses them. Traits: ``layer``, ``concept``, ``example``.
    """

    concept = traitlets.Unicode()
    example = traitlets.Int(0)

    @classmethod
    def small_example(cls) -> Example:
        """A small untrained model (and input) to try the widget on."""
        return Example(concept_net(), None, {"concept_data": concept_data(), "test_data": images(10)[..., :8, :8],
                                                   "splits": 1})

    def __init__(self, model, *, concept_data: Mapping, test_data, layer: Optional[str] = None,
                 baseline=None, example: int = 0, k: int = 8, splits: int = 5, view_px: int = 192, **kwargs):
        super().__init__(model, **kwargs)
        self._reports: Dict[str, _LayerReport] = {}
        self._maps_key: Optional[Tuple[str, int]] = None
        self._maps: Optional[torch.Tensor] = None  # the chosen example's maps, under _maps_key
        self._layers = concept_layers(self._model)
        if not self._layers:
            raise ValueError("the model has no ConceptWhitening layer; add one with nl.core.replace_batchnorm")
        self._concept_data = concept_tensors(concept_data)
        self._data = DataView(test_data, "test_data")
        self._baseline = None if baseline is None else check_model(baseline)
        self._k = check_count(k, "k", 1, 64)
        self._splits = check_count(splits, "splits", 1, 100)
        self._view_px = check_count(view_px, "view_px", 32, 2048)
        self.add_class("nnl-concept-explorer")
        self.layer = layer if layer is not None else next(iter(self._layers))
        self.concept = self.concepts[0]
        self.example = example

        layer_dd = W.Dropdown(description="layer", options=list(self._layers), layout=W.Layout(width="auto"))
        layer_dd.add_class("nnl-layer")
        slider = W.IntSlider(description="test image", min=0, max=len(self._data) - 1, continuous_update=False,
                             layout=W.Layout(width="360px", max_width="100%"))
        slider.add_class("nnl-example-slider")
        self._bind(layer=layer_dd, example=slider)
        self._rows = W.Box(layout=W.Layout(display="flex", flex_flow="column", max_width="100%"))
        self._rows.add_class("nnl-concept-rows")
        self._rows_title = HtmlView("concept axes: purity and top test images (click one to choose it)")
        self._top = self._view("top", TileGridView("top test images", display_px=self._view_px * 2, plain_rgb=True,
                                                   css_class="nnl-concept-top"))
        self._top.on_pick(self._guarded(self._pick_top))
        self._base = self._view("baseline", TileGridView("baseline", display_px=self._view_px * 2, plain_rgb=True,
                                                         css_class="nnl-baseline-top"))
        self._input = self._view("input", PictureView("test image", display_px=self._view_px, plain_rgb=True,
                                                      css_class="nnl-concept-input"))
        self._scores = self._view("scores", HtmlView("axis scores", css_class="nnl-concept-scores"))
        self._note = self._view("note", HtmlView(css_class="nnl-concept-note"))
        self._heat: Dict[str, PictureView] = {}
        self._heat_row = row()
        self._strips: Dict[str, TileGridView] = {}
        self._labels: Dict[str, W.HTML] = {}
        self._on(lambda _c: self._show(), "layer")
        self._on(lambda _c: self._draw_choice(), "concept")  # the heat maps stay as they are
        self._on(lambda _c: self._draw_example(), "example")
        self._finish([row(layer_dd, slider), self._rows_title, self._rows, row(self._top, self._base),
                      row(self._input, self._scores), self._note, self._heat_row])
        self._show()

    # -- public --------------------------------------------------------
    @property
    def concepts(self) -> List[str]:
        return list(self._module.concepts)

    @property
    def k(self) -> int:
        return self._k

    @property
    def purity(self) -> Optional[Purity]:
        report = self._reports.get(self.layer)
        return report.purity if report else None

    @property
    def baseline_purity(self) -> Optional[Purity]:
        report = self._reports.get(self.layer)
        return report.baseline if report else None

    @property
    def frame(self) -> Optional[np.ndarray]:
        """The chosen concept's heat map over the chosen example, (H, W, 4) uint8."""
        view = self._heat.get(self.concept)
        return None if view is None else view.frame

    @property
    def heat_frames(self) -> Dict[str, np.ndarray]:
        """Every concept axis over the chosen example, by concept name."""
        return {name: view.frame for name, view in self._heat.items() if view.frame is not None}

    @property
    def top_frame(self) -> Optional[np.ndarray]:
        """The chosen concept's top images, (H, W, 4) uint8."""
        return self._top.frame

    @property
    def rows(self) -> Dict[str, TileGridView]:
        """Each concept row's strip of top images (a view: ``.frame``, ``.tile_rect(i)``), by concept name."""
        return dict(self._strips)

    @property
    def row_labels(self) -> Dict[str, str]:
        """Each concept row's label as HTML (name, purity, baseline), by concept name."""
        return {name: label.value for name, label in self._labels.items()}

    def top_images(self, concept: Optional[str] = None) -> np.ndarray:
        """Indices into ``test_data`` of the ``k`` images scoring highest on ``concept``'s axis."""
        report = self._require_report()
        j = self._module.concept_index(concept or self.concept)
        return np.argsort(-report.scores[:, j], kind="stable")[:self._k]

    def axis_values(self) -> np.ndarray:
        """The chosen example's score on each concept axis (``axis_scores``), in ``concepts`` order."""
        return axis_scores(self._example_maps()[None], self._module.pool)[0].numpy()

    # -- validation -----------------------------------------------------
    @property
    def _module(self):
        return self._layers[self.layer]

    def _check_layer(self, value: str) -> str:
        name = value
        if name not in self._layers:
            get_module(self._model, name)  # unknown names: a KeyError listing close ones
            raise ValueError(f"layer {name!r} is not a ConceptWhitening layer; expected one of {list(self._layers)}")
        if not self._layers[name].concepts:
            raise ValueError(f"layer {name!r} names no concepts; pass concepts=[...] when replacing its BatchNorm")
        if self._baseline is not None:
            get_module(self._baseline, name)  # the baseline must have the same layer
        return name

    @traitlets.validate("example")
    def _valid_example(self, proposal):
        return check_index(proposal["value"], len(self._data), "an example", " of test_data")

    @traitlets.validate("concept")
    def _valid_concept(self, proposal):
        if proposal["value"] not in self._module.concepts:
            raise ValueError(f"expected a concept of layer {self.layer!r} in {self.concepts}, "
                             f"got {proposal['value']!r}")
        return proposal["value"]

    def _require_report(self) -> _LayerReport:
        report = self._reports.get(self.layer)
        if report is None:
            raise RuntimeError(f"layer {self.layer!r} is still being scanned; call .wait() first")
        return report

    # -- reacting --------------------------------------------------------
    def _show(self) -> None:
        if self.concept not in self.concepts:
            self.concept = self.concepts[0]
        self._build_heat_views()
        self._draw_example()
        layer = self.layer
        if layer in self._reports:
            self._draw_rows()
            return
        self._rows.children = (W.HTML("<i>measuring purity and ranking the test images…</i>"),)
        model, base, pool, concepts, data, splits = (self._model, self._baseline, self._module.pool,
                                                     self._concept_data, self._data, self._splits)

        def work(job):
            job.progress(0.0, "purity on the concept examples")
            purity = concept_purity(model, layer, concepts, splits=splits)
            job.check()
            best = None
            if base is not None:  # its channels are scored as the axes are
                job.progress(0.2, "the baseline's best single channels")
                best = best_channels(base, layer, concepts, splits=splits, pool=pool)
            scores, base_scores, n = [], [], len(data)
            for start in range(0, n, 256):
                batch = data.images(range(start, min(start + 256, n)))
                scores.append(layer_scores(model, layer, batch))
                if base is not None:
                    base_scores.append(layer_scores(base, layer, batch, pool=pool))
                job.check()
                job.progress(0.4 + 0.6 * min(start + 256, n) / n, f"ranking test images {min(start + 256, n)}/{n}")
            self._reports[layer] = _LayerReport(purity, best, np.concatenate(scores),
                                                np.concatenate(base_scores) if base_scores else None)
            return layer

        self._run_in_background(work, lambda done: self._draw_rows() if done == self.layer else None)

    def _pick_top(self, i: int) -> None:
        idx = self.top_images()
        if 0 <= i < len(idx):
            self.example = int(idx[i])

    def _pick_row(self, name: str, i: int) -> None:
        idx = self.top_images(name)
        self.concept = name
        if 0 <= i < len(idx):
            self.example = int(idx[i])

    # -- drawing ---------------------------------------------------------
    def _strip_scale(self) -> int:
        return max(1, 64 // max(self._data.input_shape[1:]))

    def _draw_rows(self) -> None:
        self._require_report()
        rows = []
        for old in self._rows.children:  # the rows of another layer (or the "measuring" note)
            old.close()
        for widget in list(self._strips.values()) + list(self._labels.values()):
            widget.close()
        self._strips, self._labels = {}, {}
        for name in self.concepts:
            grid, layout = example_grid(self._data.images(self.top_images(name).tolist()), cols=self._k)
            strip = TileGridView(plain_rgb=True, css_class=f"nnl-concept-row-{self._module.concept_index(name)}")
            strip.show_tiles(grid, layout, scale=self._strip_scale())
            strip.on_pick(self._guarded(lambda i, name=name: self._pick_row(name, i)))
            label = W.HTML(layout=W.Layout(min_width="190px"))
            label.add_class("nnl-concept-label")
            self._strips[name], self._labels[name] = strip, label
            rows.append(row(label, strip, align="center"))
        self._rows.children = tuple(rows)
        self._draw_choice()

    def _row_label(self, name: str, report: _LayerReport) -> str:
        p = report.purity
        auc = "no held-out examples"
        if name in p.concepts:
            i = p.concepts.index(name)
            auc = f"axis AUC {p.auc[i]:.3f} &plusmn; {p.std[i]:.3f}"
        base = ""
        if report.baseline is not None and name in report.baseline.concepts:
            b = report.baseline.concepts.index(name)
            base = (f"<br><span style='font-size:11px'>best BN channel {int(report.baseline.channels[b])}: "
                    f"AUC {report.baseline.auc[b]:.3f}</span>")
        mark = "&#9656; " if name == self.concept else ""
        weight = "bold" if name == self.concept else "normal"
        return (f"<div style='color:{THEME['fg']};font-size:12px;line-height:1.3'>"
                f"<span style='font-weight:{weight}'>{mark}{text(name)}</span><br>{auc}{base}</div>")

    def _draw_choice(self) -> None:
        report = self._reports.get(self.layer)
        self._draw_scores()
        if report is None or set(self._labels) != set(self.concepts):
            return
        for name in self.concepts:
            self._labels[name].value = self._row_label(name, report)
            strip = self._strips[name]
            frame = strip.frame
            strip.canvas.marks = ([dict(x=0, y=0, w=frame.shape[1], h=frame.shape[0], color=strip.mark_color,
                                        width=3)] if name == self.concept and frame is not None else [])
        idx = self.top_images()
        grid, layout = example_grid(self._data.images(idx.tolist()), cols=min(self._k, 4))
        scale = fit_factor(max(grid.shape[:2]), self._top.display_px)
        self._top.show_tiles(grid, layout, scale=scale, title=f"top {len(idx)} test images on the "
                             f"{self.concept} axis", caption="click one to see every axis over it")
        self._select_example()
        if (report.baseline is not None and report.baseline_scores is not None
                and self.concept in report.baseline.concepts):
            channel = int(report.baseline.channels[report.baseline.concepts.index(self.concept)])
            top = np.argsort(-report.baseline_scores[:, channel], kind="stable")[:self._k]
            grid, layout = example_grid(self._data.images(top.tolist()), cols=min(self._k, 4))
            self._base.show_tiles(grid, layout, scale=scale, title=f"baseline: top {len(top)} on BN channel "
                                  f"{channel}", caption=f"the BatchNorm model's best single<br>channel "
                                  f"for {text(self.concept)}, scored the same way")
        self._base.layout.display = "flex" if report.baseline is not None else "none"

    def _select_example(self) -> None:
        if self._top.frame is not None and self.layer in self._reports:
            hits = [i for i, j in enumerate(self.top_images()) if j == self.example]
            self._top.select(*hits)

    def _example_maps(self) -> torch.Tensor:
        """The chosen example's maps on the concept axes, ``(concepts, h, w)`` (the last one is kept)."""
        key = (self.layer, self.example)
        if self._maps_key != key:
            x = self._data.images([self.example])
            acts, _ = forward_capture(self._model, x.to(model_device(self._model)), [self.layer])
            axes = [self._module.concept_index(c) for c in self.concepts]
            self._maps, self._maps_key = acts[self.layer][0, axes].float().cpu(), key
        assert self._maps is not None
        return self._maps

    def _build_heat_views(self) -> None:
        if list(self._heat) == self.concepts:
            return
        for name, view in self._heat.items():  # the axes of another layer
            self._views.pop(f"axis {name}", None)
            view.close()
        self._heat = {}
        for j, name in enumerate(self.concepts):
            self._heat[name] = self._view(f"axis {name}", PictureView(name, display_px=self._view_px,
                                                                      css_class=f"nnl-concept-heat-{j}"))
            self._heat[name].layout.margin = "0 16px 8px 0"  # as row() spaces what it is built with
            self._heat[name].layout.max_width = f"{max(self._view_px, 180) + 30}px"  # captions wrap under it
        self._heat_row.children = tuple(self._heat.values())

    def _draw_example(self) -> None:
        image = self._data.images([self.example])[0].float()
        picture = image_rgba(image.numpy())
        scale = fit_factor(max(picture.shape[:2]), self._view_px)
        h, w = picture.shape[:2]
        self._input.show(picture, scale=scale, title=f"test image {self.example}",
                         caption=f"{w}x{h} px, {image.shape[0]} channel(s)")
        maps = self._example_maps().numpy()
        overlays, vmax = axis_overlays(image.numpy(), maps)
        values = self.axis_values()
        legend = Scale("RdBu_r", -vmax, vmax, "axis value, one scale for all axes", opacity=True, middle="0")
        pooled = ("its maximum over the map" if self._module.pool == 0 else
                  f"the mean of its {self._module.pool}x{self._module.pool} max-pooled map")
        for name, overlay, value, m in zip(self.concepts, overlays, values, maps):
            # the axis score pools the map, so it may lie beyond the colour bar: named apart, range given
            self._heat[name].show(overlay, scale=scale, legend=legend, title=f"{name} axis",
                                  caption=f"map from {fmt(float(m.min()))} to {fmt(float(m.max()))} (colour "
                                          f"saturates at \u00b1{fmt(vmax)}); axis score {fmt(value)}: {pooled}, "
                                          "not a value on the colour bar")
        self._note.show(
            f"<div style='color:{THEME['fg']};font-size:12px'>Each concept axis of <b>{text(self.layer)}</b> "
            f"over test image {self.example}: red above the layer's mean, blue below, full colour at the 99th "
            f"percentile of |value| over all axes (a few edge pixels would otherwise set the scale). "
            f"An axis's score is {pooled}.</div>")
        self._draw_scores()
        self._select_example()

    def _draw_scores(self) -> None:
        chosen = self.concepts.index(self.concept) if self.concept in self.concepts else None
        self._scores.show(bar_chart_svg(self.axis_values().tolist(), self.concepts, selected=chosen,
                                        value_label="axis score", width=320, height=190),
                          title=f"test image {self.example}: score on each concept axis")

    def _release(self) -> None:
        self._reports.clear()
        self._maps = None
        self._maps_key = None
        self._baseline = None
        forget(self, "_concept_data", "_data")

    def _state_caption(self) -> str:
        return f"ConceptExplorer: {self.layer}, concept {self.concept}, test image {self.example}"

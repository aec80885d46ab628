"""Read a concept-whitened layer axis by axis: purity, top images, and where each concept fires."""
from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Dict, List, Mapping, Optional

import ipywidgets as W
import numpy as np
import torch
import traitlets
from torch import nn

from ..core.concepts import concept_tensors
from ..core.concepts import Purity, best_channels, concept_purity, layer_scores
from ..core.concepts import axis_scores, concept_layers
from ..core.inputs import model_device
from ..core.probe import forward_capture, get_module
from ..render import TileLayout, bar_chart, image_rgba, overlay_maps, tile
from .base import LensWidget
from .feature_visualizer import DataView, images_picture
from .frame_canvas import FrameCanvas

__all__ = ["ConceptExplorer"]

_SELECTED = "#ff3b30"


def _one_row(images: torch.Tensor) -> np.ndarray:
    """Images side by side at their own size, one pixel apart."""
    tiles = np.stack([image_rgba(x.float().numpy()) for x in images])
    layout = TileLayout.for_count(len(tiles), tiles.shape[1], tiles.shape[2], gap=1, cols=len(tiles))
    return tile(tiles, layout)


@dataclass(frozen=True)
class _LayerReport:
    """Everything shown for one layer, computed once: purity, baseline, test-image scores."""

    purity: Purity
    baseline: Optional[Purity]
    scores: np.ndarray
    baseline_scores: Optional[np.ndarray]


class ConceptExplorer(LensWidget):
    """One row per concept axis of a ``ConceptWhitening`` layer, and the axes on one image.

    - each row: the concept's name, its purity (AUC on ``concept_data``,
      mean +- spread over splits) and its top ``k`` images of ``test_data``;
      with ``baseline`` (the same network with BatchNorm), the AUC of that
      layer's best single channel for the concept, scored the same way, the
      paper's comparison;
    - choosing a row (click it, or set ``concept``) shows its top images
      large, beside the baseline channel's top images;
    - choosing an image (``image``: an index into ``test_data``; slider, or
      click a top image) shows each concept axis as a heat map over the image
      (one colour scale for all axes) and as bars;
    - ``layer`` picks among the model's concept-whitening layers.

    Purity and the scan of ``test_data`` run once per layer in the background
    (progress and Stop below the widget); choosing rows and images reuses them.
    """

    layer = traitlets.Unicode()
    concept = traitlets.Unicode()
    image = traitlets.Int(0)

    def __init__(self, model: nn.Module, layer: Optional[str] = None, concept_data: Mapping = None,
                 test_data=None, baseline: Optional[nn.Module] = None, image: int = 0, k: int = 8,
                 splits: int = 5, view_px: int = 96, **kwargs):
        if not isinstance(model, nn.Module):
            raise ValueError(f"expected a torch.nn.Module, got {type(model).__name__}")
        self._model, self._baseline = model, baseline
        self._layers = concept_layers(model)
        if not self._layers:
            raise ValueError("the model has no ConceptWhitening layer; add one with nl.core.replace_batchnorm")
        if concept_data is None or test_data is None:
            raise ValueError("expected concept_data ({concept: images}) and test_data (images) to rank")
        self._concepts = concept_tensors(concept_data)
        self._data = DataView(test_data)
        self.k, self.splits = max(1, int(k)), int(splits)
        self._view_px = int(view_px)
        self._reports: Dict[str, _LayerReport] = {}
        self._maps_key, self._maps = None, None
        super().__init__(**kwargs)
        self.add_class("nnl-concept-explorer")
        first = layer if layer is not None else next(iter(self._layers))
        self.set_trait("layer", self._check_layer(first))
        self.set_trait("concept", self._module.concepts[0] if self._module.concepts else "")
        self.set_trait("image", self._check_image(image))

        self._layer_dd = W.Dropdown(options=list(self._layers), description="layer")
        self._layer_dd.add_class("nnl-layer")
        self._image_slider = W.IntSlider(description="image", min=0, max=len(self._data) - 1,
                                         continuous_update=False, layout=W.Layout(width="360px"))
        self._image_slider.add_class("nnl-image-slider")
        W.link((self, "layer"), (self._layer_dd, "value"))
        W.link((self, "image"), (self._image_slider, "value"))
        self._rows = W.VBox()
        self._rows.add_class("nnl-concept-rows")
        self._chosen_title = W.HTML()
        self._chosen = FrameCanvas()
        self._chosen.add_class("nnl-concept-top")
        self._chosen.on_click(self._guarded(self._on_chosen_click))
        self._baseline_title = W.HTML()
        self._baseline_canvas = FrameCanvas()
        self._baseline_canvas.add_class("nnl-baseline-top")
        self._heat_title = W.HTML()
        self._heat = FrameCanvas()
        self._heat.add_class("nnl-concept-heat")
        self._bars = FrameCanvas()
        self._bars.add_class("nnl-concept-bars")
        self._row_canvases: List[FrameCanvas] = []
        self._row_labels: List[W.HTML] = []

        self.observe(self._guarded(lambda _c: self._refresh()), ["layer"])
        self.observe(self._guarded(lambda _c: self._draw_choice()), ["concept"])  # the heat maps stay
        self.observe(self._guarded(lambda _c: self._draw_image()), ["image"])
        chosen = W.VBox([self._chosen_title, self._chosen, self._baseline_title, self._baseline_canvas])
        self._finish([
            W.HBox([self._layer_dd, self._image_slider]),
            W.HBox([self._rows, chosen]),
            W.VBox([self._heat_title, self._heat, self._bars]),
        ])
        self._refresh()

    # -- public --------------------------------------------------------
    @property
    def concepts(self) -> List[str]:
        return list(self._module.concepts)

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
        """The per-axis heat maps of the chosen image, (H, W, 4) uint8."""
        return self._heat.frame

    @property
    def top_frame(self) -> Optional[np.ndarray]:
        """The chosen concept's top images, (H, W, 4) uint8."""
        return self._chosen.frame

    def top_images(self, concept: Optional[str] = None) -> np.ndarray:
        """Indices into ``test_data`` of the ``k`` images scoring highest on ``concept``'s axis."""
        report = self._require_report()
        j = self._module.concept_index(concept or self.concept)
        return np.argsort(-report.scores[:, j], kind="stable")[:self.k]

    def axis_values(self) -> np.ndarray:
        """The chosen image's score on each concept axis (``axis_scores``), in ``concepts`` order."""
        maps = self._image_maps()
        return axis_scores(maps[None], self._module.pool)[0].numpy()

    # -- internals -----------------------------------------------------
    @property
    def _module(self):
        return self._layers[self.layer]

    def _check_layer(self, name: str) -> str:
        if name not in self._layers:
            get_module(self._model, name)  # unknown names: a KeyError listing close ones
            raise ValueError(f"layer {name!r} is not a ConceptWhitening layer; pick one of {list(self._layers)}")
        if not self._layers[name].concepts:
            raise ValueError(f"layer {name!r} names no concepts; pass concepts=[...] when replacing its BatchNorm")
        return name

    def _check_image(self, i) -> int:
        i = int(i)
        if not 0 <= i < len(self._data):
            raise ValueError(f"expected an image index in 0..{len(self._data) - 1}, got {i}")
        return i

    @traitlets.validate("layer")
    def _valid_layer(self, proposal):
        return self._check_layer(proposal["value"])

    @traitlets.validate("image")
    def _valid_image(self, proposal):
        return self._check_image(proposal["value"])

    @traitlets.validate("concept")
    def _valid_concept(self, proposal):
        self._module.concept_index(proposal["value"])  # KeyError naming the layer's concepts
        return proposal["value"]

    def _require_report(self) -> _LayerReport:
        report = self._reports.get(self.layer)
        if report is None:
            raise RuntimeError(f"layer {self.layer!r} is still being scanned; call .wait() first")
        return report

    def _refresh(self):
        if self.concept not in self._module.concepts:
            self.set_trait("concept", self._module.concepts[0])
        self._draw_image()
        layer = self.layer
        if layer in self._reports:
            self._draw_rows()
            return
        self._rows.children = (W.HTML("<i>measuring purity and ranking the test images...</i>"),)

        pool = self._module.pool  # the baseline's channels are scored as the axes are

        def work(job):
            job.progress(0.0, "purity on the concept examples")
            purity = concept_purity(self._model, layer, self._concepts, splits=self.splits)
            job.check()
            base = None
            if self._baseline is not None:
                job.progress(0.3, "best single channel of the baseline")
                base = best_channels(self._baseline, layer, self._concepts, splits=self.splits, pool=pool)
                job.check()
            scores, base_chunks = [], []
            n = len(self._data)
            for start in range(0, n, 256):
                batch = self._data.images(range(start, min(start + 256, n)))
                scores.append(layer_scores(self._model, layer, batch))
                if base is not None:
                    base_chunks.append(layer_scores(self._baseline, layer, batch, pool=pool))
                job.check()
                job.progress(0.5 + 0.5 * min(start + 256, n) / n, f"ranking test images {min(start + 256, n)}/{n}")
            base_scores = np.concatenate(base_chunks) if base_chunks else None
            self._reports[layer] = _LayerReport(purity, base, np.concatenate(scores), base_scores)
            return layer

        self._run_in_background(work, lambda done: self._draw_rows() if done == self.layer else None)

    def _draw_rows(self):
        self._require_report()
        labels, canvases, rows = [], [], []
        for name in self.concepts:
            j = self._module.concept_index(name)
            idx = self.top_images(name)
            label = W.HTML(layout=W.Layout(width="270px"))
            canvas = FrameCanvas()
            canvas.add_class(f"nnl-concept-row-{j}")
            canvas.draw(_one_row(self._data.images(idx.tolist())))
            canvas.on_click(self._guarded(lambda _x, _y, _e, name=name: setattr(self, "concept", name)))
            labels.append(label)
            canvases.append(canvas)
            rows.append(W.HBox([label, canvas]))
        self._row_labels, self._row_canvases = labels, canvases
        self._rows.children = tuple(rows)
        self._draw_choice()

    def _row_text(self, name: str, report: _LayerReport) -> str:
        p = report.purity
        i = p.concepts.index(name) if name in p.concepts else None
        auc = f"AUC {p.auc[i]:.3f} &plusmn; {p.std[i]:.3f}" if i is not None else "no examples"
        base = ""
        if report.baseline is not None and name in report.baseline.concepts:
            b = report.baseline.concepts.index(name)
            base = (f"<br><span style='color:#666'>best BN channel {report.baseline.channels[b]}: "
                    f"AUC {report.baseline.auc[b]:.3f}</span>")
        chosen = name == self.concept
        style = f"color:{_SELECTED};font-weight:bold" if chosen else ""
        return f"<span style='{style}'>{html.escape(name)}</span> &nbsp; {auc}{base}"

    def _draw_choice(self):
        report = self._reports.get(self.layer)
        if report is None or len(self._row_labels) != len(self.concepts):
            return
        for name, label, canvas in zip(self.concepts, self._row_labels, self._row_canvases):
            label.value = self._row_text(name, report)
            h, w = canvas.frame.shape[:2]
            canvas.marks = [dict(x=0, y=0, w=w, h=h, color=_SELECTED, width=3)] if name == self.concept else []
        idx = self.top_images()
        self._chosen_idx = idx
        self._chosen_grid = images_picture(self._data.images(idx.tolist()), self._view_px * 4)
        self._chosen.draw(self._chosen_grid.rgba)
        self._chosen_title.value = (f"<b>top test images on axis {html.escape(self.concept)}</b> "
                                    "(click one to see its heat maps)")
        if report.baseline is not None and self.concept in report.baseline.concepts:
            channel = int(report.baseline.channels[report.baseline.concepts.index(self.concept)])
            top = np.argsort(-report.baseline_scores[:, channel], kind="stable")[:self.k]
            self._baseline_canvas.draw(images_picture(self._data.images(top.tolist()), self._view_px * 4).rgba)
            self._baseline_title.value = f"<b>baseline: top images of BN channel {channel}</b>"
        self._draw_bars()

    def _on_chosen_click(self, x, y, _event):
        i = self._chosen_grid.layout.index_at(x, y)
        if i is not None and i < len(self._chosen_idx):
            self.image = int(self._chosen_idx[i])

    def _image_maps(self) -> torch.Tensor:
        """The chosen image's maps on the concept axes, ``(concepts, h, w)`` (the last one is kept)."""
        key = (self.layer, self.image)
        if self._maps_key != key:
            x = self._data.images([self.image])
            acts, _ = forward_capture(self._model, x.to(model_device(self._model)), [self.layer])
            axes = [self._module.concept_index(c) for c in self.concepts]
            self._maps, self._maps_key = acts[self.layer][0, axes].float().cpu(), key
        return self._maps

    def _draw_image(self):
        maps = self._image_maps()
        picture = image_rgba(self._data.images([self.image])[0].float().numpy())
        factor = max(1, -(-self._view_px // max(picture.shape[:2])))
        picture = np.repeat(np.repeat(picture, factor, 0), factor, 1)
        # heat over a pale grey copy: the image's own colours would hide the map's
        grey = picture.copy()
        grey[..., :3] = (160 + 0.35 * picture[..., :3].mean(-1, keepdims=True)).astype(np.uint8)
        # full colour at the 99th percentile of |value| over all axes: a few edge
        # pixels would otherwise set the scale and leave the rest invisible
        vmax = float(np.percentile(np.abs(maps.numpy()), 99)) or None
        overlays = overlay_maps(grey, maps.numpy(), vmax=vmax, opacity=0.85)
        layout = TileLayout.for_count(len(overlays) + 1, *picture.shape[:2], gap=2, cols=len(overlays) + 1)
        self._heat.draw(tile(np.concatenate([picture[None], overlays]), layout))
        names = " | ".join(html.escape(c) for c in self.concepts)
        self._heat_title.value = (f"<b>image {self.image}</b>: the image, then each concept axis over it "
                                  f"({names}), one colour scale for all (full colour at the 99th percentile "
                                  "of |value|): red above the layer's mean, blue below. Bars: each axis's "
                                  "score, the chosen concept in red.")
        self._draw_bars()

    def _draw_bars(self):
        values = axis_scores(self._image_maps()[None], self._module.pool)[0].numpy()
        chosen = self.concepts.index(self.concept) if self.concept in self.concepts else -1
        width = self._heat.frame.shape[1] if self._heat.frame is not None else 512
        self._bars.draw(bar_chart(values, selected=chosen, height=90, max_width=width))

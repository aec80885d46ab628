"""Top examples by relevance (RelMax) for FeatureVisualizer, beside those by activation.

Asked for with a class (``FeatureVisualizer.compare_relevance(target)``):
one scan of the data per layer ranks the images by each channel's relevance
for that class (``top_examples(..., by="relevance")``); the panel shows the
current channel's best ones with their relevance and their peak activation,
so the two rankings can be told apart. The scan runs inside the widget's own
background job, like the scan by activation.
"""
from __future__ import annotations

from typing import Dict, Optional

import numpy as np

from ...core import TopExamples, class_probabilities, top_examples
from ...render import example_grid, fit_factor
from ...render.legend import fmt
from ..checks import check_count, text
from ..unit_runs import channel_measures
from ..views import TileGridView

__all__ = ["RelevanceExamples"]


class RelevanceExamples:
    """The panel and its scans; ``target`` is None until asked for."""

    def __init__(self, model, data, k: int, display_px: int):
        self._model, self._data, self._k = model, data, k
        self.target: Optional[int] = None
        self.asked = False
        self._scans: Dict[tuple, TopExamples] = {}
        self._shown: Dict[tuple, dict] = {}  # (layer, channel, target) -> indices, images, values, peaks
        self.view = TileGridView(f"top {k} data images by relevance", display_px=display_px,
                                 css_class="nnl-relevance-examples-canvas", plain_rgb=True)
        self.view.layout.display = "none"

    def adopt(self, scans: Dict[str, TopExamples]) -> None:
        """Scans by relevance already made of the data (``FeatureVisualizer(top_examples=...)``), by layer."""
        for scan in scans.values():
            self._scans[(scan.layer, scan.target)] = scan

    def ask(self, target) -> TileGridView:
        """Show the ranking for class ``target`` (None: each image's predicted class, as a scan made so)."""
        if self._data is None:
            raise ValueError("expected data= to rank examples by relevance")
        classes = class_probabilities(self._model, self._data.images([0])).shape[1]
        self.target = None if target is None else check_count(target, "target (a class index)", 0, classes - 1)
        self.asked = True
        self.view.layout.display = "flex"
        return self.view

    def scan(self, layer: str) -> Optional[TopExamples]:
        return self._scans.get((layer, self.target)) if self.asked else None

    def missing(self, layer: str, channel: int) -> bool:
        """Whether the current choice needs background work (a scan, or the examples' measures)."""
        return self.asked and (layer, channel, self.target) not in self._shown

    def compute(self, job, layer: str, channel: int) -> tuple:
        """On the worker: scan the layer (once per class) and measure the channel's best examples."""
        target = self.target
        if (layer, target) not in self._scans:
            job.progress(0.0, f"ranking {len(self._data)} images by relevance for {layer}")
            self._scans[(layer, target)] = top_examples(
                self._model, self._data.data, layer, k=self._k, by="relevance", target=target,
                progress=lambda f, t: job.progress(f, f"{layer} by relevance: {t}"), should_stop=lambda: job.cancelled)
        job.check()
        idx, values, _ = self._scans[(layer, target)].top(unit=channel)
        images = self._data.images(idx.tolist())
        peaks = channel_measures(self._model, images, layer, channel, "channel")["peak"]
        key = (layer, channel, target)
        self._shown[key] = dict(indices=idx, images=images, values=values.numpy(), peaks=np.asarray(peaks))
        return key

    def draw(self, layer: str, channel: int) -> None:
        """Show the current choice if known (else say it is coming)."""
        if not self.asked:
            return
        found = self._shown.get((layer, channel, self.target))
        if found is None:
            self.view.set_caption(f"<i class='nnl-waiting'>{text('ranking the data by relevance…')}</i>")
            return
        grid, layout = example_grid(found["images"])
        scan = self._scans[(layer, self.target)]
        whom = f"class {self.target}" if self.target is not None else "each image's predicted class"
        self.view.show_tiles(
            grid, layout, scale=fit_factor(max(grid.shape[:2]), self.view.display_px),
            title=f"top {len(found['indices'])} of {scan.count} data images by relevance for {whom}",
            caption=(f"ranked by channel {channel}'s relevance (LRP) for {whom}<br>"
                     f"relevance: {text(', '.join(fmt(v) for v in found['values']))}<br>"
                     f"peak activation: {text(', '.join(fmt(v) for v in found['peaks']))}"))

    def release(self) -> None:
        self._scans.clear()
        self._shown.clear()
        if self._data is None:  # never in the layout, so not closed with it
            self.view.close()

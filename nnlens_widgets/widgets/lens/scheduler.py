"""The Lens's background panels: computed on worker threads, newest choice first, drawn when ready.

The unit's gradient map and ablation chart and the target's attribution map
and trust badge run one after another on the widget's own worker (each
result kept, so going back to a unit or class draws at once); the feature
visualisation, the top-examples scan (once per layer) and the occlusion map
each have a worker of their own, so a long optimisation or scan never holds
up the others. Results are keyed by the input's version, so nothing computed
for an older input is ever shown.
"""
from __future__ import annotations

import time
from typing import Any, Dict, Optional

import numpy as np

from ...core import feature_vis, top_examples
from ...core.featurevis import channel as channel_objective
from .panels import trust_html
from ..unit_sanity import vis_sanity
from .computations import (
    ablated_probabilities, attribution_map, occlusion_map, occlusion_window, top_classes, trust_of, unit_gradient,
)

__all__ = ["LensScheduler"]


class LensScheduler:
    """Starts and draws the Lens panels that need the model; the Lens holds one and calls it by name.

    It keeps what those panels computed (``results``, keyed by the input's
    version), what each panel shows (``drawn``), the top-examples scans
    (``scans``, one per layer, kept across inputs) and the panels' workers.
    """

    def __init__(self, lens: Any):
        self.lens = lens  # the Lens (typed loosely: the Lens module imports this one)
        self.results: Dict[tuple, Any] = {}  # (what, version, ...) -> a background result
        self.drawn: Dict[str, tuple] = {}  # panel -> the key of the result it shows
        self.scans: Dict[str, Any] = {}  # layer -> TopExamples (data only: kept across inputs)
        self.scanning: Optional[str] = None  # the layer whose scan is in flight
        self.workers = {"vis": lens._new_worker(),
                        "scan": lens._new_worker(on_progress=self._scan_progress, on_idle=self.scan_idle),
                        "occlusion": lens._new_worker(on_progress=self._occlusion_progress)}

    def stop(self) -> None:
        """Stop every panel's work in progress (a stopped scan starts again with the next unit)."""
        for worker in self.workers.values():
            worker.cancel()
        self.scan_idle()

    def close(self) -> None:
        """End the panels' workers and drop every result and scan."""
        for worker in self.workers.values():
            worker.close()
        self.results.clear()
        self.scans.clear()

    def wait(self, timeout: Optional[float] = 60.0) -> bool:
        """Block until the Lens's own and every panel's work is done; False on timeout."""
        deadline = None if timeout is None else time.monotonic() + timeout
        workers = [self.lens._work, *self.workers.values()]
        while True:  # a draw may start more work: wait until all are idle at once
            for worker in workers:
                left = None if deadline is None else max(0.0, deadline - time.monotonic())
                if not worker.wait(left):
                    return False
            if not any(worker.busy for worker in workers):
                return True

    def start_panels(self) -> None:
        """Draw the unit's and the target's results known already; compute the rest, newest first."""
        model, xb, v = self.lens._model, self.lens._cache.x, self.lens._version
        layer, c, t, method = self.lens.layer, self.lens.channel, self.lens.target, self.lens.method
        entry, params = self.lens._offered[method], dict(self.lens._params.get(method, {}))
        pkey = tuple(sorted(params.items()))
        attribution = ("attribution", v, t, method, pkey)
        steps = [  # (result key, compute, draw, the panel it fills)
            (("gradient", v, layer, c), lambda: unit_gradient(model, xb, layer, c),
             self._draw_unit_gradient(v, layer, c), "unit_gradient"),
            (("ablation", v, layer, c), lambda: ablated_probabilities(model, xb, layer, c),
             self._draw_ablation(v, layer, c), "ablation"),
            (attribution, lambda: attribution_map(model, xb, t, entry, params),
             self._draw_attribution(v, t, method, pkey), "attribution"),
            (("trust", v, t, method, pkey),
             lambda: trust_of(model, xb, self.results[attribution][1], t, self.lens.trust_steps,
                              labels=self.lens._names),
             self._draw_attribution(v, t, method, pkey), None),
        ]
        missing = []
        for key, compute, draw, panel in steps:
            if key in self.results:
                draw(self.results[key])
            else:
                missing.append((key, compute, draw))
                if panel is not None:
                    self.drawn.pop(panel, None)  # the note replaces what it showed
                    self.lens._panels.waiting(getattr(self.lens._panels, panel), "computing…")
        if not missing:
            return

        def work(job):
            for key, compute, draw in missing:
                job.check()
                result = compute()
                self.results[key] = result
                self.lens._draw_if_current(job, lambda d=draw, r=result: d(r))

        self.lens._run_in_background(work, lambda _r: None)

    def _once(self, panel: str, key: tuple) -> bool:
        """Whether ``panel`` does not show ``key`` yet (then it is about to): a redraw of the same
        result (a cached attribution when only the unit changed) would only cost time."""
        if self.drawn.get(panel) == key:
            return False
        self.drawn[panel] = key
        return True

    def _draw_unit_gradient(self, v: int, layer: str, c: int):
        def draw(values):
            if self._once("unit_gradient", (v, layer, c)):
                self.lens._panels.draw_unit_gradient(values, layer, c)
        return draw

    def _draw_ablation(self, v: int, layer: str, c: int):
        def draw(after):
            if self._once("ablation", (v, layer, c, self.lens.target)):
                order = top_classes(self.lens._probs, self.lens.top_k, self.lens.target)
                self.lens._panels.draw_ablation(self.lens._names, self.lens._probs, after, order, layer, c, self.lens.target)
        return draw

    def _draw_attribution(self, v: int, t: int, method: str, pkey: tuple):
        def draw(_result):
            values, _ = self.results[("attribution", v, t, method, pkey)]
            trust = self.results.get(("trust", v, t, method, pkey))
            self.lens._panels.warnings.set("target", (trust.caveat,) if trust is not None and trust.caveat else ())
            if self._once("attribution", (v, t, method, pkey, trust is not None)):
                self.lens._panels.draw_attribution(self.lens._photo(), values, self.lens._offered[method].title,
                                              self.lens._names[t], trust_html(self.lens._offered[method].title, trust))
        return draw

    def start_vis(self) -> None:
        layer, c, seed, steps = self.lens.layer, self.lens.channel, self.lens.vis_seed, self.lens.vis_steps
        key = ("vis", layer, c, seed, steps)
        if key in self.results:
            images, notes, sanity = self.results[key]
            self.lens._panels.draw_feature_vis(images, steps, steps, layer, c, seed, notes, sanity)
            return
        self.lens._panels.waiting(self.lens._panels.feature_vis, f"optimising a picture for channel {c}…")
        self.lens._panels.warnings.set("vis", ())
        model, size = self.lens._model, tuple(self.lens._cache.x.shape[-2:])
        data = None if self.lens._data is None else self.lens._data.data

        def work(job):
            last = None
            for state in feature_vis(model, channel_objective(layer, c), steps=steps, every=max(1, steps // 8),
                                     input_size=size, seed=seed, should_stop=lambda: job.cancelled):
                job.check()
                last = state
                self.lens._draw_if_current(job, lambda s=state: self.lens._panels.draw_feature_vis(
                    s.images, s.step, steps, layer, c, seed, s.warnings))
            sanity = vis_sanity(model, layer, c, data, last, size)
            job.check()
            self.results[key] = (last.images, last.warnings, sanity)
            self.lens._draw_if_current(job, lambda: self.lens._panels.draw_feature_vis(
                last.images, last.step, steps, layer, c, seed, last.warnings, sanity))
            return last

        self.workers["vis"].submit(work, lambda _s: None)

    def start_scan(self, layer: str) -> None:
        if self.lens._data is None or layer in self.scans or (self.scanning == layer and self.workers["scan"].busy):
            return
        self.scanning = layer
        model, data, k, pre = self.lens._model, self.lens._data.data, self.lens.examples_k, self.lens._preprocess

        def work(job):
            return top_examples(model, data, layer, k=k, progress=job.progress, preprocess=pre,
                                should_stop=lambda: job.cancelled)

        def draw(scan):
            self.scans[layer] = scan
            if self.lens.layer == layer:
                self.lens._draw_examples()

        self.workers["scan"].submit(work, draw)

    def _scan_progress(self, fraction: float, message: str) -> None:
        self.lens._panels.scan_row.layout.display = "flex"
        self.lens._panels.scan_progress.value = float(np.clip(fraction, 0.0, 1.0))
        self.lens._panels.scan_text.value = f"{self.scanning}: {message}"

    def scan_idle(self) -> None:
        self.lens._panels.scan_row.layout.display = "none"

    def start_occlusion(self) -> None:
        model, xb, t, v = self.lens._model, self.lens._cache.x, self.lens.target, self.lens._version
        window, stride = occlusion_window((int(xb.shape[-2]), int(xb.shape[-1])))
        key = ("occlusion", v, t, window, stride)

        def draw(heat):
            self.lens._panels.draw_occlusion(self.lens._photo(), heat, self.lens._names[t], window, stride)

        if key in self.results:
            draw(self.results[key])
            return
        self.lens._panels.waiting(self.lens._panels.occlusion, f"occluding for {self.lens._names[t]}…")

        def work(job):
            heat = occlusion_map(model, xb, t, window, stride, should_stop=lambda: job.cancelled,
                                 progress=lambda fraction: job.progress(fraction, f"for {self.lens._names[t]}"))
            self.results[key] = heat
            return heat

        self.workers["occlusion"].submit(work, draw)

    def _occlusion_progress(self, fraction: float, message: str) -> None:
        self.lens._panels.waiting(self.lens._panels.occlusion, f"occluding: {100 * fraction:.0f}% {message}")

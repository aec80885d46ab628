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
from typing import Dict, Optional

import numpy as np

from ..core import feature_vis, top_examples
from ..core.featurevis import channel as channel_objective
from .lens_views import trust_html
from .unit_sanity import vis_sanity
from .lens_work import (
    ablated_probabilities, attribution_map, occlusion_map, occlusion_window, top_classes, trust_of, unit_gradient,
)

__all__ = ["LensBackground"]


class LensBackground:
    """Mixed into ``Lens``: starts and draws the panels that need the model."""

    _drawn: Dict[str, tuple]

    def stop(self) -> None:
        """Stop every panel's work in progress (a stopped scan starts again with the next unit)."""
        super().stop()
        for worker in self._workers.values():
            worker.cancel()
        self._scan_idle()

    def wait(self, timeout: Optional[float] = 60.0) -> bool:
        """Block until every panel's background work is done; False on timeout."""
        deadline = None if timeout is None else time.monotonic() + timeout
        workers = [self._work, *self._workers.values()]
        while True:  # a draw may start more work: wait until all are idle at once
            for worker in workers:
                left = None if deadline is None else max(0.0, deadline - time.monotonic())
                if not worker.wait(left):
                    return False
            if not any(worker.busy for worker in workers):
                return True

    def _start_panels(self) -> None:
        """Draw the unit's and the target's results known already; compute the rest, newest first."""
        model, xb, v = self._model, self._cache.x, self._version
        layer, c, t, method = self.layer, self.channel, self.target, self.method
        entry, params = self._offered[method], dict(self._params.get(method, {}))
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
             lambda: trust_of(model, xb, self._results[attribution][1], t, self.trust_steps, labels=self._names),
             self._draw_attribution(v, t, method, pkey), None),
        ]
        missing = []
        for key, compute, draw, panel in steps:
            if key in self._results:
                draw(self._results[key])
            else:
                missing.append((key, compute, draw))
                if panel is not None:
                    self._drawn.pop(panel, None)  # the note replaces what it showed
                    self._panels.waiting(getattr(self._panels, panel), "computing…")
        if not missing:
            return

        def work(job):
            for key, compute, draw in missing:
                job.check()
                result = compute()
                self._results[key] = result
                self._draw_if_current(job, lambda d=draw, r=result: d(r))

        self._run_in_background(work, lambda _r: None)

    def _once(self, panel: str, key: tuple) -> bool:
        """Whether ``panel`` does not show ``key`` yet (then it is about to): a redraw of the same
        result (a cached attribution when only the unit changed) would only cost time."""
        if self._drawn.get(panel) == key:
            return False
        self._drawn[panel] = key
        return True

    def _draw_unit_gradient(self, v: int, layer: str, c: int):
        def draw(values):
            if self._once("unit_gradient", (v, layer, c)):
                self._panels.draw_unit_gradient(values, layer, c)
        return draw

    def _draw_ablation(self, v: int, layer: str, c: int):
        def draw(after):
            if self._once("ablation", (v, layer, c, self.target)):
                order = top_classes(self._probs, self.top_k, self.target)
                self._panels.draw_ablation(self._names, self._probs, after, order, layer, c, self.target)
        return draw

    def _draw_attribution(self, v: int, t: int, method: str, pkey: tuple):
        def draw(_result):
            values, _ = self._results[("attribution", v, t, method, pkey)]
            trust = self._results.get(("trust", v, t, method, pkey))
            self._panels.warnings.set("target", (trust.caveat,) if trust is not None and trust.caveat else ())
            if self._once("attribution", (v, t, method, pkey, trust is not None)):
                self._panels.draw_attribution(self._photo(), values, self._offered[method].title,
                                              self._names[t], trust_html(self._offered[method].title, trust))
        return draw

    def _start_vis(self) -> None:
        layer, c, seed, steps = self.layer, self.channel, self.vis_seed, self.vis_steps
        key = ("vis", layer, c, seed, steps)
        if key in self._results:
            images, notes, sanity = self._results[key]
            self._panels.draw_feature_vis(images, steps, steps, layer, c, seed, notes, sanity)
            return
        self._panels.waiting(self._panels.feature_vis, f"optimising a picture for channel {c}…")
        self._panels.warnings.set("vis", ())
        model, size = self._model, tuple(self._cache.x.shape[-2:])
        data = None if self._data is None else self._data.data

        def work(job):
            last = None
            for state in feature_vis(model, channel_objective(layer, c), steps=steps, every=max(1, steps // 8),
                                     input_size=size, seed=seed, should_stop=lambda: job.cancelled):
                job.check()
                last = state
                self._draw_if_current(job, lambda s=state: self._panels.draw_feature_vis(
                    s.images, s.step, steps, layer, c, seed, s.warnings))
            sanity = vis_sanity(model, layer, c, data, last, size)
            job.check()
            self._results[key] = (last.images, last.warnings, sanity)
            self._draw_if_current(job, lambda: self._panels.draw_feature_vis(
                last.images, last.step, steps, layer, c, seed, last.warnings, sanity))
            return last

        self._workers["vis"].submit(work, lambda _s: None)

    def _start_scan(self, layer: str) -> None:
        if self._data is None or layer in self._scans or (self._scanning == layer and self._workers["scan"].busy):
            return
        self._scanning = layer
        model, data, k, pre = self._model, self._data.data, self.examples_k, self._preprocess

        def work(job):
            return top_examples(model, data, layer, k=k, progress=job.progress, preprocess=pre,
                                should_stop=lambda: job.cancelled)

        def draw(scan):
            self._scans[layer] = scan
            if self.layer == layer:
                self._draw_examples()

        self._workers["scan"].submit(work, draw)

    def _scan_progress(self, fraction: float, message: str) -> None:
        self._panels.scan_row.layout.display = "flex"
        self._panels.scan_progress.value = float(np.clip(fraction, 0.0, 1.0))
        self._panels.scan_text.value = f"{self._scanning}: {message}"

    def _scan_idle(self) -> None:
        self._panels.scan_row.layout.display = "none"

    def _start_occlusion(self) -> None:
        model, xb, t, v = self._model, self._cache.x, self.target, self._version
        window, stride = occlusion_window(tuple(xb.shape[-2:]))
        key = ("occlusion", v, t, window, stride)

        def draw(heat):
            self._panels.draw_occlusion(self._photo(), heat, self._names[t], window, stride)

        if key in self._results:
            draw(self._results[key])
            return
        self._panels.waiting(self._panels.occlusion, f"occluding for {self._names[t]}…")

        def work(job):
            heat = occlusion_map(model, xb, t, window, stride, should_stop=lambda: job.cancelled,
                                 progress=lambda fraction: job.progress(fraction, f"for {self._names[t]}"))
            self._results[key] = heat
            return heat

        self._workers["occlusion"].submit(work, draw)

    def _occlusion_progress(self, fraction: float, message: str) -> None:
        self._panels.waiting(self._panels.occlusion, f"occluding: {100 * fraction:.0f}% {message}")

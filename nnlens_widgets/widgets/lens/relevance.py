"""The Lens's relevance panels, shown once asked for (``Lens.relevance()`` or its button).

- **share of relevance**: for the chosen layer, the channels that carry the
  target class's relevance (LRP, ``core.channel_relevance``), ranked as bars;
  a click on a channel's name picks it, like a click on its tile;
- **top examples by relevance** (with ``data``): the data images where the
  chosen channel is most relevant for the target class (RelMax), beside the
  top examples by activation; a click makes one the input.

One relevance pass per (input, layer, class) and one data scan per (layer,
class), each kept; they run on a worker of their own, newest choice first,
so the other panels never wait for them.
"""
from __future__ import annotations

from typing import Any, Dict, List, Optional

import ipywidgets as W
import numpy as np

from ...core import channel_relevance, top_examples
from ...render import example_grid
from ...render.legend import fmt
from ..checks import text
from .relevance_views import RelevanceShareView, share_caption, share_rows
from ..views import TileGridView

__all__ = ["LensRelevance", "SHOWN"]

SHOWN = 10  # channels charted
_NOT_AVAILABLE = (ValueError, KeyError, NotImplementedError, TypeError)  # LRP has no rule or no class score here


class LensRelevance:
    """The relevance panels of one ``Lens``; ``update()`` follows its layer, channel, target and input."""

    def __init__(self, lens, picture_px: int):
        self._lens = lens
        self.on = False
        # in the layout from the start (hidden); among the views (and exports) once shown
        self.share = RelevanceShareView("share of relevance", css_class="nnl-lens-relevance-share")
        self.examples = TileGridView("top examples by relevance", display_px=picture_px,
                                     css_class="nnl-lens-relevance-examples")
        self.examples.add_class("nnl-plain-rgb")  # data images as they are: no colour map
        self.examples.layout.width = f"{max(picture_px, 180) + 50}px"
        self.share.layout.width = "420px"
        for view in (self.share, self.examples):
            view.layout.display = "none"
        self.button = lens._control("relevance", W.Button(
            description="relevance (LRP)", icon="sitemap",
            tooltip="which channels carry the class's relevance, and the data images where a channel matters most"))
        self.button.on_click(lens._guarded(lambda _b: lens.relevance()))
        self._worker = lens._jobs.workers.setdefault("relevance", lens._new_worker(on_progress=self._scan_progress))
        self._shares: Dict[tuple, Any] = {}  # (input version, layer, class) -> (scores (C,), score) or a reason
        self._scans: Dict[tuple, Any] = {}  # (layer, class) -> TopExamples by relevance
        self._indices: List[int] = []
        self._pending: tuple = ()  # the keys the worker is computing
        self.share.on_pick(lens._guarded(lambda c: setattr(lens, "channel", c)))
        self.examples.on_pick(lens._guarded(self._pick_example))

    def start(self) -> None:
        self.on = True
        self._lens._view("relevance_share", self.share)
        self.share.layout.display = "flex"
        if self._lens._data is not None:
            self._lens._view("relevance_examples", self.examples)
            self.examples.layout.display = "flex"
        self.update()

    @property
    def scanned(self) -> Optional[Any]:
        """The relevance-ranked scan (``TopExamples``) of the current layer and target, once done."""
        return self._scans.get((self._lens.layer, self._lens.target))

    def update(self) -> None:
        """Draw what is known for the current choice; compute the rest in the background."""
        if not self.on:
            return
        lens = self._lens
        model, xb, v, layer, t = lens._model, lens._cache.x, lens._version, lens.layer, lens.target
        share_key, scan_key = (v, layer, t), (layer, t)
        if share_key in self._shares:
            self._draw_share(share_key)
        else:
            self.share.note(f"computing the relevance of {layer}'s channels for {lens._names[t]}…",
                            title=f"share of relevance for {lens._names[t]}")
        scan_wanted = lens._data is not None and scan_key not in self._scans
        if scan_key in self._scans:
            self._draw_examples(scan_key)
        elif lens._data is not None:
            self.examples.set_title(f"top examples by relevance for {lens._names[t]}")
            self.examples.set_caption(f"<i class='nnl-waiting'>{text('scanning the data by relevance…')}</i>")
        if share_key in self._shares and not scan_wanted or (self._pending == (share_key, scan_wanted)
                                                             and self._worker.busy):
            return  # known, or on its way (a new channel must not restart a scan)
        self._pending = (share_key, scan_wanted)
        data, k, pre = (None, 0, None) if lens._data is None else (lens._data.data, lens.examples_k, lens._preprocess)

        def work(job):
            if share_key not in self._shares:
                try:
                    found = channel_relevance(model, xb, layer, target=t)
                    self._shares[share_key] = (found.scores[0].numpy(), float(found.score[0]))
                except _NOT_AVAILABLE as e:
                    self._shares[share_key] = f"{type(e).__name__}: {e}"
                lens._draw_if_current(job, lambda: self._current(share_key) and self._draw_share(share_key))
            job.check()
            if scan_wanted and not isinstance(self._shares[share_key], str):
                self._scans[scan_key] = top_examples(model, data, layer, k=k, by="relevance", target=t,
                                                     preprocess=pre, progress=job.progress,
                                                     should_stop=lambda: job.cancelled)

        def draw(_result):
            if (lens.layer, lens.target) == scan_key and scan_key in self._scans:
                self._draw_examples(scan_key)

        self._worker.submit(work, draw)

    def _current(self, share_key: tuple) -> bool:
        lens = self._lens
        return share_key == (lens._version, lens.layer, lens.target)

    def _draw_share(self, key: tuple) -> None:
        lens, (_, layer, t) = self._lens, key
        found = self._shares[key]
        title = f"{layer}: share of the relevance for {lens._names[t]}"
        if isinstance(found, str):
            self.share.note(f"no relevance for this model: {found}", title=title)
            self.examples.set_caption(text("no ranking by relevance: see the share of relevance"))
            return
        scores, score = found
        total = float(scores.sum())
        shares = 100 * scores / total if total else np.zeros_like(scores)
        rows = share_rows(scores, SHOWN)
        self.share.show_shares(rows, shares[rows], selected=lens.channel, title=title,
                               value_label=f"share of the relevance reaching {layer} (%)",
                               caption_html=share_caption(layer, scores, score, lens._names[t], len(rows),
                                                          picked=lens.channel))

    def _draw_examples(self, key: tuple) -> None:
        lens, scan = self._lens, self._scans[key]
        indices, values, _ = scan.top(lens.channel, k=lens.examples_k)
        self._indices = [int(i) for i in indices]
        picture, layout = example_grid(lens._data.images(self._indices))
        name = lens._names[key[1]]
        self.examples.show_tiles(
            picture, layout, title=f"{lens.layer} channel {lens.channel}: top {len(self._indices)} of {scan.count} "
                                   f"data images by relevance for {name}",
            caption=text(f"the channel's relevance for {name}: " + ", ".join(fmt(float(v)) for v in values))
            + "<br>(the top examples panel ranks by activation) click one to make it the input")

    def _scan_progress(self, fraction: float, message: str) -> None:
        self.examples.set_caption(f"<i class='nnl-waiting'>{text(f'by relevance: {100 * fraction:.0f}%, {message}')}"
                                  "</i>")

    def _pick_example(self, i: int) -> None:
        if 0 <= i < len(self._indices):
            self._lens.input = self._lens._data.images([self._indices[i]])[0]

    def release(self) -> None:
        self._shares.clear()
        self._scans.clear()

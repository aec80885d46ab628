"""Two parts of the synapse explorer with work of their own: the ranking of every
weight for a rectangle, and the pad that moves two weights together."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional, Sequence, Tuple

import ipywidgets as W
import numpy as np
import torch

from ...core.synapse_ranking import Ranking, Sensitivity, pixel_box
from ...core.synapse_space import SynapseSpace
from ...core.pictures import load_picture
from ...core.synapse_training import pair_landscape, picture_values
from ...render.legend import Scale
from ...render.synapse_pad import PAD_CMAP, PadGeometry, pad_rgba
from ..base import check_index, text
from ..scheduling import LatestWins
from .views import CHART_LABEL, ChartView, PadView, exact, ranking_chart_html, ranking_options

__all__ = ["BOX_COLOUR", "PadPanel", "PadState", "RankingPanel", "wait_all"]

LIST_ROWS = 10
PAD_VIEW_PX = 300
GOAL_PX = 20  # the pad compares paintings at this many pixels per side (one painting per cell)
BOX_COLOUR = "#00e5ff"  # the ranked rectangle on the painting: cyan, seen on any photo


def note(words: str) -> str:
    """A line of italic explanation (``words`` are the explorer's own, not the user's)."""
    return f"<div style='font-size:12px;line-height:1.35;max-width:420px'><i>{text(words)}</i></div>"


def wait_all(runners, timeout: Optional[float]) -> bool:
    """Block until none of ``runners`` (each with ``wait`` and ``busy``) has work left, though
    the work of one may start work in another; False on timeout."""
    while True:
        if not all(r.wait(timeout) for r in runners):
            return False
        if not any(r.busy for r in runners):
            return True


class _Worker:
    """A panel's own latest-wins worker (``self._work``) and the verbs the explorer forwards to it."""

    _work: LatestWins

    @property
    def busy(self) -> bool:
        return self._work.busy

    def wait(self, timeout) -> bool:
        return self._work.wait(timeout)

    def cancel(self) -> None:
        self._work.cancel()

    def close(self) -> None:
        self._work.close()
        self._release()

    def _release(self) -> None:
        """Drop what the panel holds once its worker has ended."""


class RankingPanel(_Worker):
    """Every weight ranked for a rectangle of the painting: a chart and a list to pick from.

    The Jacobian of every pixel with respect to every weight is computed once
    per set of weights (in the background); each new rectangle is ranked from
    it at once (every step of a drag).
    """

    def __init__(self, on_error: Callable, lock, count: int):
        self.count = count
        self.chart = ChartView("weights ranked for a rectangle", css_class="nnl-ensemble-chart")
        self.chart.show(note(f"Drag a rectangle on the painting: all {count} weights are ranked by how much "
                             f"more they change it than the rest of the picture."))
        self.listing = W.Select(rows=LIST_ROWS, layout=W.Layout(width="460px", max_width="100%"))
        self.listing.add_class("nnl-ensemble")
        self.ranking: Optional[Ranking] = None
        self.box: Optional[Tuple[int, int, int, int]] = None
        self._work = LatestWins(on_error=on_error, draw_lock=lock)
        self._sensitivity: Optional[Sensitivity] = None
        self._version = -1  # the weights the sensitivity belongs to
        self._pending = -1

    def rank(self, corners: Sequence[float], shape: Tuple[int, int], space: SynapseSpace, flat: torch.Tensor,
             version: int, extent, draw: Callable[[], None]) -> Tuple[int, int, int, int]:
        """Rank for the rectangle ``corners``; ``draw()`` runs once the ranking is ready."""
        box = pixel_box(corners, shape)  # ValueError for a rectangle without area
        self.box = box
        if self._sensitivity is not None and self._version == version:
            self.ranking = self._sensitivity.rank(box)
            draw()
            return box
        if self._pending == version and self._work.busy:
            return box  # the Jacobian for these weights is on its way; it ranks the newest box
        self._pending = version
        self.chart.bars = None
        self.chart.show(note("computing the Jacobian of every pixel with respect to every weight ..."))
        flat = flat.clone()

        def work(job):
            return space.sensitivity(flat, shape[0], shape[1], extent, job=job)

        def done(sensitivity):
            self._sensitivity, self._version = sensitivity, version
            if self.box is not None:
                self.ranking = sensitivity.rank(self.box)
                draw()

        self._work.submit(work, done)
        return box

    def top(self, n: int):
        return [] if self.ranking is None else self.ranking.top(n)

    def show(self, synapses, n: int, selected: int, current_version: int) -> Tuple[list, Optional[int]]:
        """Draw the chart; return the list's entries and the entry to select."""
        ranking = self.ranking
        assert ranking is not None, "nothing ranked yet"
        top = self.top(n)
        stale = ("" if self._version == current_version else
                 note("ranked for the weights before the last move; drag again to rank for the weights now"))
        self.chart.bars = ([float(ranking.score[i]) for i in top], [f"#{i}" for i in top], CHART_LABEL)
        x0, y0, x1, y1 = ranking.box
        self.chart.show(ranking_chart_html(ranking, synapses, top, selected) + stale,
                        title=f"ranking for x {x0}..{x1 - 1}, y {y0}..{y1 - 1}")
        return ranking_options(ranking, synapses, top), selected if selected in top else None

    def _release(self) -> None:
        self._sensitivity = None
        self.ranking = None


@dataclass(frozen=True)
class PadState:
    """What the pad's colours depend on (a change of any recolours it)."""

    pair: Tuple[int, int]
    originals: Tuple[float, float]
    others: bytes  # every other weight's value
    goal_id: int  # which reference the error is measured against
    reach: float


class PadPanel(_Worker):
    """Two weights on the axes of a pad; its colours are the error of the painting over their values.

    ``on_move(dx, dy)``: the pad was clicked or dragged at these offsets from
    the network's values; ``on_pair((a, b))``: a weight number was typed (a
    ValueError puts the boxes back). ``guard`` wraps every handler so an
    error is shown.
    """

    def __init__(self, count: int, on_error: Callable, lock, on_move: Callable[[float, float], None],
                 on_pair: Callable[[Tuple[int, int]], None], guard: Callable[[Callable], Callable]):
        self.view = PadView("two weights at once (click or drag)", css_class="nnl-pad")
        self.view.layout.max_width = f"{PAD_VIEW_PX}px"  # its caption wraps under it: it fits beside the ranking
        self.x_box = W.BoundedIntText(description="pad x: weight #", min=0, max=count - 1,
                                      layout=W.Layout(width="auto"))
        self.y_box = W.BoundedIntText(description="pad y: weight #", min=0, max=count - 1,
                                      layout=W.Layout(width="auto"))
        self.x_box.add_class("nnl-pad-x")
        self.y_box.add_class("nnl-pad-y")
        self.geometry: Optional[PadGeometry] = None
        self.errors: Optional[np.ndarray] = None
        self._state: Optional[PadState] = None  # what the newest colouring was asked for
        self._drawn: Optional[PadState] = None  # what the colours shown belong to
        self._latest: dict = {}
        self._work = LatestWins(on_error=on_error, draw_lock=lock)
        self._count = count
        self._goal: Tuple[int, Optional[np.ndarray]] = (-1, None)  # the reference and the id it was made for
        self._pair: Tuple[int, int] = (0, 0)
        self._filling = False
        self._on_move, self._on_pair = on_move, on_pair
        self.view.canvas.on_click(guard(lambda x, y, _e: self._moved(x, y)))
        self.view.canvas.on_drag(guard(lambda _x0, _y0, x1, y1, _done: self._moved(x1, y1)))
        self.x_box.observe(guard(self._typed), "value")
        self.y_box.observe(guard(self._typed), "value")

    def check_pair(self, pair) -> Tuple[int, int]:
        """``pair`` as two different weight numbers; a ValueError naming the range otherwise."""
        a, b = (check_index(v, self._count, "a synapse index", " for the pad") for v in tuple(pair))
        if a == b:
            raise ValueError(f"the pad needs two different synapses on its axes, got {a} twice")
        return a, b

    def show_pair(self, pair: Tuple[int, int]) -> None:
        """Put the two weight numbers in the boxes (not counted as typed)."""
        self._pair = (int(pair[0]), int(pair[1]))
        self._filling = True
        try:
            self.x_box.value, self.y_box.value = pair
        finally:
            self._filling = False

    def _typed(self, _change) -> None:
        if self._filling:
            return
        try:
            self._on_pair((int(self.x_box.value), int(self.y_box.value)))
        except ValueError:
            self.show_pair(self._pair)  # the boxes show the pair in use, not the refused one
            raise

    def _moved(self, x: float, y: float) -> None:
        if self.geometry is not None:
            self._on_move(*self.geometry.offset_at(x, y))

    def update(self, space: SynapseSpace, flat: torch.Tensor, pair: Tuple[int, int], reach: float,
               picture: Optional[np.ndarray], reference: int, extent, now: bool = False) -> None:
        """Move the markers now; recolour the pad (in the background unless ``now``) when what
        its colours depend on changed (the pair, the other weights, the reference, the originals).

        The error is measured against ``picture`` or, without one, the original painting;
        ``reference`` changes whenever either does. A network of one weight has no pad.
        """
        if space.count < 2:
            return
        if self._goal[0] != reference:
            self._goal = (reference, picture_values(load_picture(picture, GOAL_PX)) if picture is not None
                          else space.paint(None, GOAL_PX, GOAL_PX, extent))
        goal, goal_id = self._goal[1], reference
        unit = 0.5 if picture is not None else 1.0  # outputs -1..1 are colours 0..1
        meaning = (f"RMSE against the picture, {GOAL_PX}x{GOAL_PX} px (colours 0..1)" if picture is not None
                   else f"RMS change of the outputs from the original painting, {GOAL_PX}x{GOAL_PX} px")
        names = tuple(f"#{i} {space.synapses[i].element}" for i in pair)
        a, b = pair
        others = flat.clone()
        others[[a, b]] = 0
        originals = (float(space.original[a]), float(space.original[b]))
        state = PadState(pair, originals, others.cpu().numpy().tobytes(), goal_id, reach)
        self._latest = dict(flat=flat.clone(), pair=pair, originals=originals, names=names, meaning=meaning,
                            dtype=space.dtype)
        if state == self._drawn:
            self._draw()
            return
        if state == self._state and self._work.busy:
            return  # its colours are on their way
        self._state = state
        geometry = PadGeometry(reach)
        base = flat.clone()

        def work(job):
            offsets = geometry.offsets()
            return unit * pair_landscape(space, base, pair, originals[0] + offsets, originals[1] - offsets, goal,
                                         extent, job=job)

        def done(errors):
            self.geometry, self.errors, self._drawn = geometry, errors, state
            self._draw()

        if now:
            self._work.cancel()
            done(work(None))
            return
        if self.errors is not None:
            self.view.set_caption(note("recolouring the pad for the weights now ..."))
        self._work.submit(work, done)

    def _draw(self) -> None:
        e, g, latest = self.errors, self.geometry, self._latest
        assert e is not None and g is not None, "the pad is drawn once its errors are computed"
        flat, (a, b), originals, dtype = latest["flat"], latest["pair"], latest["originals"], latest["dtype"]
        low, high = float(e.min()), float(e.max())
        current = (float(flat[a]) - originals[0], float(flat[b]) - originals[1])
        self.view.show_pad(
            pad_rgba(e, g, low, high, current), g, latest["names"], originals,
            legend=Scale(PAD_CMAP, low, high, latest["meaning"]),
            caption=text(f"x: #{a} = {exact(float(flat[a]), dtype)}, y: #{b} = {exact(float(flat[b]), dtype)}. "
                         f"White dot: the network's values (the middle); red ring: the values now; "
                         f"each axis spans \u00b1{g.reach:g} around the network's value."))

    def _release(self) -> None:
        self.errors = None
        self._latest = {}
        self._goal = (-1, None)

"""A forced-choice quiz on what a unit responds to (after Borowski et al. 2021).

People shown a unit's top natural examples predict which of two new images
drives it more at 92±2%; shown its feature visualisation, at 82±4%. The quiz
lets a class measure that for itself: each trial shows one reference (the
unit's optimised picture, or its top data images) and two query images from
the data (one of the unit's top images kept out of the reference, and one
that drives it little), in random order; the student picks the one the unit
responds to more. Scores are kept per kind of reference; a teacher reads
them with ``quiz_results()``.

Which query wins is measured (the unit's peak activation on each), not
assumed from the ranking. Random choices come from the quiz's own
generator (``seed``).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Callable, Dict, List, Optional

import ipywidgets as W
import numpy as np
import torch

from ...render import example_grid, fit_factor
from ...render.legend import THEME, fmt
from ..checks import text
from ..views import HtmlView, PictureView, TileGridView, row

__all__ = ["QUIZ_REFERENCES", "QuizTrial", "UnitQuiz", "attach_quiz", "quiz_results"]

QUIZ_REFERENCES = ("visualisation", "examples")
LOW_POOL = 32  # random data images among which the weakly driving query is the weakest


@dataclass
class QuizTrial:
    layer: str
    channel: int
    reference: str  # "visualisation" or "examples"
    queries: tuple  # data indices of query A and query B
    peaks: tuple  # the unit's peak activation on A and on B
    picked: Optional[int] = None  # 0 (A) or 1 (B) once answered

    @property
    def answer(self) -> int:
        return int(self.peaks[1] > self.peaks[0])

    @property
    def correct(self) -> Optional[bool]:
        return None if self.picked is None else self.picked == self.answer


class UnitQuiz(W.VBox):
    """The quiz's views and buttons; ``source`` gives what a trial needs from its widget.

    ``source()`` returns ``(model, data, layer, channel, scan, picture, measure)``:
    a ``DataView``, the layer's ``TopExamples`` (or None while scanning), the
    finished visualisation (``(B, C, H, W)`` or None while optimising), and
    ``measure(images) -> peaks``.
    """

    def __init__(self, source: Callable[[], tuple], seed: int = 0, display_px: int = 160):
        self._source = source
        self._rng = np.random.default_rng(seed)
        self._px = int(display_px)
        self.trials: List[QuizTrial] = []
        self.reference = TileGridView("reference", display_px=self._px, css_class="nnl-quiz-reference")
        self.reference.add_class("nnl-plain-rgb")
        self.queries = [PictureView(f"query {n}", display_px=self._px, plain_rgb=True,
                                    css_class=f"nnl-quiz-query-{n.lower()}") for n in "AB"]
        self.buttons = [W.Button(description=f"{n} drives it more", layout=W.Layout(width="auto")) for n in "AB"]
        for i, b in enumerate(self.buttons):
            b.add_class(f"nnl-quiz-pick-{'ab'[i]}")
            b.on_click(lambda _b, i=i: self.pick(i))
        self.next_button = W.Button(description="Next trial", icon="forward", layout=W.Layout(width="auto"))
        self.next_button.on_click(lambda _b: self.next())
        self.score = HtmlView("quiz score", css_class="nnl-quiz-score")
        self.note = W.HTML()
        self._pictures = row(self.reference, self.queries[0], self.queries[1])
        self._pictures.layout.display = "none"  # no empty frames before the first trial
        super().__init__([
            W.HTML(f"<b style='color:{THEME['fg']}'>Quiz:</b> <span style='color:{THEME['fg']}'>which query "
                   "image drives this unit more? Look at the reference, then pick A or B.</span>"),
            self._pictures, row(self.buttons[0], self.buttons[1], self.next_button), self.note, self.score])
        self.add_class("nnl-quiz")
        self._set_buttons(False)
        self._say("press Next trial to start")
        self._show_score()

    @property
    def trial(self) -> Optional[QuizTrial]:
        return self.trials[-1] if self.trials else None

    def next(self) -> Optional[QuizTrial]:
        """Start a trial on the widget's current unit (None, with a note, when its data is not ready)."""
        model, data, layer, channel, scan, picture, measure = self._source()
        kind = QUIZ_REFERENCES[int(self._rng.integers(2))]
        missing = ("the top-examples scan" if scan is None or channel not in scan.units else
                   "the visualisation (press Run)" if kind == "visualisation" and picture is None else None)
        if missing is not None:
            self._set_buttons(False)  # an older open trial is not answered by a pick meant for this one
            self._say(f"waiting for {missing} of {layer} channel {channel}; press Next trial when it is shown")
            return None
        top = [int(i) for i in scan.top(unit=channel)[0]]
        high = top[int(self._rng.integers(len(top)))]
        rest = np.setdiff1d(np.arange(len(data)), top)
        if len(rest) == 0 or len(top) < 2:
            self._say("the data set is too small for a quiz: it needs images beyond the unit's top examples")
            return None
        pool = self._rng.choice(rest, min(LOW_POOL, len(rest)), replace=False)
        low = int(pool[int(np.argmin(measure(data.images(pool.tolist()))))])
        order = [high, low] if self._rng.integers(2) == 0 else [low, high]
        peaks = tuple(float(p) for p in measure(data.images(order)))
        trial = QuizTrial(layer, int(channel), kind, tuple(order), peaks)
        self.trials.append(trial)
        shown = picture if kind == "visualisation" else data.images([i for i in top if i != high])
        grid, layout = example_grid(shown)
        self.reference.show_tiles(grid, layout, scale=fit_factor(max(grid.shape[:2]), self._px),
                                  title="reference: " + ("its feature visualisation" if kind == "visualisation"
                                                         else f"its top {len(shown)} data images"),
                                  caption=f"{text(layer)} channel {channel}")
        for view, index, name in zip(self.queries, order, "AB"):
            picture_a, _ = example_grid(data.images([index]))
            view.show(picture_a, scale=fit_factor(max(picture_a.shape[:2]), self._px), title=f"query {name}",
                      caption=f"data image {index}")
        self._pictures.layout.display = "flex"
        self._set_buttons(True)
        self._say("")
        return trial

    def pick(self, choice: int) -> bool:
        """Answer the current trial with query 0 (A) or 1 (B); True when right."""
        trial = self.trial
        if trial is None or trial.picked is not None:
            raise ValueError("expected an open trial: press Next trial (quiz.next()) first")
        if choice not in (0, 1):
            raise ValueError(f"expected 0 (query A) or 1 (query B), got {choice!r}")
        trial.picked = int(choice)
        self._set_buttons(False)
        a, b = trial.peaks
        self._say(("right" if trial.correct else "not this time") + f": the unit's peak activation is {fmt(a)} "
                  f"on A and {fmt(b)} on B")
        self._show_score()
        return bool(trial.correct)

    def results(self) -> Dict[str, Any]:
        """Per reference kind: trials answered, right, and the share right (None before any); ``"trials"``:
        every answered trial as a dict."""
        out: Dict[str, Any] = {}
        for kind in QUIZ_REFERENCES:
            done = [t for t in self.trials if t.reference == kind and t.picked is not None]
            right = sum(bool(t.correct) for t in done)
            out[kind] = {"answered": len(done), "correct": right, "accuracy": right / len(done) if done else None}
        out["trials"] = [asdict(t) | {"answer": t.answer} for t in self.trials if t.picked is not None]
        return out

    def _set_buttons(self, open_: bool) -> None:
        for b in self.buttons:
            b.disabled = not open_

    def _say(self, sentence: str) -> None:
        self.note.value = f"<span style='color:{THEME['fg']}'>{text(sentence)}</span>" if sentence else ""

    def _show_score(self) -> None:
        r = self.results()
        self.score.show("".join(
            f"<div style='color:{THEME['fg']};font-size:12px'>{kind} as reference: {r[kind]['correct']} of "
            f"{r[kind]['answered']} right" + (f" ({100 * r[kind]['accuracy']:.0f}%)" if r[kind]['answered'] else "")
            + "</div>" for kind in QUIZ_REFERENCES))


def attach_quiz(widget, data, seed: int = 0) -> UnitQuiz:
    """A quiz on ``widget``'s current unit (a ``FeatureVisualizer``), shown under its pictures."""
    from ..unit_runs import channel_measures

    if data is None:
        raise ValueError("expected data= (natural images) for quiz=True: the queries and references come from it")

    def source():
        model, layer, channel, result = widget.model, widget.layer, widget.channel, widget.result()

        def peaks(images: torch.Tensor) -> np.ndarray:
            return np.asarray(channel_measures(model, images, layer, channel, "channel")["peak"])

        return (model, data, layer, channel, widget.top_examples(), None if result is None else result.images,
                peaks)

    quiz = UnitQuiz(source, seed)
    widget._view("quiz score", quiz.score)  # the scores go into the PNG and save_html too
    widget.children = widget.children[:-2] + (quiz,) + widget.children[-2:]  # above progress and status
    return quiz


def quiz_results(quiz: Optional[UnitQuiz]) -> Dict[str, Any]:
    if quiz is None:
        raise ValueError("this widget has no quiz: make it with quiz=True (and data=)")
    return quiz.results()

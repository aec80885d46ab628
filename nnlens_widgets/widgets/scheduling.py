"""Latest-wins background work for widget controls.

A control change submits work; only the newest submission matters. Older work
that has not started is dropped, work in progress sees ``job.cancelled`` turn
true (and should return early), and a result is drawn only if no newer work
was submitted meanwhile, so nothing older is ever drawn over something newer.

Work is also redone when the model's weights change under it (the user
trains in another thread or cell): the version counters of its parameters
and buffers are read before each try and whenever the work checks in; a try
during which they moved (often ending in autograd's "modified by an inplace
operation" error) is dropped, never drawn or shown. After ``TRIES`` tries in
a row the worker stops and says so, until the next change or refresh: while
training goes on, a widget costs it no more than one computation per try and
never makes it wait.
"""
from __future__ import annotations

import threading
from typing import Any, Callable, Hashable, Optional

__all__ = ["Cancelled", "ModelChanged", "Job", "LatestWins", "weights_stamp", "TRIES"]

TRIES = 3  # tries of one piece of work while the model's weights keep changing under it
CHANGED = "the model changed while this was computed (its weights were updated, e.g. by training)"


def weights_stamp(model) -> Hashable:
    """The version counters of ``model``'s parameters and buffers: any in-place update changes it."""
    if model is None:
        return None
    return tuple(t._version for t in model.parameters()) + tuple(t._version for t in model.buffers())


class Cancelled(Exception):
    """Raised by ``Job.check()`` when newer work or a stop made this job stale."""


class ModelChanged(Cancelled):
    """Raised by ``Job.check()`` when the model's weights changed since this try began."""


class Job:
    """Handle given to a piece of work: cancellation and progress reporting."""

    def __init__(self, runner: "LatestWins", generation: int):
        self._runner = runner
        self.generation = generation
        self.stamp: Hashable = None  # the model's weights stamp when the current try began

    @property
    def cancelled(self) -> bool:
        return self._runner._generation != self.generation

    @property
    def model_changed(self) -> bool:
        """Whether the model's weights changed since this try began (its results would mix them)."""
        watch = self._runner.watch
        return watch is not None and watch() != self.stamp

    def check(self) -> None:
        if self.cancelled:
            raise Cancelled()
        if self.model_changed:
            raise ModelChanged()

    def progress(self, fraction: float, text: str = "") -> None:
        if not self.cancelled and self._runner.on_progress:
            self._runner.on_progress(fraction, text)


class LatestWins:
    """One worker thread running the newest submitted work.

    ``on_error(exc)`` receives exceptions from work or drawing (so a widget can
    show them); ``on_progress(fraction, text)`` receives progress; ``on_idle()``
    runs when the worker has nothing left; ``watch()`` gives the model's
    weights stamp, and ``on_note(text)`` hears that a try is being redone.
    """

    def __init__(
        self,
        on_error: Callable[[BaseException], None],
        on_progress: Optional[Callable[[float, str], None]] = None,
        on_idle: Optional[Callable[[], None]] = None,
        draw_lock: Optional[threading.RLock] = None,
        watch: Optional[Callable[[], Hashable]] = None,
        on_note: Optional[Callable[[str], None]] = None,
    ):
        self.on_error = on_error
        self.on_progress = on_progress
        self.on_idle = on_idle
        self.on_note = on_note
        self.watch = watch  # the model's weights stamp (``weights_stamp``), or None: nothing to watch
        self.draw_lock = draw_lock or threading.RLock()
        self._cv = threading.Condition()
        self._generation = 0
        self._pending = None
        self._busy = False
        self._closed = False
        self._thread: Optional[threading.Thread] = None

    def submit(self, work: Callable[[Job], Any], draw: Callable[[Any], None]) -> Job:
        """Run ``work(job)`` in the background, then ``draw(result)`` if still newest."""
        with self._cv:
            if self._closed:
                raise RuntimeError("this widget was closed; create a new one")
            self._generation += 1
            job = Job(self, self._generation)
            self._pending = (job, work, draw)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._loop, daemon=True, name="nnlens-work")
                self._thread.start()
            self._cv.notify_all()
        return job

    def cancel(self) -> None:
        """Make current and pending work stale (the stop button)."""
        with self._cv:
            self._generation += 1
            self._pending = None
            self._cv.notify_all()

    def close(self, timeout: float = 10.0) -> None:
        """Cancel everything and end the worker thread (waits for the running work to notice)."""
        with self._cv:
            self._closed = True
            self._generation += 1
            self._pending = None
            thread = self._thread
            self._cv.notify_all()
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)
        self.on_error = self.on_progress = self.on_idle = self.on_note = self.watch = None  # they point back

    @property
    def busy(self) -> bool:
        with self._cv:
            return self._busy or self._pending is not None

    def wait(self, timeout: Optional[float] = 60.0) -> bool:
        """Block until all submitted work is finished or dropped; False on timeout."""
        with self._cv:
            return self._cv.wait_for(lambda: not self._busy and self._pending is None, timeout)

    def _loop(self) -> None:
        while True:
            with self._cv:
                if not self._cv.wait_for(lambda: self._pending is not None or self._closed, timeout=30.0) \
                        or self._closed:
                    self._thread = None  # idle or closed: let the thread end; submit starts a new one
                    return
                job, work, draw = self._pending
                self._pending = None
                self._busy = True
            try:
                self._run(job, work, draw)
            finally:
                with self._cv:
                    self._busy = False
                    idle = self._pending is None
                    self._cv.notify_all()
                on_idle = self.on_idle
                if idle and on_idle:
                    on_idle()

    def _run(self, job: Job, work: Callable[[Job], Any], draw: Callable[[Any], None]) -> None:
        """``work`` then ``draw``, tried again (``TRIES`` in all) while the model changes under it."""
        for attempt in range(1, TRIES + 1):
            job.stamp = self.watch() if self.watch is not None else None
            try:
                result = work(job)
                with self.draw_lock:
                    if job.model_changed:
                        raise ModelChanged()
                    if not job.cancelled:
                        draw(result)
                return
            except BaseException as exc:  # shown in the widget; the worker lives on
                if job.cancelled:
                    return
                if not job.model_changed:  # a plain stop, or an error of the work itself
                    if not isinstance(exc, Cancelled) and self.on_error is not None:
                        self.on_error(exc)
                    return
            on_note = self.on_note
            if attempt < TRIES and on_note is not None:
                on_note(f"{CHANGED}; recomputing (try {attempt + 1} of {TRIES})")
        if self.on_error is not None:
            self.on_error(ModelChanged(f"{CHANGED}, {TRIES} times in a row (is it being trained?); nothing "
                                       "was drawn for it: change a setting or call refresh() when it holds still"))

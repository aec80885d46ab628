"""Latest-wins background work for widget controls.

A control change submits work; only the newest submission matters. Older work
that has not started is dropped, work in progress sees ``job.cancelled`` turn
true (and should return early), and a result is drawn only if no newer work
was submitted meanwhile, so nothing older is ever drawn over something newer.
"""
from __future__ import annotations

import threading
from typing import Any, Callable, Optional

__all__ = ["Cancelled", "Job", "LatestWins"]


class Cancelled(Exception):
    """Raised by ``Job.check()`` when newer work or a stop made this job stale."""


class Job:
    """Handle given to a piece of work: cancellation and progress reporting."""

    def __init__(self, runner: "LatestWins", generation: int):
        self._runner = runner
        self.generation = generation

    @property
    def cancelled(self) -> bool:
        return self._runner._generation != self.generation

    def check(self) -> None:
        if self.cancelled:
            raise Cancelled()

    def progress(self, fraction: float, text: str = "") -> None:
        if not self.cancelled and self._runner.on_progress:
            self._runner.on_progress(fraction, text)


class LatestWins:
    """One worker thread running the newest submitted work.

    ``on_error(exc)`` receives exceptions from work or drawing (so a widget can
    show them); ``on_progress(fraction, text)`` receives progress; ``on_idle()``
    runs when the worker has nothing left.
    """

    def __init__(
        self,
        on_error: Callable[[BaseException], None],
        on_progress: Optional[Callable[[float, str], None]] = None,
        on_idle: Optional[Callable[[], None]] = None,
        draw_lock: Optional[threading.RLock] = None,
    ):
        self.on_error = on_error
        self.on_progress = on_progress
        self.on_idle = on_idle
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
        self.on_error = self.on_progress = self.on_idle = None  # they point back at the widget

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
                result = work(job)
                with self.draw_lock:
                    if not job.cancelled:
                        draw(result)
            except Cancelled:
                pass
            except BaseException as exc:  # shown in the widget; the worker lives on
                if not job.cancelled and self.on_error is not None:
                    self.on_error(exc)
            finally:
                with self._cv:
                    self._busy = False
                    idle = self._pending is None
                    self._cv.notify_all()
                on_idle = self.on_idle
                if idle and on_idle:
                    on_idle()

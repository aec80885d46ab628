"""The playground's own thread: trains while playing, and draws at a bounded rate.

A control's latest-wins worker (``scheduling.LatestWins``) suits one-shot
computations; playing is a loop that must also leave room for the controls.
``TrainingLoop`` runs on one thread of its own:

- while playing, it trains in short stretches until the next frame is
  due, then makes a frame and draws it: at most ``fps`` frames a second,
  however fast training runs;
- when paused, it only draws the frames asked for (``request_frame``,
  after a setting or the data changed);
- the network is shared through ``Turns``, a lock the loop holds only for a
  stretch of a few milliseconds and hands over whenever the kernel thread
  asks for it, so a slider moved while training takes effect at once.
"""
from __future__ import annotations

import math
import threading
import time
from typing import Any, Callable, Optional

from ..checks import forget

__all__ = ["Turns", "TrainingLoop", "train_in_stretches"]

STRETCH_S = 0.004  # the longest the loop holds the network without looking up
HANDOVER_S = 0.05  # the longest the loop waits for another thread to take its turn


class Turns:
    """A re-entrant lock that counts who is waiting for it, so a busy holder can step aside."""

    def __init__(self):
        self._lock = threading.RLock()
        self._count = threading.Lock()
        self._asking = 0

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        with self._count:
            self._asking += 1
        try:
            return self._lock.acquire(blocking, timeout)
        finally:
            with self._count:
                self._asking -= 1

    def release(self) -> None:
        self._lock.release()

    __enter__ = acquire

    def __exit__(self, *exc) -> None:
        self.release()

    @property
    def asked(self) -> bool:
        """Whether another thread is waiting for the lock now."""
        return self._asking > 0

    def hand_over(self) -> None:
        """Wait (briefly) until the threads waiting for the lock have had it."""
        end = time.perf_counter() + HANDOVER_S
        while self._asking and time.perf_counter() < end:
            time.sleep(0.0002)


def train_in_stretches(turns: Turns, trainer: Callable[[], Any], playing: Callable[[], bool],
                       deadline: float) -> bool:
    """SGD steps until ``deadline`` (at least one), ``turns`` held a stretch at a time and handed over between.

    ``trainer()`` is asked anew for each stretch (a setting may have replaced
    it meanwhile). False when the training loss stopped being a number.
    """
    while playing():
        with turns:
            now = trainer()
            end = min(deadline, time.perf_counter() + STRETCH_S)
            now.step()
            while time.perf_counter() < end:
                now.step()
        if not math.isfinite(now.history.last[0]):
            return False
        if time.perf_counter() >= deadline:
            return True
        turns.hand_over()
    return True


class TrainingLoop:
    """Plays (train, draw, repeat at ``fps``) and draws requested frames, on one thread.

    ``train_until(deadline)`` trains until ``time.perf_counter()`` passes
    ``deadline`` (holding ``turns`` a stretch at a time); ``make_frame()``
    computes a frame (no widget lock held); ``draw(frame)`` shows it (under
    ``draw_lock``). Errors go to ``on_error`` and pause the loop.
    """

    def __init__(self, train_until: Callable[[float], None], make_frame: Callable[[], Any],
                 draw: Callable[[Any], None], on_error: Callable[[BaseException], None],
                 draw_lock: threading.RLock, fps: float = 25.0):
        self._train_until = train_until
        self._make_frame = make_frame
        self._draw = draw
        self._on_error: Optional[Callable[[BaseException], None]] = on_error
        self._draw_lock = draw_lock
        self.interval = 1.0 / float(fps)
        self._cv = threading.Condition()
        self._playing = False
        self._requested = False
        self._busy = False
        self._closed = False
        self.frames = 0  # frames drawn so far
        self.frame_seconds = 0.0  # the last frame's cost: making plus drawing
        self._thread: Optional[threading.Thread] = None
        self.thread_id: Optional[int] = None  # the running thread's native id (for measurements)

    # -- control --------------------------------------------------------------
    @property
    def playing(self) -> bool:
        return self._playing

    def play(self) -> None:
        with self._cv:
            self._check_open()
            self._playing = True
            self._start()
            self._cv.notify_all()

    def pause(self) -> None:
        with self._cv:
            self._playing = False
            self._cv.notify_all()

    def request_frame(self) -> None:
        """Draw one frame soon (the newest state when it is made); requests in between merge."""
        with self._cv:
            if self._closed:
                return
            self._requested = True
            self._start()
            self._cv.notify_all()

    def wait(self, timeout: Optional[float] = 60.0) -> bool:
        """Until every requested frame is drawn (playing: until one more frame is); False on timeout."""
        with self._cv:
            if self._playing:
                target = self.frames + 1
                return self._cv.wait_for(lambda: self.frames >= target or not self._playing or self._closed,
                                         timeout)
            return self._cv.wait_for(lambda: not (self._requested or self._busy) or self._closed, timeout)

    def close(self, timeout: float = 10.0) -> None:
        """Stop playing and end the thread (waits for the frame in progress)."""
        with self._cv:
            self._closed = True
            self._playing = False
            self._requested = False
            thread = self._thread
            self._cv.notify_all()
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)
        forget(self, "_train_until", "_make_frame", "_draw")  # they hold the widget
        self._on_error = None

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError("this playground was closed; create a new one")

    def _start(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._run, daemon=True, name="nnlens-playground")
            self._thread.start()

    # -- the thread -----------------------------------------------------------
    def _run(self) -> None:
        self.thread_id = threading.get_native_id()
        last_start = -float("inf")
        while True:
            with self._cv:
                if not self._cv.wait_for(lambda: self._playing or self._requested or self._closed, timeout=30.0) \
                        or self._closed:
                    self._thread = None  # idle or closed: the thread ends; a request starts a new one
                    return
                playing = self._playing
                self._requested = False
                self._busy = True
            try:
                if playing:  # train until the next frame is due: frames start at least `interval` apart
                    due = last_start + self.interval
                    self._train_until(due)
                    with self._cv:  # training may stop early (paused, diverged): the rate stays bounded
                        self._cv.wait_for(lambda: not self._playing or self._closed, due - time.perf_counter())
                started = last_start = time.perf_counter()
                frame = self._make_frame()
                with self._draw_lock:
                    if not self._closed:
                        self._draw(frame)
                self.frame_seconds = time.perf_counter() - started
                with self._cv:
                    self.frames += 1
            except BaseException as exc:  # shown in the widget; playing stops, the thread lives on
                with self._cv:
                    self._playing = False
                with self._draw_lock:
                    if self._on_error is not None and not self._closed:
                        self._on_error(exc)
            finally:
                with self._cv:
                    self._busy = False
                    self._cv.notify_all()

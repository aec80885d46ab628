"""The playground's own thread: bounded drawing, merged requests, turns handed over, errors, closing."""
from __future__ import annotations

import threading
import time

from nnlens_widgets.widgets.playground.loop import TrainingLoop, Turns


class Recorder:
    def __init__(self):
        self.drawn, self.errors, self.trained = [], [], 0
        self.made = 0

    def train_until(self, deadline):
        self.trained += 1

    def make(self):
        self.made += 1
        return self.made

    def loop(self, fps=25.0, make=None):
        return TrainingLoop(self.train_until, make or self.make, self.drawn.append, self.errors.append,
                            threading.RLock(), fps)


def test_playing_draws_no_more_than_the_frame_rate_allows():
    r = Recorder()
    loop = r.loop(fps=20)
    start = time.perf_counter()
    loop.play()
    assert loop.wait(10)
    time.sleep(0.5)
    loop.pause()
    assert loop.wait(10)
    elapsed = time.perf_counter() - start
    # frames are paced by the clock: however fast making and drawing are, at most one per 1/fps
    assert 2 <= len(r.drawn) <= elapsed * 20 + 2
    assert r.trained >= len(r.drawn) - 1 and r.drawn == sorted(r.drawn)
    loop.close()


def test_requests_while_paused_merge_into_the_newest_frame():
    r = Recorder()
    gate = threading.Event()

    def slow_make():
        gate.wait(10)
        return r.make()

    loop = r.loop(make=slow_make)
    for _ in range(50):
        loop.request_frame()
    gate.set()
    assert loop.wait(10)
    assert 1 <= len(r.drawn) <= 2 and r.trained == 0  # paused: frames drawn, nothing trained
    loop.close()


def test_an_error_pauses_and_is_reported_and_the_thread_lives_on():
    r = Recorder()

    def broken():
        raise RuntimeError("boom")

    loop = r.loop(make=broken)
    loop.play()
    assert loop.wait(10)
    assert not loop.playing and [str(e) for e in r.errors][:1] == ["boom"]
    loop._make_frame = r.make
    loop.request_frame()
    assert loop.wait(10) and r.drawn == [1]
    loop.close()


def test_close_ends_the_thread_and_refuses_to_play_again():
    r = Recorder()
    loop = r.loop()
    loop.play()
    assert loop.wait(10)
    thread = loop._thread
    loop.close()
    assert thread is not None and not thread.is_alive()
    try:
        loop.play()
    except RuntimeError as exc:
        assert "closed" in str(exc)
    else:
        raise AssertionError("a closed loop played")
    loop.request_frame()  # ignored, no thread
    assert loop._thread is None or not loop._thread.is_alive()


def test_turns_count_who_waits_and_hand_the_lock_over():
    turns = Turns()
    got = threading.Event()
    turns.acquire()
    assert not turns.asked

    def other():
        with turns:
            got.set()

    t = threading.Thread(target=other)
    t.start()
    while not turns.asked:  # the other thread now waits for the lock
        time.sleep(0.001)
    turns.release()
    turns.hand_over()  # returns once the waiting thread has had the lock
    assert got.wait(10) and not turns.asked
    t.join(10)
    with turns, turns:  # re-entrant
        pass

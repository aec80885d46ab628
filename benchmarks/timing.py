"""The one timing rule every benchmark here uses: the best of ``repeat`` runs."""
from __future__ import annotations

import time
from typing import Callable


def best_time(fn: Callable[[], object], repeat: int = 1) -> float:
    """Seconds of the fastest of ``repeat`` calls of ``fn`` (the least disturbed by other load)."""
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def paired_best(ours: Callable[[], object], theirs: Callable[[], object], repeat: int) -> tuple:
    """Best time of each, run alternately so both see the same machine load."""
    t_ours, t_theirs = float("inf"), float("inf")
    for _ in range(repeat):
        t_ours = min(t_ours, best_time(ours, 1))
        t_theirs = min(t_theirs, best_time(theirs, 1))
    return t_ours, t_theirs

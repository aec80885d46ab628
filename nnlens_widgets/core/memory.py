"""One memory budget for the heavy caches of every widget in the process.

Re-running a cell that builds a widget is what users do all day, and the
kernel cannot tell when an old output was cleared, so old widgets live on.
Their caches (activations, maps, scans) therefore share one budget: when a
new entry would exceed it, the least recently used entries, of any widget,
are dropped; a widget touched again recomputes what it lost. Change the
budget with ``nl.core.memory.CACHES.budget = nbytes`` (default 512 MiB).
"""
from __future__ import annotations

import threading
import weakref
from collections import OrderedDict
from typing import Callable, Hashable, Tuple, TypeVar

__all__ = ["SharedBudget", "CACHES"]

Key = TypeVar("Key", bound=Hashable)


class SharedBudget:
    """Least-recently-used accounting of cache entries owned by many objects."""

    def __init__(self, budget: int):
        self.budget = int(budget)
        self._lock = threading.Lock()
        # (id(owner), key) -> (nbytes, weak reference to the owner's drop(key))
        self._entries: "OrderedDict[Tuple[int, Hashable], Tuple[int, Callable]]" = OrderedDict()

    @property
    def used(self) -> int:
        with self._lock:
            return sum(n for n, _ in self._entries.values())

    def add(self, owner, key: Key, nbytes: int, drop: Callable[[Key], None]) -> None:
        """Count ``nbytes`` for ``owner``'s ``key``; ``drop(key)`` is called to evict it.

        ``drop`` is held weakly through its owner (a bound method), so the budget
        never keeps a closed widget alive. Evicts least recently used entries of
        any owner until the total fits (the new entry itself is kept).
        """
        ref = weakref.WeakMethod(drop) if hasattr(drop, "__self__") else (lambda d=drop: d)
        evict = []
        with self._lock:
            self._entries[(id(owner), key)] = (int(nbytes), ref)
            self._entries.move_to_end((id(owner), key))
            total = sum(n for n, _ in self._entries.values())
            for entry in list(self._entries):
                if total <= self.budget or entry == (id(owner), key):
                    break
                n, r = self._entries.pop(entry)
                total -= n
                evict.append((entry[1], r))
        for k, r in evict:  # outside the lock: drop() takes the owner's own lock
            fn = r()
            if fn is not None:
                fn(k)

    def touch(self, owner, key: Hashable) -> None:
        with self._lock:
            if (id(owner), key) in self._entries:
                self._entries.move_to_end((id(owner), key))

    def forget(self, owner, key: Hashable = None) -> None:
        """Stop counting one entry of ``owner`` (or all of them when ``key`` is None)."""
        with self._lock:
            for entry in [e for e in self._entries if e[0] == id(owner) and (key is None or e[1] == key)]:
                del self._entries[entry]


#: the budget shared by every widget's activation and map caches
CACHES = SharedBudget(512 * 2**20)

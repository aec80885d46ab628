"""The one way the harness waits: poll a condition against a deadline.

Browser and kernel state arrive asynchronously; sleeping a fixed time and
hoping they have caught up makes tests slow on idle machines and flaky on
busy ones, so every wait names the condition it is waiting for.
"""
from __future__ import annotations

import time
from typing import Any, Callable


def wait_until(
    predicate: Callable[[], Any],
    timeout: float,
    message: str | Callable[[], str] = "condition not met",
    interval: float = 0.05,
) -> Any:
    """Poll ``predicate`` until it returns a truthy value and return that value.

    Raises ``TimeoutError`` with ``message`` (a string or a callable producing
    one, so it can describe the last observed state) once ``timeout`` seconds
    have passed.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            text = message() if callable(message) else message
            raise TimeoutError(f"after {timeout:.1f}s: {text}")
        time.sleep(interval)

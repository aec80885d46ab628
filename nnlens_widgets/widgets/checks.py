"""Checking what a person passes in: a ValueError naming what was expected, and escaped text."""
from __future__ import annotations

import html
import math
from typing import Any, Iterable, List, Optional, Sequence

import numpy as np

__all__ = ["text", "check_index", "check_count", "check_number", "check_choice", "labels_for"]


def text(value: Any) -> str:
    """User-supplied text, escaped for HTML (the one escaping path)."""
    return html.escape(str(value), quote=True)


def check_index(value: Any, count: int, what: str, where: str = "") -> int:
    """``value`` as an int in ``0..count-1``; a ValueError naming the range otherwise."""
    if isinstance(value, bool):  # True is not index 1
        raise ValueError(f"expected {what} as a whole number{where}, got {value!r}")
    if not isinstance(value, (int, np.integer)):
        try:
            if float(value) != int(value):
                raise ValueError
        except (TypeError, ValueError, OverflowError):
            raise ValueError(f"expected {what} as a whole number{where}, got {value!r}") from None
    v = int(value)
    if not 0 <= v < count:
        if count <= 0:
            raise ValueError(f"there is no {what} to pick{where}")
        raise ValueError(f"expected {what} in 0..{count - 1}{where}, got {v}")
    return v


def check_count(value: Any, what: str, low: int = 1, high: Optional[int] = None) -> int:
    """``value`` as an int in ``low..high``; a ValueError naming the range otherwise."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"expected {what} as a whole number, got {value!r}")
    v = int(value)
    if v < low or (high is not None and v > high):
        raise ValueError(f"expected {what} in {low}..{high if high is not None else 'any'}, got {v}")
    return v


def check_number(value: Any, what: str, low: Optional[float] = None, high: Optional[float] = None) -> float:
    """``value`` as a finite float in ``[low, high]``; a ValueError naming the range otherwise."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"expected {what} as a number, got {value!r}") from None
    if not math.isfinite(v):
        raise ValueError(f"expected a finite {what}, got {value!r}")
    if (low is not None and v < low) or (high is not None and v > high):
        raise ValueError(f"expected {what} in {low}..{high}, got {v}")
    return v


def check_choice(value: Any, choices: Sequence, what: str) -> Any:
    """``value`` if it is one of ``choices``; a ValueError listing them otherwise."""
    if value not in choices:
        raise ValueError(f"expected {what} in {choices}, got {value!r}")
    return value


def labels_for(labels: Optional[Iterable], count: int, what: str = "class") -> List[str]:
    """Names for ``count`` outputs: ``str()`` of each given label, or the index."""
    if labels is None:
        return [str(i) for i in range(count)]
    if isinstance(labels, (str, bytes)):
        raise ValueError(f"expected labels as a sequence of {count} names, got a single string")
    names = [str(label) for label in labels]
    if len(names) != count:
        raise ValueError(f"expected {count} labels (one per {what}), got {len(names)}")
    return names

"""Named things described once: attribution methods, baselines, objectives.

A ``Registry`` maps names to specs and says what is known when a name is
not; a ``Param`` describes one tunable parameter (default, range, step) so a
widget can build its control from the spec alone. Adding a method, baseline
or objective touches one place: its spec.
"""
from __future__ import annotations

import difflib
import math
import numbers
from dataclasses import dataclass
from typing import Any, Callable, Dict, Generic, Iterator, Optional, Sequence, Tuple, TypeVar

__all__ = ["Param", "Registry"]

S = TypeVar("S")


@dataclass(frozen=True)
class Param:
    """One parameter of a method: an int or float in ``[low, high]``, or one of ``choices``."""

    name: str
    title: str
    default: Any
    low: Optional[float] = None
    high: Optional[float] = None
    step: Optional[float] = None
    choices: Tuple[Any, ...] = ()
    description: str = ""

    @property
    def kind(self) -> str:
        """"choice", "int" or "float"."""
        if self.choices:
            return "choice"
        return "int" if isinstance(self.default, numbers.Integral) else "float"

    def check(self, value: Any) -> Any:
        """``value`` as this parameter's type; a ValueError naming the allowed values otherwise."""
        if self.kind == "choice":
            if value not in self.choices:
                raise ValueError(f"expected {self.name} in {list(self.choices)}, got {value!r}")
            return value
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise ValueError(f"expected {self.name} as a number, got {value!r}")
        if self.kind == "int":
            if not float(value).is_integer():
                raise ValueError(f"expected {self.name} as a whole number, got {value!r}")
            value = int(float(value))
        else:
            value = float(value)
            if not math.isfinite(value):
                raise ValueError(f"expected a finite {self.name}, got {value}")
        if (self.low is not None and value < self.low) or (self.high is not None and value > self.high):
            raise ValueError(f"expected {self.name} in {self.low}..{self.high}, got {value}")
        return value


class Registry(Generic[S]):
    """Name -> spec, in the order registered; unknown names get the closest known ones."""

    def __init__(self, what: str):
        self.what = what
        self._specs: Dict[str, S] = {}

    def add(self, name: str, spec: S) -> S:
        self._specs[name] = spec
        return spec

    def remove(self, name: str) -> None:
        self._specs.pop(name, None)

    def __getitem__(self, name: str) -> S:
        if name not in self._specs:
            close = difflib.get_close_matches(str(name), list(self._specs), n=3, cutoff=0.5)
            hint = f" (did you mean {', '.join(map(repr, close))}?)" if close else ""
            raise ValueError(f"unknown {self.what} {name!r}{hint}; known: {', '.join(self._specs)}")
        return self._specs[name]

    def __contains__(self, name: object) -> bool:
        return name in self._specs

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._specs))

    def __len__(self) -> int:
        return len(self._specs)

    def names(self) -> Sequence[str]:
        return list(self._specs)

    def values(self) -> Sequence[S]:
        return list(self._specs.values())

    def items(self):
        return list(self._specs.items())

    def get(self, name: str, default: Optional[S] = None) -> Optional[S]:
        return self._specs.get(name, default)

    def __repr__(self) -> str:
        return f"Registry({self.what!r}: {', '.join(self._specs)})"


def callable_name(fn: Callable) -> str:
    return getattr(fn, "__name__", type(fn).__name__)

"""Named things described once: attribution methods, baselines, objectives.

A ``Registry`` maps names to specs and says what is known when a name is
not; it imports the modules that define its specs (``sources``) the first
time it is read, so what it holds does not depend on what else happened to
be imported. A ``Param`` describes one tunable parameter (default, range, step) so a
widget can build its control from the spec alone. Adding a method, baseline
or objective touches one place: its spec.
"""
from __future__ import annotations

import difflib
import importlib
import math
import numbers
import threading
from dataclasses import dataclass
from typing import Any, Callable, Dict, Generic, Iterator, List, Optional, Sequence, Tuple, TypeVar

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
    """Name -> spec, in the order registered; unknown names get the closest known ones.

    ``sources``: the modules (absolute names) whose import registers the
    specs; they are imported before the registry is first read, and their
    specs listed in that order (``origin(spec)`` names a spec's module),
    whichever was imported first; specs from elsewhere follow.
    """

    def __init__(self, what: str, sources: Sequence[str] = (), origin: Optional[Callable[[S], str]] = None):
        self.what = what
        self.sources = tuple(sources)
        self._origin = origin
        self._specs: Dict[str, S] = {}
        self._loaded = not self.sources
        self._importing = False
        self._loading = threading.RLock()

    def _load(self) -> Dict[str, S]:
        if self._loaded:
            return self._specs
        with self._loading:  # another thread waits until every source is in
            if self._loaded or self._importing:  # a source reading the registry as it is imported
                return self._specs
            self._importing = True
            try:
                for module in self.sources:
                    importlib.import_module(module)
                if self._origin is not None:
                    rank = {m: i for i, m in enumerate(self.sources)}
                    origin = self._origin
                    self._specs = dict(sorted(self._specs.items(), key=lambda kv: rank.get(origin(kv[1]), len(rank))))
                self._loaded = True
            finally:
                self._importing = False
        return self._specs

    def add(self, name: str, spec: S) -> S:
        self._specs[name] = spec
        return spec

    def remove(self, name: str) -> None:
        self._load().pop(name, None)

    def __getitem__(self, name: str) -> S:
        specs = self._load()
        if name not in specs:
            close = difflib.get_close_matches(str(name), list(specs), n=3, cutoff=0.5)
            hint = f" (did you mean {', '.join(map(repr, close))}?)" if close else ""
            raise ValueError(f"unknown {self.what} {name!r}{hint}; known: {', '.join(specs)}")
        return specs[name]

    def __contains__(self, name: object) -> bool:
        return name in self._load()

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._load()))

    def __len__(self) -> int:
        return len(self._load())

    def names(self) -> List[str]:
        return list(self._load())

    def values(self) -> List[S]:
        return list(self._load().values())

    def items(self) -> List[Tuple[str, S]]:
        return list(self._load().items())

    def get(self, name: str, default: Optional[S] = None) -> Optional[S]:
        return self._load().get(name, default)

    def __repr__(self) -> str:
        return f"Registry({self.what!r}: {', '.join(self._load())})"

"""The loss curves of a training run: train and test loss every few steps."""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import List, Tuple

import numpy as np

__all__ = ["LossHistory"]


@dataclass
class LossHistory:
    """Losses measured on the whole training set and the whole test set after ``steps[i]`` steps.

    ``train`` and ``test`` are the data loss (cross-entropy, without the
    regularisation penalty); ``test`` is NaN when there are no test points.
    Two histories are equal when every number is bit for bit the same.
    """

    steps: List[int] = field(default_factory=list)
    train: List[float] = field(default_factory=list)
    test: List[float] = field(default_factory=list)

    def add(self, step: int, train: float, test: float) -> None:
        self.steps.append(int(step))
        self.train.append(float(train))
        self.test.append(float(test))

    def since(self, step: int) -> "LossHistory":
        """The records after ``step`` (what one ``train`` call added)."""
        i = next((k for k, s in enumerate(self.steps) if s > step), len(self.steps))
        return LossHistory(self.steps[i:], self.train[i:], self.test[i:])

    def copy(self) -> "LossHistory":
        return LossHistory(list(self.steps), list(self.train), list(self.test))

    def __len__(self) -> int:
        return len(self.steps)

    def __eq__(self, other) -> bool:
        if not isinstance(other, LossHistory):
            return NotImplemented
        same = lambda a, b: len(a) == len(b) and all(x == y or (math.isnan(x) and math.isnan(y)) for x, y in zip(a, b))
        return self.steps == other.steps and same(self.train, other.train) and same(self.test, other.test)

    @property
    def last(self) -> Tuple[float, float]:
        """(train, test) loss of the last record (NaN, NaN before any)."""
        return (self.train[-1], self.test[-1]) if self.steps else (math.nan, math.nan)

    def thinned(self, most: int) -> "LossHistory":
        """At most ``most`` records, evenly spread, always with the first and the last (for charts)."""
        n = len(self.steps)
        if n <= most:
            return self.copy()
        keep = np.unique(np.round(np.linspace(0, n - 1, most)).astype(int))
        return LossHistory([self.steps[i] for i in keep], [self.train[i] for i in keep], [self.test[i] for i in keep])

    def to_dict(self) -> dict:
        return {"steps": list(self.steps), "train": list(self.train), "test": list(self.test)}

    @classmethod
    def from_dict(cls, d: dict) -> "LossHistory":
        return cls([int(s) for s in d["steps"]], [float(v) for v in d["train"]], [float(v) for v in d["test"]])

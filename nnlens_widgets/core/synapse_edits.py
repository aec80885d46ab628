"""Weights moved on a private copy of a network, written into it only by ``commit``."""
from __future__ import annotations

from typing import Iterable, List, Mapping, Optional

import torch

from .synapse_space import SynapseSpace

__all__ = ["SynapseEdits"]


class SynapseEdits:
    """The working synapse vector of a ``SynapseSpace`` and what differs from the network.

    ``flat`` is the working vector; ``version`` grows with every change of
    it, so work computed for an older vector can be recognised.
    """

    def __init__(self, space: SynapseSpace):
        self.space = space
        self.flat = space.original.clone()
        self.version = 0

    @property
    def moved(self) -> List[int]:
        """Indices of the synapses whose value differs from the network's."""
        return self.space.changed(self.flat)

    def value(self, index: int) -> float:
        return float(self.flat[index])

    def original(self, index: int) -> float:
        return float(self.space.original[index])

    def stepped(self, index: int, steps: int, step: float) -> float:
        """The network's value of ``index`` plus ``steps * step`` (exactly it for 0 steps)."""
        return self.original(index) + int(steps) * float(step)

    def steps(self, index: int, step: float) -> int:
        """How many ``step``s synapse ``index`` is from the network's value (rounded)."""
        return int(round((self.value(index) - self.original(index)) / float(step)))

    def adopt(self, vector: torch.Tensor) -> None:
        """Make ``vector`` the working weights."""
        self.flat = vector.detach().clone()
        self.version += 1

    def apply(self, changes: Mapping[int, float]) -> bool:
        """Set ``{index: value}`` (stored in the network's dtype); whether anything changed."""
        flat = self.flat.clone()
        for i, v in changes.items():
            flat[int(i)] = float(v)
        if torch.equal(flat, self.flat):
            return False
        self.adopt(flat)
        return True

    def reset(self, indices: Optional[Iterable[int]] = None) -> bool:
        """Put ``indices`` (default: every moved synapse) back to the network's values."""
        indices = self.moved if indices is None else list(indices)
        return self.apply({i: self.original(i) for i in indices})

    def commit(self) -> List[int]:
        """Write the moved synapses into the network, exactly as set (see ``SynapseSpace.commit``)."""
        return self.space.commit(self.flat)

    def reload(self) -> None:
        """Read the network again; synapses moved here keep the values set."""
        moved, values = self.moved, self.flat.clone()
        flat = self.space.reload().clone()
        flat[moved] = values[moved]
        self.adopt(flat)

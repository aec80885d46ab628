"""A private copy of a network over the plane whose linear parameters form one flat vector.

A moved weight is an edit to a vector and never to the user's model; the
copy is evaluated with any vector by ``torch.func.functional_call``, so the
Jacobian of every painted pixel with respect to every synapse comes from one
vectorised pass (``vmap`` over ``jacrev``) and many vectors can be evaluated
at once (``vmap`` over the call).
"""
from __future__ import annotations

import copy
import threading
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
from torch import nn
from torch.func import functional_call, jacrev, vmap

from .initialisation import reinitialise
from .plane import DEFAULT_EXTENT, check_plane_model, model_place, plane_points
from .probe import probe
from .synapse_ranking import Sensitivity
from .synapses import hidden_neurons, linear_layers, synapse_table

__all__ = ["Pictures", "SynapseSpace"]


@dataclass(frozen=True)
class Pictures:
    """What a network over the plane draws for the synapse vector ``flat``: its ``painting``
    ``(H, W, k)``, each hidden neuron's map ``(n, H, W)`` and, for synapse ``rate_for``,
    how fast each pixel changes when it moves (``rate``, ``(H, W)``)."""

    flat: torch.Tensor
    painting: np.ndarray
    maps: np.ndarray
    rate_for: Optional[int] = None
    rate: Optional[np.ndarray] = None


class SynapseSpace:
    """A private copy of a 2-input network whose linear parameters form one flat vector.

    ``original`` is the vector when the space was made (or last committed or
    reloaded); every other method takes a vector ``flat`` and evaluates the
    copy with it, so nothing here ever writes into the user's model except
    ``commit``.

    ``functional_call`` swaps tensors on the copy while it runs, so every
    use of the copy holds ``lock`` (a widget paints and ranks from two
    threads).
    """

    def __init__(self, model: nn.Module):
        self.outputs = check_plane_model(model)
        self.source = model
        self.lock = threading.RLock()
        self.synapses = synapse_table(model)
        self.neurons = hidden_neurons(model)
        self._parts: List[Tuple[str, Tuple[int, ...]]] = []
        for name, layer in linear_layers(model):
            self._parts.append((f"{name}.weight", tuple(layer.weight.shape)))
            if layer.bias is not None:
                self._parts.append((f"{name}.bias", tuple(layer.bias.shape)))
        self._sizes = [int(np.prod(s)) for _, s in self._parts]
        self.reload()

    def reload(self) -> torch.Tensor:
        """Copy the user's model again (after it changed) and return its synapse vector,
        which becomes ``original``."""
        named = dict(self.source.named_parameters())
        shapes = [(n, tuple(named[n].shape) if n in named else None) for n, _ in self._parts]
        if shapes != self._parts:
            raise ValueError(f"the network's linear layers changed shape: expected {self._parts}, got {shapes}")
        fresh = copy.deepcopy(self.source).eval()
        for p in fresh.parameters():
            p.requires_grad_(False)
        with self.lock:
            self.model = fresh
            self.device, self.dtype = model_place(fresh)
            self.original = self._vector_of(fresh)
        return self.original

    def _vector_of(self, model: nn.Module) -> torch.Tensor:
        named = dict(model.named_parameters())
        return torch.cat([named[n].detach().reshape(-1) for n, _ in self._parts]).clone()

    @property
    def count(self) -> int:
        return len(self.synapses)

    def parameters_of(self, flat: torch.Tensor) -> Dict[str, torch.Tensor]:
        """Flat vector -> {parameter name: tensor} for ``functional_call``."""
        if flat.shape != (self.count,):
            raise ValueError(f"expected a flat synapse vector of shape ({self.count},), got {tuple(flat.shape)}")
        return {n: t.view(s) for (n, s), t in zip(self._parts, torch.split(flat, self._sizes))}

    def points(self, height: int, width: Optional[int] = None,
               extent: Sequence[float] = DEFAULT_EXTENT) -> torch.Tensor:
        return plane_points(height, width, extent, dtype=self.dtype, device=self.device)

    def evaluate(self, flat: torch.Tensor, points: torch.Tensor) -> torch.Tensor:
        """The copy's outputs ``(N, k)`` at ``points`` with synapses ``flat``."""
        with self.lock, torch.no_grad():
            return functional_call(self.model, self.parameters_of(flat), (points,))

    def evaluate_many(self, flats: torch.Tensor, points: torch.Tensor) -> torch.Tensor:
        """``(V, N, k)``: the outputs at ``points`` for each of ``V`` synapse vectors, in one pass."""
        def run(vector):
            return functional_call(self.model, self.parameters_of(vector), (points,))

        with self.lock, torch.no_grad():
            return vmap(run)(flats)

    def paint(self, flat: Optional[torch.Tensor], height: int, width: Optional[int] = None,
              extent: Sequence[float] = DEFAULT_EXTENT) -> np.ndarray:
        """``(H, W, k)`` float32 outputs over the plane (``flat=None``: the original)."""
        width = height if width is None else width
        flat = self.original if flat is None else flat
        out = self.evaluate(flat, self.points(height, width, extent))
        return out.float().cpu().numpy().reshape(int(height), int(width), -1)

    def neuron_maps(self, flat: Optional[torch.Tensor], height: int, width: Optional[int] = None,
                    extent: Sequence[float] = DEFAULT_EXTENT) -> np.ndarray:
        """``(neurons, H, W)`` float32: each hidden neuron's activation over the plane."""
        width = height if width is None else width
        if not self.neurons:
            return np.zeros((0, int(height), int(width)), dtype=np.float32)
        flat = self.original if flat is None else flat
        modules = sorted({n.module for n in self.neurons})
        with self.lock, probe(self.model, modules) as acts:
            self.evaluate(flat, self.points(height, width, extent))
        maps = [acts[n.module][:, n.unit] for n in self.neurons]
        return torch.stack(maps).float().cpu().numpy().reshape(len(maps), int(height), int(width))

    def jacobian(self, flat: Optional[torch.Tensor], points: torch.Tensor) -> torch.Tensor:
        """``(N, k, P)``: d output[n, c] / d synapse[p] at every point, in one vectorised pass."""
        flat = (self.original if flat is None else flat).detach()

        def at_point(vector, point):
            return functional_call(self.model, self.parameters_of(vector), (point[None],))[0]

        with self.lock:
            return vmap(jacrev(at_point), in_dims=(None, 0))(flat, points)

    def sensitivity(self, flat: Optional[torch.Tensor], height: int, width: Optional[int] = None,
                    extent: Sequence[float] = DEFAULT_EXTENT, chunk: int = 16384,
                    job=None) -> Sensitivity:
        """How strongly each synapse moves each pixel (see ``Sensitivity``).

        The Jacobian is computed for ``chunk`` points at a time to bound
        memory; ``job.check()`` (if given) is called between chunks so a
        widget can cancel.
        """
        width = height if width is None else width
        points = self.points(height, width, extent)
        parts = []
        for i in range(0, len(points), chunk):
            if job is not None:
                job.check()
            j = self.jacobian(flat, points[i:i + chunk])
            parts.append((j.double() ** 2).sum(dim=1).cpu())
        energy = torch.cat(parts).numpy().reshape(int(height), int(width), self.count)
        return Sensitivity(energy)

    def direction_map(self, flat: Optional[torch.Tensor], index: int, height: int,
                      width: Optional[int] = None, extent: Sequence[float] = DEFAULT_EXTENT) -> np.ndarray:
        """``(H, W)``: how fast each pixel changes when synapse ``index`` moves (RMS over
        outputs): one Jacobian-vector product (autograd's double-backward ``jvp``) instead of
        the whole Jacobian."""
        width = height if width is None else width
        if not 0 <= int(index) < self.count:
            raise ValueError(f"expected a synapse index in 0..{self.count - 1}, got {index}")
        flat = (self.original if flat is None else flat).detach()
        points = self.points(height, width, extent)
        tangent = torch.zeros_like(flat)
        tangent[int(index)] = 1.0

        def run(vector):
            return functional_call(self.model, self.parameters_of(vector), (points,))

        with self.lock:
            _, rate = torch.autograd.functional.jvp(run, flat, tangent)
        return rate.double().pow(2).sum(dim=1).sqrt().float().cpu().numpy().reshape(int(height), int(width))

    def pictures(self, flat: torch.Tensor, size: int, extent: Sequence[float] = DEFAULT_EXTENT,
                 rate_for: Optional[int] = None, job=None) -> "Pictures":
        """The painting and every neuron's map for ``flat`` at ``size x size`` (and where
        synapse ``rate_for`` acts, if given); ``job.check()`` runs between them."""
        painting = self.paint(flat, size, size, extent)
        if job is not None:
            job.check()
        maps = self.neuron_maps(flat, size, size, extent)
        rate = None if rate_for is None else self.direction_map(flat, rate_for, size, size, extent)
        return Pictures(flat, painting, maps, rate_for, rate)

    def initial(self, seed: int = 0) -> torch.Tensor:
        """A freshly initialised synapse vector: each linear layer drawn as its
        ``reset_parameters`` would after ``torch.manual_seed(seed)``, from a generator of its
        own (``core.initialisation``), so the global random stream is never touched."""
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= seed < 2**63:
            raise ValueError(f"expected a seed as a whole number in 0..2**63-1, got {seed!r}")
        with self.lock:
            fresh = copy.deepcopy(self.model)
        generator = torch.Generator().manual_seed(int(seed))
        for _, layer in linear_layers(fresh):
            reinitialise(layer, generator)
        return self._vector_of(fresh)

    def changed(self, flat: torch.Tensor) -> List[int]:
        """Indices of the synapses whose value in ``flat`` differs from ``original``."""
        return torch.nonzero(flat != self.original).flatten().tolist()

    def commit(self, flat: torch.Tensor) -> List[int]:
        """Write the synapses that differ from ``original`` into the user's model.

        Only those elements are written, with exactly the values in ``flat``
        (other parameters stay bit-identical); they become the new
        ``original``. Returns their indices.
        """
        moved = self.changed(flat)
        if not moved:
            return []
        named = dict(self.source.named_parameters())
        for name, shape in self._parts:
            if name not in named or tuple(named[name].shape) != shape:
                raise ValueError(f"the network's parameter {name} is no longer shaped {shape}; nothing was written")
        offsets = np.cumsum([0] + self._sizes)
        with self.lock, torch.no_grad():
            own = dict(self.model.named_parameters())
            for (name, _shape), start, stop in zip(self._parts, offsets[:-1], offsets[1:]):
                here = [i for i in moved if start <= i < stop]
                if not here:
                    continue
                index = torch.tensor([i - start for i in here])
                target = named[name]
                target.view(-1)[index.to(target.device)] = flat[here].to(device=target.device, dtype=target.dtype)
                own[name].view(-1)[index.to(own[name].device)] = flat[here].to(own[name].dtype)
            self.original = self.original.clone()
            self.original[moved] = flat[moved]
        return moved

"""Networks over the (x, y) plane: numbered synapses, plane pictures, sensitivity.

A network that maps 2 inputs to k outputs draws k pictures when it is run on
every point of a grid over the plane; each of its neurons draws one more.
Here its linear-layer parameters ("synapses") become one flat vector, so a
moved weight is an edit to a vector and never to the user's model, and the
Jacobian of every painted pixel with respect to every synapse comes from one
vectorised pass (``torch.func.vmap`` over ``jacrev`` of a functional call).

Plane convention: pixel (row ``i``, column ``j``) of an ``H x W`` picture is
the point ``x = linspace(x0, x1, W)[j]``, ``y = linspace(y0, y1, H)[i]``
(``y`` grows downwards, like the rows of an image); the default extent is
[-1, 1] on both axes.
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

from .guard import looking_at
from .probe import forward_capture, probe

__all__ = [
    "DEFAULT_EXTENT",
    "Neuron",
    "Ranking",
    "Sensitivity",
    "Synapse",
    "SynapseSpace",
    "check_plane_model",
    "hidden_neurons",
    "linear_layers",
    "plane_neuron_maps",
    "plane_outputs",
    "plane_points",
    "synapse_sources",
    "synapse_table",
]

DEFAULT_EXTENT = (-1.0, 1.0, -1.0, 1.0)


# -- the plane -------------------------------------------------------------
def plane_points(height: int, width: Optional[int] = None, extent: Sequence[float] = DEFAULT_EXTENT,
                 dtype: torch.dtype = torch.float32, device=None) -> torch.Tensor:
    """``(H*W, 2)`` points ``(x, y)``, row by row (see the module's plane convention)."""
    width = height if width is None else width
    if int(height) < 1 or int(width) < 1:
        raise ValueError(f"expected a plane grid of at least 1x1 points, got {height}x{width}")
    x0, x1, y0, y1 = (float(v) for v in extent)
    ys = torch.linspace(y0, y1, int(height), dtype=dtype, device=device)
    xs = torch.linspace(x0, x1, int(width), dtype=dtype, device=device)
    yy, xx = torch.meshgrid(ys, xs, indexing="ij")
    return torch.stack([xx.reshape(-1), yy.reshape(-1)], dim=1)


def _model_place(model: nn.Module) -> Tuple[torch.device, torch.dtype]:
    for p in model.parameters():
        return p.device, (p.dtype if p.is_floating_point() else torch.float32)
    return torch.device("cpu"), torch.float32


def check_plane_model(model: nn.Module) -> int:
    """The number of outputs ``k`` of a model mapping ``(N, 2)`` points to ``(N, k)``.

    Raises ``ValueError`` naming what was expected if the model does not take
    two inputs or does not return one row of outputs per point.
    """
    if not isinstance(model, nn.Module):
        raise ValueError(f"expected a torch.nn.Module, got {type(model).__name__}")
    device, dtype = _model_place(model)
    try:
        with looking_at(model) as m, torch.no_grad():
            out = m(torch.zeros(2, 2, device=device, dtype=dtype))
    except Exception as exc:  # noqa: BLE001 - any failure means the model is not a plane model
        raise ValueError(
            f"expected a model mapping 2 inputs (x, y) to k outputs, i.e. (N, 2) -> (N, k); "
            f"calling {type(model).__name__} on a (2, 2) batch failed: {type(exc).__name__}: {exc}"
        ) from None
    if not isinstance(out, torch.Tensor) or out.ndim != 2 or out.shape[0] != 2:
        shape = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        raise ValueError(
            f"expected a model mapping (N, 2) points to (N, k) outputs; a (2, 2) batch gave {shape}"
        )
    return int(out.shape[1])


def plane_outputs(model: nn.Module, height: int, width: Optional[int] = None,
                  extent: Sequence[float] = DEFAULT_EXTENT, chunk: int = 65536) -> np.ndarray:
    """Run any 2-input model over the plane: ``(H, W, k)`` float32 outputs.

    The model runs in eval mode (its flags are restored), without gradients,
    on its own device; the model is not changed.
    """
    width = height if width is None else width
    check_plane_model(model)
    device, dtype = _model_place(model)
    points = plane_points(height, width, extent, dtype=dtype, device=device)
    with looking_at(model) as m, torch.no_grad():
        out = torch.cat([m(points[i:i + chunk]) for i in range(0, len(points), chunk)])
    return out.float().cpu().numpy().reshape(int(height), int(width), -1)


# -- numbering -------------------------------------------------------------
@dataclass(frozen=True)
class Synapse:
    """One parameter element of a linear layer, numbered by ``index``.

    ``row`` is the output unit; ``col`` the input feature (``None`` for a
    bias). ``source`` / ``target`` name the neurons it connects.
    """

    index: int
    layer: str
    kind: str  # "weight" or "bias"
    row: int
    col: Optional[int]
    source: str
    target: str

    @property
    def parameter(self) -> str:
        return f"{self.layer}.{self.kind}"

    @property
    def label(self) -> str:
        where = f"[{self.row}, {self.col}]" if self.kind == "weight" else f"[{self.row}]"
        return f"#{self.index} {self.parameter}{where}: {self.source} -> {self.target}"


@dataclass(frozen=True)
class Neuron:
    """Unit ``unit`` of linear layer ``layer``; its map is the output of ``module``
    (the activation right after the layer when there is one)."""

    layer: str
    unit: int
    module: str

    @property
    def label(self) -> str:
        return f"{self.layer}[{self.unit}]"


def linear_layers(model: nn.Module) -> List[Tuple[str, nn.Linear]]:
    """The ``nn.Linear`` modules in registration order (their parameters are the synapses)."""
    found = [(n, m) for n, m in model.named_modules() if isinstance(m, nn.Linear) and n]
    if not found:
        raise ValueError(
            f"expected a network with nn.Linear layers (their weights are the synapses); "
            f"{type(model).__name__} has none"
        )
    return found


def synapse_sources(model: nn.Module) -> Dict[str, List[Optional[Tuple[str, int]]]]:
    """For each linear layer, what feeds each of its inputs.

    ``("input", j)`` is model input ``j``; ``(layer, i)`` is neuron ``i`` of
    another linear layer; ``None`` is unknown. A model may say it with a
    ``synapse_sources()`` method (``PainterNet`` does); otherwise the layers
    are taken as a chain in registration order (the first sees the inputs,
    each later one the previous layer's neurons when the sizes match).
    """
    layers = linear_layers(model)
    own = getattr(model, "synapse_sources", None)
    if callable(own):
        given = own()
        return {name: list(given.get(name, [None] * layer.in_features)) for name, layer in layers}
    sources: Dict[str, List[Optional[Tuple[str, int]]]] = {}
    previous: Optional[Tuple[str, nn.Linear]] = None
    for name, layer in layers:
        if previous is None and layer.in_features == 2:
            sources[name] = [("input", 0), ("input", 1)]
        elif previous is not None and previous[1].out_features == layer.in_features:
            sources[name] = [(previous[0], i) for i in range(layer.in_features)]
        else:
            sources[name] = [None] * layer.in_features
        previous = (name, layer)
    return sources


def _source_label(source: Optional[Tuple[str, int]]) -> str:
    if source is None:
        return "?"
    if source[0] == "input":
        return "xy"[source[1]] if source[1] < 2 else f"input[{source[1]}]"
    return f"{source[0]}[{source[1]}]"


def synapse_table(model: nn.Module) -> List[Synapse]:
    """Every parameter element of every linear layer, numbered once, in a stable order.

    Layers in registration order; within a layer the weight matrix row by row
    (``weight[row, col]`` for output unit ``row``), then the bias. The order
    is ``torch.cat([p.reshape(-1) for p in (w1, b1, w2, b2, ...)])``, so synapse
    ``i`` is element ``i`` of that flat vector.
    """
    sources = synapse_sources(model)
    table: List[Synapse] = []
    for name, layer in linear_layers(model):
        out, inp = layer.weight.shape
        for r in range(out):
            target = f"{name}[{r}]"
            for c in range(inp):
                table.append(Synapse(len(table), name, "weight", r, c, _source_label(sources[name][c]), target))
        if layer.bias is not None:
            for r in range(out):
                table.append(Synapse(len(table), name, "bias", r, None, "bias", f"{name}[{r}]"))
    return table


def hidden_neurons(model: nn.Module) -> List[Neuron]:
    """The units of every linear layer but the last, with the module whose output shows them.

    That module is the one registered right after the layer when it has no
    parameters and gives an output of the layer's shape (an activation such
    as ``nn.Tanh``); otherwise the layer's own (pre-activation) output.
    """
    layers = linear_layers(model)
    device, dtype = _model_place(model)
    leaves = [n for n, m in model.named_modules() if n and not list(m.children())]
    shapes, _ = forward_capture(model, torch.zeros(2, 2, device=device, dtype=dtype), leaves,
                                keep=lambda v: tuple(v.shape) if isinstance(v, torch.Tensor) else None)
    neurons: List[Neuron] = []
    for name, layer in layers[:-1]:
        shown = name
        at = leaves.index(name) if name in leaves else -1
        if 0 <= at < len(leaves) - 1:
            after = leaves[at + 1]
            module = dict(model.named_modules())[after]
            if not list(module.parameters()) and shapes.get(after) == shapes.get(name):
                shown = after
        neurons.extend(Neuron(name, u, shown) for u in range(layer.out_features))
    return neurons


def plane_neuron_maps(model: nn.Module, height: int, width: Optional[int] = None,
                      extent: Sequence[float] = DEFAULT_EXTENT) -> Tuple[List[Neuron], np.ndarray]:
    """Every hidden neuron of any 2-input network over the plane: ``(neurons, (n, H, W))``.

    Runs the model itself in eval mode without gradients; hooks exist only
    during the pass and the model's flags are restored.
    """
    width = height if width is None else width
    check_plane_model(model)
    neurons = hidden_neurons(model)
    device, dtype = _model_place(model)
    points = plane_points(height, width, extent, dtype=dtype, device=device)
    acts, _ = forward_capture(model, points, sorted({n.module for n in neurons}))
    maps = [acts[n.module][:, n.unit] for n in neurons]
    if not maps:
        return neurons, np.zeros((0, int(height), int(width)), dtype=np.float32)
    return neurons, torch.stack(maps).float().cpu().numpy().reshape(len(maps), int(height), int(width))


# -- a network as a flat vector of synapses ---------------------------------
class SynapseSpace:
    """A private copy of a 2-input network whose linear parameters form one flat vector.

    ``original`` is the vector when the space was made (or last committed);
    every other method takes a vector ``flat`` and evaluates the copy with it
    (``torch.func.functional_call``), so nothing here ever writes into the
    user's model except ``commit``.

    ``functional_call`` swaps tensors on the copy while it runs, so every
    use of the copy holds ``lock`` (a widget paints and ranks from two
    threads).
    """

    def __init__(self, model: nn.Module):
        self.outputs = check_plane_model(model)
        self.source = model
        self.lock = threading.RLock()
        self.model = copy.deepcopy(model).eval()
        for p in self.model.parameters():
            p.requires_grad_(False)
        self.device, self.dtype = _model_place(self.model)
        self.layers = linear_layers(self.model)
        self.synapses = synapse_table(self.model)
        self.neurons = hidden_neurons(self.model)
        self._parts: List[Tuple[str, Tuple[int, ...]]] = []
        for name, layer in self.layers:
            self._parts.append((f"{name}.weight", tuple(layer.weight.shape)))
            if layer.bias is not None:
                self._parts.append((f"{name}.bias", tuple(layer.bias.shape)))
        self._sizes = [int(np.prod(s)) for _, s in self._parts]
        named = dict(self.model.named_parameters())
        self.original = torch.cat([named[n].detach().reshape(-1) for n, _ in self._parts]).clone()
        if len(self.original) != len(self.synapses):
            raise AssertionError("synapse numbering does not match the flat parameter vector")

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
                    job=None) -> "Sensitivity":
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
        outputs), from one forward-mode pass (``torch.func.jvp``) instead of the whole Jacobian."""
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
            _, rate = torch.func.jvp(run, (flat,), (tangent,))
        return rate.double().pow(2).sum(dim=1).sqrt().float().cpu().numpy().reshape(int(height), int(width))

    def initial(self, seed: int = 0) -> torch.Tensor:
        """A freshly initialised synapse vector (each linear layer's ``reset_parameters``,
        from ``seed``; the global RNG state is restored afterwards)."""
        with self.lock:
            fresh = copy.deepcopy(self.model)
        with torch.random.fork_rng(devices=[]), torch.no_grad():
            torch.manual_seed(int(seed))
            for _, layer in linear_layers(fresh):
                layer.reset_parameters()
        named = dict(fresh.named_parameters())
        return torch.cat([named[n].detach().reshape(-1) for n, _ in self._parts]).clone()

    def fit(self, flat: Optional[torch.Tensor], target: np.ndarray, steps: int, lr: float = 0.02,
            extent: Sequence[float] = DEFAULT_EXTENT, every: int = 50, callback=None) -> torch.Tensor:
        """Train the synapses to draw ``target`` (``(H, W, k)`` values) by full-batch Adam
        on the mean squared error, with a one-cycle learning rate. Returns the new vector.

        ``callback(step, vector, mse)`` runs every ``every`` steps and after the
        last; returning ``False`` stops early. Only the private copy is used.
        """
        t = torch.as_tensor(np.asarray(target, dtype=np.float32))
        if t.ndim != 3 or t.shape[2] != self.outputs:
            raise ValueError(f"expected a target shaped (H, W, {self.outputs}), got {tuple(t.shape)}")
        h, w = t.shape[:2]
        points = self.points(h, w, extent)
        t = t.reshape(-1, self.outputs).to(self.device, self.dtype)
        vector = (self.original if flat is None else flat).detach().clone().requires_grad_(True)
        optimizer = torch.optim.Adam([vector], lr=lr)
        schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, lr, total_steps=max(int(steps), 1))
        for step in range(1, int(steps) + 1):
            with self.lock:
                loss = ((functional_call(self.model, self.parameters_of(vector), (points,)) - t) ** 2).mean()
                optimizer.zero_grad()
                loss.backward()
            optimizer.step()
            schedule.step()
            if callback is not None and (step % every == 0 or step == steps):
                if callback(step, vector.detach().clone(), float(loss.detach())) is False:
                    break
        return vector.detach().clone()

    def changed(self, flat: torch.Tensor) -> List[int]:
        """Indices of the synapses whose value in ``flat`` differs from ``original``."""
        return torch.nonzero(flat != self.original).flatten().tolist()

    def commit(self, flat: torch.Tensor) -> List[int]:
        """Write the synapses that differ from ``original`` into the user's model.

        Only those elements are written (other parameters stay bit-identical);
        they become the new ``original``. Returns their indices.
        """
        moved = self.changed(flat)
        if not moved:
            return []
        named = dict(self.source.named_parameters())
        offsets = np.cumsum([0] + self._sizes)
        with self.lock, torch.no_grad():
            for (name, _shape), start, stop in zip(self._parts, offsets[:-1], offsets[1:]):
                here = [i for i in moved if start <= i < stop]
                if not here:
                    continue
                target = named[name]
                index = torch.tensor([i - start for i in here], device=target.device)
                values = flat[here].to(device=target.device, dtype=target.dtype)
                target.view(-1)[index] = values
                own = dict(self.model.named_parameters())[name]
                own.view(-1)[index.to(own.device)] = flat[here].to(own.dtype)
            self.original = self.original.clone()
            self.original[moved] = flat[moved]
        return moved


# -- which synapses act where ------------------------------------------------
@dataclass(frozen=True)
class Ranking:
    """Synapses ranked for one rectangle of the picture.

    ``inside`` / ``outside``: root-mean-square rate of change of the pixels
    inside / outside the rectangle per unit change of each synapse (colour
    channels combined); ``score = inside - outside``: how much more a synapse
    changes the rectangle than the rest of the picture. ``order`` lists
    synapse indices from the highest score down; ``box`` is the rectangle as
    whole pixels ``(x0, y0, x1, y1)``, end exclusive.
    """

    box: Tuple[int, int, int, int]
    order: np.ndarray
    score: np.ndarray
    inside: np.ndarray
    outside: np.ndarray

    def top(self, n: int = 20) -> List[int]:
        return [int(i) for i in self.order[: int(n)]]

    def rank_of(self, index: int) -> int:
        """0 for the first place."""
        return int(np.nonzero(self.order == int(index))[0][0])


class Sensitivity:
    """``energy[i, j, p]`` = sum over outputs of (d output / d synapse p)^2 at pixel (i, j).

    Rectangle sums come from an integral image, so ranking all synapses for a
    new rectangle (every step of a mouse drag) costs O(synapses), not O(pixels).
    """

    def __init__(self, energy: np.ndarray):
        self.energy = np.asarray(energy, dtype=np.float64)
        h, w, p = self.energy.shape
        self.shape = (h, w)
        self._integral = np.zeros((h + 1, w + 1, p))
        np.cumsum(np.cumsum(self.energy, axis=0), axis=1, out=self._integral[1:, 1:])
        self._total = self._integral[h, w].copy()

    def map(self, index: int) -> np.ndarray:
        """``(H, W)``: how strongly synapse ``index`` moves each pixel (RMS over outputs)."""
        return np.sqrt(self.energy[:, :, int(index)])

    def pixel_box(self, box: Sequence[float]) -> Tuple[int, int, int, int]:
        """Rectangle corners ``(x0, y0, x1, y1)`` in pixel coordinates (any corner order)
        -> the whole pixels it covers, clipped to the picture, end exclusive."""
        if len(box) != 4 or not all(np.isfinite(float(v)) for v in box):
            raise ValueError(f"expected a rectangle (x0, y0, x1, y1) of finite numbers, got {tuple(box)}")
        h, w = self.shape
        xa, ya, xb, yb = (float(v) for v in box)
        x0, x1 = sorted((xa, xb))
        y0, y1 = sorted((ya, yb))
        cx0, cx1 = int(np.clip(np.floor(x0), 0, w)), int(np.clip(np.ceil(x1), 0, w))
        cy0, cy1 = int(np.clip(np.floor(y0), 0, h)), int(np.clip(np.ceil(y1), 0, h))
        if x1 - x0 <= 0 or y1 - y0 <= 0 or cx1 <= cx0 or cy1 <= cy0:
            raise ValueError(
                f"the rectangle ({xa:g}, {ya:g}) - ({xb:g}, {yb:g}) covers no pixel of the "
                f"{w}x{h} picture; drag a rectangle with a width and a height inside it"
            )
        return cx0, cy0, cx1, cy1

    def rank(self, box: Sequence[float]) -> Ranking:
        """Rank every synapse for the rectangle ``box`` (see ``Ranking``)."""
        x0, y0, x1, y1 = self.pixel_box(box)
        s = self._integral
        inside_sum = s[y1, x1] - s[y0, x1] - s[y1, x0] + s[y0, x0]
        n_in = (x1 - x0) * (y1 - y0)
        n_out = self.shape[0] * self.shape[1] - n_in
        inside = np.sqrt(np.maximum(inside_sum, 0) / n_in)
        outside = (np.sqrt(np.maximum(self._total - inside_sum, 0) / n_out) if n_out
                   else np.zeros_like(inside))
        score = inside - outside
        order = np.argsort(-score, kind="stable")
        return Ranking((x0, y0, x1, y1), order, score, inside, outside)

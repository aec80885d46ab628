"""Training the synapses of a private copy to paint a picture, and the error over two weights.

Colours are the network's outputs in [-1, 1]; a uint8 picture maps to them
by ``v / 127.5 - 1``. Errors of a painting against a picture are given in
[0, 1] colour units (the RMS over outputs divided by 2), so 0.08 is about 20
of 255 grey levels.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator, Optional, Sequence, Tuple

import numpy as np
import torch
from torch.func import functional_call

from .plane import DEFAULT_EXTENT
from .synapse_space import SynapseSpace

__all__ = ["TrainingStep", "fit_synapses", "pair_landscape", "picture_rmse", "picture_values"]


def _whole(value, what: str, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not 1 <= value <= high:
        raise ValueError(f"expected {what} as a whole number in 1..{high}, got {value!r}")
    return int(value)


def picture_values(picture: np.ndarray) -> np.ndarray:
    """``(H, W, 3)`` uint8 -> float32 colours in [-1, 1] (what a painter outputs)."""
    a = np.asarray(picture)
    if a.dtype != np.uint8 or a.ndim != 3:
        raise ValueError(f"expected a picture as (H, W, C) uint8, got {a.dtype} {a.shape}")
    return a.astype(np.float32) / 127.5 - 1.0


def picture_rmse(painting: np.ndarray, picture: np.ndarray) -> float:
    """RMSE of a painting (``(H, W, 3)`` outputs in [-1, 1]) against a uint8 picture of the
    same size, in [0, 1] colour units.

    Parameters
    ----------
    painting : numpy.ndarray
        What the network draws, ``(H, W, 3)``.
    picture : numpy.ndarray
        ``(H, W, 3)`` uint8.

    Returns
    -------
    float
    """
    goal = picture_values(picture)
    if np.shape(painting) != goal.shape:
        raise ValueError(f"the painting {np.shape(painting)} and the picture {goal.shape} differ in shape")
    return float(np.sqrt(np.mean((np.asarray(painting, dtype=np.float64) - goal) ** 2)) / 2)


@dataclass(frozen=True)
class TrainingStep:
    """Where training stands: ``step`` of ``steps``, the synapse ``vector`` reached and the
    RMSE of its painting against the goal (before this step's update, in [0, 1] colour units)."""

    step: int
    steps: int
    vector: torch.Tensor
    rmse: float


def fit_synapses(space: SynapseSpace, start: Optional[torch.Tensor], goal: np.ndarray, steps: int, *,
                 lr: float = 0.02, every: int = 25,
                 extent: Sequence[float] = DEFAULT_EXTENT) -> Iterator[TrainingStep]:
    """Train the synapses of ``space``'s private copy to draw ``goal``, step by step.

    Full-batch Adam on the mean squared error over every pixel, with a
    one-cycle learning rate. The user's model is never touched.

    Parameters
    ----------
    space : SynapseSpace
        The network's private copy.
    start : torch.Tensor or None
        The synapse vector to start from (``None``: ``space.original``).
    goal : numpy.ndarray
        ``(H, W, k)`` output values to draw (``picture_values(picture)`` for a picture).
    steps : int
        Adam steps, 1..1,000,000.
    lr : float
        The peak learning rate of the one-cycle schedule.
    every : int
        A ``TrainingStep`` is yielded every ``every`` steps and after the last.
    extent : (x0, x1, y0, y1)
        The plane's corners.

    Returns
    -------
    iterator of TrainingStep
        Arguments are checked at once; training runs as the iterator is
        consumed, and stops when it is no longer (``break`` in a loop).
    """
    t = torch.as_tensor(np.asarray(goal, dtype=np.float32))
    if t.ndim != 3 or t.shape[2] != space.outputs:
        raise ValueError(f"expected a goal shaped (H, W, {space.outputs}), got {tuple(t.shape)}")
    steps = _whole(steps, "steps", 1_000_000)
    every = _whole(every, "every", 1_000_000)
    if not (isinstance(lr, (int, float)) and np.isfinite(lr) and 0 < lr <= 10):
        raise ValueError(f"expected a learning rate in (0, 10], got {lr}")
    return _fit(space, start, t, steps, lr, every, extent)


def _fit(space: SynapseSpace, start: Optional[torch.Tensor], t: torch.Tensor, steps: int, lr: float,
         every: int, extent: Sequence[float]) -> Iterator[TrainingStep]:
    h, w = t.shape[:2]
    points = space.points(h, w, extent)
    t = t.reshape(-1, space.outputs).to(space.device, space.dtype)
    vector = (space.original if start is None else start).detach().clone().requires_grad_(True)
    optimizer = torch.optim.Adam([vector], lr=lr)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, lr, total_steps=steps)
    for step in range(1, steps + 1):
        with space.lock:
            loss = ((functional_call(space.model, space.parameters_of(vector), (points,)) - t) ** 2).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        schedule.step()
        if step % every == 0 or step == steps:
            yield TrainingStep(step, steps, vector.detach().clone(), float(loss.detach().sqrt()) / 2)


def pair_landscape(space: SynapseSpace, flat: torch.Tensor, pair: Tuple[int, int], values_a: Sequence[float],
                   values_b: Sequence[float], goal: np.ndarray,
                   extent: Sequence[float] = DEFAULT_EXTENT, chunk: int = 32, job=None) -> np.ndarray:
    """The error of the painting over a grid of values of two synapses (the others as in ``flat``).

    Parameters
    ----------
    space : SynapseSpace
        The network's private copy.
    flat : torch.Tensor
        The synapse vector (the two synapses' own values in it are replaced).
    pair : (a, b)
        The two synapse indices.
    values_a, values_b : sequences of float
        The values tried for synapse ``a`` (columns) and ``b`` (rows).
    goal : numpy.ndarray
        ``(h, w, k)`` outputs to compare with; the painting is made at ``h x w``.
    extent : (x0, x1, y0, y1)
        The plane's corners.
    chunk : int
        Synapse vectors evaluated per pass (bounds memory).
    job : optional
        ``job.check()`` runs between passes, so a widget can cancel.

    Returns
    -------
    numpy.ndarray
        ``(len(values_b), len(values_a))``: RMS over pixels and outputs of
        painting minus goal (halve it for [0, 1] colour units).
    """
    a, b = (int(i) for i in pair)
    for i in (a, b):
        if not 0 <= i < space.count:
            raise ValueError(f"expected a synapse index in 0..{space.count - 1}, got {i}")
    g = torch.as_tensor(np.asarray(goal, dtype=np.float32))
    if g.ndim != 3 or g.shape[2] != space.outputs:
        raise ValueError(f"expected a goal shaped (h, w, {space.outputs}), got {tuple(g.shape)}")
    points = space.points(g.shape[0], g.shape[1], extent)
    g = g.reshape(1, -1, space.outputs).to(space.device, space.dtype)
    va = torch.as_tensor(np.asarray(values_a, dtype=np.float64), dtype=space.dtype, device=space.device)
    vb = torch.as_tensor(np.asarray(values_b, dtype=np.float64), dtype=space.dtype, device=space.device)
    grid_b, grid_a = torch.meshgrid(vb, va, indexing="ij")
    vectors = flat.detach().to(space.device).repeat(grid_a.numel(), 1)
    vectors[:, a] = grid_a.reshape(-1)
    vectors[:, b] = grid_b.reshape(-1)
    errors = []
    for i in range(0, len(vectors), int(chunk)):
        if job is not None:
            job.check()
        out = space.evaluate_many(vectors[i:i + int(chunk)], points)
        errors.append(((out - g) ** 2).mean(dim=(1, 2)).sqrt().double().cpu())
    return torch.cat(errors).numpy().reshape(len(vb), len(va))

"""Concept whitening (Chen, Bei & Rudin 2020): a BatchNorm replacement whose axes are concepts.

The module whitens its input (zero mean, identity covariance over batch and
space) and then rotates it by an orthogonal matrix ``R``. Whitening makes
every direction equally scaled and uncorrelated, so the rotation can point
axis ``j`` at concept ``j`` without changing what the next layer can read.

- Whitening ``W = P_T / sqrt(tr Sigma)`` by Newton iterations
  ``P_{k+1} = 1.5 P_k - 0.5 P_k^3 Sigma_N`` from ``P_0 = I``, with
  ``Sigma = eps I + Xc Xc^T / m`` and ``Sigma_N = Sigma / tr Sigma``; the
  running mean and ``W`` are moving averages (training mode uses the batch's).
- The rotation is not learnt by the main task: ``update_rotation`` moves it
  along the Stiefel manifold with a Cayley step
  ``Y(tau) = (I + tau/2 A)^-1 (I - tau/2 A) R``, ``A = G R^T - R G^T``,
  ``tau`` chosen by a curvilinear search (Armijo / Wolfe), to maximise each
  concept's mean (3x3 max-pooled) activation on its own axis. The rotation is
  kept in float64 so that it stays orthogonal over thousands of steps.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import nn

__all__ = [
    "ConceptWhitening",
    "RotationStep",
    "axis_scores",
    "cayley_step",
    "newton_whitening",
    "concept_layers",
    "replace_batchnorm",
]


def newton_whitening(x: torch.Tensor, eps: float = 1e-5, iterations: int = 10) -> Tuple[torch.Tensor, torch.Tensor]:
    """Mean ``(C,)`` and whitening matrix ``(C, C)`` of a batch ``(N, C, H, W)``, in ``x``'s dtype.

    Differentiable: gradients flow through the Newton iterations. They run
    in the coupled form ``T = (3I - Z Y) / 2``, ``Y <- Y T``, ``Z <- T Z``
    from ``Y = Sigma_N``, ``Z = I``: ``Z_k`` is the same polynomial in
    ``Sigma_N`` as ``P_k``, but rounding errors do not grow. The plain form
    blew up on the shapes CNN's conv3 (eigenvalues of the "whitened"
    covariance up to 1e5 after 10 steps in float32, 1e25 after 16 in
    float64). float64 keeps the small eigen-directions accurate.
    """
    c = x.shape[1]
    cols = x.transpose(0, 1).reshape(c, -1)
    mean = cols.mean(1)
    centred = cols - mean[:, None]
    sigma = (centred @ centred.T).double() / centred.shape[1]
    eye = torch.eye(c, dtype=torch.float64, device=x.device)
    sigma = sigma + eps * eye
    trace = sigma.diagonal().sum()
    sigma_n = sigma / trace
    y, z = sigma_n, eye
    for _ in range(iterations):
        t = 1.5 * eye - 0.5 * (z @ y)
        y, z = y @ t, t @ z
    return mean, (z / trace.sqrt()).to(x.dtype)


def axis_scores(maps: torch.Tensor, pool: int = 3) -> torch.Tensor:
    """One score per axis and image: the mean of the ``pool`` x ``pool`` max-pooled map.

    ``maps`` ``(N, C, H, W)`` -> ``(N, C)``. Pooling keeps a concept that
    covers part of the image from being averaged away by the rest;
    ``pool=0`` pools the whole map (its maximum), for concepts as small as
    one object in the picture.
    """
    if pool < 0:
        raise ValueError(f"expected pool >= 0 (0: the whole map), got {pool}")
    if pool == 0:
        return maps.amax((-2, -1))
    k = max(1, min(pool, maps.shape[-2], maps.shape[-1]))
    return F.max_pool2d(maps, k, k, ceil_mode=True).mean((2, 3))


def cayley_step(r: torch.Tensor, a: torch.Tensor, tau) -> torch.Tensor:
    """``(I + tau/2 A)^-1 (I - tau/2 A) R``: orthogonal whenever ``R`` is and ``A`` is skew."""
    eye = torch.eye(r.shape[0], dtype=r.dtype, device=r.device)
    return torch.linalg.solve(eye + (tau / 2) * a, (eye - (tau / 2) * a) @ r)


@dataclass(frozen=True)
class RotationStep:
    """What one rotation update did: the concept loss before and after, and the step size taken
    (0 when no step decreased the loss)."""

    loss_before: float
    loss_after: float
    tau: float
    tries: int


def _curvilinear_search(r, loss_fn, tau, c1, c2, max_tries) -> Tuple[torch.Tensor, RotationStep]:
    """Move ``r`` along the Cayley curve of steepest descent; never to a higher loss."""
    r = r.detach().requires_grad_(True)
    loss0 = loss_fn(r)
    (g,) = torch.autograd.grad(loss0, r)
    r = r.detach()
    a = g @ r.T - r @ g.T
    slope0 = -0.5 * float((a * a).sum())  # d/dtau loss(Y(tau)) at tau = 0
    before = float(loss0.detach())
    if slope0 == 0.0:
        return r, RotationStep(before, before, 0.0, 0)
    lo, hi = 0.0, float("inf")
    accepted: Optional[Tuple[torch.Tensor, float, float]] = None
    tries = 0
    for tries in range(1, max_tries + 1):
        t = torch.tensor(tau, dtype=r.dtype, device=r.device, requires_grad=True)
        y = cayley_step(r, a, t)
        loss = loss_fn(y)
        value = float(loss.detach())
        if value > before + c1 * tau * slope0:  # Armijo fails: the step is too long
            hi = tau
        else:
            accepted = (y.detach(), value, tau)
            (slope,) = torch.autograd.grad(loss, t)
            if float(slope) >= c2 * slope0:  # Wolfe curvature holds: long enough
                break
            lo = tau
        tau = 2.0 * tau if hi == float("inf") else 0.5 * (lo + hi)
    if accepted is None:  # Armijo with a negative slope: an accepted step never raises the loss
        return r, RotationStep(before, before, 0.0, tries)
    return accepted[0], RotationStep(before, accepted[1], accepted[2], tries)


class ConceptWhitening(nn.Module):
    """Drop-in replacement for ``nn.BatchNorm2d(num_features)`` with concept axes.

    ``concepts``: names of the concepts, axis ``j`` for ``concepts[j]`` (at
    most ``num_features``; the remaining axes are free). ``pool`` is how a
    concept example's map is scored (see ``axis_scores``). Training mode
    whitens with the batch's statistics and updates running ones
    (``momentum``); eval mode uses the running ones. Runs wherever its
    buffers are (``.to(device)``).
    """

    # buffers, registered in __init__
    running_mean: torch.Tensor
    running_whitening: torch.Tensor
    rotation: torch.Tensor

    def __init__(self, num_features: int, concepts: Sequence[str] = (), *, momentum: float = 0.05,
                 eps: float = 1e-5, iterations: int = 10, pool: int = 3):
        super().__init__()
        if isinstance(num_features, bool) or not isinstance(num_features, int) or num_features < 2:
            raise ValueError(f"expected num_features to be an integer >= 2, got {num_features!r}")
        concepts = [str(c) for c in concepts]
        if len(concepts) > num_features:
            raise ValueError(f"{len(concepts)} concepts need at least as many channels, "
                             f"but this layer has {num_features}")
        if len(set(concepts)) != len(concepts):
            raise ValueError(f"concept names must be distinct, got {concepts}")
        self.num_features = num_features
        self.concepts: List[str] = concepts
        self.momentum, self.eps, self.iterations, self.pool = float(momentum), float(eps), int(iterations), int(pool)
        self.register_buffer("running_mean", torch.zeros(num_features))
        self.register_buffer("running_whitening", torch.eye(num_features))
        self.register_buffer("rotation", torch.eye(num_features, dtype=torch.float64))
        self._last_tau = 1e-2  # where the next curvilinear search starts

    def extra_repr(self) -> str:
        return f"{self.num_features}, concepts={self.concepts}, momentum={self.momentum}"

    def get_extra_state(self):
        return {"concepts": list(self.concepts)}

    def set_extra_state(self, state) -> None:
        self.concepts = list(state.get("concepts", []))

    def _check(self, x: torch.Tensor) -> None:
        if x.ndim != 4 or x.shape[1] != self.num_features:
            raise ValueError(f"ConceptWhitening({self.num_features}) expects input shaped "
                             f"(N, {self.num_features}, H, W), got {tuple(x.shape)}")

    def statistics(self, x: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """(mean, whitening matrix) used for ``x``: the batch's in training mode, else the running ones."""
        if not self.training:
            return self.running_mean, self.running_whitening
        mean, w = newton_whitening(x, self.eps, self.iterations)
        with torch.no_grad():
            self.running_mean.lerp_(mean.detach().to(self.running_mean.dtype), self.momentum)
            self.running_whitening.lerp_(w.detach().to(self.running_whitening.dtype), self.momentum)
        return mean, w

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self._check(x)
        mean, w = self.statistics(x)
        m = self.rotation.to(x.dtype) @ w.to(x.dtype)  # rotate after whitening: one 1x1 convolution
        return F.conv2d(x, m[:, :, None, None], -(m @ mean.to(x.dtype)))

    def whiten(self, x: torch.Tensor) -> torch.Tensor:
        """The whitened input before the rotation, with the running statistics."""
        self._check(x)
        w = self.running_whitening.to(x.dtype)
        return F.conv2d(x, w[:, :, None, None], -(w @ self.running_mean.to(x.dtype)))

    def concept_index(self, name: str) -> int:
        if name not in self.concepts:
            raise KeyError(f"unknown concept {name!r}; this layer's concepts are {self.concepts}")
        return self.concepts.index(name)

    def concept_loss(self, whitened: Mapping[str, torch.Tensor], rotation: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Minus the mean pooled activation of each concept's examples on its own axis.

        ``whitened`` maps a concept name to its examples' whitened maps
        ``(n, C, H, W)`` (from ``whiten``); ``rotation`` defaults to the current one.
        """
        r = self.rotation if rotation is None else rotation
        terms = []
        for name, psi in whitened.items():
            j = self.concept_index(name)
            if psi.ndim != 4 or psi.shape[0] == 0:
                raise ValueError(f"concept {name!r} has no examples (expected whitened maps (n, C, H, W), "
                                 f"got {tuple(psi.shape)})")
            axis = torch.einsum("c,nchw->nhw", r[j], psi.to(r.dtype))[:, None]
            terms.append(axis_scores(axis, self.pool).mean())
        if not terms:
            raise ValueError("expected examples of at least one concept, got none")
        return -torch.stack(terms).mean()

    @torch.no_grad()
    def update_rotation(self, whitened: Mapping[str, torch.Tensor], tau: Optional[float] = None, c1: float = 1e-4,
                        c2: float = 0.9, max_tries: int = 12) -> RotationStep:
        """One Cayley step of the rotation towards the concepts (see ``concept_loss``).

        The search starts from ``tau``, by default from the step the last update took.
        """
        data = {k: v.detach().to(self.rotation.dtype) for k, v in whitened.items()}
        start = float(tau) if tau is not None else self._last_tau
        with torch.enable_grad():
            new, step = _curvilinear_search(self.rotation, lambda r: self.concept_loss(data, r),
                                            start, c1, c2, max_tries)
        self.rotation.copy_(new)
        if step.tau > 0:
            self._last_tau = step.tau
        return step


def concept_layers(model: nn.Module) -> Dict[str, ConceptWhitening]:
    """Every ``ConceptWhitening`` module of ``model``, by name."""
    return {n: m for n, m in model.named_modules() if isinstance(m, ConceptWhitening)}


def replace_batchnorm(model: nn.Module, name: str, concepts: Sequence[str] = (), **options) -> ConceptWhitening:
    """Swap the ``nn.BatchNorm2d`` called ``name`` for a ``ConceptWhitening`` of the same width, in place.

    Every other parameter and buffer stays as it was. The new module starts
    from the BN layer's running mean (its whitening from the running
    variance), on the BN layer's device, and in the model's training mode.
    Returns the new module.
    """
    from ..probe import get_module

    old = get_module(model, name)
    if not isinstance(old, nn.BatchNorm2d):
        raise ValueError(f"layer {name!r} is a {type(old).__name__}, not a BatchNorm2d; "
                         f"pick one of: {', '.join(n for n, m in model.named_modules() if isinstance(m, nn.BatchNorm2d))}")
    cw = ConceptWhitening(old.num_features, concepts, **options)
    with torch.no_grad():
        if old.running_mean is not None and old.running_var is not None:  # both exist or neither
            cw.running_mean.copy_(old.running_mean)
            cw.running_whitening.copy_(torch.diag((old.running_var + cw.eps).rsqrt()))
    ref = old.running_mean if old.running_mean is not None else old.weight
    if ref is not None:
        cw.to(ref.device)
    cw.train(old.training)
    parent_name, _, child = name.rpartition(".")
    parent = get_module(model, parent_name) if parent_name else model
    setattr(parent, child, cw)
    return cw


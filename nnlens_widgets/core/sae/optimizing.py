"""The optimisation loop of a TopK sparse autoencoder, on rows already read from a layer.

Rows are divided by ``scale`` here (the caller folds it back into the
biases afterwards), so one learning rate suits any layer. Each step:

- the loss is the batch's fraction of variance left unexplained, plus
  1/32 of the AuxK loss (Gao et al. 2024): the features that have not fired
  for ``resample_every`` steps try to reconstruct the residual with their
  own top ``k_aux``, so they get a gradient while dead;
- the decoder's gradient loses its component along each column before the
  step, and the columns are put back to unit norm after it;
- every ``resample_every`` steps (until 60% of the steps) features still
  dead get a new direction: the residual of a row drawn with probability
  proportional to its squared error, the encoder row along it at the live
  rows' mean norm, their optimiser moments reset;
- the learning rate falls linearly to zero over the last fifth of the steps.

Every random draw comes from ``generator``: the same call gives the same
weights bit for bit (same machine, same thread count).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional

import torch

from .autoencoder import SparseAutoencoder

__all__ = ["optimize", "LoopResult"]

RESAMPLE_UNTIL = 0.6  # no resampling after this share of the steps: new features need time to settle
DECAY_FROM = 0.8  # the learning rate decays to zero after this share of the steps
AUX_WEIGHT = 1 / 32


@dataclass
class LoopResult:
    steps: int = 0
    resampled: int = 0
    stopped: bool = False
    history: List[Dict[str, float]] = field(default_factory=list)


def _losses(sae: SparseAutoencoder, x: torch.Tensor, dead: torch.Tensor):
    """(loss, unexplained variance, kept values, reconstruction) of a normalised batch ``x``."""
    pre = (x - sae.b_dec) @ sae.W_enc.T + sae.b_enc
    values, indices = torch.topk(pre, sae.k, dim=-1, sorted=False)
    values = values.clamp_min(0)
    z = torch.zeros_like(pre).scatter(1, indices, values)
    recon = z @ sae.W_dec.T + sae.b_dec
    total = (x - x.mean(0)).pow(2).sum().clamp_min(1e-12)
    unexplained = (recon - x).pow(2).sum() / total
    loss = unexplained
    n_dead = int(dead.sum())
    if n_dead:
        residual = (x - recon).detach()
        k_aux = min(n_dead, max(sae.k, sae.dim // 2))
        aux_values, aux_indices = torch.topk(pre.masked_fill(~dead, float("-inf")), k_aux, dim=-1, sorted=False)
        z_aux = torch.zeros_like(pre).scatter(1, aux_indices, aux_values.clamp_min(0))
        loss = loss + AUX_WEIGHT * (z_aux @ sae.W_dec.T - residual).pow(2).sum() / total
    return loss, unexplained, values, indices, recon


def optimize(sae: SparseAutoencoder, rows: torch.Tensor, *, scale: float, steps: int, batch_size: int, lr: float,
             resample_every: int, generator: torch.Generator, report: Callable[[float, str], None],
             should_stop: Optional[Callable[[], bool]] = None) -> LoopResult:
    """Train ``sae`` (initialised, in normalised units) on ``rows / scale`` for ``steps`` steps."""
    device = sae.W_enc.device
    optimizer = torch.optim.Adam(sae.parameters(), lr=lr)
    last_fired = torch.zeros(sae.features, dtype=torch.long, device=device)
    result = LoopResult()
    order, cursor = torch.randperm(len(rows), generator=generator), 0
    log_every = max(1, steps // 100)
    for step in range(1, steps + 1):
        if should_stop is not None and should_stop():
            result.stopped = True
            break
        if cursor + batch_size > len(order) and cursor > 0:
            order, cursor = torch.randperm(len(rows), generator=generator), 0
        x = (rows[order[cursor:cursor + batch_size]] / scale).to(device)
        cursor += batch_size
        for group in optimizer.param_groups:
            group["lr"] = lr * min(1.0, (steps - step + 1) / max(1.0, (1 - DECAY_FROM) * steps))
        dead = step - last_fired > resample_every
        loss, unexplained, values, indices, recon = _losses(sae, x, dead)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        with torch.no_grad():
            w, g = sae.W_dec, sae.W_dec.grad
            assert g is not None
            g.sub_(w * (g * w).sum(0, keepdim=True))  # the unit-norm constraint would undo it
        optimizer.step()
        sae.normalize_decoder()
        last_fired[indices[values > 0]] = step
        result.steps = step
        if step % resample_every == 0 and step <= RESAMPLE_UNTIL * steps:
            stale = torch.nonzero(step - last_fired >= resample_every).flatten()
            if len(stale):
                result.resampled += _resample(sae, optimizer, stale, x, recon.detach(), generator)
                last_fired[stale] = step
        if step % log_every == 0 or step == steps:
            entry = dict(step=step, unexplained=float(unexplained.detach()),
                         l0=float((values > 0).sum(1).float().mean()), dead=int(dead.sum()))
            result.history.append(entry)
            report(step / steps, f"step {step}/{steps}: unexplained variance {entry['unexplained']:.4f}, "
                                 f"L0 {entry['l0']:.1f}, {entry['dead']} resting")
    return result


@torch.no_grad()
def _resample(sae: SparseAutoencoder, optimizer: torch.optim.Optimizer, dead: torch.Tensor, x: torch.Tensor,
              recon: torch.Tensor, generator: torch.Generator) -> int:
    """Point ``dead`` features at badly reconstructed rows of the batch ``x``; how many were moved."""
    residual = x - recon
    error = residual.pow(2).sum(1).double().cpu()
    if float(error.sum()) <= 0:
        return 0
    pick = torch.multinomial(error / error.sum(), len(dead), replacement=len(dead) > len(x), generator=generator)
    directions = residual[pick.to(x.device)]
    directions = directions / directions.norm(dim=1, keepdim=True).clamp_min(1e-12)
    alive = torch.ones(sae.features, dtype=torch.bool, device=x.device)
    alive[dead] = False
    norm = float(sae.W_enc[alive].norm(dim=1).mean()) if alive.any() else 1.0
    sae.W_dec[:, dead] = directions.T
    sae.W_enc[dead] = directions * norm
    sae.b_enc[dead] = 0.0
    for param, index in ((sae.W_enc, dead), (sae.b_enc, dead), (sae.W_dec, (slice(None), dead))):
        for moment in optimizer.state.get(param, {}).values():
            if isinstance(moment, torch.Tensor) and moment.shape == param.shape:
                moment[index] = 0.0
    return len(dead)

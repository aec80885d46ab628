"""Training a model with concept-whitening layers: main-task steps with rotation updates between.

``train_concept_whitening`` trains the model it is given (it is the one
function here meant to change a model). Every ``every`` main-task batches it
shows one batch of each concept to every concept-whitening layer and moves
that layer's rotation one Cayley step towards the concepts.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Dict, List, Mapping, Optional

import torch
import torch.nn.functional as F
from torch import nn

from .data import concept_tensors, main_batches
from .whitening import ConceptWhitening, RotationStep, concept_layers
from ..guard import hooked, looking_at
from ..inputs import model_device

__all__ = ["ConceptTraining", "train_concept_whitening", "whitened_concepts"]


@dataclass
class ConceptTraining:
    """What happened: mean main-task loss per epoch and every rotation step per layer."""

    main_loss: List[float] = field(default_factory=list)
    rotation_steps: Dict[str, List[RotationStep]] = field(default_factory=dict)
    stopped: bool = False


class _Reached(Exception):
    """Raised by a hook once the last concept-whitening layer has its input."""


def whitened_concepts(model: nn.Module, layers: Mapping[str, ConceptWhitening],
                      batches: Mapping[str, torch.Tensor]) -> Dict[str, Dict[str, torch.Tensor]]:
    """``{layer: {concept: whitened maps}}`` for one batch per concept, in eval mode.

    The forward pass stops once every layer in ``layers`` has seen its input.
    """
    out: Dict[str, Dict[str, torch.Tensor]] = {name: {} for name in layers}
    device = model_device(model)
    seen: Dict[str, torch.Tensor] = {}

    def capture(name):
        def hook(_m, args):
            seen[name] = args[0]
            if len(seen) == len(layers):
                raise _Reached()
        return hook

    with looking_at(model) as twin, hooked(twin, {n: capture(n) for n in layers}, pre=True), \
            torch.no_grad():
        for concept, images in batches.items():
            seen.clear()
            try:
                twin(images.to(device))
            except _Reached:
                pass
            for name, module in layers.items():
                if concept in module.concepts:
                    if name not in seen:
                        raise ValueError(f"layer {name!r} did not run in the forward pass")
                    out[name][concept] = module.whiten(seen[name])
    return out


def _cycling(images: torch.Tensor, size: int, generator: torch.Generator):
    """Endless batches of ``size`` examples, reshuffled after each pass."""
    while True:
        order = torch.randperm(len(images), generator=generator)
        for i in range(0, len(order), size):
            yield images[order[i:i + size]]


def train_concept_whitening(
    model: nn.Module,
    main_data,
    concept_data: Mapping,
    *,
    epochs: int = 1,
    every: int = 20,
    batch_size: int = 64,
    concept_batch: int = 32,
    optimizer: Optional[torch.optim.Optimizer] = None,
    lr: float = 1e-3,
    schedule: Optional[Callable[[torch.optim.Optimizer, int], torch.optim.lr_scheduler.LRScheduler]] = None,
    augment: Optional[Callable[[torch.Tensor, torch.Generator], torch.Tensor]] = None,
    seed: int = 0,
    tau: Optional[float] = None,
    progress: Optional[Callable[[float, str], None]] = None,
    should_stop: Optional[Callable[[], bool]] = None,
) -> ConceptTraining:
    """Fine-tune ``model`` (which holds ``ConceptWhitening`` layers) on the main task, aligning its axes.

    ``concept_data`` maps every concept named by the layers to example images.
    Cross-entropy on ``main_data`` with ``optimizer`` (default AdamW at
    ``lr``); after every ``every`` batches (and once before the first) each
    layer's rotation takes one Cayley step from one batch of
    ``concept_batch`` examples per concept. ``schedule(optimizer, total_batches)``
    may return a learning-rate scheduler, stepped after every batch (e.g.
    ``OneCycleLR``). ``progress(fraction, text)``
    after each batch; ``should_stop()`` is checked between batches. The model
    is left in eval mode.
    """
    layers = concept_layers(model)
    if not layers:
        raise ValueError("the model has no ConceptWhitening layer; add one with replace_batchnorm(model, name)")
    concepts = concept_tensors(concept_data)
    for name, module in layers.items():
        if not module.concepts:
            raise ValueError(f"layer {name!r} names no concepts; pass concepts=[...] to ConceptWhitening")
        missing = [c for c in module.concepts if c not in concepts]
        if missing:
            raise ValueError(f"layer {name!r} aligns concepts {missing} but concept_data has no examples of them "
                             f"(it has {sorted(concepts)})")
    if int(every) < 1 or int(epochs) < 1:
        raise ValueError(f"expected every >= 1 and epochs >= 1, got every={every}, epochs={epochs}")
    generator = torch.Generator().manual_seed(seed)
    batches, per_epoch = main_batches(main_data, int(batch_size), generator)
    streams = {c: _cycling(images, int(concept_batch), generator) for c, images in concepts.items()
               if any(c in m.concepts for m in layers.values())}
    optimizer = optimizer or torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-4)
    device = model_device(model)
    history = ConceptTraining(rotation_steps={n: [] for n in layers})

    def align():
        whitened = whitened_concepts(model, layers, {c: next(s) for c, s in streams.items()})
        for name, module in layers.items():
            history.rotation_steps[name].append(module.update_rotation(whitened[name], tau=tau))

    total = max(per_epoch, 1) * int(epochs)
    scheduler = schedule(optimizer, total) if schedule is not None else None
    done = 0
    try:
        for epoch in range(int(epochs)):
            losses = []
            for i, (x, y) in enumerate(batches):
                if should_stop is not None and should_stop():
                    history.stopped = True
                    return history
                if i % int(every) == 0:
                    align()
                model.train()
                x, y = x.to(device), y.to(device)
                if augment is not None:
                    x = augment(x, generator)
                loss = F.cross_entropy(model(x), y)
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                if scheduler is not None:
                    scheduler.step()
                losses.append(float(loss.detach()))
                done += 1
                if progress is not None:
                    progress(min(done / total, 1.0) if per_epoch else 0.0,
                             f"epoch {epoch + 1}/{epochs}, batch {i + 1}: loss {losses[-1]:.3f}")
            history.main_loss.append(sum(losses) / max(len(losses), 1))
        align()
    finally:
        model.eval()
    return history

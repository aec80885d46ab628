"""The training loop and helpers shared by the demo classifiers.

One place for the recipe every shipped CNN uses: seeded initialisation that
leaves the caller's RNG alone, a private generator for batch order and
augmentation, a one-cycle learning-rate schedule, and accuracy in eval mode.
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Callable, Optional, TypeVar

import torch
import torch.nn.functional as F
from torch import nn

from ..core.guard import looking_at

__all__ = ["accuracy", "seeded", "fit_classifier", "load_weights", "save_weights", "retrain", "epoch_printer"]

M = TypeVar("M", bound=nn.Module)  # the zoo model a function is given and gives back


def accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size: int = 250) -> float:
    """Fraction of ``x`` classified as ``y``; the model's train/eval flags are left as found."""
    correct = 0
    with looking_at(model) as m, torch.no_grad():
        for i in range(0, len(x), batch_size):
            correct += (m(x[i : i + batch_size]).argmax(1) == y[i : i + batch_size]).sum().item()
    return correct / max(len(x), 1)


def seeded(factory: Callable[[], M], seed: int) -> M:
    """Build a model from a seeded copy of the global RNG (the caller's state is kept)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return factory()


def fit_classifier(
    model: M,
    data,
    epochs: int,
    batch_size: int,
    optimizer: torch.optim.Optimizer,
    generator: torch.Generator,
    augment: Optional[Callable[[torch.Tensor, torch.Generator], torch.Tensor]] = None,
    on_progress: Optional[Callable[[int, float, float], None]] = None,
) -> M:
    """Cross-entropy training on ``data.x_train`` / ``y_train`` with a one-cycle schedule.

    Batch order and ``augment(x, generator)`` draw only from ``generator``, so
    the same seed gives bit-identical weights on the same machine and thread
    count. ``on_progress(epoch, mean_loss, test_accuracy)`` after each epoch.
    Returns the model in eval mode.
    """
    steps = (len(data.x_train) + batch_size - 1) // batch_size
    lr = optimizer.param_groups[0]["lr"]
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, lr, epochs=epochs, steps_per_epoch=steps)
    for epoch in range(1, epochs + 1):
        model.train()
        order = torch.randperm(len(data.x_train), generator=generator)
        total = 0.0
        for i in range(0, len(order), batch_size):
            batch = order[i : i + batch_size]
            x = data.x_train[batch]
            if augment is not None:
                x = augment(x, generator)
            loss = F.cross_entropy(model(x), data.y_train[batch])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            schedule.step()
            total += loss.item() * len(batch)
        if on_progress is not None:
            on_progress(epoch, total / len(order), accuracy(model, data.x_test, data.y_test))
    return model.eval()


def load_weights(model: M, path: Path) -> M:
    """Load a shipped state dict (tensors only: ``weights_only=True``); eval mode."""
    model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    return model.eval()


def save_weights(model: nn.Module, path: Path) -> None:
    """Write a shipped state dict (what ``load_weights`` reads) and say where."""
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(model.state_dict(), path)
    print(f"wrote {path} ({path.stat().st_size / 1024:.1f} KiB)")


def epoch_printer(elapsed: Callable[[], float]) -> Callable[[int, float, float], None]:
    """An ``on_progress`` for ``fit_classifier`` that prints each epoch's loss, test accuracy and ``elapsed()``."""

    def report(epoch: int, loss: float, acc: float) -> None:
        print(f"epoch {epoch:2d}  loss {loss:.4f}  test accuracy {acc:.4f}  ({elapsed():.0f} s)", flush=True)

    return report


def retrain(
    train: Callable[[Callable[[], float]], M],
    save: Callable[[M], None],
    summary: Callable[[M], str],
    what: str = "training",
) -> None:
    """What a zoo module does when run as a script: train, save, then say how good and how long.

    ``train(elapsed)`` builds the model (``elapsed()`` gives the seconds since
    the start, for progress lines); ``save(model)`` writes the shipped weights;
    ``summary(model)`` is printed after saving (it may read the saved weights
    back), then the wall and CPU time ``what`` took (to the end of ``train``).
    """
    start, cpu_start = time.perf_counter(), time.process_time()
    model = train(lambda: time.perf_counter() - start)
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu_start
    save(model)
    print(summary(model))
    print(f"{what} took {elapsed:.1f} s on {torch.get_num_threads()} threads ({cpu:.1f} s of CPU time)")

"""A trainer as a plain, JSON-ready dict, and back, bit for bit.

Every float32 tensor becomes a nested list of Python floats (exact: a
float32 is a double without loss), the batch generator's state a list of
bytes, so ``json.dumps`` of the dict and back restores the same run: the
same weights now, the same first weights for ``rewind``, and the same next
mini-batches.
"""
from __future__ import annotations

from typing import Any, Dict

import torch

from .history import LossHistory
from .trainer import Trainer

__all__ = ["STATE_VERSION", "restore_trainer", "trainer_state"]

STATE_VERSION = 1


def trainer_state(trainer: Trainer) -> Dict[str, Any]:
    """What a ``Trainer`` needs to go on exactly where it is (its data aside)."""
    with trainer.lock:
        return {
            "hidden": list(trainer.hidden),
            "activations": list(trainer.activations),
            "learning_rate": trainer.learning_rate,
            "batch_size": trainer.batch_size,
            "regularization": trainer.regularization,
            "reg_rate": trainer.reg_rate,
            "seed": trainer.seed,
            "steps": trainer.steps,
            "first": [p.tolist() for p in trainer._first],
            "now": [p.detach().tolist() for p in trainer.net.parameters()],
            "batches": trainer._batches.get_state().tolist(),
            "order": None if trainer._order is None else trainer._order.tolist(),
            "cursor": trainer._cursor,
            "history": trainer.history.to_dict(),
        }


def restore_trainer(trainer: Trainer, state: Dict[str, Any]) -> None:
    """Put ``trainer`` (built on the same data, architecture and seed) where ``state`` says."""
    with trainer.lock:
        if list(trainer.hidden) != list(state["hidden"]):
            raise ValueError(f"the state is of hidden layers {state['hidden']}, this network has {list(trainer.hidden)}")
        params = list(trainer.net.parameters())
        for key in ("first", "now"):
            if len(state[key]) != len(params):
                raise ValueError(f"expected {len(params)} parameter tensors in the state's {key!r}, "
                                 f"got {len(state[key])}")
        trainer.set(learning_rate=state["learning_rate"], batch_size=state["batch_size"],
                    regularization=state["regularization"], reg_rate=state["reg_rate"])
        for i, name in enumerate(state["activations"], start=1):
            trainer.set_activation(i, name)
        trainer._first = [torch.tensor(v, dtype=torch.float32).reshape(p.shape) for v, p in zip(state["first"], params)]
        with torch.no_grad():
            for p, v in zip(params, state["now"]):
                p.copy_(torch.tensor(v, dtype=torch.float32).reshape(p.shape))
        trainer._batches.set_state(torch.tensor(state["batches"], dtype=torch.uint8))
        trainer._order = None if state["order"] is None else torch.tensor(state["order"], dtype=torch.int64)
        trainer._cursor = int(state["cursor"])
        trainer.steps = int(state["steps"])
        trainer.history = LossHistory.from_dict(state["history"])

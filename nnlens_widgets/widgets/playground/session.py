"""A playground session as a plain dict (``Playground.state()``), and a playground made from one.

The dict holds the settings, the points as they are now (clicks
included), your own points and their map when there are any, and the
trainer's state (``core.playground.trainer_state``): weights now, first
weights, the batch generator and the loss history, so the restored
playground shows the same pictures and trains on exactly as the saved one
would have.
"""
from __future__ import annotations

from typing import Any, Dict

import numpy as np
import torch

from ...core.playground import OWN, STATE_VERSION, PointSet, restore_trainer, trainer_state

__all__ = ["playground_state", "restore_session"]

SETTINGS = ("dataset", "noise", "classes", "test_fraction", "seed", "learning_rate", "batch_size",
            "regularization", "reg_rate", "point_class", "click_removes")


def _version() -> str:
    from ..._version import __version__

    return __version__


def playground_state(widget, trainer, source) -> Dict[str, Any]:
    data = trainer.data
    return {
        "widget": "Playground",
        "version": STATE_VERSION,
        "nnlens_widgets": _version(),
        "torch": torch.__version__,
        "settings": {name: getattr(widget, name) for name in SETTINGS},
        "hidden": list(trainer.hidden),
        "activation": widget.activation if isinstance(widget.activation, str) else list(widget.activation),
        "data": {"points": data.points.tolist(), "labels": data.labels.tolist(), "test": data.test.tolist(),
                 "names": list(data.names)},
        "own": None if source.own is None else {
            "points": source.own[0].tolist(), "labels": source.own[1].tolist(), "names": list(source.own[2]),
            "extent": list(source.own_extent)},
        "trainer": trainer_state(trainer),
    }


def restore_session(cls, state: Dict[str, Any], **kwargs):
    if not isinstance(state, dict) or state.get("widget") != "Playground":
        raise ValueError("expected a dict made by Playground.state()")
    if state.get("version") != STATE_VERSION:
        raise ValueError(f"expected a playground state of version {STATE_VERSION}, got {state.get('version')!r}")
    settings = dict(state["settings"])
    own = state["own"]
    names = state["data"]["names"]
    pg = cls(points=None if own is None else np.asarray(own["points"], dtype=np.float32),
             labels=None if own is None else np.asarray(own["labels"]),
             classes=list(own["names"]) if own is not None else list(names),
             dataset=settings["dataset"], hidden=state["hidden"], activation=state["activation"],
             learning_rate=settings["learning_rate"], batch_size=settings["batch_size"],
             regularization=settings["regularization"], reg_rate=settings["reg_rate"], noise=settings["noise"],
             test_fraction=settings["test_fraction"], seed=settings["seed"], **kwargs)
    try:
        if own is not None:
            pg._source.own_extent = tuple(float(v) for v in own["extent"])
        data = state["data"]
        points = PointSet(np.asarray(data["points"], dtype=np.float32).reshape(-1, 2),
                          np.asarray(data["labels"], dtype=np.int64), np.asarray(data["test"], dtype=bool),
                          tuple(data["names"]))
        with pg._turns:
            if settings["dataset"] == OWN:
                pg._trainer = pg._new_trainer()  # with the saved map's scale
            pg._trainer.set_data(points)
            restore_trainer(pg._trainer, state["trainer"])
            pg._scene = pg._new_scene()
        with pg.hold_trait_notifications():
            pg.point_class, pg.click_removes = settings["point_class"], settings["click_removes"]
        pg.refresh()
        pg.wait(60)
    except BaseException:
        pg.close()
        raise
    return pg

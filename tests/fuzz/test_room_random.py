"""Background work never moves the user's random streams.

A user who seeds torch and trains in the kernel must draw the same numbers
whether or not nnlens is drawing random numbers in other threads (the
sanity check's re-initialised layers, a fresh synapse vector, SmoothGrad's
noise, LIME's samples, feature visualisation, random baselines and
directions, concept training). The main thread draws 30,000 numbers after
``torch.manual_seed`` while all of that runs; the numbers must equal a run
with nothing else going on.

Every place where work re-initialises a layer goes through a module whose
``reset_parameters`` stops and lets the main thread draw, so code that
seeds the global generator there (``fork_rng`` + ``manual_seed``) is caught
whatever the timing: the main thread's draws then come from the seeded
state and are rewound afterwards.
"""
from __future__ import annotations

import queue
import random
import threading
from typing import Callable, Dict, List

import numpy as np
import torch
from torch import nn

import nnlens_widgets as nl
from nnlens_widgets.core import ModelSnapshot, hook_count
from tests.models import TinyNet, image

core = nl.core
DRAWS = 30_000


class Rendezvous:
    """A worker stops at ``pause()`` until the main thread has drawn numbers (``serve``)."""

    def __init__(self):
        self.requests: "queue.Queue[threading.Event]" = queue.Queue()
        self.paused = 0

    def pause(self) -> None:
        resume = threading.Event()
        self.requests.put(resume)
        resume.wait()

    def serve(self, workers: List[threading.Thread], draw: Callable[[int], None]) -> None:
        while any(w.is_alive() for w in workers):
            try:
                resume = self.requests.get(timeout=0.01)
            except queue.Empty:
                continue
            draw(97)  # inside the worker's critical section
            self.paused += 1
            resume.set()


RENDEZVOUS = Rendezvous()


class PausingLinear(nn.Linear):
    """A linear layer whose ``reset_parameters`` lets the main thread draw (once armed)."""

    armed = False

    def reset_parameters(self) -> None:
        if self.armed:
            RENDEZVOUS.pause()
        super().reset_parameters()


def _armed(model: nn.Module) -> nn.Module:
    for m in model.modules():
        if isinstance(m, PausingLinear):
            m.armed = True
    return model


def _classifier() -> nn.Module:
    torch.manual_seed(0)  # the test's own models; built before the user's seeded stream starts
    model = TinyNet().eval()
    model.fc = PausingLinear(24, 5)
    return _armed(model)


def _painter() -> nn.Module:
    torch.manual_seed(1)
    return _armed(nn.Sequential(PausingLinear(2, 6), nn.Tanh(), PausingLinear(6, 3), nn.Tanh()))


def _concept_model():
    torch.manual_seed(2)
    model = nn.Sequential(nn.Conv2d(3, 6, 3, padding=1), nn.BatchNorm2d(6), nn.ReLU(), nn.AdaptiveAvgPool2d(1),
                          nn.Flatten(), nn.Linear(6, 2))
    core.replace_batchnorm(model, "1", ["red", "green"])
    g = torch.Generator().manual_seed(3)
    x = torch.rand(32, 3, 8, 8, generator=g)
    y = (x[:, 0].mean((1, 2)) > x[:, 1].mean((1, 2))).long()
    red, green = torch.rand(8, 3, 8, 8, generator=g), torch.rand(8, 3, 8, 8, generator=g)
    red[:, 0] += 1
    green[:, 1] += 1
    return model, (x, y), {"red": red, "green": green}


def _jobs(x: torch.Tensor) -> Dict[str, Callable[[], object]]:
    """Every kind of background work that draws random numbers, each on its own models."""
    sanity_model, trust_model, smooth_model, lime_model, vis_model = (_classifier() for _ in range(5))
    painter = _painter()
    space = core.SynapseSpace(painter)
    concept_model, main_data, concepts = _concept_model()
    watched = [sanity_model, trust_model, smooth_model, lime_model, vis_model, painter]

    return {
        "cascading randomisation": lambda: core.metrics.cascading_randomization(sanity_model, x, "gradient", 0),
        "trust report": lambda: core.metrics.trust_report(trust_model, x, "gradient", 1, steps=4),
        "fresh synapse vector": lambda: [space.initial(seed) for seed in (0, 1, 2)],
        "smoothgrad": lambda: core.smoothgrad(smooth_model, x, target=0, samples=6),
        "lime": lambda: core.lime(lime_model, x, 0, samples=40, segmentation="slic"),
        "feature visualisation, seeded": lambda: core.optimize_image(vis_model, "conv2:1", steps=3, input_size=16),
        "feature visualisation, unseeded": lambda: core.optimize_image(vis_model, "conv2:2", steps=3, input_size=16,
                                                                       seed=None),
        "random baselines": lambda: (core.make_baseline(x[None], "uniform", seed=4), core.metrics.random_map(x, 5)),
        "random direction": lambda: core.random_direction(6, seed=7),
        "concept training": lambda: core.train_concept_whitening(concept_model, main_data, concepts, every=1,
                                                                 batch_size=8, concept_batch=4),
    }, watched


def test_background_work_leaves_the_users_random_stream_alone():
    x = image()
    jobs, watched = _jobs(x)
    snaps = [ModelSnapshot.of(m) for m in watched]
    np_state, py_state = np.random.get_state(), random.getstate()

    torch.manual_seed(1234)
    reference = torch.rand(DRAWS)

    torch.manual_seed(1234)
    drawn: List[torch.Tensor] = []

    def draw(n: int) -> None:
        drawn.append(torch.rand(min(n, DRAWS - sum(len(d) for d in drawn))))

    draw(10_000)
    errors: Dict[str, BaseException] = {}
    results: Dict[str, object] = {}

    def run(name: str, job: Callable[[], object]) -> None:
        try:
            results[name] = job()
        except BaseException as e:  # noqa: BLE001 - reported by the assertion below
            errors[name] = e

    workers = [threading.Thread(target=run, args=item, name=f"nnlens-test-{item[0]}") for item in jobs.items()]
    for w in workers:
        w.start()
    RENDEZVOUS.serve(workers, draw)
    for w in workers:
        w.join()
    draw(DRAWS)  # the rest, after every worker is done

    assert errors == {}
    ours = torch.cat(drawn)
    assert len(ours) == DRAWS
    first_difference = int((ours != reference).nonzero()[0]) if not torch.equal(ours, reference) else None
    assert first_difference is None, f"the user's draws differ from number {first_difference} on"
    # the other global streams too
    assert random.getstate() == py_state
    state = np.random.get_state()
    assert state[0] == np_state[0] and np.array_equal(state[1], np_state[1]) and state[2:] == np_state[2:]
    # the work did draw: seeded results repeat, and every layer was re-initialised
    sanity = results["cascading randomisation"]
    assert len(sanity.steps) == len(core.metrics.randomizable_layers(watched[0]))
    again = core.metrics.cascading_randomization(watched[0], x, "gradient", 0)
    assert all(np.array_equal(a.map, b.map) for a, b in zip(sanity.steps, again.steps))
    vectors = results["fresh synapse vector"]
    assert not torch.equal(vectors[0], vectors[1]) and torch.equal(vectors[0], core.SynapseSpace(watched[-1]).initial(0))
    for m, snap in zip(watched, snaps):
        assert ModelSnapshot.of(m).differences(snap) == {} and hook_count(m) == 0


def test_a_fresh_synapse_vector_is_what_reset_parameters_gives_after_seeding():
    """The generator-driven initialisation draws exactly what a module's own reset would."""
    painter = nn.Sequential(nn.Linear(2, 6), nn.Tanh(), nn.Linear(6, 3), nn.Tanh())
    space = core.SynapseSpace(painter)
    expected = nn.Sequential(nn.Linear(2, 6), nn.Tanh(), nn.Linear(6, 3), nn.Tanh())
    with torch.random.fork_rng(devices=[]):  # the test's reference only: the library never seeds globally
        torch.manual_seed(11)
        for layer in (expected[0], expected[2]):
            layer.reset_parameters()
    flat = torch.cat([p.detach().reshape(-1) for p in expected.parameters()])
    assert torch.equal(space.initial(11), flat)

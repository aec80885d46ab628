"""Widgets under stress: rapid changes, refresh/stop cycles, several threads, many widgets.

Each case ends in a checked state: the traits, their controls and the drawn
pictures agree (pictures compared with a widget built fresh at the final
settings, maps with the core computing them directly), no thread is left
behind, and the model is bit-identical with no hook left.
"""
from __future__ import annotations

import gc
import random
import threading
import weakref

import numpy as np
import pytest
import torch
import traitlets

import nnlens_widgets as nl
from nnlens_widgets.core import ModelSnapshot, hook_count
from tests.fuzz.widget_models import WIDGETS, X, build, digits, resident_bytes, run_in_threads, tiny, workers

REFUSED = (ValueError, KeyError, traitlets.TraitError)


def _apply(w, changes) -> None:
    """Set each (trait, value) in turn; refused values are part of the fuzz and are skipped."""
    for trait, value in changes:
        try:
            setattr(w, trait, value)
        except REFUSED:
            pass


def _controls_agree(w, *traits) -> None:
    for trait in traits:
        assert w.controls[trait].value == getattr(w, trait), f"{trait}: control and trait disagree"


def _same_picture(a, b) -> bool:
    return a is not None and b is not None and a.shape == b.shape and np.array_equal(a, b)


# -- 1,000 rapid changes on one widget ------------------------------------------------------------
def _grid_changes(rng):
    layers = ["conv1", "conv2", "bn", "relu2", "fc", "nope"]
    pick = [lambda: ("layer", rng.choice(layers)), lambda: ("channel", rng.randint(-1, 6)),
            lambda: ("normalization", rng.choice(["channel", "shared"]))]
    return [rng.choice(pick)() for _ in range(1000)]


def _check_grid(w, model):
    _controls_agree(w, "layer", "channel", "normalization")
    assert w.controls["channel"].max == w.channels - 1
    fresh = nl.ActivationGrid(model, X, layer=w.layer)
    fresh.normalization, fresh.channel = w.normalization, w.channel
    assert _same_picture(w.frame, fresh.frame)
    assert (w.detail_frame is None) == (fresh.detail_frame is None)
    if w.detail_frame is not None:
        assert _same_picture(w.detail_frame, fresh.detail_frame)
    fresh.close()


def _occlusion_changes(rng):
    pick = [lambda: ("window", rng.randint(0, 13)), lambda: ("stride", rng.randint(0, 13)),
            lambda: ("target", rng.randint(0, 5)), lambda: ("score", rng.choice(["probability", "logit"]))]
    return [rng.choice(pick)() for _ in range(1000)]


def _check_occlusion(w, model):
    _controls_agree(w, "window", "stride", "target", "score")
    assert w.heatmap is not None, "the last settings' map was never finished"
    score = w.target if w.score == "logit" else (lambda out, c=w.target: out.float().softmax(1)[:, c])
    ref = nl.core.occlusion(model, X, score, window=w.window, stride=w.stride)
    assert torch.allclose(w.heatmap, ref.reshape(-1, *w.heatmap.shape).mean(0), atol=1e-5)
    fresh = nl.OcclusionExplorer(model, X, window=w.window, stride=w.stride, target=w.target, score=w.score)
    assert fresh.wait(30)
    assert _same_picture(w.frame, fresh.frame)
    fresh.close()


def _filter_changes(rng):
    pick = [lambda: ("layer", rng.choice(["conv1", "conv2", "fc"])), lambda: ("channel", rng.randint(-1, 6)),
            lambda: ("in_channel", rng.randint(-1, 4)), lambda: ("mode", rng.choice(["color", "channels"]))]
    return [rng.choice(pick)() for _ in range(1000)]


def _check_filters(w, model):
    _controls_agree(w, "layer", "channel", "in_channel")
    fresh = nl.FilterGrid(model, layer=w.layer)
    _apply(fresh, [("mode", w.mode), ("channel", w.channel), ("in_channel", w.in_channel)])
    assert (fresh.mode, fresh.channel, fresh.in_channel) == (w.mode, w.channel, w.in_channel)
    assert _same_picture(w.frame, fresh.frame) and _same_picture(w.detail_frame, fresh.detail_frame)
    fresh.close()


def _saliency_changes(rng):
    pick = [lambda: ("target", rng.randint(0, 5)),
            lambda: ("sign", rng.choice(["absolute", "both", "positive"])),
            lambda: ("opacity", rng.choice([0.0, 0.3, 1.0, 7.0])),
            lambda: ("clip_percentile", rng.choice([40, 90, 99.5]))]
    return [rng.choice(pick)() for _ in range(1000)]


def _check_saliency(w, model):
    _controls_agree(w, "target", "sign", "opacity", "clip_percentile")
    assert [k for k in w.offered if w.controls[f"methods.{k}"].value] == w.methods
    assert set(w.maps) == {"gradient", "grad_cam"}
    ref = nl.core.gradient(model, X, w.target)
    assert torch.allclose(torch.as_tensor(w.maps["gradient"]).reshape(ref.shape).float(), ref.float(), atol=1e-6)
    fresh = nl.SaliencyExplorer(model, X, methods=["gradient", "grad_cam"], target=w.target)
    _apply(fresh, [("sign", w.sign), ("opacity", w.opacity), ("clip_percentile", w.clip_percentile)])
    assert fresh.wait(30)
    assert _same_picture(w.frame, fresh.frame)
    fresh.close()


def _ablation_changes(rng):
    pick = [lambda: ("off", rng.sample(range(6), rng.randint(0, 3))), lambda: ("channel", rng.randint(-1, 6)),
            lambda: ("target", rng.randint(0, 5)), lambda: ("off", [7])]
    return [rng.choice(pick)() for _ in range(1000)]


def _check_ablation(w, model):
    _controls_agree(w, "target")  # the channel is picked on the grid: no control of its own
    fresh = nl.NeuronAblation(model, X, layer="conv2")
    _apply(fresh, [("off", list(w.off)), ("channel", w.channel), ("target", w.target)])
    assert fresh.wait(30) and fresh.off == w.off
    assert np.allclose(w.probabilities[1], fresh.probabilities[1], atol=1e-6)
    assert _same_picture(w.frame, fresh.frame)
    fresh.close()


RAPID = {
    "ActivationGrid layer-channel-normalization": ("ActivationGrid", _grid_changes, _check_grid),
    "OcclusionExplorer window-stride-target-score": ("OcclusionExplorer", _occlusion_changes, _check_occlusion),
    "FilterGrid layer-channel-in_channel-mode": ("FilterGrid", _filter_changes, _check_filters),
    "SaliencyExplorer target-sign-opacity-clip": ("SaliencyExplorer", _saliency_changes, _check_saliency),
    "NeuronAblation off-channel-target": ("NeuronAblation", _ablation_changes, _check_ablation),
}


@pytest.mark.parametrize("case", list(RAPID))
def test_a_thousand_rapid_changes_end_in_a_consistent_state(case):
    name, changes, check = RAPID[case]
    model = tiny()
    snap = ModelSnapshot.of(model)
    w = build(name, model)
    _apply(w, changes(random.Random(case)))
    assert w.wait(60) and w.error is None, w.error
    check(w, model)
    w.close()
    assert ModelSnapshot.of(model).differences(snap) == {} and hook_count(model) == 0


# -- 20 refresh/stop cycles ------------------------------------------------------------------------
def _done_occlusion(w, model):
    return w.heatmap is not None


def _done_saliency(w, model):
    return set(w.maps) == {"gradient", "grad_cam"}


def _done_features(w, model):
    return w.result() is not None and not w.running


@pytest.mark.parametrize("name, done", [("OcclusionExplorer", _done_occlusion), ("SaliencyExplorer", _done_saliency),
                                        ("FeatureVisualizer", _done_features)], ids=lambda v: getattr(v, "__name__", v))
def test_twenty_refresh_stop_cycles_leave_one_worker_and_a_working_widget(name, done):
    before_workers, before_threads = workers(), threading.active_count()
    model = WIDGETS[name][0]()
    snap = ModelSnapshot.of(model)
    w = build(name, model)
    for _ in range(20):
        w.refresh()
        w.stop()
    assert w.wait(30) and w.error is None
    assert len(workers() - before_workers) <= 1  # at most this widget's own worker
    w.refresh()
    assert w.wait(60) and w.error is None and done(w, model)
    w.close()
    assert workers() <= before_workers and threading.active_count() <= before_threads
    assert ModelSnapshot.of(model).differences(snap) == {} and hook_count(model) == 0


# -- several threads at once ------------------------------------------------------------------------
def test_three_threads_drive_widgets_on_one_model_at_once():
    torch.manual_seed(0)
    model = tiny().train()  # the user's mode: each widget looks at an eval-mode twin
    flags = [m.training for m in model.modules()]
    snap = ModelSnapshot.of(model)
    made = {}

    def grids():
        w = made["grid"] = nl.ActivationGrid(model, X, layer="conv1")
        _apply(w, _grid_changes(random.Random(1))[:300])
        assert w.wait(60)

    def occlusion():
        w = made["occlusion"] = nl.OcclusionExplorer(model, X, window=4, stride=4, autorun=False)
        for window in (2, 3, 5, 6, 4):
            w.window = window
            w.refresh()
            assert w.wait(60)

    def saliency():
        w = made["saliency"] = nl.SaliencyExplorer(model, X, methods=["gradient", "grad_cam"], autorun=False)
        for target in (1, 2, 3, 0):
            w.target = target
            assert w.wait(60)

    run_in_threads(grids, occlusion, saliency)
    assert [m.training for m in model.modules()] == flags
    assert ModelSnapshot.of(model).differences(snap) == {} and hook_count(model) == 0
    eval_twin = tiny().eval()
    eval_twin.load_state_dict(model.state_dict())
    for w in made.values():
        assert w.error is None, w.error
    _check_grid(made["grid"], eval_twin)
    _check_occlusion(made["occlusion"], eval_twin)
    _check_saliency(made["saliency"], eval_twin)
    for w in made.values():
        w.close()


def test_three_threads_drive_one_widget_at_once():
    model = tiny()
    w = build("ActivationGrid", model)
    run_in_threads(*[lambda seed=seed: _apply(w, _grid_changes(random.Random(seed))[:400]) for seed in range(3)])
    assert w.wait(60)
    _check_grid(w, model)  # whatever order the changes landed in, one consistent state
    w.close()


# -- many widgets created and closed -------------------------------------------------------------------
def test_fifty_five_widgets_created_and_closed_free_their_threads_and_memory():
    digits()  # the zoo's data, loaded once for the process, is not the widgets' memory
    for name in WIDGETS:  # warm-up: imports and first allocations of every kind
        build(name).close()
    gc.collect()
    threads, rss = threading.active_count(), resident_bytes()
    idle_before = workers()  # earlier tests' open widgets, whose workers end after 30 s idle
    refs = []
    for round_ in range(5):
        for name in WIDGETS:
            w = build(name)
            if name in ("OcclusionExplorer", "SaliencyExplorer"):
                w.refresh()  # a worker thread to end, mid-work
            refs.append(weakref.ref(w))
            w.close()
            del w
    gc.collect()
    assert [r for r in refs if r() is not None] == []
    assert threading.active_count() <= threads
    assert not workers() - idle_before
    growth = resident_bytes() - rss
    assert growth < 200 * 2**20, f"resident memory grew by {growth / 2**20:.0f} MiB over {len(refs)} widgets"

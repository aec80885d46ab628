"""Two threads change one widget at once: the last values win, whatever the interleaving.

Each case forces one interleaving instead of hoping for it: thread A's change
is held at a chosen point (after its value was validated, after it was stored,
or just before the widget's own observer runs) until thread B's change is
complete or B waits for the widget (A holds it), then A goes on. Afterwards
the traits, their controls and the pictures agree with a widget built fresh
at the final settings, and the model is bit-identical with no hook left.
"""
from __future__ import annotations

import threading

import pytest
import traitlets

from nnlens_widgets.core import ModelSnapshot, hook_count
from tests.fuzz.test_widget_stress import (_check_ablation, _check_filters, _check_grid, _check_occlusion,
                                           _check_saliency, _controls_agree)
from tests.fuzz.widget_models import build, tiny

REFUSED = (ValueError, KeyError, traitlets.TraitError)
POINTS = ("validated", "stored", "observed")


class _WatchedLock:
    """The widget's lock, telling ``on_wait`` when a thread has to wait for it."""

    def __init__(self, lock, on_wait):
        self.lock, self.on_wait = lock, on_wait

    def acquire(self, blocking=True, timeout=-1):
        if self.lock.acquire(blocking=False):
            return True
        self.on_wait()
        return self.lock.acquire(blocking, timeout)

    def release(self):
        self.lock.release()

    def __enter__(self):
        return self.acquire()

    def __exit__(self, *exc):
        self.release()


def _hold_at(w, trait, point, hold):
    """Make ``hold()`` run at ``point`` of every change of ``trait``; returns the undo."""
    if point == "validated":
        validators = w._trait_validators
        original = validators.get(trait)  # an Enum trait has none of its own

        def validated(obj, proposal):
            value = proposal["value"] if original is None else original(obj, proposal)
            hold()
            return value

        validators[trait] = validated
        return lambda: validators.__setitem__(trait, original) if original else validators.pop(trait)
    observers = w._trait_notifiers[trait]["change"]

    def held(_change):
        hold()

    # "stored": before every observer (the control's too); "observed": just before the widget's own one
    observers.insert(0 if point == "stored" else len(observers) - 1, held)
    return lambda: observers.remove(held)


def interleave(w, first, second, point):
    """Thread A sets ``first`` (trait, value), held at ``point`` while thread B sets ``second``."""
    a_held, b_done = threading.Event(), threading.Event()
    threads = {}
    errors = []

    def hold():
        if threading.current_thread() is threads["a"] and not a_held.is_set():
            a_held.set()
            assert b_done.wait(30), "thread B never finished nor waited for the widget"

    def set_(change, done=None):
        try:
            setattr(w, *change)
        except REFUSED:
            pass
        except BaseException as exc:  # re-raised below
            errors.append(exc)
        finally:
            if done is not None:
                done.set()

    def b_waits():
        if threading.current_thread() is threads.get("b"):
            b_done.set()  # A holds the widget: B can only go on after it

    lock = w._lock
    w._lock = _WatchedLock(lock, b_waits)
    undo = _hold_at(w, first[0], point, hold)
    try:
        threads["a"] = threading.Thread(target=set_, args=(first,))
        threads["a"].start()
        assert a_held.wait(30), f"setting {first} never reached the point {point!r}"
        threads["b"] = threading.Thread(target=set_, args=(second, b_done))
        threads["b"].start()
        for t in threads.values():
            t.join(60)
        assert not any(t.is_alive() for t in threads.values()), "a thread never finished"
    finally:
        undo()
        w._lock = lock
    if errors:
        raise errors[0]


# (widget, first change, second change, check against a fresh widget)
CASES = {
    "grid layer, layer": ("ActivationGrid", ("layer", "conv1"), ("layer", "fc"), _check_grid),
    "grid channel, layer": ("ActivationGrid", ("channel", 5), ("layer", "fc"), _check_grid),
    "grid normalization twice": ("ActivationGrid", ("normalization", "shared"), ("normalization", "channel"),
                                 _check_grid),
    "grid layer, channel": ("ActivationGrid", ("layer", "conv1"), ("channel", 3), _check_grid),
    "filters layer, layer": ("FilterGrid", ("layer", "conv1"), ("layer", "fc"), _check_filters),
    "filters channel, layer": ("FilterGrid", ("channel", 5), ("layer", "conv1"), _check_filters),
    "occlusion window twice": ("OcclusionExplorer", ("window", 3), ("window", 6), _check_occlusion),
    "saliency target twice": ("SaliencyExplorer", ("target", 2), ("target", 3), _check_saliency),
    "ablation target twice": ("NeuronAblation", ("target", 2), ("target", 4), _check_ablation),
}


@pytest.mark.parametrize("point", POINTS)
@pytest.mark.parametrize("case", list(CASES))
def test_two_threads_changing_one_widget_end_at_the_last_values(case, point):
    name, first, second, check = CASES[case]
    model = tiny()
    snap = ModelSnapshot.of(model)
    w = build(name, model)
    assert getattr(w, first[0]) != first[1] != second[1], "each change must change something"
    interleave(w, first, second, point)
    assert w.wait(60) and w.error is None, w.error
    check(w, model)
    w.close()
    assert ModelSnapshot.of(model).differences(snap) == {} and hook_count(model) == 0


def test_a_stale_change_never_draws_over_a_newer_one():
    """The layer drawn is the layer the trait and its dropdown say, after an older change lands last."""
    model = tiny()
    w = build("ActivationGrid", model)
    interleave(w, ("layer", "conv1"), ("layer", "fc"), "observed")
    assert w.wait(60)
    _controls_agree(w, "layer", "channel")
    assert w.channels == 5 and w.layer == "fc"  # fc's five units are what the grid holds
    w.close()
    assert hook_count(model) == 0

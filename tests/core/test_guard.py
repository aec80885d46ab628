"""evaluating and add_hook hold when two threads look at one model at once."""
import threading

import torch
from torch import nn

from nnlens_widgets.core import ModelSnapshot, add_hook, evaluating, hook_count, probe


def _model():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 2))


def _in_thread(fn):
    out = {}

    def run():
        try:
            out["value"] = fn()
        except BaseException as e:  # re-raised in the caller
            out["error"] = e

    t = threading.Thread(target=run)
    t.start()
    return t, out


def test_overlapping_blocks_in_two_threads_restore_every_flag():
    model = _model().train()
    model[1].eval()  # a mixed model: the flags must come back module by module
    before = ModelSnapshot.of(model)
    entered, leave = threading.Event(), threading.Event()

    def other():
        with evaluating(model):
            entered.set()
            leave.wait(10)
            return [m.training for m in model.modules()]

    t, out = _in_thread(other)
    assert entered.wait(10)
    with evaluating(model):
        pass
    # the other block still holds the model: it must still be in eval mode
    assert not any(m.training for m in model.modules())
    leave.set()
    t.join(10)
    assert out["value"] == [False] * len(list(model.modules()))
    assert ModelSnapshot.of(model).differences(before) == {}


def test_first_block_ending_first_does_not_restore_under_the_second():
    model = _model().train()
    entered, leave = threading.Event(), threading.Event()
    seen = {}

    def other():
        with evaluating(model):
            entered.set()
            leave.wait(10)
            seen["training"] = model.training

    outer = evaluating(model)
    outer.__enter__()
    t, _ = _in_thread(other)
    assert entered.wait(10)
    outer.__exit__(None, None, None)
    leave.set()
    t.join(10)
    assert seen["training"] is False
    assert model.training and all(m.training for m in model.modules())


def test_hook_acts_only_for_the_thread_that_added_it():
    model = _model()
    calls = []
    x = torch.randn(3, 4)

    def stop_everything(_m, _i, out):
        calls.append(threading.get_ident())
        raise RuntimeError("this hook must not run in another thread")

    registered, release = threading.Event(), threading.Event()

    def other():
        handle = add_hook(model[0], stop_everything)
        registered.set()
        release.wait(10)
        handle.remove()

    t, _ = _in_thread(other)
    assert registered.wait(10)
    assert hook_count(model) == 1
    with evaluating(model), torch.no_grad():
        y = model(x)  # must pass through the other thread's hook untouched
    with probe(model, ["0"]) as acts, evaluating(model), torch.no_grad():
        model(x)
    release.set()
    t.join(10)
    assert calls == []
    assert y.shape == (3, 2) and acts["0"].shape == (3, 8)
    assert hook_count(model) == 0


def test_hook_in_own_thread_can_replace_the_output():
    model = _model()
    handle = add_hook(model[0], lambda _m, _i, out: torch.zeros_like(out))
    try:
        with evaluating(model), torch.no_grad():
            with probe(model, ["0"]) as acts:
                model(torch.randn(2, 4))
    finally:
        handle.remove()
    assert torch.count_nonzero(acts["0"]) == 0

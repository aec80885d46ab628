"""looking_at: a private twin, so a look in one thread never changes what another sees."""
import threading

import pytest
import torch
import torchvision
from torch import nn

from nnlens_widgets.core import ModelSnapshot, add_hook, hook_count, hooked, looking_at, probe, twin_of


def _model():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Dropout(0.5), nn.Linear(8, 2))


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


def test_twin_shares_every_tensor_and_computes_what_eval_mode_computes():
    model = torchvision.models.resnet18(num_classes=7).train()
    x = torch.randn(2, 3, 48, 48)
    twin = twin_of(model)
    assert all(a is b for a, b in zip(model.parameters(), twin.parameters()))
    assert all(a is b for a, b in zip(model.buffers(), twin.buffers()))
    assert [n for n, _ in model.named_modules()] == [n for n, _ in twin.named_modules()]
    with torch.no_grad():
        got = twin(x)
        model.eval()
        want = model(x)
    assert torch.equal(got, want)


def test_the_users_flags_never_change_while_another_thread_looks():
    model = _model().train()
    model[1].eval()  # a mixed model: each flag must stay exactly as the user set it
    flags = [m.training for m in model.modules()]
    inside, leave = threading.Event(), threading.Event()

    def look():
        with looking_at(model) as twin, torch.no_grad():
            twin(torch.randn(3, 4))
            inside.set()
            leave.wait(10)
            return [m.training for m in twin.modules()]

    t, out = _in_thread(look)
    assert inside.wait(10)
    assert [m.training for m in model.modules()] == flags  # the user sees their own modes
    model.eval()  # the user's own call, while the look is open...
    leave.set()
    t.join(10)
    assert out["value"] == [False] * len(flags)
    assert not any(m.training for m in model.modules())  # ...is not undone when it ends


def test_a_train_mode_pass_by_the_user_updates_batchnorm_while_a_look_is_open():
    model = _model().train()
    before = model[1].running_mean.clone()
    with looking_at(model) as twin, torch.no_grad():
        twin(torch.randn(5, 4))
        assert torch.equal(model[1].running_mean, before)  # the look's eval pass changed nothing
        model(torch.randn(5, 4))  # the user's pass: train mode, as the user asked
    assert not torch.equal(model[1].running_mean, before)


def test_hooks_on_a_twin_are_invisible_to_the_model_and_to_other_looks():
    model = _model()
    calls = []
    x = torch.randn(3, 4)

    def stop_everything(_m, _i, _out):
        calls.append(threading.get_ident())
        raise RuntimeError("this hook must not run outside its own look")

    registered, release = threading.Event(), threading.Event()

    def other():
        with looking_at(model) as twin, hooked(twin, {"0": stop_everything}):
            registered.set()
            release.wait(10)

    t, _ = _in_thread(other)
    assert registered.wait(10)
    assert hook_count(model) == 0
    with looking_at(model) as twin, torch.no_grad():
        y = twin(x)  # passes untouched: the other look's hook sits on its own twin
    model.eval()
    with torch.no_grad():
        z = model(x)  # so does the user's own pass
    release.set()
    t.join(10)
    assert calls == []
    assert y.shape == z.shape == (3, 2)


def test_a_probe_on_the_users_model_is_not_seen_by_a_look():
    model = _model()
    with probe(model, ["0"]) as acts:
        with looking_at(model) as twin, torch.no_grad():
            twin(torch.randn(2, 4))
        assert "0" not in acts
        model.eval()
        model(torch.randn(2, 4))
        assert acts["0"].shape == (2, 8)
    assert hook_count(model) == 0


def test_the_users_own_hooks_stay_part_of_the_model_a_look_sees():
    model = _model()
    handle = model[0].register_forward_hook(lambda _m, _i, out: torch.zeros_like(out))
    try:
        with looking_at(model) as twin, probe(twin, ["0"]) as acts, torch.no_grad():
            twin(torch.randn(2, 4))
    finally:
        handle.remove()
    assert torch.count_nonzero(acts["0"]) == 0


def test_a_module_registered_twice_stays_one_module_in_the_twin():
    shared = nn.Linear(3, 3)
    model = nn.Sequential(shared, nn.ReLU(), shared)
    twin = twin_of(model)
    assert twin[0] is twin[2] and twin[0] is not shared


def test_hooked_removes_its_hooks_when_the_pass_raises_and_names_close_layers():
    model = _model()
    with looking_at(model) as twin:
        with pytest.raises(ValueError, match="boom"):
            with hooked(twin, {"0": lambda *_: (_ for _ in ()).throw(ValueError("boom"))}):
                twin(torch.randn(2, 4))
        assert hook_count(twin) == 0
        with pytest.raises(KeyError, match="closest names"):
            with hooked(twin, {"O": lambda *_: None}):
                pass


def test_marked_hooks_on_the_model_are_left_out_of_a_twin():
    model = _model()
    handle = add_hook(model[0], lambda *_: None)
    try:
        assert hook_count(model) == 1
        assert hook_count(twin_of(model)) == 0
    finally:
        handle.remove()


def test_models_that_cannot_be_looked_at_are_refused_clearly():
    with pytest.raises(TypeError, match="torch.nn.Module"):
        twin_of(lambda x: x)
    with pytest.raises(TypeError, match="TorchScript"):
        twin_of(torch.jit.script(nn.Linear(2, 2)))
    with pytest.raises(ValueError, match="meta"):
        twin_of(nn.Linear(2, 2, device="meta"))


def test_snapshot_unchanged_after_looks():
    model = _model().train()
    before = ModelSnapshot.of(model)
    with looking_at(model) as twin, torch.no_grad():
        twin(torch.randn(4, 4))
    assert ModelSnapshot.of(model).differences(before) == {}


def test_a_bound_forward_on_the_instance_runs_the_twins_modules():
    import types

    model = _model()
    model.forward = types.MethodType(lambda self, x: self[4](self[0](x)), model)
    with looking_at(model) as twin, probe(twin, ["0"]) as acts, torch.no_grad():
        twin(torch.randn(2, 4))
    assert acts["0"].shape == (2, 8)


def test_a_forward_closing_over_the_models_modules_is_refused_with_advice():
    model = _model()
    model.forward = lambda x: model[4](model[0](x))
    with pytest.raises(TypeError, match="MethodType"):
        twin_of(model)

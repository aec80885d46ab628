"""Training the model in another thread while widgets compute on it.

Every forward pass a widget runs is made to straddle an optimizer step (a
hook of the user's, which the widgets' private twins keep, waits in the
widgets' worker threads for the trainer's next step), so each interleaving is
forced rather than hoped for. No raw error (the autograd "modified by an
inplace operation" one) ever reaches a widget's status, error or views; a
result computed while the weights moved is dropped and recomputed, a bounded
number of times; once training stops, the pictures are those of the final
weights; the widgets change nothing themselves and leave no hook.
"""
from __future__ import annotations

import threading

import torch
import torch.nn.functional as F

import nnlens_widgets as nl
from nnlens_widgets.core import ModelSnapshot, hook_count
from tests.fuzz.widget_models import X, tiny

RAW = ("inplace operation", "RuntimeError", "Traceback", "modified by")
CHANGED = "the model changed while this was computed"


class Trainer:
    """Trains ``model`` with SGD in its own thread: freely (``on_request=False``) until
    stopped, or one step per request from a widget's forward pass, ``limit`` steps at most.

    ``together``: that many widget worker threads each straddle only their first forward
    pass, and wait there for one another, so one step lands inside every widget's
    computation whatever order the threads run in (none can finish on older weights
    before the last step)."""

    def __init__(self, model, on_request: bool = False, limit: int = 10**9, together: int = 0):
        self.model, self.on_request, self.limit = model, on_request, limit
        self.together, self.straddled = together, set()
        self.opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
        g = torch.Generator().manual_seed(0)
        self.batch, self.labels = torch.rand(8, 3, 12, 12, generator=g), torch.randint(0, 5, (8,), generator=g)
        self.cond = threading.Condition()
        self.steps = self.requests = 0
        self.running = True
        self.thread = threading.Thread(target=self._run, name="trainer")

    def _run(self) -> None:
        while True:
            with self.cond:
                if self.on_request:
                    self.cond.wait_for(lambda: self.requests > self.steps or not self.running)
                if not self.running or self.steps >= self.limit:
                    self.running = False
                    self.cond.notify_all()
                    return
            self.opt.zero_grad()
            F.cross_entropy(self.model(self.batch), self.labels).backward()
            self.opt.step()
            with self.cond:
                self.steps += 1
                self.cond.notify_all()

    def straddle(self, _module, _inputs, _output) -> None:
        """A forward hook: in a widget's worker, wait until the weights took one more step."""
        me = threading.current_thread()
        if me.name != "nnlens-work":
            return
        with self.cond:
            if self.together:
                if me in self.straddled:
                    return
                self.straddled.add(me)
                self.cond.notify_all()
                self.cond.wait_for(lambda: len(self.straddled) >= self.together or not self.running, 60)
            seen = self.steps
            self.requests = max(self.requests, seen + 1)
            self.cond.notify_all()
            assert self.cond.wait_for(lambda: self.steps > seen or not self.running, 60)

    def stop(self) -> None:
        with self.cond:
            self.running = False
            self.cond.notify_all()
        self.thread.join(60)
        assert not self.thread.is_alive()


def _texts(w) -> list:
    """Every text the widget shows (its HTML and labels, status included)."""
    out, stack = [], [w]
    while stack:
        v = stack.pop()
        value = getattr(v, "value", None)
        if isinstance(value, str):
            out.append(value)
        stack.extend(getattr(v, "children", ()))
    return out


def _record(w) -> list:
    """Every status the widget shows from now on."""
    seen = []
    w._status.observe(lambda c: seen.append(c["new"]), "value")
    return seen


def _trained_model():
    model = tiny().train()  # trained in train mode (BatchNorm statistics move too), the widgets look in eval
    model.dropout.p = 0.0  # the same steps give the same weights: what the widgets may not have changed
    return model


def _widgets(model):
    saliency = nl.SaliencyExplorer(model, X, methods=["gradient", "grad_cam"], autorun=False)
    occlusion = nl.OcclusionExplorer(model, X, window=4, stride=4, autorun=False)
    return saliency, occlusion


def _for_final_weights(saliency, occlusion, model) -> None:
    eval_twin = tiny().eval()
    eval_twin.load_state_dict(model.state_dict())
    ref = nl.core.gradient(eval_twin, X, saliency.target)
    assert torch.allclose(torch.as_tensor(saliency.maps["gradient"]).reshape(ref.shape).float(), ref.float(),
                          atol=1e-6)
    assert set(saliency.maps) == {"gradient", "grad_cam"}
    score = lambda out, c=occlusion.target: out.float().softmax(1)[:, c]  # noqa: E731
    heat = nl.core.occlusion(eval_twin, X, score, window=4, stride=4)
    assert occlusion.heatmap is not None
    assert torch.allclose(occlusion.heatmap, heat.reshape(-1, *occlusion.heatmap.shape).mean(0), atol=1e-5)


def _no_raw_error(w, statuses) -> None:
    for text in statuses + _texts(w):
        assert not any(word in text for word in RAW), f"a raw error reached the widget: {text[:300]}"
    assert w.error is None or w.error.startswith(f"ModelChanged: {CHANGED}"), w.error


def test_training_for_many_steps_while_widgets_compute_never_shows_a_raw_error():
    model = _trained_model()
    trainer = Trainer(model)
    handle = model.fc.register_forward_hook(trainer.straddle)
    saliency, occlusion = _widgets(model)
    statuses = {w: _record(w) for w in (saliency, occlusion)}
    trainer.thread.start()
    saliency.refresh()
    occlusion.refresh()
    assert saliency.wait(120) and occlusion.wait(120)  # each gave up: the weights moved under every try
    trainer.stop()
    handle.remove()
    assert trainer.steps >= 3
    for w in (saliency, occlusion):
        _no_raw_error(w, statuses[w])
        assert any(CHANGED in s for s in statuses[w]), statuses[w]
        assert w.error is not None and "times in a row" in w.error  # bounded: it stopped trying
    trained = ModelSnapshot.of(model)
    saliency.refresh()  # training has stopped: the next refresh draws the final weights
    occlusion.refresh()
    assert saliency.wait(60) and occlusion.wait(60)
    for w in (saliency, occlusion):
        assert w.error is None and w.status == ""
    _for_final_weights(saliency, occlusion, model)
    saliency.close()
    occlusion.close()
    assert ModelSnapshot.of(model).differences(trained) == {} and hook_count(model) == 0


def test_training_that_stops_while_widgets_compute_ends_in_pictures_of_the_final_weights():
    model = _trained_model()
    trainer = Trainer(model, on_request=True, limit=1, together=2)  # one step inside both widgets' passes
    handle = model.fc.register_forward_hook(trainer.straddle)
    saliency, occlusion = _widgets(model)
    statuses = {w: _record(w) for w in (saliency, occlusion)}
    trainer.thread.start()
    saliency.refresh()
    occlusion.refresh()
    assert saliency.wait(120) and occlusion.wait(120)
    trainer.stop()
    handle.remove()
    assert trainer.steps == 1 and not trainer.running
    for w in (saliency, occlusion):
        _no_raw_error(w, statuses[w])
        assert any(CHANGED in s and "recomputing" in s for s in statuses[w]), statuses[w]
        assert w.error is None and w.status == ""  # recomputed by itself, no refresh needed
    _for_final_weights(saliency, occlusion, model)
    alone = Trainer(_trained_model(), limit=trainer.steps)  # the same steps with no widget looking
    alone.thread.start()
    alone.thread.join(60)
    saliency.close()
    occlusion.close()
    assert ModelSnapshot.of(model).differences(ModelSnapshot.of(alone.model)) == {} and hook_count(model) == 0

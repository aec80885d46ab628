"""The playground's training: bit-exact rewinds and restores, live settings, step's gradient, pictures."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from nnlens_widgets.core.playground import (
    ACTIVATIONS, RECORD_EVERY, DataSource, LossHistory, PointSet, Step, Trainer, build_net, data_loss, make_points,
    net_pictures, restore_trainer, snapshot, split_points, trainer_state,
)
from nnlens_widgets.core.plane import plane_points


def points(name="circle", classes=2, seed=0, noise=0.1) -> PointSet:
    p, y = make_points(name, torch.Generator().manual_seed(seed), noise=noise, classes=classes)
    test = split_points(len(p), 0.5, torch.Generator().manual_seed(seed + 1), y)
    return PointSet(p, y, test, tuple(str(c) for c in range(classes)))


def params(trainer):
    return [p.detach().clone() for p in trainer.net.parameters()]


def same(a, b):
    return len(a) == len(b) and all(torch.equal(x, y) for x, y in zip(a, b))


def test_the_global_generator_is_never_used():
    state = torch.get_rng_state()
    t = Trainer(points(), (4, 4), "tanh", seed=3)
    t.train(30)
    t.rewind()
    build_net((3,), ("relu",), 1, torch.Generator().manual_seed(0))
    assert torch.equal(torch.get_rng_state(), state)


def test_the_same_seed_gives_the_same_net_and_run_and_another_seed_another():
    a, b, c = (Trainer(points(), (4, 2), "tanh", seed=s) for s in (5, 5, 6))
    assert same(params(a), params(b)) and not same(params(a), params(c))
    assert a.train(200) == b.train(200)


def test_rewind_gives_the_first_weights_and_the_same_losses_bit_for_bit():
    t = Trainer(points("spiral"), (8, 8), "tanh", batch_size=7, seed=2)
    first = params(t)
    one = t.train(300)
    assert not same(params(t), first) and len(one) == 300 // RECORD_EVERY
    t.rewind()
    assert same(params(t), first) and t.steps == 0 and len(t.history) == 1  # the record at step 0
    two = t.train(120)
    two_more = t.train(180)  # a run in two calls is the same run
    assert one == LossHistory(two.steps + two_more.steps, two.train + two_more.train, two.test + two_more.test)
    assert all(x == y for x, y in zip(one.train, two.train + two_more.train))


def test_a_state_through_json_goes_on_exactly():
    data = points("xor")
    t = Trainer(data, (5, 3), ("relu", "sigmoid"), learning_rate=0.1, batch_size=13, regularization="L2",
                reg_rate=0.01, seed=9)
    t.train(77)  # mid-epoch: the batch order is part of the state
    state = json.loads(json.dumps(trainer_state(t)))
    ahead = t.train(150)
    u = Trainer(data, (5, 3), ("relu", "sigmoid"), seed=9)
    restore_trainer(u, state)
    assert u.learning_rate == 0.1 and u.batch_size == 13 and u.regularization == "L2"
    assert u.train(150) == ahead and same(params(u), params(t))
    u.rewind()
    t.rewind()
    assert same(params(u), params(t))


def test_the_learning_rate_and_batch_size_change_between_steps_without_a_reset():
    t = Trainer(points(), (4,), "tanh", seed=1)
    t.train(20)
    before = params(t)
    t.set(learning_rate=0.5)
    t.step()  # one step at the new rate: the weights move by 0.5 times the gradient of that batch
    u = Trainer(points(), (4,), "tanh", seed=1)
    u.train(20)
    x, y = u._next_batch()
    u.net.zero_grad()
    data_loss(u.net(x), y).backward()
    expected = [p.detach() - 0.5 * p.grad for p in u.net.parameters()]
    assert t.steps == 21 and len(t.history) == 3
    for now, want, was in zip(params(t), expected, before):
        assert torch.allclose(now, want, atol=1e-7) and not torch.equal(now, was)
    t.set(batch_size=50)
    x, _ = t._next_batch()
    assert len(x) <= 50 and t.steps == 21
    with pytest.raises(ValueError, match=r"learning_rate in \(0, 10\]"):
        t.set(learning_rate=0)
    with pytest.raises(ValueError, match=r"batch_size as a whole number in 1\.\.256"):
        t.set(batch_size=0)
    with pytest.raises(ValueError, match="regularization in"):
        t.set(regularization="L3")
    assert t.learning_rate == 0.5


def test_an_activation_changes_live_and_keeps_the_weights():
    t = Trainer(points(), (4, 4), "tanh", seed=1)
    t.train(50)
    weights = params(t)
    t.set_activation(2, "relu")
    assert t.activations == ("tanh", "relu") and same(params(t), weights) and t.steps == 50
    assert isinstance(t.net.act2, torch.nn.ReLU)
    x = torch.tensor([[1.8, -2.4]])
    h = torch.tanh(t.net.hidden1(x))
    assert torch.equal(t.net(x), t.net.output(torch.relu(t.net.hidden2(h))))
    t.train(10)
    assert t.steps == 60
    with pytest.raises(ValueError, match="activation in"):
        t.set_activation(1, "swish")


def test_regularisation_adds_its_penalty_to_the_step():
    for reg, penalty in (("L1", lambda w: w.abs().sum()), ("L2", lambda w: 0.5 * (w * w).sum())):
        t = Trainer(points(), (3,), "tanh", regularization=reg, reg_rate=0.2, learning_rate=0.1, seed=4)
        u = Trainer(points(), (3,), "tanh", seed=4)
        x, y = u._next_batch()
        loss = data_loss(u.net(x), y) + 0.2 * sum(penalty(m.weight) for m in (u.net.hidden1, u.net.output))
        loss.backward()
        expected = [p.detach() - 0.1 * p.grad for p in u.net.parameters()]
        t.step()
        for now, want in zip(params(t), expected):
            assert torch.allclose(now, want, atol=1e-7)


def test_the_loss_is_the_usual_cross_entropy():
    g = torch.Generator().manual_seed(0)
    z, y = torch.randn(10, 1, generator=g) * 5, (torch.rand(10, generator=g) > 0.5).float()
    assert torch.allclose(data_loss(z, y), F.binary_cross_entropy_with_logits(z[:, 0], y), atol=1e-6)
    z, y = torch.randn(10, 4, generator=g) * 5, torch.randint(0, 4, (10,), generator=g)
    assert torch.allclose(data_loss(z, y), F.cross_entropy(z, y), atol=1e-6)


def test_step_outputs_0_or_1_and_learns_through_a_straight_through_gradient():
    z = torch.tensor([-2.0, -0.5, 0.0, 0.5, 2.0], requires_grad=True)
    out = Step()(z)
    assert out.tolist() == [0, 0, 0, 1, 1]
    out.backward(torch.ones(5))
    assert z.grad.tolist() == [0, 1, 1, 1, 0]  # the slope of clamp(z, -1, 1)
    t = Trainer(points(), (4,), "step", seed=0)
    first = params(t)
    t.train(30)
    assert not same(params(t)[:2], first[:2])  # the first layer learns through the step
    assert "straight-through" in ACTIVATIONS["step"].help


def test_more_classes_use_one_output_each_and_learn():
    t = Trainer(points("gauss", classes=3, noise=0.0), (6,), "tanh", learning_rate=0.1, seed=0)
    assert t.outputs == 3 and t.net.output.out_features == 3
    start = t.history.last[0]
    t.train(600)
    assert t.history.last[0] < 0.5 * start and t.accuracy()[0] > 0.9


def test_a_point_added_is_trained_on_from_the_next_step():
    data = points()
    t = Trainer(data, (4,), "tanh", seed=0)
    t.train(5)
    t.set_data(data.with_point((5.0, 5.0), 0))
    assert len(t._x_train) == int((~data.test).sum()) + 1 and t.steps == 5
    with pytest.raises(ValueError, match="expected data of 2 classes"):
        t.set_data(points("gauss", classes=3))
    t.replace_data(points("gauss", classes=3))
    assert t.outputs == 3 and t.steps == 0


def test_pictures_and_losses_in_numpy_equal_the_torch_network():
    data = points("spiral")
    source = DataSource(data.points * 50 + 7, data.labels)  # own points: the net starts with a scale
    own = source.make("own", 0.0, 2, 0.5, 0)
    t = Trainer(own, (5, 3), ("relu", "step"), seed=0, scale=source.scale("own"))
    t.train(40)
    extent = source.extent("own")
    pics = net_pictures(t.snapshot(), extent, 16, 8)
    model = t.export()
    grid = plane_points(16, 16, extent)
    with torch.no_grad():
        logits = model(grid)
        p1 = torch.sigmoid(logits)[:, 0].reshape(16, 16).numpy()
        h1 = model.act1(model.hidden1(model.scale(plane_points(8, 8, extent))))
    assert np.allclose(pics.probabilities[..., 1], p1, atol=1e-5)
    assert np.allclose(pics.probabilities.sum(-1), 1, atol=1e-6)
    assert np.allclose(pics.neurons[0], h1.T.reshape(5, 8, 8).numpy(), atol=1e-5)
    assert np.abs(pics.inputs).max() <= 6.0 + 1e-5 and pics.outputs.shape == (2, 8, 8)
    train, test = t.losses()
    with torch.no_grad():
        x = torch.from_numpy(own.points[~own.test])
        want = float(data_loss(model(x), torch.from_numpy(own.labels[~own.test]).float()))
    assert math.isclose(train, want, rel_tol=1e-5)
    assert [torch.equal(a, torch.from_numpy(b)) for a, b in zip(
        [m.weight for m in (model.hidden1, model.hidden2, model.output)], pics.weights)] == [True] * 3
    assert snapshot(t.net, t.activations).activations == ("relu", "step")


def test_the_export_is_a_plain_copy_that_training_does_not_move():
    t = Trainer(points(), (4, 4), "tanh", seed=0)
    model = t.export()
    assert type(model) is torch.nn.Sequential and [n for n, _ in model.named_children()] == [
        "hidden1", "act1", "hidden2", "act2", "output"]
    weights = [p.detach().clone() for p in model.parameters()]
    t.train(20)
    assert same(list(model.parameters()), weights) and not same(params(t), weights)


def test_bad_networks_and_seeds_are_refused_clearly():
    data = points()
    with pytest.raises(ValueError, match="at most 8 hidden layers, got 9"):
        Trainer(data, (2,) * 9)
    with pytest.raises(ValueError, match="1 to 16 neurons per hidden layer, got 17"):
        Trainer(data, (4, 17))
    with pytest.raises(ValueError, match=r"one activation per hidden layer \(2\), got 1"):
        Trainer(data, (4, 4), ["tanh"])
    with pytest.raises(ValueError, match=r"seed as a whole number in 0\.\.4294967295"):
        Trainer(data, (4,), seed=-1)
    with pytest.raises(ValueError, match="at least one training point"):
        Trainer(PointSet(data.points, data.labels, np.ones(len(data), bool), data.names), (4,))
    t = Trainer(data, (), "tanh")  # no hidden layer: logistic regression
    assert t.hidden == () and t.train(10).steps == [10]

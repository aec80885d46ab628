import numpy as np
import pytest
import torch
from torch import nn

from nnlens_widgets.core import ModelSnapshot
from nnlens_widgets.core import (
    Sensitivity,
    SynapseSpace,
    check_extent,
    check_plane_model,
    fit_synapses,
    hidden_neurons,
    plane_neuron_maps,
    plane_outputs,
    plane_points,
    synapse_table,
)
from nnlens_widgets.zoo.painter import PainterNet


def small_painter(dtype=torch.float32, seed=3):
    torch.manual_seed(seed)
    return PainterNet(hidden=(5, 4)).to(dtype).eval()


def left_half_net():
    """out = 1.0 * relu(-4x) + 0.5 relu(y + 2) + 0.5 relu(x + 2) + 0.1.

    Synapse 1.weight[0, 0] (index 9) multiplies relu(-4x), which is zero for
    x > 0: it only changes the left half of the picture.
    """
    net = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1))
    with torch.no_grad():
        net[0].weight.copy_(torch.tensor([[-4.0, 0.0], [0.0, 1.0], [1.0, 0.0]]))
        net[0].bias.copy_(torch.tensor([0.0, 2.0, 2.0]))
        net[2].weight.copy_(torch.tensor([[1.0, 0.5, 0.5]]))
        net[2].bias.fill_(0.1)
    return net.eval()


LEFT_WEIGHT = 9  # 6 weights + 3 biases of the first layer come first


def test_plane_points_follow_the_image_convention():
    p = plane_points(3, 4)
    assert p.shape == (12, 2)
    assert p[0].tolist() == [-1.0, -1.0]  # top-left
    assert p[3].tolist() == [1.0, -1.0]  # top-right: x grows along the row
    assert p[-1].tolist() == [1.0, 1.0]  # bottom-right: y grows downwards
    q = plane_points(2, 2, extent=(0, 2, -3, 3))
    assert q.tolist() == [[0, -3], [2, -3], [0, 3], [2, 3]]
    with pytest.raises(ValueError, match="at least 1x1"):
        plane_points(0, 4)
    assert check_extent([0, 2, -3, 3]) == (0.0, 2.0, -3.0, 3.0)
    for bad in [(1, 0, 0, 1), (0, 1, 0, float("nan")), (0, 1, 2), "abcd"]:
        with pytest.raises(ValueError, match="extent"):
            check_extent(bad)


def test_numbering_covers_every_linear_element_exactly_once_and_is_stable():
    net = nn.Sequential(nn.Linear(2, 4), nn.Tanh(), nn.LayerNorm(4), nn.Linear(4, 3, bias=False), nn.Linear(3, 2))
    table = synapse_table(net)
    linear_params = [p for m in net.modules() if isinstance(m, nn.Linear) for p in m.parameters()]
    assert len(table) == sum(p.numel() for p in linear_params) == 8 + 4 + 12 + 6 + 2
    assert [s.index for s in table] == list(range(len(table)))
    keys = {(s.layer, s.kind, s.row, s.col) for s in table}
    assert len(keys) == len(table)  # no element twice
    flat = torch.cat([p.detach().reshape(-1) for p in linear_params])
    modules = dict(net.named_modules())
    for s in table:
        p = getattr(modules[s.layer], s.kind)
        value = p[s.row, s.col] if s.kind == "weight" else p[s.row]
        assert flat[s.index] == value
    assert not any(s.layer == "2" for s in table)  # LayerNorm parameters are not synapses
    # the same architecture numbers the same way, whatever the values
    assert synapse_table(nn.Sequential(nn.Linear(2, 4), nn.Tanh(), nn.LayerNorm(4), nn.Linear(4, 3, bias=False),
                                       nn.Linear(3, 2))) == table


def test_painter_synapse_labels_follow_its_wiring():
    net = small_painter()
    table = synapse_table(net)
    assert len(table) == sum(p.numel() for p in net.parameters()) == (2 * 5 + 5) + (7 * 4 + 4) + (6 * 3 + 3)
    assert table[0].label == "#0 fc1.weight[0, 0]: x -> fc1[0]"
    assert table[1].source == "y"
    fc2 = [s for s in table if s.layer == "fc2" and s.kind == "weight" and s.row == 0]
    assert [s.source for s in fc2] == ["fc1[0]", "fc1[1]", "fc1[2]", "fc1[3]", "fc1[4]", "x", "y"]
    assert table[-1].label == "#67 out.bias[2]: bias -> out[2]"


def test_hidden_neurons_use_the_activation_after_each_layer():
    net = nn.Sequential(nn.Linear(2, 3), nn.Tanh(), nn.Linear(3, 2), nn.Linear(2, 1))
    neurons = hidden_neurons(net)
    assert [(n.layer, n.unit, n.module, n.activation) for n in neurons] == [
        ("0", 0, "1", "Tanh"), ("0", 1, "1", "Tanh"), ("0", 2, "1", "Tanh"), ("2", 0, "2", "Linear"),
        ("2", 1, "2", "Linear")]
    names, maps = plane_neuron_maps(net, 5, 7)
    assert maps.shape == (5, 5, 7)
    pts = plane_points(5, 7)
    with torch.no_grad():
        expected = torch.tanh(net[0](pts))[:, 1].reshape(5, 7)
    np.testing.assert_allclose(maps[1], expected.numpy(), rtol=1e-6)


def test_bad_models_are_rejected_clearly():
    with pytest.raises(ValueError, match=r"2 inputs \(x, y\)"):
        check_plane_model(nn.Linear(3, 2))
    with pytest.raises(ValueError, match=r"\(N, k\)"):
        check_plane_model(nn.Sequential(nn.Linear(2, 3), nn.Flatten(0)))
    with pytest.raises(ValueError, match="torch.nn.Module"):
        check_plane_model(lambda x: x)
    with pytest.raises(ValueError, match="nn.Linear"):
        SynapseSpace(nn.Tanh())


def test_plane_outputs_of_any_model_keep_it_unchanged():
    torch.manual_seed(0)
    clf = nn.Sequential(nn.Linear(2, 6), nn.Dropout(0.5), nn.ReLU(), nn.Linear(6, 4)).train()
    snap = ModelSnapshot.of(clf)
    out = plane_outputs(clf, 8, 5, extent=(-2, 2, -1, 1))
    assert out.shape == (8, 5, 4)
    with torch.no_grad():
        expected = clf.eval()(plane_points(8, 5, (-2, 2, -1, 1))).reshape(8, 5, 4)
    clf.train()
    np.testing.assert_allclose(out, expected.numpy(), rtol=1e-6)
    assert ModelSnapshot.of(clf).differences(snap) == {}


def test_space_evaluates_a_copy_and_never_writes_the_model():
    net = small_painter().train()
    snap = ModelSnapshot.of(net)
    space = SynapseSpace(net)
    flat = space.original.clone()
    flat[3] += 0.5
    painted = space.paint(flat, 6, 8)
    assert painted.shape == (6, 8, 3)
    with torch.no_grad():
        shifted = PainterNet(hidden=(5, 4))
        shifted.load_state_dict(net.state_dict())
        shifted.fc1.weight.view(-1)[3] += 0.5
        expected = shifted(plane_points(6, 8)).reshape(6, 8, 3)
    np.testing.assert_allclose(painted, expected.numpy(), atol=1e-6)
    space.jacobian(flat, plane_points(4, 4))
    space.sensitivity(flat, 4, 4)
    space.neuron_maps(flat, 4, 4)
    space.direction_map(flat, 3, 4, 4)
    list(fit_synapses(space, flat, np.zeros((4, 4, 3)), steps=3, every=1))
    space.pictures(flat, 4, rate_for=2)
    assert ModelSnapshot.of(net).differences(snap) == {}
    assert net.training  # flags untouched


def test_commit_writes_exactly_the_moved_synapses():
    net = small_painter()
    before = {n: p.detach().clone() for n, p in net.named_parameters()}
    space = SynapseSpace(net)
    flat = space.original.clone()
    moved = [2, 17, 67]
    flat[moved] += torch.tensor([0.25, -1.0, 0.125])
    assert space.changed(flat) == moved
    assert space.commit(flat) == moved
    assert space.changed(flat) == []  # committed values are the new original
    table = space.synapses
    changed = set()
    for name, p in net.named_parameters():
        for pos in torch.nonzero(p.detach() != before[name]).tolist():
            layer, kind = name.rsplit(".", 1)
            changed.add((layer, kind, pos[0], pos[1] if kind == "weight" else None))
    assert changed == {(table[i].layer, table[i].kind, table[i].row, table[i].col) for i in moved}
    assert float(net.out.bias[2].detach()) == pytest.approx(float(before["out.bias"][2]) + 0.125)


def test_jacobian_agrees_with_finite_differences():
    net = small_painter(torch.float64)
    space = SynapseSpace(net)
    points = plane_points(7, 9, dtype=torch.float64)
    flat = space.original.clone()
    jac = space.jacobian(flat, points)
    assert jac.shape == (63, 3, space.count)
    eps = 1e-6
    for index in (0, 11, 26, 40, 60, 67):
        up, down = flat.clone(), flat.clone()
        up[index] += eps
        down[index] -= eps
        numeric = (space.evaluate(up, points) - space.evaluate(down, points)) / (2 * eps)
        torch.testing.assert_close(jac[:, :, index], numeric, rtol=1e-6, atol=1e-8)
    # the forward-mode map of one synapse is the same derivative
    rate = space.direction_map(flat, 26, 7, 9)
    np.testing.assert_allclose(rate.reshape(-1), jac[:, :, 26].pow(2).sum(1).sqrt().numpy(), rtol=1e-5)
    sens = space.sensitivity(flat, 7, 9, chunk=10)  # chunks must not change anything
    np.testing.assert_allclose(sens.energy.reshape(63, -1), jac.pow(2).sum(1).numpy(), rtol=1e-10)


def test_a_weight_acting_only_on_the_left_ranks_first_on_the_left_and_low_on_the_right():
    net = left_half_net()
    space = SynapseSpace(net)
    assert space.synapses[LEFT_WEIGHT].label == "#9 2.weight[0, 0]: 0[0] -> 2[0]"
    sens = space.sensitivity(None, 32, 32)
    assert np.all(sens.map(LEFT_WEIGHT)[:, 16:] == 0)  # x > 0 on the right half
    assert np.all(sens.map(LEFT_WEIGHT)[:, :16] > 0)
    left = sens.rank((0, 0, 16, 32))
    assert left.order[0] == LEFT_WEIGHT
    small_left = sens.rank((2, 5, 10, 20))
    assert small_left.order[0] == LEFT_WEIGHT
    right = sens.rank((16, 0, 32, 32))
    assert right.rank_of(LEFT_WEIGHT) == space.count - 1  # last of 13
    assert right.score[LEFT_WEIGHT] < 0 < left.score[LEFT_WEIGHT]


def test_ranking_matches_a_direct_computation():
    rng = np.random.default_rng(0)
    energy = rng.random((10, 12, 7)) ** 3
    sens = Sensitivity(energy)
    r = sens.rank((8.6, 7.2, 2.1, 3.0))  # corners in any order, partial pixels count
    assert r.box == (2, 3, 9, 8)
    inside = np.zeros((10, 12), bool)
    inside[3:8, 2:9] = True
    np.testing.assert_allclose(r.inside, np.sqrt(energy[inside].mean(0)))
    np.testing.assert_allclose(r.outside, np.sqrt(energy[~inside].mean(0)))
    np.testing.assert_array_equal(r.order, np.argsort(-(r.inside - r.outside), kind="stable"))
    whole = sens.rank((-5, -5, 50, 50))  # clipped to the picture; nothing outside
    assert whole.box == (0, 0, 12, 10) and np.all(whole.outside == 0)


@pytest.mark.parametrize("box", [(3, 3, 3, 9), (3, 4, 9, 4), (20, 20, 30, 30), (-9, 0, -1, 5)])
def test_rectangles_without_area_raise_a_clear_error(box):
    sens = Sensitivity(np.ones((10, 12, 2)))
    with pytest.raises(ValueError, match="covers no pixel"):
        sens.rank(box)
    with pytest.raises(ValueError, match="finite"):
        sens.rank((0, 0, float("nan"), 3))


def test_fit_lowers_the_error_and_initial_is_seeded():
    net = small_painter()
    space = SynapseSpace(net)
    xs, ys = np.meshgrid(np.linspace(-0.5, 0.5, 8), np.linspace(0.5, -0.5, 8))
    target = np.stack([xs, ys, np.zeros((8, 8))], 2)
    steps = list(fit_synapses(space, None, target, steps=60, lr=0.03, every=20))
    assert [s.step for s in steps] == [20, 40, 60] and steps[-1].rmse < 0.55 * steps[0].rmse
    assert not torch.equal(steps[-1].vector, space.original)
    # the RMSE reported is the one of the vector before its step's update, in colour units (/ 2)
    before = list(fit_synapses(space, None, target, steps=20, lr=0.03, every=19))
    painted = space.paint(before[0].vector, 8)
    assert before[-1].step == 20 and before[0].step == 19
    assert before[1].rmse == pytest.approx(float(np.sqrt(((painted - target) ** 2).mean())) / 2, rel=1e-4)
    a, b = space.initial(5), space.initial(5)
    assert torch.equal(a, b) and not torch.equal(a, space.initial(6))
    with pytest.raises(ValueError, match=r"\(H, W, 3\)"):
        fit_synapses(space, None, np.zeros((8, 8)), steps=1)
    for kwargs, message in [(dict(steps=0), "steps"), (dict(steps=2.5), "steps"), (dict(steps=5, every=0), "every"),
                            (dict(steps=5, lr=0.0), "learning rate"),
                            (dict(steps=5, lr=float("nan")), "learning")]:
        with pytest.raises(ValueError, match=message):
            fit_synapses(space, None, target, **kwargs)  # checked at once, before any step
    with pytest.raises(ValueError, match="seed"):
        space.initial(-1)

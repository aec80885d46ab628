import numpy as np
import pytest
import torch

from nnlens_widgets.core import (
    ModelSnapshot,
    SynapseEdits,
    SynapseSpace,
    load_picture,
    pair_landscape,
    picture_rmse,
    picture_values,
)
from nnlens_widgets.core.pictures import default_picture_size
from nnlens_widgets.zoo.painter import PainterNet


def small_painter(seed=3, dtype=torch.float32):
    torch.manual_seed(seed)
    return PainterNet(hidden=(5, 4)).to(dtype).eval()


def test_picture_values_and_rmse_by_hand():
    picture = np.zeros((2, 2, 3), np.uint8)
    picture[0, 0] = 255
    values = picture_values(picture)
    assert values[0, 0].tolist() == [1.0, 1.0, 1.0] and values[1, 1].tolist() == [-1.0, -1.0, -1.0]
    painting = values.copy()
    painting[1, 1, 0] = 1.0  # one channel of one pixel off by 2 (the whole range)
    assert picture_rmse(painting, picture) == pytest.approx(np.sqrt(4 / 12) / 2)
    assert picture_rmse(values, picture) == 0.0
    with pytest.raises(ValueError, match="differ in shape"):
        picture_rmse(values[:1], picture)
    with pytest.raises(ValueError, match="uint8"):
        picture_values(values)


def test_pair_landscape_matches_painting_each_pair_directly():
    net = small_painter()
    space = SynapseSpace(net)
    flat = space.original.clone()
    flat[10] += 0.3  # another weight moved: the landscape keeps it
    goal = picture_values(load_picture("astronaut", 6))
    va, vb = [-0.5, 0.25, 1.0], [2.0, -1.0]
    errors = pair_landscape(space, flat, (3, 40), va, vb, goal, chunk=4)  # chunks must not change anything
    assert errors.shape == (2, 3)
    for row, b in enumerate(vb):
        for col, a in enumerate(va):
            v = flat.clone()
            v[3], v[40] = a, b
            painted = space.paint(v, 6)
            assert errors[row, col] == pytest.approx(np.sqrt(((painted - goal) ** 2).mean()), rel=1e-5)
    with pytest.raises(ValueError, match="synapse index"):
        pair_landscape(space, flat, (3, 999), va, vb, goal)
    with pytest.raises(ValueError, match="goal"):
        pair_landscape(space, flat, (3, 4), va, vb, goal[..., :2])


def test_edits_move_reset_commit_and_reload_exactly():
    net = small_painter()
    snap = ModelSnapshot.of(net)
    edits = SynapseEdits(SynapseSpace(net))
    assert edits.moved == [] and edits.steps(5, 0.01) == 0
    assert edits.stepped(5, 0, 0.01) == edits.original(5)  # 0 steps: the network's value, bit for bit
    assert edits.apply({5: edits.stepped(5, 3, 0.01)}) and edits.moved == [5]
    assert edits.steps(5, 0.01) == 3
    assert not edits.apply({5: edits.value(5)})  # nothing changed: no new version
    version = edits.version
    assert edits.apply({7: 0.1234567, 9: -2.0}) and edits.version == version + 1
    assert edits.reset([5]) and edits.moved == [7, 9]
    assert ModelSnapshot.of(net).differences(snap) == {}
    assert edits.commit() == [7, 9]
    assert float(net.fc1.weight.detach().view(-1)[7]) == edits.value(7) == float(np.float32(0.1234567))
    assert edits.moved == []
    edits.apply({0: 1.5})
    with torch.no_grad():
        net.fc1.bias[0] = 9.0  # the network changed elsewhere
    edits.reload()
    assert edits.original(10) == 9.0 and edits.value(10) == 9.0  # fc1.bias[0] is synapse 10
    assert edits.moved == [0] and edits.value(0) == 1.5  # a weight moved here keeps its value


def test_load_picture_sizes_and_errors():
    assert default_picture_size("chelsea") == 96
    assert default_picture_size(np.zeros((300, 40, 3), np.uint8)) == 40
    assert default_picture_size(np.zeros((300, 400), np.uint8)) == 128
    assert default_picture_size(torch.zeros(3, 50, 60)) == 50
    assert load_picture(np.zeros((5, 9, 3), np.uint8), (4, 6)).shape == (4, 6, 3)
    for bad, message in [((1, 5), "at least 2x2"), ("big", "int or"), ((2, 3, 4), "int or")]:
        with pytest.raises(ValueError, match=message):
            load_picture(np.zeros((5, 5, 3), np.uint8), bad)
    with pytest.raises(ValueError, match="sample picture"):
        load_picture("no-such-photo", 8)

import time

import numpy as np
import pytest
import torch
from torch import nn

import nnlens_widgets as nl
from nnlens_widgets.core import ModelSnapshot
from nnlens_widgets.core.synapses import SynapseSpace
from nnlens_widgets.zoo.painter import PainterNet, painter, painter_image, painting_rmse


@pytest.fixture(scope="module")
def picture():
    return painter_image(size=32)


def small_net(seed=0):
    torch.manual_seed(seed)
    return PainterNet(hidden=(6, 5)).eval()


def drag(canvas, x0, y0, x1, y1, done=True):
    canvas._dispatch(canvas, {"event": "drag", "x0": x0, "y0": y0, "x1": x1, "y1": y1, "done": done}, [])


def click(canvas, x, y):
    canvas._dispatch(canvas, {"event": "click", "x": x, "y": y}, [])


def test_painting_target_and_rmse_of_the_shipped_painter():
    net = painter()
    image = painter_image()
    ex = nl.SynapseExplorer(net, image)
    assert ex.frame.shape == ex.target_frame.shape == ex.side_frame.shape == (96, 96, 4)
    assert ex.rmse == pytest.approx(painting_rmse(net, image), abs=1e-6)
    assert "RMSE <b>0.07" in ex._rmse.value
    np.testing.assert_array_equal(ex.target_frame[..., :3], image)
    with torch.no_grad():
        expected = net(nl.core.plane_points(96)).reshape(96, 96, 3).numpy()
    np.testing.assert_allclose(ex.painting, expected, atol=1e-6)
    assert len(ex.synapses) == 451 and [s.index for s in ex.synapses] == list(range(451))
    assert ex.neuron_maps.shape[0] == 34


def test_slider_moves_repaint_and_leave_the_net_bit_identical_until_commit(picture):
    net = small_net()
    snap = ModelSnapshot.of(net)
    before = {n: p.detach().clone() for n, p in net.named_parameters()}
    ex = nl.SynapseExplorer(net, picture)
    original = ex.frame.copy()
    ex.synapse = 3
    ex.value = ex.value + 1.5  # what the slider does
    assert ex.wait(30) and ex.error is None
    assert ex.moved == [3] and not np.array_equal(ex.frame, original)
    assert ModelSnapshot.of(net).differences(snap) == {}
    space = SynapseSpace(net)
    moved = space.original.clone()
    moved[3] += 1.5
    np.testing.assert_allclose(ex.painting, space.paint(moved, 32), atol=1e-6)
    # the difference view: now minus original, amplified by 1 / max(largest change, 0.05)
    original_paint = space.paint(None, 32)
    gain = 1.0 / max(float(np.abs(ex.painting - original_paint).max()), 0.05)
    np.testing.assert_array_equal(ex.side_frame, nl.render.difference_rgba(ex.painting, original_paint, gain))
    assert "&times;" in ex._side_caption.value
    ex.set_value(40, -2.0)
    ex.wait(30)
    assert ex.moved == [3, 40] and ex.values[40] == pytest.approx(-2.0)
    ex.reset(3)
    ex.wait(30)
    assert ex.moved == [40]
    ex.reset()
    ex.wait(30)
    assert ex.moved == [] and np.array_equal(ex.frame, original)
    assert np.all(np.abs(ex.side_frame[..., :3].astype(int) - 128) <= 1)  # difference view: all grey
    assert ModelSnapshot.of(net).differences(snap) == {}
    # commit writes exactly the moved weights
    ex.set_value(7, 0.75)
    ex.set_value(60, -0.5)
    ex.wait(30)
    assert ModelSnapshot.of(net).differences(snap) == {}
    assert ex.commit() == [7, 60]
    changed = []
    for name, p in net.named_parameters():
        for pos in torch.nonzero(p.detach() != before[name]).tolist():
            changed.append((name, tuple(pos)))
    s7, s60 = ex.synapses[7], ex.synapses[60]
    assert sorted(changed) == sorted([(s7.parameter, (s7.row, s7.col)), (s60.parameter, (s60.row,))])
    assert ex.moved == [] and ex.commit() == []


def test_dragging_a_rectangle_lists_the_weights_acting_there(picture):
    net = small_net()
    ex = nl.SynapseExplorer(net, picture, ensemble_size=10)
    drag(ex._paint_canvas, 2, 3, 14, 20, done=False)
    assert ex.wait(60) and ex.error is None
    assert ex.box == (2, 3, 14, 20) and len(ex.ensemble) == 10
    expected = SynapseSpace(net).sensitivity(None, 32).rank((2, 3, 14, 20))
    assert ex.ensemble == expected.top(10)
    assert len(ex._ensemble.options) == 10 and ex._ensemble.options[0][0].startswith(f"#{expected.top(1)[0]} ")
    assert ex._paint_canvas.marks[0]["x"] == 2 and ex._paint_canvas.marks[0]["w"] == 12
    drag(ex._paint_canvas, 30, 30, 20, 16, done=True)  # cached Jacobian: ranked at once
    assert ex.box == (20, 16, 30, 30) and ex.ranking.box == (20, 16, 30, 30)
    # picking an entry selects that weight; the "where it acts" view shows its map
    pick = ex._ensemble.options[2][1]
    ex._ensemble.value = pick
    assert ex.synapse == pick
    ex.view = "acts"
    rate = SynapseSpace(net).direction_map(None, pick, 32)
    expected_rgba = nl.render.magnitude_rgba(rate)
    np.testing.assert_array_equal(ex.side_frame, expected_rgba)


def test_a_rectangle_without_area_shows_a_message_and_the_widget_keeps_working(picture):
    ex = nl.SynapseExplorer(small_net(), picture)
    drag(ex._paint_canvas, 5, 5, 5, 20)
    assert "covers no pixel" in ex.error
    with pytest.raises(ValueError, match="covers no pixel"):
        ex.select_box(40, 40, 50, 50)
    before = ex.frame.copy()
    ex.value = ex.value + 1.0
    assert ex.wait(30) and ex.error is None and not np.array_equal(ex.frame, before)
    ex.select_box(0, 0, 8, 8)
    assert ex.wait(60) and len(ex.ensemble) == ex.ensemble_size


def test_neuron_click_lists_incoming_and_outgoing_weights(picture):
    ex = nl.SynapseExplorer(small_net(), picture)
    x, y, w, h = ex._grid_layout.rect(7)  # fc2[1]
    click(ex._grid_canvas, x + w / 2, y + h / 2)
    assert ex.neuron == 7
    labels = [label for label, _ in ex._neuron_list.options]
    incoming = [label for label in labels if label.startswith("in ")]
    outgoing = [label for label in labels if label.startswith("out ")]
    assert len(incoming) == 6 + 2 + 1  # fc1's 6 neurons, x, y and the bias
    assert len(outgoing) == 3 and all("fc2[1] -> out[" in label for label in outgoing)
    target = ex._neuron_list.options[-1][1]
    ex._neuron_list.value = target
    assert ex.synapse == target
    assert f"#{target} " in ex._synapse_info.value


def test_the_pad_moves_two_weights_together(picture):
    net = small_net()
    snap = ModelSnapshot.of(net)
    ex = nl.SynapseExplorer(net, picture)
    ex.pad = (4, 50)
    r = ex._range
    click(ex._pad_canvas, 96, 32)  # right of centre, above centre
    assert ex.wait(30) and ex.error is None
    assert ex.moved == [4, 50]
    assert ex.values[4] == pytest.approx(r / 2, abs=1e-3) and ex.values[50] == pytest.approx(r / 2, abs=1e-3)
    drag(ex._pad_canvas, 96, 32, 0, 128, done=True)
    ex.wait(30)
    assert ex.values[4] == pytest.approx(-r) and ex.values[50] == pytest.approx(-r)
    assert ModelSnapshot.of(net).differences(snap) == {}
    ex.pad = (4, 4)
    click(ex._pad_canvas, 10, 10)
    assert "two different synapses" in ex.error


def test_grey_and_rgba_pictures_and_bad_models(picture):
    grey = picture.mean(axis=2).astype(np.uint8)
    ex = nl.SynapseExplorer(small_net(), grey)
    assert ex.target.shape == (32, 32, 3) and np.array_equal(ex.target[..., 0], ex.target[..., 2])
    rgba = np.dstack([picture, np.full(picture.shape[:2], 255, np.uint8)])
    assert np.array_equal(nl.SynapseExplorer(small_net(), rgba).target, picture)
    with pytest.raises(ValueError, match=r"2 inputs \(x, y\)"):
        nl.SynapseExplorer(nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 3)))
    classifier = nn.Sequential(nn.Linear(2, 8), nn.ReLU(), nn.Linear(8, 4))
    with pytest.raises(ValueError, match="3 outputs"):
        nl.SynapseExplorer(classifier, picture)
    with pytest.raises(ValueError, match="synapse index"):
        ex.synapse = 10_000
    with pytest.raises(ValueError, match="synapse index"):
        ex.set_value(-1, 0.0)


def test_any_two_input_model_can_be_explored():
    torch.manual_seed(1)
    classifier = nn.Sequential(nn.Linear(2, 8), nn.ReLU(), nn.Linear(8, 4)).train()
    snap = ModelSnapshot.of(classifier)
    ex = nl.SynapseExplorer(classifier, size=24)
    assert ex.rmse is None and ex.frame.shape == (24, 24, 4) and len(ex.synapses) == 16 + 8 + 32 + 4
    before = ex.frame.copy()
    ex.set_value(0, 5.0)
    ex.wait(30)
    assert not np.array_equal(ex.frame, before)
    ex.select_box(0, 0, 12, 24)
    assert ex.wait(60) and len(ex.ensemble) == ex.ensemble_size
    assert ModelSnapshot.of(classifier).differences(snap) == {}


def test_training_from_the_widget_streams_and_can_stop(picture):
    net = small_net()
    snap = ModelSnapshot.of(net)
    ex = nl.SynapseExplorer(net, picture)
    frames = []
    ex._paint_canvas.observe(lambda c: frames.append(1), "_frame")
    start = ex.rmse
    ex.train(steps=80, restart=True, every=20)
    assert ex.wait(120) and ex.error is None
    assert len(frames) >= 4 and ex.rmse < start
    assert len(ex.moved) > 0.9 * len(ex.synapses)
    assert ModelSnapshot.of(net).differences(snap) == {}
    ex.train("astronaut", steps=100_000, every=5)
    frames.clear()
    deadline = time.monotonic() + 60
    while not frames and time.monotonic() < deadline:
        time.sleep(0.02)  # poll until the first streamed frame
    ex.stop()
    assert ex.wait(30)
    assert ex.target is not None and not np.array_equal(ex.target, picture)
    with pytest.raises(ValueError, match="sample picture"):
        ex.train("nope")


def test_plane_view_for_a_classifier_of_points():
    torch.manual_seed(0)
    clf = nn.Sequential(nn.Linear(2, 6), nn.Tanh(), nn.Linear(6, 3)).train()
    snap = ModelSnapshot.of(clf)
    pts = np.array([[-0.9, -0.9], [0.9, 0.9]])
    view = nl.PlaneView(clf, size=40, points=pts, labels=[0, 2])
    assert view.frame.shape == (40, 40, 4) and view.values.shape == (40, 40, 3)
    assert view.neuron_maps.shape == (6, 40, 40)
    # 3 outputs default to the rgb view; classes view: argmax colour
    view.mode = "classes"
    assert view.error is None
    tab = nl.render.lut("tab10")[np.linspace(0, 255, 10).astype(int)]
    assert view.frame[37, 37, :3].tolist() == tab[2][:3].tolist()  # the marked point (0.9, 0.9), class 2
    assert view.frame[39, 39, :3].tolist() != tab[2][:3].tolist()
    view.mode = "signed"
    view.output = 1
    np.testing.assert_array_equal(view.frame[5, 5], nl.render.plane.signed_rgba(view.values[..., 1])[5, 5])
    x, y, w, h = view._layout.rect(4)
    click(view._grid_canvas, x + 1, y + 1)
    assert view.neuron == 4 and "0[4]" in view._info.value
    with pytest.raises(ValueError, match="output in 0..2"):
        view.output = 3
    assert ModelSnapshot.of(clf).differences(snap) == {}
    with pytest.raises(ValueError, match=r"2 inputs"):
        nl.PlaneView(nn.Linear(5, 2))
    with pytest.raises(ValueError, match="one label per point"):
        nl.PlaneView(clf, points=pts, labels=[1])


def test_a_drag_in_progress_ranks_its_newest_rectangle(picture):
    ex = nl.SynapseExplorer(small_net(), picture)
    ex.set_value(3, 1.0)  # the Jacobian must be recomputed for the moved weights
    for x1 in (8, 12, 16):
        drag(ex._paint_canvas, 0, 0, x1, 10, done=False)
    drag(ex._paint_canvas, 0, 0, 20, 10, done=True)
    assert ex.wait(60) and ex.error is None
    assert ex.ranking.box == (0, 0, 20, 10)
    space = SynapseSpace(small_net())
    flat = space.original.clone()
    flat[3] = 1.0
    assert ex.ensemble == space.sensitivity(flat, 32).rank((0, 0, 20, 10)).top(ex.ensemble_size)

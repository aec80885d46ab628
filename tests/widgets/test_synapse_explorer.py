import gc
import threading
import weakref

import numpy as np
import pytest
import torch
from torch import nn

import nnlens_widgets as nl
from nnlens_widgets.core import ModelSnapshot, SynapseSpace, load_picture, pair_landscape, picture_values
from nnlens_widgets.render.synapse_pad import PadGeometry
from nnlens_widgets.widgets.synapse.panels import GOAL_PX
from nnlens_widgets.zoo.painter import PainterNet, painter, painter_image, painting_rmse


@pytest.fixture(scope="module")
def picture():
    return painter_image(size=32)


def small_net(seed=0):
    torch.manual_seed(seed)
    return PainterNet(hidden=(6, 5)).eval()


def drag(view, x0, y0, x1, y1, done=True):
    view.canvas.handle_event({"event": "drag", "x0": x0, "y0": y0, "x1": x1, "y1": y1, "done": done})


def click(view, x, y):
    view.canvas.handle_event({"event": "click", "x": x, "y": y})


def changed_elements(net, before):
    out = []
    for name, p in net.named_parameters():
        out += [(name, tuple(pos)) for pos in torch.nonzero(p.detach() != before[name]).tolist()]
    return sorted(out)


def workers():
    return {t for t in threading.enumerate() if t.name == "nnlens-work"}


def test_painting_picture_and_rmse_of_the_shipped_painter():
    net = painter()
    image = painter_image()
    ex = nl.SynapseExplorer(net, picture=image)
    views = ex.views
    assert list(views) == ["painting", "picture", "side", "weight", "neurons", "neuron", "ranking", "pad"]
    assert ex.frame.shape == views["picture"].frame.shape == views["side"].frame.shape == (96, 96, 4)
    assert ex.rmse == pytest.approx(painting_rmse(net, image), abs=1e-6)
    np.testing.assert_array_equal(views["picture"].frame[..., :3], image)
    with torch.no_grad():
        expected = net(nl.core.plane_points(96)).reshape(96, 96, 3).numpy()
    np.testing.assert_allclose(ex.painting, expected, atol=1e-6)
    assert len(ex.synapses) == 451 and [s.index for s in ex.synapses] == list(range(451))
    assert ex.neuron_maps.shape == (34, 96, 96) and len(ex.neurons) == 34
    # every picture says what it shows and what its colours mean
    caption = views["painting"].caption.value
    assert f"RMSE {ex.rmse:.4f}" in caption and "no weight moved" in caption
    assert "R, G, B" in views["painting"].legend.value
    assert "minus original" in views["side"].legend.value and views["side"].title == "change from the original"
    assert "neuron activation (tanh, -1..1)" in views["neurons"].legend.value
    assert views["neuron"].title == "neuron fc1[0] (after tanh1, tanh)"
    assert "RMSE against the picture" in views["pad"].legend.value
    assert "#0 fc1.weight[0, 0]" in views["pad"].x_axis.value and "#1 fc1.weight[0, 1]" in views["pad"].y_axis.value


def test_selecting_a_weight_never_moves_it_and_the_slider_steps_exactly():
    net = painter()
    snap = ModelSnapshot.of(net)
    ex = nl.SynapseExplorer(net, picture=painter_image())
    flat = torch.cat([p.detach().reshape(-1) for p in net.parameters()])  # the painter's numbering
    assert ex.moved == []
    for index in (42, 7, 300):  # values nowhere near the slider's 0.01 grid
        ex.synapse = index
        assert ex.value == float(flat[index]) and ex.controls["offset"].value == 0
        assert ex.moved == [] and "no weight moved" in ex.views["painting"].caption.value
        assert "the network's value" in _readout(ex)
        assert np.format_float_positional(np.float32(flat[index]), unique=True, sign=True) in _readout(ex)
    ex.controls["offset"].value = 0  # what a front end echoing the slider sends: nothing moves
    assert ex.moved == []
    ex.controls["offset"].value = 3
    assert ex.wait(30) and ex.moved == [300]
    assert ex.values[300] == np.float32(ex.original_values[300] + 3 * 0.01)
    assert ex.value == float(ex.values[300])
    ex.controls["offset"].value = 0  # back to the original, bit for bit
    assert ex.wait(30) and ex.moved == [] and ex.values[300] == ex.original_values[300]
    ex.set_value(300, 0.123456789)  # any value, off the grid: kept exactly (as float32)
    assert ex.value == float(np.float32(0.123456789)) and ex.controls["offset"].value == round(
        (ex.value - ex.original_values[300]) / 0.01)
    assert "+0.12345679" in _readout(ex)
    ex.reset()
    assert ex.wait(30) and ex.moved == []
    assert ModelSnapshot.of(net).differences(snap) == {}


def _readout(ex):
    return ex.views["weight"].body.value  # the selected weight's exact value


def test_moves_repaint_and_leave_the_net_bit_identical_until_commit(picture):
    net = small_net()
    snap = ModelSnapshot.of(net)
    before = {n: p.detach().clone() for n, p in net.named_parameters()}
    ex = nl.SynapseExplorer(net, picture=picture)
    original = ex.frame.copy()
    ex.synapse = 3
    ex.value = ex.value + 1.5
    assert ex.wait(30) and ex.error is None
    assert ex.moved == [3] and not np.array_equal(ex.frame, original)
    assert "1 weight moved" in ex.views["painting"].caption.value
    assert ModelSnapshot.of(net).differences(snap) == {}
    space = SynapseSpace(net)
    moved = space.original.clone()
    moved[3] += 1.5
    np.testing.assert_allclose(ex.painting, space.paint(moved, 32), atol=1e-6)
    # the difference view: now minus original, amplified by 1 / max(largest change, 1 / 20)
    original_paint = space.paint(None, 32)
    gain = min(20.0, 1.0 / max(float(np.abs(ex.painting - original_paint).max()), 0.05))
    np.testing.assert_array_equal(ex.views["side"].frame, nl.render.difference_rgba(ex.painting, original_paint, gain))
    assert f"x{gain:.3g}" in ex.views["side"].legend.value
    ex.set_value(40, -2.0)
    assert ex.wait(30) and ex.moved == [3, 40] and ex.values[40] == -2.0
    ex.reset(3)
    assert ex.wait(30) and ex.moved == [40]
    ex.reset()
    assert ex.wait(30) and ex.moved == [] and np.array_equal(ex.frame, original)
    assert np.all(np.abs(ex.views["side"].frame[..., :3].astype(int) - 128) <= 1)  # all grey: no change
    # commit writes exactly the values set, and nothing else
    ex.set_value(7, 0.7512345)
    ex.set_value(60, -0.5)
    assert ex.wait(30) and ModelSnapshot.of(net).differences(snap) == {}
    ex.controls["commit"].click()
    s7, s60 = ex.synapses[7], ex.synapses[60]
    assert changed_elements(net, before) == sorted([(s7.parameter, (s7.row, s7.col)), (s60.parameter, (s60.row,))])
    assert s7.element == "fc1.weight[3, 1]" and s60.element == "fc2.bias[2]"
    assert float(net.fc1.weight.detach()[3, 1]) == float(np.float32(0.7512345))
    assert float(net.fc2.bias.detach()[2]) == -0.5
    assert ex.moved == [] and ex.commit() == [] and ex.error is None
    assert "no weight moved" in ex.views["painting"].caption.value


def test_dragging_a_rectangle_charts_and_lists_the_weights_acting_there(picture):
    net = small_net()
    ex = nl.SynapseExplorer(net, picture=picture, ensemble_size=10)
    assert ex.ensemble == [] and ex.ranking is None
    drag(ex.views["painting"], 2, 3, 14, 20, done=False)
    assert ex.wait(60) and ex.error is None
    assert ex.box == (2, 3, 14, 20) and len(ex.ensemble) == 10
    expected = SynapseSpace(net).sensitivity(None, 32).rank((2, 3, 14, 20))
    assert ex.ensemble == expected.top(10)
    listing = ex.controls["ranking"]
    assert [v for _, v in listing.options] == expected.top(10)
    assert listing.options[0][0].startswith(f"1. #{expected.top(1)[0]} ")
    chart = ex.views["ranking"].body.value
    assert chart.count("class='nnl-bar'") == 10 and "inside minus outside" in chart
    assert "x 2..13, y 3..19" in ex.views["ranking"].heading
    marks = ex.views["painting"].canvas.marks
    assert (marks[0]["x"], marks[0]["y"], marks[0]["w"], marks[0]["h"]) == (2, 3, 12, 17)
    drag(ex.views["painting"], 30, 30, 20, 16)  # the Jacobian is cached: ranked at once
    assert ex.box == (20, 16, 30, 30) and ex.ranking.box == (20, 16, 30, 30)
    # picking an entry selects that weight; the "where it acts" view shows its map
    pick = listing.options[2][1]
    listing.value = pick
    assert ex.synapse == pick and ex.moved == []
    ex.side_view = "acts"
    rate = SynapseSpace(net).direction_map(None, pick, 32)
    np.testing.assert_array_equal(ex.views["side"].frame, nl.render.magnitude_rgba(rate))
    assert ex.views["side"].title == f"where weight #{pick} acts"
    assert nl.render.fmt(rate.max()) in ex.views["side"].legend.value


def test_a_rectangle_without_area_shows_a_message_and_the_widget_keeps_working(picture):
    ex = nl.SynapseExplorer(small_net(), picture=picture)
    drag(ex.views["painting"], 5, 5, 5, 20)
    assert "covers no pixel" in ex.error and "covers no pixel" in ex.status
    with pytest.raises(ValueError, match="covers no pixel"):
        ex.rank(40, 40, 50, 50)
    before = ex.frame.copy()
    ex.value = ex.value + 1.0
    assert ex.wait(30) and ex.error is None and ex.status == "" and not np.array_equal(ex.frame, before)
    ex.rank(0, 0, 8, 8)
    assert ex.wait(60) and len(ex.ensemble) == ex.ensemble_size


def test_a_neuron_is_picked_by_layer_and_channel(picture):
    ex = nl.SynapseExplorer(small_net(), picture=picture)
    assert (ex.layer, ex.channel) == ("fc1", 0)
    x, y, w, h = ex.views["neurons"].tile_rect(7)  # fc2[1]: fc1 has 6 units
    click(ex.views["neurons"], x + w / 2, y + h / 2)
    assert (ex.layer, ex.channel) == ("fc2", 1) and ex.error is None
    assert ex.views["neuron"].title.startswith("neuron fc2[1]")
    np.testing.assert_array_equal(ex.views["neuron"].frame, nl.render.plane.signed_rgba(ex.neuron_maps[7], vmax=1.0))
    labels = [label for label, _ in ex.controls["neuron_weights"].options]
    assert len([s for s in labels if s.startswith("in ")]) == 6 + 2 + 1  # fc1's 6 neurons, x, y, the bias
    assert len([s for s in labels if s.startswith("out ")]) == 3
    target = ex.controls["neuron_weights"].options[-1][1]
    ex.controls["neuron_weights"].value = target
    assert ex.synapse == target and ex.moved == []
    ex.channel = 4
    assert ex.views["neuron"].title.startswith("neuron fc2[4]")
    ex.layer = "fc1"
    assert ex.channel == 4  # fc1 has 6 units: the channel stays
    with pytest.raises(ValueError, match="channel in 0..5"):
        ex.channel = 6
    with pytest.raises(KeyError, match="not a hidden linear layer.*'fc1', 'fc2'"):
        ex.layer = "out"
    assert (ex.layer, ex.channel) == ("fc1", 4)


def test_the_pad_moves_two_weights_by_exact_steps(picture):
    net = small_net()
    snap = ModelSnapshot.of(net)
    ex = nl.SynapseExplorer(net, picture=picture, pad=(4, 50))
    g = PadGeometry(ex.reach)
    click(ex.views["pad"], g.x_of(0.5), g.y_of(-0.25))
    assert ex.wait(30) and ex.error is None and ex.moved == [4, 50]
    assert ex.values[4] == np.float32(ex.original_values[4] + 50 * 0.01)
    assert ex.values[50] == np.float32(ex.original_values[50] - 25 * 0.01)
    click(ex.views["pad"], g.x_of(0.0), g.y_of(0.0))  # the middle: the network's values, exactly
    assert ex.wait(30) and ex.moved == []
    drag(ex.views["pad"], 0, 0, -10, 500)
    assert ex.wait(30) and ex.values[4] == np.float32(ex.original_values[4] - ex.reach)
    assert ex.values[50] == np.float32(ex.original_values[50] - ex.reach)
    assert ModelSnapshot.of(net).differences(snap) == {}
    # its colours: the painting's RMSE at GOAL_PX x GOAL_PX over the two weights' values, the others as now
    ex.reset()
    assert ex.wait(30)
    space = SynapseSpace(net)
    offsets = g.offsets()
    o4, o50 = float(space.original[4]), float(space.original[50])
    errors = 0.5 * pair_landscape(space, space.original, (4, 50), o4 + offsets, o50 - offsets,
                                  picture_values(load_picture(picture, GOAL_PX)))  # RMSE in colour units
    legend = ex.views["pad"].legend.value
    assert nl.render.fmt(errors.min()) in legend and nl.render.fmt(errors.max()) in legend
    expected = nl.render.synapse_pad.pad_rgba(errors, g, errors.min(), errors.max(), (0.0, 0.0))
    np.testing.assert_array_equal(ex.views["pad"].frame, expected)


def test_every_trait_and_option_is_checked_and_a_refused_value_is_not_kept(picture):
    ex = nl.SynapseExplorer(small_net(), picture=picture)
    count = len(ex.synapses)
    for trait, bad, message in [("synapse", count, f"synapse index in 0..{count - 1}"),
                                ("synapse", -1, "synapse index"),
                                ("value", float("nan"), "finite weight value"), ("value", float("inf"), "finite"),
                                ("side_view", "sideways", "side_view in"), ("pad", (4, 4), "two different"),
                                ("pad", (0, count), "for the pad"), ("channel", 9, "channel in 0..5")]:
        before = getattr(ex, trait)
        with pytest.raises(ValueError, match=message):
            setattr(ex, trait, bad)
        assert getattr(ex, trait) == before
    assert ex.moved == []
    ex.controls["pad_x"].value = ex.pad[1]  # typed into the box: refused, shown, and the box goes back
    assert "two different" in ex.error and ex.controls["pad_x"].value == ex.pad[0] == 0
    ex.controls["pad_x"].value = 9
    assert ex.pad == (9, 1) and ex.error is None
    for kwargs, message in [(dict(step=0), "step in"), (dict(step=0.01, reach=1e9), "reach in"),
                            (dict(size=1), "size"), (dict(ensemble_size=0), "ensemble_size"),
                            (dict(extent=(1, 0, 0, 1)), "extent"), (dict(painting_px=4), "painting_px"),
                            (dict(synapse=count), "synapse index"), (dict(pad=(3, 3)), "two different")]:
        with pytest.raises(ValueError, match=message):
            nl.SynapseExplorer(small_net(), **kwargs)
    with pytest.raises(TypeError, match="torch.nn.Module"):
        nl.SynapseExplorer(lambda p: p)


def test_pictures_of_any_kind_and_models_that_cannot_paint(picture):
    grey = picture.mean(axis=2).astype(np.uint8)
    ex = nl.SynapseExplorer(small_net(), picture=grey)
    assert ex.picture.shape == (32, 32, 3) and np.array_equal(ex.picture[..., 0], ex.picture[..., 2])
    rgba = np.dstack([picture, np.full(picture.shape[:2], 255, np.uint8)])
    assert np.array_equal(nl.SynapseExplorer(small_net(), picture=rgba).picture, picture)
    ex.picture = "astronaut"  # replaced at the painting's size; the RMSE follows
    assert ex.picture.shape == (32, 32, 3) and np.array_equal(ex.picture, painter_image("astronaut", 32))
    assert f"RMSE {ex.rmse:.4f}" in ex.views["painting"].caption.value
    with pytest.raises(ValueError, match=r"2 inputs \(x, y\)"):
        nl.SynapseExplorer(nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 3)))
    classifier = nn.Sequential(nn.Linear(2, 8), nn.ReLU(), nn.Linear(8, 4))
    with pytest.raises(ValueError, match="3 outputs"):
        nl.SynapseExplorer(classifier, picture=picture)
    with pytest.raises(ValueError, match="sample picture"):
        ex.picture = "nope"


def test_any_two_input_model_can_be_explored():
    torch.manual_seed(1)
    classifier = nn.Sequential(nn.Linear(2, 8), nn.ReLU(), nn.Linear(8, 4)).train()
    snap = ModelSnapshot.of(classifier)
    ex = nl.SynapseExplorer(classifier, size=24)
    assert ex.rmse is None and ex.frame.shape == (24, 24, 4) and len(ex.synapses) == 16 + 8 + 32 + 4
    assert "nnl-class-key" in ex.views["painting"].caption.value  # the winning class, named by colour
    assert ex.views["picture"].layout.display == "none"
    assert "neuron output (relu)" in ex.views["neurons"].legend.value
    assert "RMS change of the outputs from the original painting" in ex.views["pad"].legend.value
    before = ex.frame.copy()
    ex.set_value(0, 5.0)
    assert ex.wait(30) and not np.array_equal(ex.frame, before)
    ex.rank(0, 0, 12, 24)
    assert ex.wait(60) and len(ex.ensemble) == ex.ensemble_size
    with pytest.raises(ValueError, match="picture to train on"):
        ex.train(steps=5)
    assert ModelSnapshot.of(classifier).differences(snap) == {}


def test_refresh_reads_the_network_again_and_keeps_moved_weights(picture):
    net = small_net()
    ex = nl.SynapseExplorer(net, picture=picture)
    ex.set_value(3, 2.0)
    with torch.no_grad():
        net.fc1.bias[0] = 1.25  # changed in a later cell
    assert ex.original_values[12] != 1.25  # fc1.bias[0] is synapse 12 (after 6 x 2 weights)
    ex.refresh()
    assert ex.wait(30) and ex.error is None
    assert ex.original_values[12] == 1.25 and ex.values[12] == 1.25
    assert ex.moved == [3] and ex.values[3] == 2.0
    np.testing.assert_allclose(ex.painting, SynapseSpace(net).paint(torch.as_tensor(ex.values), 32), atol=1e-6)


def test_training_streams_stops_and_never_touches_the_net(picture):
    net = small_net()
    snap = ModelSnapshot.of(net)
    ex = nl.SynapseExplorer(net, picture=picture)
    frames = []
    ex.views["painting"].canvas.observe(lambda c: frames.append(1), "_frame")
    start = ex.rmse
    ex.train(steps=80, restart=True, every=20)
    assert ex.wait(120) and ex.error is None
    assert len(frames) >= 4 and ex.rmse < start
    assert len(ex.moved) > 0.9 * len(ex.synapses)
    assert ModelSnapshot.of(net).differences(snap) == {}
    with pytest.raises(ValueError, match="sample picture"):
        ex.train("nope")
    with pytest.raises(ValueError, match="learning rate"):
        ex.train(lr=-1.0)
    assert np.array_equal(ex.picture, picture)  # a refused training leaves the picture as it was
    ex.train("astronaut", steps=20, every=5)
    assert ex.wait(60) and np.array_equal(ex.picture, painter_image("astronaut", 32))


def test_twenty_start_stop_cycles_of_training_leave_one_worker_and_the_net_unchanged(picture):
    net = small_net()
    snap = ModelSnapshot.of(net)
    ex = nl.SynapseExplorer(net, picture=picture)
    before = workers()
    for _ in range(20):
        ex.train(steps=1_000_000, every=1)
        ex.stop()
    assert ex.wait(30) and ex.error is None
    # At most one thread per worker of the explorer (painting, ranking, the pad's colouring: a frame drawn
    # before a stop starts the pad's), never one per cycle
    assert len(workers() - before) <= 3
    ex.train(steps=30, every=10)
    assert ex.wait(60) and ex.error is None and ex.moved
    assert ModelSnapshot.of(net).differences(snap) == {}


def test_close_frees_the_widget_and_its_workers(picture):
    before = workers()
    ex = nl.SynapseExplorer(small_net(), picture=picture)
    ex.rank(0, 0, 10, 10)
    ex.train(steps=1_000_000, every=1)
    ref = weakref.ref(ex)
    ex.close()
    del ex
    gc.collect()
    assert ref() is None
    assert not (workers() - before)


def test_static_png_and_html_show_every_picture_with_its_legend(tmp_path, picture):
    from PIL import Image

    ex = nl.SynapseExplorer(small_net(), picture=picture)
    ex.rank(0, 0, 16, 16)
    assert ex.wait(60)
    ex.save_png(tmp_path / "w.png")
    assert Image.open(tmp_path / "w.png").size[0] > 600
    ex.save_html(tmp_path / "w.html")
    page = (tmp_path / "w.html").read_text()
    for words in ("painting (drag a rectangle)", "picture to paint", "change from the original",
                  "hidden neurons", "ranking for x 0..15, y 0..15", "two weights at once", "RMSE against the picture",
                  "x: #0 fc1.weight[0, 0]"):
        assert words in page

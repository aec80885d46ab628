"""nl.Playground without a browser: pictures, live settings, clicks, pointing, exports, sessions, freeing."""
from __future__ import annotations

import gc
import json
import threading
import weakref

import numpy as np
import pytest
import torch

import nnlens_widgets as nl
from nnlens_widgets.core.playground import net_pictures, snapshot
from nnlens_widgets.core.plane import plane_points
from nnlens_widgets.render.plane import class_colours
from nnlens_widgets.render.playground_map import decision_rgba
from nnlens_widgets.widgets.playground.frames import MAP_SIZE
from tests.widgets.freeing import assert_freed, closed


@pytest.fixture
def pg():
    w = nl.Playground(dataset="xor", hidden=(4, 3), seed=1)
    yield w
    w.close()


def canvas_event(canvas, **event):
    canvas.handle_event(event)


def test_it_shows_the_map_the_network_and_the_losses_at_once(pg, tmp_path):
    assert pg.frame.shape == (MAP_SIZE, MAP_SIZE, 4) and list(pg.views) == ["map", "network", "loss"]
    assert pg.views["network"].frame.shape[2] == 4 and pg.views["network"].frame[..., 3].min() == 0  # see-through
    head = pg.views["network"].head.value
    assert "layer 1" in head and "layer 2" in head and "input" in head and "output" in head
    assert "nnl-legend" in pg.views["map"].legend.value and pg.views["network"].legend.value.count("nnl-legend'") == 2
    assert "loss after 0 steps" in pg.views["loss"]._title.value and "<svg" in pg.views["loss"].body.value
    bundle = pg._repr_mimebundle_()
    data = bundle[0] if isinstance(bundle, tuple) else bundle
    assert data["image/png"][:4] == b"\x89PNG"
    pg.save_png(tmp_path / "pg.png")
    pg.save_html(tmp_path / "pg.html")
    page = (tmp_path / "pg.html").read_text()
    assert "nnl-legend-bar" in page and "<svg" in page and "decision map" in page


def test_the_map_is_the_exported_models_picture_with_the_points_on_it(pg):
    pg.train(200)
    assert pg.wait(30) and pg.error is None
    model = pg.model
    assert type(model) is torch.nn.Sequential and [n for n, _ in model.named_children()][-1] == "output"
    # the same pictures from the exported model, pixel for pixel
    again = net_pictures(snapshot(model, ("tanh", "tanh")), pg.extent, MAP_SIZE, 8)
    scene = pg._scene
    assert np.array_equal(pg.frame, scene.marks.stamp(decision_rgba(again.probabilities)))
    with torch.no_grad():
        p = torch.sigmoid(model(plane_points(MAP_SIZE, MAP_SIZE, pg.extent))).reshape(MAP_SIZE, MAP_SIZE).numpy()
    assert np.allclose(again.probabilities[..., 1], p, atol=1e-5)
    # a training point: its class's colour at the centre of its square
    i = int(np.flatnonzero(~pg.test_points)[0])
    x, y = pg.points[i]
    col, row = int(np.floor((x + 6) / 12 * (MAP_SIZE - 1))), int(np.floor((y + 6) / 12 * (MAP_SIZE - 1)))
    covered_later = np.hypot(*(pg.points[i + 1:] - pg.points[i]).T).min() < 0.3 if i + 1 < len(pg.points) else False
    if not covered_later:
        assert pg.frame[row, col, :3].tolist() == class_colours(2)[pg.labels[i]].tolist()


def test_other_widgets_accept_the_model():
    pg = nl.Playground(dataset="circle", hidden=(5, 3), activation=("relu", "step"))
    pg.train(100)
    model = pg.model
    plane = nl.PlaneView(model, size=32, extent=pg.extent)
    assert plane.error is None and plane.values.shape == (32, 32, 1)
    assert [n.activation for n in plane.neurons][:6] == ["ReLU"] * 5 + ["Step"]
    synapses = nl.SynapseExplorer(model, extent=pg.extent)
    assert synapses.wait(60) and synapses.error is None
    ablation = nl.NeuronAblation(model, torch.tensor([1.2, -1.8]), layer="hidden1")
    assert ablation.wait(60) and ablation.error is None
    before = [p.detach().clone() for p in model.parameters()]
    ablation.toggle(2)
    assert ablation.wait(60) and all(torch.equal(a, b) for a, b in zip(model.parameters(), before))
    for w in (plane, synapses, ablation, pg):
        w.close()


BAD = [
    ("learning_rate", 0.0, r"learning_rate in \(0, 10\]"),
    ("learning_rate", float("nan"), "finite learning_rate"),
    ("batch_size", 0, r"batch_size as a whole number in 1\.\.256"),
    ("hidden", (4, 17), "1 to 16 neurons per hidden layer, got 17"),
    ("hidden", (1,) * 9, "at most 8 hidden layers"),
    ("activation", "swish", "activation in"),
    ("activation", ("tanh",), r"one activation per hidden layer \(2\)"),
    ("dataset", "moons", "dataset in"),
    ("noise", 0.9, r"noise in 0\.0\.\.0\.5"),
    ("test_fraction", 1.0, r"test_fraction in 0\.0\.\.0\.9"),
    ("classes", 7, r"classes in 2\.\.6"),
    ("regularization", "L3", "regularization in"),
    ("reg_rate", -1.0, r"reg_rate in 0\.\.10"),
    ("seed", -1, r"seed as a whole number in 0\.\.4294967295"),
    ("point_class", 2, r"point_class in 0\.\.1"),
]


@pytest.mark.parametrize("trait, bad, match", BAD, ids=[f"{t}={b!r}" for t, b, _ in BAD])
def test_a_bad_value_is_refused_clearly_and_not_kept(pg, trait, bad, match):
    old = getattr(pg, trait)
    control = pg.controls.get(trait)
    shown = getattr(control, "value", None)
    with pytest.raises(ValueError, match=match):
        setattr(pg, trait, bad)
    assert getattr(pg, trait) == old and (control is None or control.value == shown)
    assert pg.wait(30) and pg.error is None


def test_settings_change_live_from_code_and_controls_without_a_reset(pg):
    pg.train(30)
    steps, weights = pg.steps, [p.clone() for p in pg.model.parameters()]
    pg.controls["learning_rate"].value = 0.3
    pg.batch_size = 25
    pg.regularization = "L2"
    pg.controls["reg_rate"].value = 0.01
    trainer = pg._trainer
    assert (trainer.learning_rate, trainer.batch_size, trainer.regularization, trainer.reg_rate) == (0.3, 25, "L2",
                                                                                                    0.01)
    assert pg.steps == steps and all(torch.equal(a, b) for a, b in zip(pg.model.parameters(), weights))
    assert pg.controls["regularization"].value == "L2"
    pg.controls["regularization"].value = "none"
    assert pg.regularization is None and trainer.regularization is None
    # an activation picked in a layer's dropdown: the weights stay, the layer computes with it
    neurons, activation = pg._ui._layer_controls[1]
    activation.value = "relu"
    assert pg.activation == ("tanh", "relu") and trainer.activations == ("tanh", "relu") and pg.steps == steps
    assert all(torch.equal(a, b) for a, b in zip(pg.model.parameters(), weights))
    assert pg.wait(30) and "relu" in pg.views["network"].head.value
    pg.train(10)
    assert pg.steps == steps + 10


def test_the_network_changes_from_its_controls(pg):
    neurons, _ = pg._ui._layer_controls[0]
    neurons.value = 7
    assert pg.hidden == (7, 3) and pg._trainer.hidden == (7, 3) and pg.steps == 0
    pg.controls["layers"].value = 3
    assert pg.hidden == (7, 3, 3) and pg.activation == "tanh" and len(pg._ui._layer_controls) == 3
    pg.activation = ("relu", "tanh", "sigmoid")
    pg.hidden = (2,)  # fewer layers: the activations follow
    assert pg.activation == ("relu",) and pg._trainer.activations == ("relu",)
    pg.controls["layers"].value = 0
    assert pg.hidden == () and pg.wait(30) and pg.error is None
    assert pg.views["network"].diagram.sizes == [2, 1]


def test_train_rewind_and_step(pg):
    first = [p.clone() for p in pg.model.parameters()]
    one = pg.train(150)
    assert len(one) == 15 and one.steps[-1] == 150 and pg.steps == 150
    pg.rewind()
    assert pg.steps == 0 and all(torch.equal(a, b) for a, b in zip(pg.model.parameters(), first))
    assert pg.train(150) == one
    pg.step()
    assert pg.steps == 151 and len(pg.history) == 16
    pg.controls["rewind"].click()
    pg.controls["step"].click()
    assert pg.steps == 1 and pg.wait(30) and "after 1 step<" in pg.views["loss"]._title.value


def test_play_trains_and_draws_in_the_background_and_pause_stops_it():
    pg = nl.Playground(dataset="spiral", hidden=(8, 8), seed=0)
    drawn = pg.frames_drawn
    pg.controls["playing"].value = True
    assert pg.playing and pg.controls["playing"].description == "pause"
    for _ in range(3):
        assert pg.wait(60)
    assert pg.frames_drawn >= drawn + 3 and pg.steps > 0
    pg.pause()
    assert pg.wait(60)
    steps = pg.steps
    assert pg.wait(5) and pg.steps == steps and pg.error is None
    ref, threads = weakref.ref(pg), set(threading.enumerate())
    pg.close()
    del pg
    gc.collect()
    assert ref() is None
    assert not [t for t in threading.enumerate() if t.name == "nnlens-playground" and t not in threads]


def test_settings_while_playing_take_effect_between_steps():
    pg = nl.Playground(dataset="circle", hidden=(4,), seed=0)
    pg.play()
    assert pg.wait(60)
    pg.learning_rate = 0.5
    pg.activation = "relu"
    pg.hidden = (3, 3)
    assert pg._trainer.learning_rate == 0.5 and pg._trainer.hidden == (3, 3)
    assert pg._trainer.activations == ("relu", "relu")
    assert pg.wait(60) and pg.error is None
    pg.close()


def test_clicks_on_the_map_add_and_remove_points(pg):
    n = len(pg.points)
    canvas = pg.views["map"].canvas
    pg.point_class = 1
    canvas_event(canvas, event="click", x=30.5, y=120.5)  # picture pixel (30, 120)
    assert len(pg.points) == n + 1 and pg.labels[-1] == 1 and not pg.test_points[-1]
    x, y = pg.points[-1]
    assert x == pytest.approx(-6 + 12 * 30 / (MAP_SIZE - 1), abs=1e-5)
    assert y == pytest.approx(-6 + 12 * 120 / (MAP_SIZE - 1), abs=1e-5)
    assert pg.controls["click"].value == 1
    pg.controls["click"].value = -1  # "removes the point under it"
    assert pg.click_removes
    canvas_event(canvas, event="click", x=31.0, y=121.0)
    assert len(pg.points) == n and pg.wait(30) and pg.error is None
    assert pg.views["map"].frame is not None and "training" in pg.views["map"].caption.value
    pg.add_point(3.0, -3.0, 0, test=True)
    assert pg.test_points[-1] and pg.labels[-1] == 0
    with pytest.raises(ValueError, match=r"label in 0\.\.1 \(one of"):
        pg.add_point(0, 0, 2)
    with pytest.raises(ValueError, match="point index"):
        pg.remove_point(10_000)


def test_pointing_at_a_neuron_or_a_weight_shows_its_live_value_and_formula(pg):
    pg.train(50)
    assert pg.wait(30)
    view = pg.views["network"]
    layout = view.diagram
    x, y, w, h = layout.rect(2, 1)  # neuron h2[1]
    canvas_event(view.canvas, event="move", x=x + w / 2, y=y + h / 2)
    text = pg._display.readout.value
    b = float(pg.model.hidden2.bias[1].detach())
    assert "neuron h2[1]" in text and "tanh(z)" in text and "h1[3]" in text and f"{b:+.4g}".lstrip("+-") in text
    assert view.canvas.marks and view.canvas.marks[0]["x"] == x - 2
    x0, y0, x1, y1 = layout.segment(1, 2, 3)  # hidden2.weight[2, 3]: from h1[3] to h2[2]
    canvas_event(view.canvas, event="move", x=(x0 + x1) / 2, y=(y0 + y1) / 2)
    text = pg._display.readout.value
    value = float(pg.model.hidden2.weight[2, 3].detach())
    assert "weight hidden2.weight[2, 3]" in text and "from h1[3] to h2[2]" in text
    assert f"{value:.4g}".replace("-", "\u2212") in text
    canvas_event(view.canvas, event="click", x=(x0 + x1) / 2, y=(y0 + y1) / 2)  # kept when the mouse leaves
    canvas_event(view.canvas, event="leave")
    pg.train(20)
    assert pg.wait(30)
    value = float(pg.model.hidden2.weight[2, 3].detach())  # the live value after training
    assert "(kept" in pg._display.readout.value and f"{value:.4g}".replace("-", "\u2212") in pg._display.readout.value
    x, y, w, h = layout.rect(0, 0)
    canvas_event(view.canvas, event="move", x=x + 1, y=y + 1)
    assert "input x" in pg._display.readout.value


def test_a_session_comes_back_exactly(tmp_path):
    pg = nl.Playground(dataset="gauss", classes=3, hidden=(5,), activation="relu", learning_rate=0.1, seed=4)
    pg.train(55)
    pg.add_point(1.2, 1.8, 2)
    pg.batch_size = 7
    state = json.loads(json.dumps(pg.state()))
    again = nl.Playground.from_state(state)
    assert again.steps == 55 and np.array_equal(again.points, pg.points) and again.class_names == pg.class_names
    assert pg.wait(30) and again.wait(30)
    assert np.array_equal(again.frame, pg.frame)
    assert again.train(40) == pg.train(40)
    for w in (pg, again):
        w.close()
    with pytest.raises(ValueError, match="Playground.state"):
        nl.Playground.from_state({"widget": "Lens"})


def test_your_own_points_from_a_csv_file(tmp_path):
    path = tmp_path / "pets.csv"
    rows = ["x,y,label"] + [f"{10 + i % 7},{20 + i % 5},{'cat' if i % 3 else 'dog'}" for i in range(60)]
    path.write_text("\n".join(rows) + "\n")
    pg = nl.Playground(path, hidden=(3,))
    assert pg.dataset == "own" and pg.class_names == ("cat", "dog") and len(pg.points) == 60
    assert pg.classes == 2 and pg.controls["classes"].disabled and pg.controls["noise"].disabled
    x0, x1, y0, y1 = pg._scene.extent
    assert x0 < 10 < 16 < x1 and y0 < 20 < 24 < y1
    assert isinstance(pg.model.scale, nl.core.playground.InputScale)
    with pytest.raises(ValueError, match="your points have 2 classes"):
        pg.classes = 3
    pg.dataset = "circle"
    pg.classes = 4
    assert pg.class_names == ("0", "1", "2", "3") and pg.wait(30) and pg.error is None
    pg.dataset = "own"
    assert pg.classes == 2 and pg.class_names == ("cat", "dog") and pg.wait(30) and pg.error is None
    pg.close()


def test_class_names_are_shown_as_text():
    pg = nl.Playground(np.array([[0, 0], [1, 1], [0, 1], [1, 0.5]]), ["<b>a</b>", "<i>b</i>", "<b>a</b>", "<i>b</i>"])
    assert "&lt;b&gt;a&lt;/b&gt;" in pg.views["map"].legend.value and "<b>a</b>" not in pg.views["map"].legend.value
    # a dropdown shows its labels as text: the name itself, not escaped twice
    assert [label for label, _ in pg.controls["click"].options][1] == "adds a point of class <i>b</i>"
    layout = pg.views["network"].diagram
    x, y, w, h = layout.rect(len(layout.sizes) - 1, 0)  # the output neuron: P(class) by name
    canvas_event(pg.views["network"].canvas, event="move", x=x + 1, y=y + 1)
    text = pg._display.readout.value
    assert "P(&lt;i&gt;b&lt;/i&gt;)" in text and "<i>b</i>" not in text
    pg.close()


def test_close_frees_the_widget_and_its_thread():
    threads = set(threading.enumerate())
    pg = nl.Playground(dataset="circle", hidden=(4, 4))
    pg.play()
    assert pg.wait(60)
    ref = closed(pg)
    del pg
    assert_freed(ref, threads)
    assert not [t for t in threading.enumerate() if t.name == "nnlens-playground" and t not in threads]


def test_both_colour_bars_of_the_diagram_stay_while_it_redraws(pg):
    for _ in range(3):
        pg.train(10)
        assert pg.wait(30)
        legend = pg.views["network"].legend.value
        assert legend.count("class='nnl-legend'") == 2 and "weight" in legend and "neuron output" in legend


def test_the_largest_network_and_six_classes_draw_and_train():
    state = torch.get_rng_state()
    pg = nl.Playground(dataset="spiral", classes=6, hidden=(16,) * 8, activation="relu", seed=3)
    assert pg.views["network"].diagram.sizes == [2] + [16] * 8 + [6]
    pg.train(20)
    pg.play()
    assert pg.wait(60)
    pg.pause()
    assert pg.wait(60) and pg.error is None and pg.views["network"].frame.shape[1] <= 500
    assert torch.equal(torch.get_rng_state(), state)  # the playground's own generators only
    assert "straight-through" in pg._ui._layer_controls[0][1].tooltip
    pg.close()


def test_a_diverging_run_stops_with_a_warning_that_rewind_clears(tmp_path):
    pg = nl.Playground(dataset="spiral", hidden=(8, 8, 8, 8), activation="linear", learning_rate=10, batch_size=1)
    history = pg.train(400)
    assert not np.isfinite(history.train[-1]) and len(pg.warnings) == 1 and "learning rate 10" in pg.warnings[0]
    assert pg.wait(30) and pg.error is None and "no longer a number" in pg._display.warning.value
    pg.save_html(tmp_path / "pg.html")
    assert "no longer a number" in (tmp_path / "pg.html").read_text()
    assert "no longer a number" in pg._state_caption()
    pg.learning_rate = 0.01
    pg.rewind()
    assert pg.warnings == [] and pg._display.warning.value == "" and np.isfinite(pg.train(20).train[-1])
    pg.close()

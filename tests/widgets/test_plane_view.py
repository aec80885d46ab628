import gc
import weakref

import numpy as np
import pytest
import torch
from torch import nn

import nnlens_widgets as nl
from nnlens_widgets.core import ModelSnapshot, plane_outputs
from nnlens_widgets.render.plane import class_colours, signed_rgba


def click(view, x, y):
    view.canvas.handle_event({"event": "click", "x": x, "y": y})


def classifier(seed=0, outputs=3):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(2, 6), nn.Tanh(), nn.Linear(6, 4), nn.ReLU(), nn.Linear(4, outputs)).train()


def test_a_classifier_of_points_with_its_classes_and_neurons():
    clf = classifier()
    snap = ModelSnapshot.of(clf)
    pts = np.array([[-0.9, -0.9], [0.9, 0.9]])
    view = nl.PlaneView(clf, size=40, points=pts, point_classes=[0, 2], labels=["cat", "<dog>", "cow"])
    assert view.frame.shape == (40, 40, 4) and view.values.shape == (40, 40, 3)
    np.testing.assert_allclose(view.values, plane_outputs(clf, 40), atol=1e-6)
    assert view.neuron_maps.shape == (10, 40, 40) and [n.label for n in view.neurons][-1] == "2[3]"
    assert view.views["plane"].title == "outputs as colour (R, G, B)"  # 3 outputs: rgb by default
    assert "R, G, B" in view.views["plane"].legend.value
    view.mode = "classes"
    assert view.error is None and view.views["plane"].title == "winning class"
    caption = view.views["plane"].caption.value
    assert "cat" in caption and "&lt;dog&gt;" in caption and "<dog>" not in caption
    assert view.views["plane"].legend.value == ""  # named colours instead of a colour bar
    colour = class_colours(3)[2]
    assert view.frame[37, 37, :3].tolist() == colour.tolist()  # the marked point (0.9, 0.9), class 2
    view.mode = "signed"
    view.output = 1
    np.testing.assert_array_equal(view.frame[5, 5], signed_rgba(view.values[..., 1])[5, 5])
    assert view.views["plane"].title == "output 1: <dog>" and "&lt;dog&gt;" in view.views["plane"].legend.value
    assert ModelSnapshot.of(clf).differences(snap) == {}


def test_neurons_are_picked_by_layer_and_channel_and_scaled_per_activation():
    view = nl.PlaneView(classifier(), size=32)
    assert (view.layer, view.channel) == ("0", 0)
    assert "relu, tanh" in view.views["neurons"].legend.value  # mixed activations: one shared range
    x, y, w, h = view.views["neurons"].tile_rect(8)  # the second layer's unit 2
    click(view.views["neurons"], x + 1, y + 1)
    assert (view.layer, view.channel) == ("2", 2)
    assert view.views["neuron"].title == "neuron 2[2] (after 3, relu)"
    view.layer = "0"
    view.channel = 5
    with pytest.raises(ValueError, match="channel in 0..5"):
        view.channel = 6
    with pytest.raises(KeyError, match="not a hidden linear layer"):
        view.layer = "4"
    view.layer = "2"
    assert view.channel == 3  # kept inside the 4 units of layer 2
    grid = view.views["neurons"]
    assert grid.canvas.marks and grid.tile_rect(9)[0] - 0.5 == grid.canvas.marks[0]["x"]


def test_every_trait_and_option_is_checked():
    clf = classifier(outputs=2)
    view = nl.PlaneView(clf, size=16)
    assert view.mode == "auto" and view.views["plane"].title == "winning class"
    for trait, bad, message in [("mode", "rgb", "needs 3 outputs"), ("mode", "nope", "mode in"),
                                ("output", 2, "output in 0..1")]:
        before = getattr(view, trait)
        with pytest.raises(ValueError, match=message):
            setattr(view, trait, bad)
        assert getattr(view, trait) == before
    assert "rgb" not in [v for _, v in view.controls["mode"].options]  # only the views that fit
    for kwargs, message in [(dict(size=1), "size"), (dict(extent=(0, 0, 0, 1)), "extent"),
                            (dict(points=np.zeros((3, 3))), r"\(N, 2\)"),
                            (dict(points=np.zeros((2, 2)), point_classes=[1]), "one class per point"),
                            (dict(points=np.zeros((2, 2)), point_classes=[0, 5]), "0..1"),
                            (dict(point_classes=[0]), "without points"), (dict(labels=["a"]), "2 labels"),
                            (dict(mode="rgb"), "needs 3 outputs")]:
        with pytest.raises(ValueError, match=message):
            nl.PlaneView(clf, **kwargs)
    with pytest.raises(ValueError, match=r"2 inputs"):
        nl.PlaneView(nn.Linear(5, 2))
    assert nl.PlaneView(clf, size=8, layer="2").layer == "2"
    with pytest.raises(KeyError, match="not a hidden linear layer"):
        nl.PlaneView(clf, size=8, layer="4")
    with pytest.raises(ValueError, match="no hidden layer"):
        nl.PlaneView(nn.Linear(2, 2), size=8, layer="0")
    with pytest.raises(TypeError, match="torch.nn.Module"):
        nl.PlaneView("model")


def test_refresh_redraws_after_the_model_changed_and_close_frees_it():
    clf = nn.Sequential(nn.Linear(2, 1))
    view = nl.PlaneView(clf, size=8)
    assert view.views["neurons"].layout.display == "none" and view.neuron_maps is None
    before = view.frame.copy()
    with torch.no_grad():
        clf[0].bias += 3.0
    view.refresh()
    assert not np.array_equal(view.frame, before)
    np.testing.assert_allclose(view.values, plane_outputs(clf, 8), atol=1e-6)
    ref = weakref.ref(view)
    view.close()
    del view
    gc.collect()
    assert ref() is None


def test_static_export_shows_the_plane_with_its_legend(tmp_path):
    view = nl.PlaneView(classifier(), size=16)
    view.save_html(tmp_path / "p.html")
    page = (tmp_path / "p.html").read_text()
    assert "outputs as colour (R, G, B)" in page and "hidden neurons" in page and "neuron activation" not in page
    assert "relu, tanh" in page
    view.save_png(tmp_path / "p.png")

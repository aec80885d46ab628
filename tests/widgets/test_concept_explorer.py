"""ConceptExplorer without a browser: rows, choices, heat maps with colour bars, labelled bars, bad values."""
import threading

import numpy as np
import pytest
import torch
from torch import nn

import nnlens_widgets as nl
from nnlens_widgets.core import ModelSnapshot, axis_scores, forward_capture
from tests.widgets.freeing import assert_freed, closed


@pytest.fixture(scope="module")
def setup():
    model = nl.zoo.shapes_cw()
    concepts = {k: v.images for k, v in nl.zoo.shapes_concept_sets(60, seed=1).items()}
    test = nl.zoo.shapes_data(n_train=0).x_test[:200]
    return model, concepts, test


@pytest.fixture(scope="module")
def explorer(setup):
    model, concepts, test = setup
    snap = ModelSnapshot.of(model)
    ex = nl.ConceptExplorer(model, concept_data=concepts, test_data=test, baseline=nl.zoo.shapes_cnn(), splits=2)
    assert ex.wait(120)
    assert ex.error is None
    yield ex
    assert ModelSnapshot.of(model).differences(snap) == {}


def click(view, index):
    x, y, w, h = view.tile_rect(index)
    view.canvas.handle_event({"event": "click", "x": x + w / 2, "y": y + h / 2})


def test_one_row_per_concept_with_purity_and_top_images(explorer, setup):
    model, _, test = setup
    assert explorer.layer == nl.zoo.CW_LAYER and explorer.concepts == [c[0] for c in nl.zoo.CW_CONCEPTS]
    assert list(explorer.rows) == explorer.concepts
    assert explorer.purity.concepts == explorer.concepts
    assert explorer.baseline_purity is not None and len(explorer.baseline_purity.auc) == len(explorer.concepts)
    for name, label in explorer.row_labels.items():
        i = explorer.purity.concepts.index(name)
        assert name in label and f"axis AUC {explorer.purity.auc[i]:.3f}" in label and "best BN channel" in label
    # the top images are the highest scores on the axis, computed independently here
    acts, _ = forward_capture(model, test, [explorer.layer])
    scores = axis_scores(acts[explorer.layer], 0)[:, 1].numpy()
    top = explorer.top_images("green")
    assert set(top.tolist()) == set(np.argsort(-scores, kind="stable")[:explorer.k].tolist())
    strip = explorer.rows["green"].frame  # the row shows those images, in order, at their own size
    first = nl.render.image_rgba(test[top[0]].numpy())
    assert np.array_equal(strip[1:65, 1:65], first)


def test_choosing_a_concept_shows_its_top_images_and_keeps_the_heat_maps(explorer):
    explorer.concept = "red"
    red = explorer.top_frame.copy()
    heat = explorer.heat_frames
    bars = explorer.views["scores"].body.value
    explorer.concept = "cyan"
    # only the highlights depend on the concept: the heat maps are not redrawn
    assert all(explorer.heat_frames[name] is frame for name, frame in heat.items())
    assert explorer.views["scores"].body.value != bars
    assert not np.array_equal(red, explorer.top_frame)
    assert "cyan" in explorer.views["top"].title and "cyan" in explorer.views["baseline"].caption.value
    marks = {name: bool(view.canvas.marks) for name, view in explorer.rows.items()}
    assert marks == {c: c == "cyan" for c in explorer.concepts}
    assert "&#9656; cyan" in explorer.row_labels["cyan"] and "&#9656;" not in explorer.row_labels["red"]
    click(explorer.rows["green"], 2)  # a tile of a row chooses its concept and that image
    assert explorer.concept == "green" and explorer.example == int(explorer.top_images("green")[2])


def test_choosing_an_example_draws_one_heat_map_per_axis(explorer, setup):
    model, _, test = setup
    explorer.example = 5
    five = explorer.heat_frames
    values = explorer.axis_values()
    acts, _ = forward_capture(model, test[5:6], [explorer.layer])
    expected = axis_scores(acts[explorer.layer], 0)[0, :len(explorer.concepts)].numpy()
    assert np.allclose(values, expected, atol=1e-5)
    assert np.array_equal(explorer.views["input"].frame, nl.render.image_rgba(test[5].numpy()))
    for name, value in zip(explorer.concepts, values):
        view = explorer.views[f"axis {name}"]
        assert view.title == f"{name} axis" and view.frame.shape == (64, 64, 4)
        assert "axis value" in view.legend.value and f"axis score {nl.render.fmt(value)}" in view.caption.value
        assert "not a value on the colour bar" in view.caption.value  # a pooled score, named apart
    bars = explorer.views["scores"].body.value
    assert bars.count("class='nnl-bar'") == len(explorer.concepts)
    assert all(f">{name}<" in bars for name in explorer.concepts) and "axis score" in bars
    explorer.example = 6
    assert not np.array_equal(five["red"], explorer.heat_frames["red"])
    explorer.concept = "blue"
    first = int(explorer.top_images("blue")[0])
    click(explorer.views["top"], 0)
    assert explorer.example == first
    assert explorer.views["top"].canvas.marks  # the chosen image is boxed among the top images


def test_bad_values_raise_and_are_not_kept(explorer):
    kept = explorer.example
    with pytest.raises(ValueError, match=r"example in 0..199"):
        explorer.example = 500
    assert explorer.example == kept and explorer.controls["example"].value == kept
    with pytest.raises(ValueError, match="expected a concept of layer 'bn2'"):
        explorer.concept = "purple"
    with pytest.raises(ValueError, match="not a ConceptWhitening layer"):
        explorer.layer = "bn3"
    assert explorer.error is None


def test_bad_construction(setup):
    model, concepts, test = setup
    with pytest.raises(ValueError, match="no ConceptWhitening layer"):
        nl.ConceptExplorer(nl.zoo.shapes_cnn(), concept_data=concepts, test_data=test)
    with pytest.raises(ValueError, match="concept 'red' has no examples"):
        nl.ConceptExplorer(model, concept_data={**concepts, "red": concepts["red"][:0]}, test_data=test)
    with pytest.raises(TypeError, match="concept_data"):
        nl.ConceptExplorer(model, test_data=test)  # required, keyword-only
    nameless = nl.zoo.shapes_cnn()
    nl.core.replace_batchnorm(nameless, "bn2")
    with pytest.raises(ValueError, match="layer 'bn2' names no concepts"):
        nl.ConceptExplorer(nameless, concept_data=concepts, test_data=test)
    with pytest.raises(ValueError, match=r"test_data images shaped \(N, C, H, W\)"):
        nl.ConceptExplorer(model, concept_data=concepts, test_data=torch.zeros(3, 64, 64))
    with pytest.raises(ValueError, match=r"k in 1..64"):
        nl.ConceptExplorer(model, concept_data=concepts, test_data=test, k=0)


class Marked(nn.Module):
    """A layer and concepts whose names are markup."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.add_module("<i>bn</i>", nn.BatchNorm2d(4))
        self.head = nn.Linear(4, 2)

    def forward(self, x):
        return self.head(getattr(self, "<i>bn</i>")(self.conv(x)).mean((2, 3)))


def test_names_are_escaped_and_close_frees_everything():
    model = Marked()
    nl.core.replace_batchnorm(model, "<i>bn</i>", concepts=["<b>dark</b>", "light"])
    g = torch.Generator().manual_seed(0)
    concepts = {"<b>dark</b>": torch.rand(6, 3, 8, 8, generator=g) * 0.3,
                "light": 0.7 + torch.rand(6, 3, 8, 8, generator=g) * 0.3}
    threads = set(threading.enumerate())
    ex = nl.ConceptExplorer(model, concept_data=concepts, test_data=torch.rand(10, 3, 8, 8, generator=g), splits=1)
    assert ex.wait(60) and ex.error is None
    assert "&lt;b&gt;dark&lt;/b&gt;" in ex.row_labels["<b>dark</b>"] and "<b>dark</b>" not in ex.row_labels["<b>dark</b>"]
    note = ex.views["note"].body.value
    assert "&lt;i&gt;bn&lt;/i&gt;" in note and "<i>bn</i>" not in note
    page = ex.views["scores"].body.value
    assert "&lt;b&gt;dark&lt;/b&gt;" in page and "<b>dark</b>" not in page
    ref = closed(ex)
    del ex
    assert_freed(ref, threads)

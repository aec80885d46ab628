"""ConceptExplorer without a browser: rows, choices, heat maps, and bad inputs."""
import numpy as np
import pytest
import torch

import nnlens_widgets as nl
from nnlens_widgets.core import ModelSnapshot, axis_scores, forward_capture


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


def test_one_row_per_concept_with_purity_and_top_images(explorer, setup):
    model, _, test = setup
    assert explorer.layer == nl.zoo.CW_LAYER and explorer.concepts == [c[0] for c in nl.zoo.CW_CONCEPTS]
    assert len(explorer._row_canvases) == len(explorer.concepts)
    assert explorer.purity.concepts == explorer.concepts
    assert explorer.baseline_purity is not None and len(explorer.baseline_purity.auc) == len(explorer.concepts)
    for label, name in zip(explorer._row_labels, explorer.concepts):
        assert name in label.value and "AUC" in label.value and "best BN channel" in label.value
    # the top images are the highest scores on the axis, computed independently here
    acts, _ = forward_capture(model, test, [explorer.layer])
    scores = axis_scores(acts[explorer.layer], 0)[:, 1].numpy()
    top = explorer.top_images("green")
    assert set(top.tolist()) == set(np.argsort(-scores, kind="stable")[:explorer.k].tolist())


def test_choosing_a_row_shows_its_top_images(explorer):
    explorer.concept = "red"
    red = explorer.top_frame.copy()
    heat_id, bars_id = explorer._heat._frame_id, explorer._bars._frame_id
    explorer.concept = "cyan"
    # only the highlight in the bars depends on the concept: the heat maps are not redrawn
    assert explorer._heat._frame_id == heat_id and explorer._bars._frame_id != bars_id
    assert not np.array_equal(red, explorer.top_frame)
    assert "cyan" in explorer._chosen_title.value
    marks = [c.marks for c in explorer._row_canvases]
    assert [bool(m) for m in marks] == [c == "cyan" for c in explorer.concepts]
    # clicking a row canvas chooses that concept
    explorer._row_canvases[0]._dispatch(None, {"event": "click", "x": 3, "y": 3}, [])
    assert explorer.concept == explorer.concepts[0]


def test_choosing_an_image_draws_one_heat_map_per_axis(explorer, setup):
    model, _, test = setup
    explorer.image = 5
    five = explorer.frame.copy()
    values = explorer.axis_values()
    acts, _ = forward_capture(model, test[5:6], [explorer.layer])
    expected = axis_scores(acts[explorer.layer], 0)[0, :len(explorer.concepts)].numpy()
    assert np.allclose(values, expected, atol=1e-5)
    explorer.image = 6
    assert not np.array_equal(five, explorer.frame)
    # the picture holds the image and one overlay per concept, side by side
    h, w = explorer.frame.shape[:2]
    assert w > (len(explorer.concepts) + 1) * (h - 4)
    # clicking a top image chooses it
    explorer.concept = "blue"
    first = int(explorer.top_images("blue")[0])
    x, y, _, _ = explorer._chosen_grid.layout.rect(0)
    explorer._chosen._dispatch(None, {"event": "click", "x": x + 2, "y": y + 2}, [])
    assert explorer.image == first


def test_bad_choices_are_reported_not_raised_in_controls(explorer):
    with pytest.raises(ValueError, match="image index in 0..199"):
        explorer.image = 500
    with pytest.raises(KeyError, match="unknown concept 'purple'"):
        explorer.concept = "purple"
    with pytest.raises(ValueError, match="not a ConceptWhitening layer"):
        explorer.layer = "bn3"


def test_bad_construction(setup):
    model, concepts, test = setup
    with pytest.raises(ValueError, match="no ConceptWhitening layer"):
        nl.ConceptExplorer(nl.zoo.shapes_cnn(), concept_data=concepts, test_data=test)
    with pytest.raises(ValueError, match="concept 'red' has no examples"):
        nl.ConceptExplorer(model, concept_data={**concepts, "red": concepts["red"][:0]}, test_data=test)
    with pytest.raises(ValueError, match="concept_data"):
        nl.ConceptExplorer(model, test_data=test)
    nameless = nl.zoo.shapes_cnn()
    nl.core.replace_batchnorm(nameless, "bn2")
    with pytest.raises(ValueError, match="layer 'bn2' names no concepts"):
        nl.ConceptExplorer(nameless, concept_data=concepts, test_data=test)
    with pytest.raises(ValueError, match=r"images shaped \(N, C, H, W\)"):
        nl.ConceptExplorer(model, concept_data=concepts, test_data=torch.zeros(3, 64, 64))

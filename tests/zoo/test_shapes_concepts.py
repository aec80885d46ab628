"""The shipped concept-whitened shapes CNN: pure axes, the task kept, and its concept sets."""
import pytest
import torch

import nnlens_widgets as nl
from nnlens_widgets.core import ConceptWhitening, best_channels, concept_purity
from nnlens_widgets.zoo import CW_CONCEPTS, CW_LAYER, shapes_concept_sets, shapes_cw
from nnlens_widgets.zoo.training import accuracy


@pytest.fixture(scope="module")
def held_out():
    return {k: v.images for k, v in shapes_concept_sets(200, seed=1).items()}


def test_every_axis_is_pure_and_beats_the_best_batchnorm_channel(held_out):
    model = shapes_cw()
    assert isinstance(model.get_submodule(CW_LAYER), ConceptWhitening)
    purity = concept_purity(model, CW_LAYER, held_out)
    base = best_channels(nl.zoo.shapes_cnn(), CW_LAYER, held_out, pool=model.get_submodule(CW_LAYER).pool)
    report = {c: (round(a, 3), round(b, 3)) for c, a, b in zip(purity.concepts, purity.auc, base.auc)}
    print("axis AUC, best BatchNorm channel AUC:", report)
    assert purity.concepts == [c[0] for c in CW_CONCEPTS]
    assert (purity.auc >= 0.9).all(), report
    assert (purity.std < 0.02).all()
    assert (purity.auc > base.auc).all(), report


def test_the_main_task_is_kept():
    data = nl.zoo.shapes_data(n_train=0)
    ours = accuracy(shapes_cw(), data.x_test, data.y_test)
    theirs = accuracy(nl.zoo.shapes_cnn(), data.x_test, data.y_test)
    assert ours >= theirs - 0.02, (ours, theirs)


def test_the_rotation_is_orthogonal_and_the_outputs_finite():
    model = shapes_cw()
    r = model.get_submodule(CW_LAYER).rotation
    assert torch.linalg.matrix_norm(r.T @ r - torch.eye(r.shape[0], dtype=r.dtype)) < 1e-4
    out = model(nl.zoo.make_shapes(8, seed=3).images)
    assert torch.isfinite(out).all()


def test_concept_sets_show_exactly_their_concept():
    concepts = (("red", "color", "red"), ("stripes", "texture", "stripes"), ("large", "size", "large"))
    sets = shapes_concept_sets(30, seed=2, concepts=concepts)
    assert list(sets) == ["red", "stripes", "large"]
    for name, attribute, value in concepts:
        s = sets[name]
        assert len(s) == 30
        assert all(v == value for v in s.attributes[attribute])
        others = [(a, v) for n, a, v in concepts if n != name]
        assert not any(s.attributes[a][i] == v for a, v in others for i in range(30))
    again = shapes_concept_sets(30, seed=2, concepts=concepts)
    assert torch.equal(again["red"].images, sets["red"].images)
    assert not torch.equal(shapes_concept_sets(30, seed=3, concepts=concepts)["red"].images, sets["red"].images)
    with pytest.raises(ValueError, match="unknown attribute value color='purple'"):
        shapes_concept_sets(5, concepts=(("purple", "color", "purple"),))

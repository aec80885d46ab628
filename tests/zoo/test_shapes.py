import math

import numpy as np
import pytest
import torch
from matplotlib.path import Path as PolygonPath
from torch import nn

from nnlens_widgets.core import probe
from nnlens_widgets.zoo import (
    SHAPE_CLASSES,
    ShapesCNN,
    concept_examples,
    make_shapes,
    shapes_cnn,
    shapes_data,
    train_shapes_cnn,
)
from nnlens_widgets.zoo.shapes import (
    PALETTE,
    SHAPE_CONCEPTS,
    SHAPE_NOISE,
    SIZE_THRESHOLD,
    STAR_INNER,
    CROSS_HALF_WIDTH,
    WEIGHTS_PATH,
    ShapesSplits,
    accuracy,
)


@pytest.fixture(scope="module")
def test_set():
    return shapes_data(n_train=0).test


def _assert_same(a, b):
    assert torch.equal(a.images, b.images)
    assert torch.equal(a.labels, b.labels)
    assert torch.equal(a.masks, b.masks)
    assert a.attributes.keys() == b.attributes.keys()
    for name in a.attributes:
        assert np.array_equal(np.asarray(a.attributes[name]), np.asarray(b.attributes[name])), name


def test_same_seed_same_images_and_global_rngs_untouched():
    np_state, torch_state = np.random.get_state(), torch.get_rng_state()
    first = make_shapes(120, seed=3)
    second = make_shapes(120, seed=3)
    assert torch.equal(torch.get_rng_state(), torch_state)
    after = np.random.get_state()
    assert np.array_equal(after[1], np_state[1]) and after[2:] == np_state[2:]
    _assert_same(first, second)
    other = make_shapes(120, seed=4)
    assert not torch.equal(first.images, other.images)
    assert not torch.equal(first.masks, other.masks)


def test_types_shapes_and_ranges(test_set):
    s = test_set
    assert len(s) == 1000
    assert s.images.shape == (1000, 3, 64, 64) and s.images.dtype == torch.float32
    assert s.labels.shape == (1000,) and s.labels.dtype == torch.int64
    assert s.masks.shape == (1000, 64, 64) and s.masks.dtype == torch.bool
    assert s.images.min() >= 0 and s.images.max() <= 1
    assert s.classes == SHAPE_CLASSES == ["circle", "square", "triangle", "star", "cross"]
    assert [SHAPE_CLASSES[i] for i in s.labels.tolist()] == s.attributes["shape"]
    for name in ("shape", "color", "texture", "size"):
        assert len(s.attributes[name]) == 1000
    for name in ("cx", "cy", "radius", "angle", "area"):
        assert s.attributes[name].shape == (1000,)
    assert s.attributes["rgb"].shape == (1000, 3)
    small = make_shapes(4, seed=0, size=32)
    assert small.images.shape == (4, 3, 32, 32) and small.masks.shape == (4, 32, 32)


def test_masks_are_inside_the_image_and_sized_as_labelled(test_set):
    masks = test_set.masks
    area = masks.sum(dim=(1, 2)).numpy()
    assert (area > 0).all()
    assert np.array_equal(area, test_set.attributes["area"])
    # A free pixel all round: nothing touches the border.
    assert not masks[:, 0].any() and not masks[:, -1].any()
    assert not masks[:, :, 0].any() and not masks[:, :, -1].any()
    size = np.array(test_set.attributes["size"])
    assert (area[size == "small"] < SIZE_THRESHOLD).all()
    assert (area[size == "large"] >= SIZE_THRESHOLD).all()
    r, cx, cy = (test_set.attributes[k] for k in ("radius", "cx", "cy"))
    assert (cx - r >= 1).all() and (cx + r <= 62).all() and (cy - r >= 1).all() and (cy + r <= 62).all()


def test_pixels_under_the_mask_have_the_shape_colour(test_set):
    images = test_set.images.permute(0, 2, 3, 1).numpy()
    masks = test_set.masks.numpy()
    rgb = test_set.attributes["rgb"]
    palette = np.array([PALETTE[c] for c in test_set.attributes["color"]])
    assert np.abs(rgb - palette).max() <= 0.06 + 1e-6  # colour jitter
    distance = np.abs(images - rgb[:, None, None, :]).max(axis=3)
    assert (distance[masks] <= SHAPE_NOISE + 1e-6).all()
    # The ring of pixels just outside each shape is background, not the shape's colour.
    grown = masks.copy()
    grown[:, 1:] |= masks[:, :-1]
    grown[:, :-1] |= masks[:, 1:]
    grown[:, :, 1:] |= masks[:, :, :-1]
    grown[:, :, :-1] |= masks[:, :, 1:]
    ring = grown & ~masks
    share = (distance[ring] <= SHAPE_NOISE + 1e-6).mean()
    print(f"ring pixels within the shape's colour tolerance: {share:.4f}")
    assert share < 0.01


def _outline(kind, cx, cy, r, angle):
    """Vertices of the shape (image coordinates) from its parameters, written independently."""
    if kind == "square":
        radii, turns = [r] * 4, [j * math.pi / 2 for j in range(4)]
    elif kind == "triangle":
        radii, turns = [r] * 3, [j * 2 * math.pi / 3 for j in range(3)]
    elif kind == "star":
        radii = [r if j % 2 == 0 else STAR_INNER * r for j in range(10)]
        turns = [j * math.pi / 5 for j in range(10)]
    else:  # cross: 12 corners
        w = CROSS_HALF_WIDTH * r
        length = math.sqrt(r * r - w * w)
        corners = [(length, w), (w, w), (w, length), (-w, length), (-w, w), (-length, w),
                   (-length, -w), (-w, -w), (-w, -length), (w, -length), (w, -w), (length, -w)]
        radii = [math.hypot(a, b) for a, b in corners]
        turns = [math.atan2(b, a) for a, b in corners]
    return np.array([(cx + q * math.cos(angle + t), cy + q * math.sin(angle + t)) for q, t in zip(radii, turns)])


def test_masks_match_the_stated_geometry(test_set):
    """Compare each mask with an independent rasterisation: circle by distance, polygons by matplotlib."""
    ys, xs = np.mgrid[0:64, 0:64]
    centres = np.stack([xs.ravel(), ys.ravel()], axis=1).astype(float)
    worst = 0
    for i in range(0, 1000, 4):
        kind = test_set.attributes["shape"][i]
        cx, cy, r, angle = (float(test_set.attributes[k][i]) for k in ("cx", "cy", "radius", "angle"))
        if kind == "circle":
            expected = ((xs - cx) ** 2 + (ys - cy) ** 2 <= r * r).ravel()
        else:
            expected = PolygonPath(_outline(kind, cx, cy, r, angle)).contains_points(centres)
        differ = int((expected != test_set.masks[i].numpy().ravel()).sum())
        worst = max(worst, differ)
    print(f"most mask pixels differing from the independent rasterisation: {worst}")
    # Only pixel centres lying on an edge to rounding may disagree.
    assert worst <= 1


def test_classes_and_attribute_values_are_balanced(test_set):
    assert torch.bincount(test_set.labels, minlength=5).tolist() == [200] * 5
    for name, values in SHAPE_CONCEPTS.items():
        counts = {v: test_set.attributes[name].count(v) for v in values}
        assert set(test_set.attributes[name]) == set(values)
        assert max(counts.values()) - min(counts.values()) <= 1, (name, counts)
    # Size is drawn independently of the shape: every shape comes in both sizes.
    pairs = set(zip(test_set.attributes["shape"], test_set.attributes["size"]))
    assert pairs == {(s, z) for s in SHAPE_CLASSES for z in ("small", "large")}
    assert (test_set.attributes["angle"][test_set.labels.numpy() == 0] == 0).all()
    assert test_set.attributes["angle"].max() > 3


def test_splits_are_fixed_and_independent():
    a = shapes_data(n_train=50, n_test=40)
    b = shapes_data(n_train=0, n_test=40)
    assert isinstance(a, ShapesSplits) and len(a.train) == 50 and len(b.train) == 0
    _assert_same(a.test, b.test)
    assert torch.equal(a.x_test, a.test.images) and torch.equal(a.y_train, a.train.labels)
    assert not torch.equal(a.train.images[:40], a.test.images)
    assert not torch.equal(shapes_data(seed=1, n_train=0, n_test=40).x_test, a.x_test)


def test_subset_keeps_attributes_aligned(test_set):
    part = test_set.subset([5, 2, 9])
    assert torch.equal(part.images, test_set.images[[5, 2, 9]])
    assert part.attributes["color"] == [test_set.attributes["color"][i] for i in (5, 2, 9)]
    assert np.array_equal(part.attributes["rgb"], test_set.attributes["rgb"][[5, 2, 9]])


@pytest.mark.parametrize("attribute,value", [("color", "red"), ("texture", "stripes"), ("size", "small"),
                                             ("shape", "star")])
def test_concept_examples_only_match(attribute, value):
    examples = concept_examples(attribute, value, 60, seed=2)
    assert len(examples) == 60
    assert examples.attributes[attribute] == [value] * 60
    _assert_same(examples, concept_examples(attribute, value, 60, seed=2))
    # The other attributes still vary.
    for other in ("color", "texture", "size"):
        if other != attribute:
            assert len(set(examples.attributes[other])) == len(SHAPE_CONCEPTS[other])


def test_bad_arguments_are_named():
    with pytest.raises(KeyError, match="colour.*expected one of"):
        concept_examples("colour", "red", 3)
    with pytest.raises(ValueError, match="'purple'.*'red'"):
        concept_examples("color", "purple", 3)
    with pytest.raises(ValueError, match="n must be"):
        make_shapes(-1)
    with pytest.raises(ValueError, match="size must be"):
        make_shapes(3, size=16)
    assert len(make_shapes(0)) == 0


def test_shipped_model_accuracy(test_set):
    model = shapes_cnn()
    assert not model.training
    acc = accuracy(model, test_set.images, test_set.labels)
    print(f"shipped ShapesCNN test accuracy: {acc:.4f}")
    assert acc >= 0.95


def test_weights_file_is_a_small_plain_state_dict():
    assert WEIGHTS_PATH.stat().st_size < 1024 * 1024
    state = torch.load(WEIGHTS_PATH, map_location="cpu", weights_only=True)
    assert isinstance(state, dict)
    assert all(isinstance(t, torch.Tensor) for t in state.values())
    assert state.keys() == ShapesCNN().state_dict().keys()


def test_named_layers_and_map_sizes():
    model = ShapesCNN().eval()
    names = [n for n, _ in model.named_children()]
    assert names == ["conv1", "bn1", "relu1", "pool1", "conv2", "bn2", "relu2", "pool2", "conv3", "bn3",
                     "relu3", "pool3", "conv4", "bn4", "relu4", "gap", "flatten", "fc"]
    assert all(isinstance(getattr(model, f"bn{i}"), nn.BatchNorm2d) for i in range(1, 5))
    relus = [m for m in model.modules() if isinstance(m, nn.ReLU)]
    assert len(relus) == 4 and not any(m.inplace for m in relus)
    with probe(model, ["relu1", "relu2", "relu3", "relu4"]) as seen:
        out = model(torch.rand(2, 3, 64, 64))
    assert out.shape == (2, 5)
    assert [tuple(seen[f"relu{i}"].shape[-2:]) for i in range(1, 5)] == [(64, 64), (32, 32), (16, 16), (8, 8)]


def test_untrained_model_differs_from_shipped():
    random, shipped = shapes_cnn(pretrained=False), shapes_cnn()
    assert not random.training
    assert not torch.equal(random.conv1.weight, shipped.conv1.weight)


def test_training_is_reproducible_and_leaves_global_rng_alone():
    full = shapes_data(n_train=192, n_test=64)
    data = ShapesSplits(full.train, full.test, full.classes)
    progress = []
    rng = torch.get_rng_state()
    first = train_shapes_cnn(epochs=1, data=data, on_progress=lambda *args: progress.append(args))
    assert torch.equal(torch.get_rng_state(), rng)
    second = train_shapes_cnn(epochs=1, data=data)
    a, b = first.state_dict(), second.state_dict()
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not first.training
    (epoch, loss, acc), = progress
    assert epoch == 1 and loss > 0 and 0 <= acc <= 1
    other = train_shapes_cnn(epochs=1, seed=1, data=data).state_dict()
    assert not torch.equal(a["conv1.weight"], other["conv1.weight"])

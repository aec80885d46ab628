"""The playground's data: the four shapes, the split, and your own points from every accepted kind."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch

from nnlens_widgets.core.playground import (
    DATASETS, DataSource, PointSet, load_points, make_points, split_points,
)

G = lambda seed=0: torch.Generator().manual_seed(seed)  # noqa: E731


@pytest.mark.parametrize("name", DATASETS)
def test_each_shape_is_500_points_on_the_playgrounds_plane_the_same_for_the_same_seed(name):
    points, labels = make_points(name, G(1), noise=0.1)
    again, labels_again = make_points(name, G(1), noise=0.1)
    other, _ = make_points(name, G(2), noise=0.1)  # (a spiral without noise is the same for every seed)
    assert points.shape == (500, 2) and points.dtype == np.float32 and labels.dtype == np.int64
    assert np.array_equal(points, again) and np.array_equal(labels, labels_again)
    assert not np.array_equal(points, other)
    assert set(np.unique(labels)) == {0, 1}
    if name in ("circle", "xor"):  # within the Playground's [-6, 6]
        assert np.abs(points).max() <= 6.0


def test_the_shapes_follow_the_playgrounds_rules_without_noise():
    p, y = make_points("circle", G(), noise=0.0)
    r = np.hypot(p[:, 0], p[:, 1])
    assert (r[y == 0] <= 2.5 + 1e-5).all() and (r[y == 1] >= 3.5 - 1e-5).all() and (r <= 5 + 1e-5).all()
    p, y = make_points("xor", G(), noise=0.0)
    assert ((p[:, 0] * p[:, 1] >= 0) == (y == 0)).all()
    p, y = make_points("gauss", G(), noise=0.0)
    assert np.allclose(p[y == 0].mean(0), [2, 2], atol=0.2) and np.allclose(p[y == 1].mean(0), [-2, -2], atol=0.2)
    p, y = make_points("spiral", G(), noise=0.0)
    assert np.allclose(p[0], [0, 0]) and np.bincount(y).tolist() == [250, 250]


def test_noise_flips_labels_near_the_circle_and_widens_the_blobs():
    _, y0 = make_points("circle", G(), noise=0.0)
    p, y = make_points("circle", G(), noise=0.5)
    r = np.hypot(p[:, 0], p[:, 1])
    assert ((r < 2.5) & (y == 1)).any()  # a point inside carries the outer label
    spread = lambda noise: make_points("gauss", G(), noise=noise)[0].std()  # noqa: E731
    assert spread(0.5) > 2 * spread(0.0)


@pytest.mark.parametrize("name, classes", [("circle", 3), ("gauss", 5), ("spiral", 6)])
def test_more_classes_give_each_class_its_share(name, classes):
    _, y = make_points(name, G(), classes=classes)
    counts = np.bincount(y, minlength=classes)
    assert len(counts) == classes and counts.min() >= 500 // classes - 30


def test_bad_shapes_are_refused_clearly():
    with pytest.raises(ValueError, match="'xor' data set has 2 classes"):
        make_points("xor", G(), classes=3)
    with pytest.raises(ValueError, match="2 to 6 classes, got 7"):
        make_points("circle", G(), classes=7)
    with pytest.raises(ValueError, match=r"noise in 0\.\.0\.5"):
        make_points("circle", G(), noise=0.7)
    with pytest.raises(ValueError, match="data set in"):
        make_points("moons", G())


def test_the_split_is_per_class_seeded_and_never_uses_the_global_generator():
    labels = np.repeat([0, 1, 2], [100, 60, 40])
    state = torch.get_rng_state()
    test = split_points(200, 0.25, G(5), labels)
    assert torch.equal(torch.get_rng_state(), state)
    assert [int(test[labels == c].sum()) for c in range(3)] == [25, 15, 10]
    assert np.array_equal(test, split_points(200, 0.25, G(5), labels))
    with pytest.raises(ValueError, match=r"test_fraction in 0\.\.0\.9"):
        split_points(10, 0.95, G())


# -- your own points ------------------------------------------------------------------------------
XY = np.array([[0.0, 1.0], [2.0, 3.0], [4.0, 5.0], [6.0, 7.5]], dtype=np.float64)
Y = np.array([1, 0, 1, 0])


def _same(loaded, names=("0", "1")):
    points, labels, got_names = loaded
    assert points.dtype == np.float32 and np.array_equal(points, XY.astype(np.float32))
    assert labels.tolist() == [1, 0, 1, 0] and got_names == tuple(names)


def test_own_points_from_numpy_torch_and_an_n_by_3_array():
    _same(load_points(XY, Y))
    _same(load_points(torch.tensor(XY), torch.tensor(Y)))
    _same(load_points(np.column_stack([XY, Y])))
    _same(load_points(XY.tolist(), Y.tolist()))


def test_own_points_from_a_dataframe_and_a_csv_file(tmp_path):
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame({"X": XY[:, 0], "y": XY[:, 1], "Label": Y})
    _same(load_points(frame))
    _same(load_points(frame[["X", "y"]], frame["Label"]))
    path = tmp_path / "points.csv"
    frame.to_csv(path, index=False)
    _same(load_points(path))
    _same(load_points(str(path)))
    path.write_text("x,y,label\n0,1,cat\n2,3,dog\n4,5,cat\n6,7.5,dog\n")
    points, labels, names = load_points(path)
    assert labels.tolist() == [0, 1, 0, 1] and names == ("cat", "dog")
    points, labels, names = load_points(path, classes=["dog", "cat"])
    assert labels.tolist() == [1, 0, 1, 0] and names == ("dog", "cat")


def test_pandas_is_not_imported_to_read_points():
    code = ("import sys, numpy as np\nfrom nnlens_widgets.core.playground import load_points\n"
            "load_points(np.zeros((4, 2)) + np.arange(4)[:, None], [0, 1, 0, 1])\nprint('pandas' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split()[-1] == "False"


def test_labels_become_classes_in_order():
    points, labels, names = load_points(XY, [-1, 1, -1, 1])  # the Playground's own labels
    assert names == ("-1", "1") and labels.tolist() == [0, 1, 0, 1]
    _, labels, names = load_points(XY, [0, 1, 2, 1], classes=4)  # a class with no point yet
    assert names == ("0", "1", "2", "3") and labels.tolist() == [0, 1, 2, 1]
    _, labels, names = load_points(XY, [1, 0, 1, 0], classes=["ham", "spam"])
    assert names == ("ham", "spam") and labels.tolist() == [1, 0, 1, 0]


@pytest.mark.parametrize("points, labels, classes, match", [
    (XY, [3, 3, 3, 3], None, "at least 2 classes.*one class only \\('3'\\)"),
    (np.where(np.arange(8).reshape(4, 2) == 5, np.nan, XY), Y, None, "NaN or infinite coordinates \\(rows 2\\)"),
    (np.where(np.arange(8).reshape(4, 2) == 0, np.inf, XY), Y, None, "finite x and y"),
    (np.tile(XY, (2, 1)), np.arange(8), None, "2 to 6 classes, the labels hold 8"),
    (XY, Y, 7, "2 to 6 classes, got 7"),
    (XY, Y[:3], None, "one label per point, got 3 labels for 4 points"),
    (XY[:, :1], Y, None, "shaped \\(N, 2\\)"),
    (XY, None, None, "expected labels"),
    (XY, [0.0, np.nan, 1.0, 0.0], None, "some labels are NaN"),
    (XY, [0, 1, 5, 1], ["a", "b"], "labels in 0..1"),
    (XY, ["a", "b", "c", "a"], ["a", "b"], "among the classes"),
])
def test_bad_own_points_are_refused_clearly(points, labels, classes, match):
    with pytest.raises(ValueError, match=match):
        load_points(points, labels, classes)


def test_a_csv_without_the_columns_names_them(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("a,b,label\n1,2,0\n3,4,1\n")
    with pytest.raises(ValueError, match="columns x, y and label.*missing x, y.*its columns: 'a', 'b', 'label'"):
        load_points(path)
    path.write_text("x,y,label\n1,2,0\n3,oops,1\n")
    with pytest.raises(ValueError, match="line 3: expected numbers for x and y"):
        load_points(path)
    with pytest.raises(ValueError, match="no file"):
        load_points(tmp_path / "missing.csv")


def test_a_data_source_puts_own_points_in_a_square_and_scales_them_onto_the_playgrounds_plane():
    source = DataSource(XY * 100, Y)
    x0, x1, y0, y1 = source.own_extent
    assert x1 - x0 == pytest.approx(y1 - y0) and x0 < 0 and x1 > 600 and y0 < 100 and y1 > 750
    scale = source.scale("own")
    seen = scale(torch.tensor(XY * 100, dtype=torch.float32))
    assert seen.abs().max() <= 6.0 and seen.abs().max() > 0.85 * 6
    data = source.make("own", 0.0, 2, 0.5, seed=3)
    assert isinstance(data, PointSet) and data.test.sum() == 2 and data.names == ("0", "1")
    assert source.scale("circle") is None and source.extent("circle") == (-6.0, 6.0, -6.0, 6.0)
    with pytest.raises(ValueError, match="dataset in .*'own' needs points"):
        DataSource().check("own")


def test_points_are_added_and_removed_with_clear_refusals():
    data = PointSet(XY.astype(np.float32), np.array([0, 1, 0, 1]), np.array([False, False, True, False]), ("a", "b"))
    more = data.with_point((9, 9), 1, test=True)
    assert len(more) == 5 and more.labels[-1] == 1 and more.test[-1] and len(data) == 4
    assert more.points[-1].tolist() == [9.0, 9.0]
    with pytest.raises(ValueError, match=r"label in 0\.\.1 \(one of \['a', 'b'\]\), got 2"):
        data.with_point((0, 0), 2)
    with pytest.raises(ValueError, match="finite x and y"):
        data.with_point((np.nan, 0), 0)
    fewer = data.without(0)
    assert fewer.labels.tolist() == [1, 0, 1]
    with pytest.raises(ValueError, match="last point of its class"):
        fewer.without(1)
    with pytest.raises(ValueError, match="a training point to stay"):
        PointSet(XY[:2].astype(np.float32), np.array([0, 1]), np.array([False, True]), ("a", "b")).with_point(
            (0, 0), 0, test=True).without(0)
    with pytest.raises(ValueError, match=r"point index in 0\.\.3"):
        data.without(4)

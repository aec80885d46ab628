"""FeatureVisualizer without a browser: streaming, stop, cache, examples, errors."""
from __future__ import annotations

import time

import numpy as np
import pytest

import nnlens_widgets as nl
from nnlens_widgets.core import ModelSnapshot, hook_count, top_examples
from nnlens_widgets.widgets.feature_visualizer import FeatureVisualizer


def poll(predicate, timeout=30.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not met")
        time.sleep(0.01)


@pytest.fixture(scope="module")
def digits():
    return nl.zoo.digits_cnn(), nl.zoo.digits_data().x_test[:120]


def test_streams_frames_then_caches_the_unit(digits):
    model, x = digits
    before = ModelSnapshot.of(model)
    w = FeatureVisualizer(model, "relu3", data=x, steps=24, every=4, autorun=False)
    assert w.wait(60) and w.error is None  # the data scan ran, no optimisation
    assert w.runs == 0 and w.frames_streamed == 0
    blank = w.frame.copy()
    w.start()
    assert w.wait(60) and w.error is None
    assert w.runs == 1 and w.frames_streamed >= 6  # step 1, 4, 8, ..., 24
    assert not np.array_equal(w.frame, blank)
    state = w.result()
    assert state is not None and state.step == 24 and state.images.shape == (1, 1, 32, 32)
    assert "step 24/24" in w._info.value
    # another unit, then back: shown from the cache at once, no new run, no background work
    w.channel = 1
    w.start()
    assert w.wait(60) and w.runs == 2
    frame_1 = w.frame.copy()
    w.channel = 0
    assert not w._work.busy and w.runs == 2
    assert "cached" in w._info.value and not np.array_equal(w.frame, frame_1)
    assert ModelSnapshot.of(model).differences(before) == {}
    assert all(p.grad is None for p in model.parameters())


def test_autorun_follows_the_channel_and_new_settings_restart(digits):
    model, x = digits
    w = FeatureVisualizer(model, "conv2", steps=8, input_size=32)
    assert w.wait(60) and w.runs == 1 and w.result() is not None
    w.channel = 5
    assert w.wait(60) and w.runs == 2 and w.result().step == 8
    w.steps = 12  # new settings -> a new run with them
    assert w.wait(60) and w.runs == 3 and w.result().steps == 12
    w.batch = 2
    assert w.wait(60) and w.result().images.shape[0] == 2
    w.param = "pixel"
    assert w.wait(60) and w.runs == 5 and w.error is None


def test_stop_leaves_no_hooks_and_nothing_cached(digits):
    model, _ = digits
    before = ModelSnapshot.of(model)
    w = FeatureVisualizer(model, "relu3", steps=100000, every=2, input_size=32, autorun=False)
    w.start()
    poll(lambda: w.frames_streamed >= 2)
    w.stop()
    assert w.wait(30)
    streamed = w.frames_streamed
    assert w.result() is None and not w.running
    assert hook_count(model) == 0
    assert ModelSnapshot.of(model).differences(before) == {}
    assert all(p.grad is None for p in model.parameters())
    assert w.frames_streamed == streamed  # nothing drawn after the stop


def test_top_examples_are_shown_with_their_regions(digits):
    model, x = digits
    w = FeatureVisualizer(model, "relu3", data=x, autorun=False, k=9)
    assert w.wait(60)
    w.channel = 7
    scan = w.top_examples()
    expected = top_examples(model, x, "relu3", units=[7], k=9)
    assert scan.top(unit=7)[0].tolist() == expected.top(unit=7)[0].tolist()
    marks = w.examples_marks
    assert len(marks) == 9
    h, wd = w.examples_frame.shape[:2]
    for m in marks:
        assert 0 <= m["x"] and m["x"] + m["w"] <= wd and 0 <= m["y"] and m["y"] + m["h"] <= h and m["w"] > 0
    # the best example's tile shows that data image (grey values repeated in R, G, B)
    tile = w.examples_frame[1:1 + 32 * 3:3, 1:1 + 32 * 3:3, 0]  # factor 3 tiles from (1, 1)
    best = x[expected.top(unit=7)[0][0], 0].numpy()
    assert np.abs(tile.astype(float) / 255 - best).max() <= 1 / 255 + 1e-6


def test_layer_change_and_bad_inputs(digits):
    model, x = digits
    w = FeatureVisualizer(model, "relu3", data=x, autorun=False)
    assert w.wait(60)
    w.layer = "relu1"
    assert w.wait(60) and w.channels == 16 and w._channel_slider.max == 15
    assert w.top_examples().layer == "relu1"
    with pytest.raises(ValueError, match="channel in 0..15"):
        w.channel = 16
    with pytest.raises(ValueError, match="learning rate"):
        w.lr = 0
    with pytest.raises(KeyError, match="relu3"):
        FeatureVisualizer(model, "relu_3", autorun=False, input_size=32)
    with pytest.raises(ValueError, match="data images are shaped"):
        FeatureVisualizer(model, "relu3", data=x, input_size=16, autorun=False)
    with pytest.raises(ValueError, match="non-empty"):
        FeatureVisualizer(model, "relu3", data=x[:0], autorun=False)
    with pytest.raises(ValueError, match="nn.Module"):
        FeatureVisualizer("model")
    assert w.channel < 16 and w.error is None  # still usable
    w.channel = 3
    w.start()
    assert w.wait(60) and w.result() is not None


def test_precomputed_top_examples_are_shown_without_a_scan(digits, tmp_path, monkeypatch):
    model, x = digits
    scan = top_examples(model, x, "relu3", units=[7, 9], k=5)
    scan.save(tmp_path / "top_examples.pt")
    loaded = nl.core.load_top_examples(tmp_path)  # the folder a command-line scan writes

    def no_scan(*_a, **_k):
        raise AssertionError("a precomputed layer was scanned again")

    monkeypatch.setattr("nnlens_widgets.widgets.feature_visualizer.top_examples", no_scan)
    w = FeatureVisualizer(model, "relu3", data=x, autorun=False, top_examples=loaded)
    assert w.wait(60) and w.error is None
    w.channel = 9
    assert w.top_examples() is loaded and w.k == 5
    assert len(w.examples_marks) == 5 and "of 120 examples" in w._examples_info.value
    tile = w.examples_frame[1:1 + 32 * 3:3, 1:1 + 32 * 3:3, 0]  # factor 3 tiles from (1, 1)
    best = x[scan.top(unit=9)[0][0], 0].numpy()
    assert np.abs(tile.astype(float) / 255 - best).max() <= 1 / 255 + 1e-6
    w.channel = 3  # not among the scanned channels: said so, no examples of another channel left
    assert "not among the channels scanned" in w._examples_info.value and w.examples_marks == []
    assert w.error is None
    with pytest.raises(ValueError, match="pass that data set as data="):
        FeatureVisualizer(model, "relu3", input_size=32, autorun=False, top_examples=loaded)
    with pytest.raises(ValueError, match="data has 10 images"):
        FeatureVisualizer(model, "relu3", data=x[:10], autorun=False, top_examples=loaded)
    with pytest.raises(ValueError, match="expected top_examples as TopExamples"):
        FeatureVisualizer(model, "relu3", data=x, autorun=False, top_examples=["relu3"])

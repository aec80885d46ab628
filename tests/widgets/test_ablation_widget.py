"""NeuronAblation without a browser: clicks toggle channels, bars follow, ranking, pin, reset, model untouched."""
import numpy as np
import pytest
import torch

import nnlens_widgets as nl
from nnlens_widgets.core import ModelSnapshot, ablate, ablation_effects, hook_count
from nnlens_widgets.render import channel_grid, channel_maps
from tests.models import TinyNet, image


@pytest.fixture(scope="module")
def digits():
    return nl.zoo.digits_cnn(), nl.zoo.digits_data()


def click_tile(w, channel):
    x, y, tw, th = w.tile_rect(channel)
    w._grid_canvas._dispatch(w._grid_canvas, {"event": "click", "x": x + tw / 2, "y": y + th / 2}, [])
    assert w.wait(30)


def probs_with(model, x, replacement, layer):
    with ablate(model, layer, replacement), torch.no_grad():
        return model(x[None]).softmax(1)[0].numpy()


def test_grid_is_the_activation_grid_rendering_and_clicks_toggle(digits):
    m, d = digits
    x = d.x_test[0]
    before_model = ModelSnapshot.of(m)
    assert nl.NeuronAblation(m, x).layer == "pool2"  # default: the last layer with spatial maps
    w = nl.NeuronAblation(m, x, layer="relu3", labels=nl.zoo.DIGIT_CLASSES)
    assert w.layer == "relu3" and w.channels == 64
    acts = w._cache["relu3"].numpy()
    assert np.array_equal(w.frame, channel_grid(channel_maps(acts), "channel", "viridis", 0, None, 420).rgba)
    p0, a0 = w.probabilities
    np.testing.assert_array_equal(p0, a0)
    assert w.target == int(np.argmax(p0))
    bars_before = w._bars.value

    click_tile(w, 17)
    assert w.off == [17] and w.channel == 17
    np.testing.assert_allclose(w.probabilities[1], probs_with(m, x, {17: 0.0}, "relu3"), atol=1e-6)
    assert w._bars.value != bars_before and "nnl-bar-after" in w._bars.value
    marks = w._grid_canvas.marks
    assert any(mk["color"] == "#111111" for mk in marks) and marks[-1]["color"] == "#ff3b30"
    click_tile(w, 25)
    click_tile(w, 17)  # second click switches it back on
    assert w.off == [25]
    np.testing.assert_allclose(w.probabilities[1], probs_with(m, x, {25: 0.0}, "relu3"), atol=1e-6)
    assert ModelSnapshot.of(m).differences(before_model) == {} and hook_count(m) == 0


def test_pin_value_ranking_switch_off_top_and_reset(digits):
    m, d = digits
    x = d.x_test[3]
    before_model = ModelSnapshot.of(m)
    w = nl.NeuronAblation(m, x, layer="relu3")
    w.channel = 9
    w.pin_value = 6.0
    w.pinned = True
    assert w.wait(30)
    assert w.replacement == {9: 6.0}
    np.testing.assert_allclose(w.probabilities[1], probs_with(m, x, {9: 6.0}, "relu3"), atol=1e-6)

    w.pin_value = 250.0  # beyond the slider's range: the range grows, the value is kept
    assert w.wait(30) and w.replacement == {9: 250.0} and w._value_slider.value == 250.0
    w._value_slider.value = -1.5  # the slider drives the trait
    assert w.wait(30) and w.replacement == {9: -1.5}
    np.testing.assert_allclose(w.probabilities[1], probs_with(m, x, {9: -1.5}, "relu3"), atol=1e-6)

    w.pinned = False
    w.rank()
    assert w.wait(60) and w.error is None
    expected = ablation_effects(m, x, "relu3", w.target)
    assert w.effects.ranking() == expected.ranking()
    assert "channel" in w._ranking.value and not w._off_top_button.disabled
    w._top_n.value = 4
    w._off_top_button.click()
    assert w.wait(30)
    assert w.off == sorted(expected.ranking(4))
    p, a = w.probabilities
    assert a[w.target] < p[w.target]
    np.testing.assert_allclose(a, probs_with(m, x, {c: 0.0 for c in w.off}, "relu3"), atol=1e-6)

    w._reset_button.click()
    assert w.wait(30)
    assert w.off == [] and not w.pinned
    np.testing.assert_array_equal(*w.probabilities)
    assert ModelSnapshot.of(m).differences(before_model) == {} and hook_count(m) == 0


def test_layer_change_and_stopping_a_ranking(digits):
    m, d = digits
    w = nl.NeuronAblation(m, d.x_test[1], layer="relu1")
    assert w.channels == 16
    w.toggle(3)
    assert w.wait(30)
    w.layer = "relu2"
    assert w.wait(30)
    assert w.channels == 32 and w.off == [] and w.effects is None
    np.testing.assert_array_equal(*w.probabilities)
    w.rank()
    w.stop()
    assert w.wait(30)
    assert hook_count(m) == 0


def test_bad_inputs_are_clear_and_the_widget_stays_usable(digits):
    m, d = digits
    with pytest.raises(KeyError, match="relu3"):
        nl.NeuronAblation(m, d.x_test[0], layer="relu9")
    with pytest.raises(ValueError, match="got 3 labels for a model with 10 outputs"):
        nl.NeuronAblation(m, d.x_test[0], labels=["a", "b", "c"])
    with pytest.raises(ValueError, match="expected 1 input channel"):
        nl.NeuronAblation(m, torch.rand(3, 32, 32))
    with pytest.raises(ValueError, match="expected a torch.nn.Module"):
        nl.NeuronAblation("model", d.x_test[0])
    w = nl.NeuronAblation(m, d.x_test[0], layer="relu3")
    with pytest.raises(ValueError, match=r"expected a channel in 0..63"):
        w.toggle(64)
    with pytest.raises(ValueError, match="rank the channels first"):
        w.switch_off_top(3)
    w._off_top_button.disabled = False
    w._off_top_button.click()  # through the button: shown in the widget, not raised
    assert "rank the channels first" in w.error
    w.toggle(2)
    assert w.wait(30) and w.off == [2] and w.error is None


def test_model_with_batchnorm_in_train_mode_is_left_as_found():
    model = TinyNet().train()
    before = ModelSnapshot.of(model)
    w = nl.NeuronAblation(model, image(), layer="conv2")
    w.toggle(1)
    w.rank()
    assert w.wait(30) and w.error is None
    assert ModelSnapshot.of(model).differences(before) == {} and hook_count(model) == 0

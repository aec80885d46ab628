import threading
import time

import numpy as np
import pytest
import torch
import traitlets

import nnlens_widgets as nl
from nnlens_widgets.core import ModelSnapshot, hook_count
from nnlens_widgets.render.attention_pictures import patch_overlay, patch_tiles
from tests.core.vit_models import image, manual_forward, tv_vit
from tests.models import TinyNet
from tests.widgets.freeing import assert_freed, closed

LAYERS = ["encoder.layers.encoder_layer_0.self_attention", "encoder.layers.encoder_layer_1.self_attention"]


def hand_attention(model, x):
    """Each layer's (heads, T, T) probabilities from the written-out forward pass."""
    keep = []
    with torch.no_grad():
        manual_forward(model, x, keep)
    return [k[0].numpy() for k in keep]


def move(explorer, x, y):
    explorer.views["input"].canvas.handle_event({"event": "move", "x": x, "y": y})


def click(canvas, x, y):
    canvas.handle_event({"event": "click", "x": x, "y": y})


@pytest.fixture
def vit():
    return tv_vit(3), image(3)  # 40 px, 8 px patches: 1 + 5x5 tokens, 2 layers of 3 heads


def test_hover_shows_that_patchs_attention_in_every_layer_and_head(vit):
    model, x = vit
    snap = ModelSnapshot.of(model)
    ex = nl.AttentionExplorer(model, x)
    hand = hand_attention(model, x)
    assert ex.layers == LAYERS and ex.heads == 3 and ex.tokens == 26 and ex.query == 0
    before = ex.frame.copy()
    move(ex, 8 * 3 + 2, 8 * 1 + 5)  # patch row 1, column 3
    token = 1 + 1 * 5 + 3
    assert ex.query == token
    assert not np.array_equal(ex.frame, before)
    maps = ex.query_maps
    for i, a in enumerate(hand):
        for h in range(3):
            np.testing.assert_allclose(maps[i, h], a[h, token, 1:].reshape(5, 5), atol=1e-5)
        np.testing.assert_allclose(maps[i, 3], a[:, token, 1:].mean(0).reshape(5, 5), atol=1e-5)
    # the grid shows exactly those values, one range for every tile
    present = np.ones((2, 4), dtype=bool)
    expected, _ = patch_tiles(maps, present, float(maps.max()))
    assert np.array_equal(ex.frame, expected)
    # the enlarged map: the chosen layer and head over the image
    ex.layer, ex.head = LAYERS[1], 2
    np.testing.assert_allclose(ex.selected_map, hand[1][2, token, 1:].reshape(5, 5), atol=1e-5)
    photo = nl.render.image_rgba(x[0].numpy())
    assert np.array_equal(ex.views["detail"].frame,
                          patch_overlay(photo, ex.selected_map, float(ex.selected_map.max())))
    assert "row 1, column 3" in ex.views["detail"].caption.value
    assert snap.differences(ModelSnapshot.of(model)) == {} and hook_count(model) == 0


def test_hover_never_runs_the_model_and_is_cheap(vit):
    model, x = vit
    ex = nl.AttentionExplorer(model, x)
    passes = ex.forward_passes
    snap = ModelSnapshot.of(model)
    times = []
    for i in range(40):
        t = time.perf_counter()
        move(ex, (i * 7) % 40, (i * 3) % 40)
        times.append(time.perf_counter() - t)
    assert ex.forward_passes == passes == 2 and ex.attention.keys() == set(LAYERS)
    assert snap.differences(ModelSnapshot.of(model)) == {}
    print(f"\nkernel-side time per hover (grid, enlarged map, marks): median {1000 * np.median(times):.2f} ms")


def test_leaving_returns_to_the_pinned_query_and_click_pins(vit):
    model, x = vit
    ex = nl.AttentionExplorer(model, x)
    canvas = ex.views["input"].canvas
    move(ex, 1, 1)
    assert ex.query == 1
    canvas.handle_event({"event": "leave"})
    assert ex.query == 0 and ex.pinned_query == 0  # back to the class token
    click(canvas, 39, 39)
    assert ex.query == ex.pinned_query == 25
    move(ex, 1, 1)
    assert ex.query == 1
    marks = canvas.marks
    assert len(marks) == 2 and {m["x"] for m in marks} == {0, 32}  # hovered and pinned patches boxed
    canvas.handle_event({"event": "leave"})
    assert ex.query == 25
    ex.controls["class_token"].click()
    assert ex.query == ex.pinned_query == 0
    ex.query = 7  # set in code: it sticks
    canvas.handle_event({"event": "leave"})
    assert ex.query == 7
    move(ex, -3, 50)  # outside the image: the pinned query
    assert ex.query == 7


def test_class_token_rollout_and_relevance_equal_the_core(vit):
    model, x = vit
    ex = nl.AttentionExplorer(model, x, target=1)
    hand = hand_attention(model, x)
    ex.layer, ex.head = LAYERS[0], 1
    np.testing.assert_allclose(ex.class_token_map, hand[0][1, 0, 1:].reshape(5, 5), atol=1e-5)
    ex.mean_heads = True
    np.testing.assert_allclose(ex.class_token_map, hand[0][:, 0, 1:].mean(0).reshape(5, 5), atol=1e-5)
    np.testing.assert_allclose(ex.rollout, nl.core.attention_rollout(model, x).patch_map[0, 0].numpy(), atol=1e-5)
    np.testing.assert_allclose(ex.relevance, nl.core.transformer_attribution(model, x, 1).patch_map[0, 0].numpy(),
                               atol=1e-5)
    ex.target = 3
    ex.wait()
    np.testing.assert_allclose(ex.relevance, nl.core.transformer_attribution(model, x, 3).patch_map[0, 0].numpy(),
                               atol=1e-5)
    assert "relevance for 3" in ex.views["relevance"].title
    assert ex.error is None


def test_entropy_chart_has_one_line_per_head_and_the_uniform_reference(vit):
    model, x = vit
    ex = nl.AttentionExplorer(model, x)
    hand = hand_attention(model, x)
    for name, a in zip(LAYERS, hand):
        expected = -(a * np.log2(a)).sum(-1).mean(-1)
        np.testing.assert_allclose(ex.entropy[name], expected, rtol=1e-4)
    svg = ex.views["entropy"].body.value
    assert all(f"head {h}" in svg for h in range(3)) and "uniform over 26 tokens" in svg
    assert "entropy (bits)" in svg and "layer (0 = first" in svg


def test_clicking_a_tile_picks_layer_and_head(vit):
    model, x = vit
    ex = nl.AttentionExplorer(model, x)
    grid = ex.views["grid"].canvas
    gx, gy, w, h = ex.tile_rect(LAYERS[1], 2)
    click(grid, gx + w / 2, gy + h / 2)
    assert (ex.layer, ex.head, ex.mean_heads) == (LAYERS[1], 2, False)
    assert grid.marks[0]["x"] == gx - 0.5
    gx, gy, w, h = ex.tile_rect(LAYERS[0])  # the mean column
    click(grid, gx + w / 2, gy + h / 2)
    assert (ex.layer, ex.mean_heads) == (LAYERS[0], True)
    assert "mean over heads" in ex.views["detail"].title


def test_traits_are_range_checked_and_bad_values_not_kept(vit):
    model, x = vit
    ex = nl.AttentionExplorer(model, x, labels=["a", "b", "c", "d"])
    for trait, bad, words in [("head", 3, "0..2"), ("head", -1, "0..2"), ("query", 26, "0..25"),
                              ("target", 4, "0..3"), ("layer", "encoder.layers.encoder_layer_0", "attention layer")]:
        old = getattr(ex, trait)
        with pytest.raises(ValueError, match=words):
            setattr(ex, trait, bad)
        assert getattr(ex, trait) == old
    with pytest.raises(KeyError, match="closest"):
        ex.layer = "encoder.layers.nope"
    with pytest.raises(traitlets.TraitError):
        ex.normalization = "loud"
    ex.normalization = "tile"
    assert "its own max" in ex.views["grid"].legend.value
    maps = ex.query_maps
    expected, _ = patch_tiles(maps, np.ones((2, 4), dtype=bool), maps.max(axis=(2, 3)))
    assert np.array_equal(ex.frame, expected)


def test_bad_models_and_inputs_are_clear_errors(vit):
    model, x = vit
    with pytest.raises(ValueError, match="no attention layer"):
        nl.AttentionExplorer(TinyNet(), torch.rand(3, 12, 12))
    with pytest.raises(ValueError, match="40x40"):
        nl.AttentionExplorer(model, torch.rand(3, 48, 48))
    with pytest.raises(TypeError):
        nl.AttentionExplorer("not a model", x)
    ex = nl.AttentionExplorer(model, x)
    with pytest.raises(ValueError, match="40x40"):
        ex.input = torch.rand(3, 32, 32)
    assert ex.input.shape == (1, 3, 40, 40)  # the old input stays
    other = image(9)
    ex.input = other
    np.testing.assert_allclose(ex.attention[LAYERS[0]], hand_attention(model, other)[0], atol=1e-5)


def test_model_is_unchanged_and_hook_free_after_every_action(vit):
    model, x = vit
    model.train()  # a model left in training mode stays so
    snap = ModelSnapshot.of(model)
    ex = nl.AttentionExplorer(model, x)
    actions = [lambda: move(ex, 5, 5), lambda: setattr(ex, "head", 2), lambda: setattr(ex, "layer", LAYERS[1]),
               lambda: setattr(ex, "mean_heads", True), lambda: setattr(ex, "target", 2), ex.wait,
               lambda: setattr(ex, "input", image(4)), lambda: ex.save_png("/dev/null")]
    for act in actions:
        act()
        assert snap.differences(ModelSnapshot.of(model)) == {} and hook_count(model) == 0
    assert model.training


def test_views_have_titles_legends_and_export(vit, tmp_path):
    model, x = vit
    ex = nl.AttentionExplorer(model, x)
    for name in ("grid", "detail", "class_token", "rollout", "relevance"):
        view = ex.views[name]
        assert view.title and "nnl-legend" in view.legend.value, name
    assert ex.views["input"].legend.value == ""  # the photo's own pixels: no colour bar
    ex.save_png(tmp_path / "a.png")
    ex.save_html(tmp_path / "a.html")
    assert (tmp_path / "a.png").stat().st_size > 1000
    assert "attention rollout" in (tmp_path / "a.html").read_text()


def test_close_frees_the_widget_and_its_worker(vit):
    model, x = vit
    threads = set(threading.enumerate())
    ex = nl.AttentionExplorer(model, x)
    move(ex, 5, 5)
    ex.target = 2
    ex.wait()
    ref = closed(ex)
    del ex
    assert_freed(ref, threads)

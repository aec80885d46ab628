"""FeatureBrowser: pages equal the core functions they show, listing and search, latest wins, errors, exports."""
from __future__ import annotations

import threading

import numpy as np
import pytest
import torch

import nnlens_widgets as nl
from nnlens_widgets.core import ModelSnapshot, hook_count
from tests.core.sae_models import one_thread  # noqa: F401 - one thread for this module's training
from tests.widgets.freeing import assert_freed, closed

LAYER = "relu3"


@pytest.fixture(scope="module")
def setup():
    model, data = nl.zoo.digits_cnn(), nl.zoo.digits_data()
    sae = nl.core.train_sae(model, LAYER, data.x_train[:60], features=32, k=4, steps=10, batch_size=128, seed=0)
    x = data.x_test[:96]
    facts = nl.core.feature_facts(model, sae, x, n_top=6, batch_size=32)
    return model, sae, x, facts


def test_a_page_shows_exactly_what_the_core_functions_give(setup):
    model, sae, x, facts = setup
    before = ModelSnapshot.of(model)
    b = nl.FeatureBrowser(model, sae, x, n_top=6, labels=nl.zoo.DIGIT_CLASSES)  # scans in the background
    assert b.wait(120) and b.error is None
    for name in ("top_indices", "top_values", "image_counts", "hist_counts", "predicted_counts"):
        assert torch.equal(getattr(b.facts, name), getattr(facts, name)), name
    f = b.feature
    assert f == int(facts.by_frequency()[0])  # the first page: the most frequent feature
    top = b.top_examples()
    assert top == facts.top(f)[0].tolist() and len(top) == 6
    # each example tile carries the box of the position where the feature peaks
    marks = [m for m in b.views["examples"].canvas.marks if m["color"] == "#ff3b30"]
    layout = b.views["examples"].layout_
    for rank, mark in enumerate(marks):
        oy, ox = layout.origin(rank)
        x0, y0, x1, y1 = facts.box(f, rank)
        assert (mark["x"], mark["y"], mark["w"], mark["h"]) == (ox + x0, oy + y0, x1 - x0, y1 - y0)
    assert len(marks) == 6
    # switching it off: the mean probabilities of its top images, with and without the feature
    off = b.switched_off()
    images = x[top]
    expected_after = nl.core.sae_ablate(model, sae, images, f).softmax(1).mean(0)
    np.testing.assert_allclose(off.after, expected_after.numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(off.before, model(images).softmax(1).mean(0).detach().numpy(), rtol=1e-5, atol=1e-6)
    assert "largest changes" in b.views["switch off"].body.value
    # the input panels: the top image, where the feature fires and its gradient
    look = b.input_look()
    assert torch.equal(b.input, x[top[0]][None])
    fmap = nl.core.feature_map(model, sae, b.input, f)[0].reshape(16, 16).numpy()
    np.testing.assert_allclose(look.fires, fmap, rtol=1e-6)
    grad = nl.core.feature_gradient(model, sae, b.input, f)
    np.testing.assert_allclose(look.gradient, grad.gradient.abs().sum(0).numpy(), rtol=1e-6)
    assert look.value == pytest.approx(float(facts.top_values[f, 0]), rel=1e-5)
    assert not before.differences(ModelSnapshot.of(model)) and hook_count(model) == 0
    assert all(p.grad is None for p in model.parameters())
    # picking the third example makes it the input
    b.views["examples"]._clicked(*[v + 1 for v in layout.origin(2)][::-1], None)
    assert b.wait(30) and torch.equal(b.input, x[top[2]][None])
    assert "top image 3" in b.views["fires"].title
    b.close()


def test_listing_sorting_and_searching_by_class(setup):
    model, sae, x, facts = setup
    counts = facts.predicted_counts.sum(0)
    c = int(counts.argmax())  # the class predicted most: some feature fires mostly on it
    share = float(facts.class_share(c, "predicted").max()) * 0.9
    b = nl.FeatureBrowser(model, sae, x, facts=facts, min_share=share)
    assert b.listed() == facts.by_frequency().tolist()
    b.order = "rarity"
    assert b.listed() == facts.by_frequency(descending=False).tolist()
    b.order = "number"
    assert b.listed() == list(range(32))
    b.fires_on = c
    expected = facts.fires_on_class(c, by="predicted", min_share=share).tolist()
    assert b.listed() == sorted(expected) and expected
    options = [v for _, v in b.controls["list"].options]
    assert options[:len(expected)] == sorted(expected)
    b.controls["list"].value = expected[-1]  # picking from the list sets the feature
    assert b.feature == expected[-1] and b.wait(30) and b.error is None
    b.controls["feature"].value = 3  # and so does the number box
    assert b.feature == 3
    b.close()
    rare = nl.FeatureBrowser(model, sae, x, facts=facts, order="rarity")  # opens on the rarest live feature
    live = [g for g in facts.by_frequency(descending=False).tolist() if int(facts.image_counts[g]) > 0]
    assert rare.feature == live[0] and rare.wait(30) and rare.error is None
    rare.close()


def test_latest_feature_wins_and_traits_link(setup):
    model, sae, x, facts = setup
    b = nl.FeatureBrowser(model, sae, x, facts=facts)
    threads = [threading.Thread(target=lambda v=v: setattr(b, "feature", v)) for v in (4, 9, 17)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    last = b.feature
    assert last in (4, 9, 17) and b.wait(60)
    assert b.switched_off(last) is not None and f"feature {last}" in b.views["switch off"]._title.value
    assert b.views["facts"].body.value.count(f"<b>feature {last}</b>") == 1
    other = nl.FeatureBrowser(model, sae, x, facts=facts)
    nl.link(b, other, "feature", "layer")
    b.feature = 5
    assert other.feature == 5 and other.wait(60) and other.switched_off(5) is not None
    b.close()
    other.close()


def test_bad_values_are_refused_with_what_was_expected(setup, tmp_path):
    model, sae, x, facts = setup
    b = nl.FeatureBrowser(model, sae, x, facts=facts)
    with pytest.raises(ValueError, match=r"expected a feature in 0\.\.31"):
        b.feature = 32
    with pytest.raises(ValueError, match="the autoencoder reads layer 'relu3'"):
        b.layer = "relu2"
    with pytest.raises(ValueError, match="expected order in"):
        b.order = "random"
    with pytest.raises(ValueError, match="expected one input image, got a batch of 2"):
        b.input = x[:2]
    assert b.layer == LAYER and b.error is None
    b.close()
    with pytest.raises(ValueError, match="expected a SparseAutoencoder"):
        nl.FeatureBrowser(model, "sae.pt", x)
    with pytest.raises(ValueError, match="the autoencoder reads layer 'relu3', not 'conv1'"):
        nl.FeatureBrowser(model, sae, x, layer="conv1")
    with pytest.raises(ValueError, match=r"the facts name data image \d+, but the data has 10 images"):
        nl.FeatureBrowser(model, sae, x[:10], facts=facts)
    other = nl.core.train_sae(model, "relu2", x[:20], features=16, k=2, steps=2, seed=1)
    with pytest.raises(ValueError, match="expected facts of this autoencoder"):
        nl.FeatureBrowser(model, other, x, facts=facts)
    with pytest.raises(ValueError, match=r"a folder without feature_facts\.pt"):
        nl.FeatureBrowser(model, sae, x, facts=tmp_path)
    with pytest.raises(TypeError, match="n_tpo"):
        nl.FeatureBrowser(model, sae, x, facts=facts, n_tpo=3)


def test_exports_warnings_and_close(setup, tmp_path):
    model, sae, x, facts = setup
    threads = set(threading.enumerate())
    b = nl.FeatureBrowser(model, sae, x, facts=facts)
    assert b.wait(30)
    dead = [f for f in range(32) if int(facts.image_counts[f]) == 0]
    if dead:
        b.feature = dead[0]
        assert any("never fires on the data" in w for w in b.warnings)
        assert b.input is None and b.wait(30) and b.error is None
        assert "never fires on the data" in b.views["facts"].body.value
    b.feature = int(facts.by_frequency()[0])
    assert b.wait(30)
    b.save_html(tmp_path / "page.html")
    page = (tmp_path / "page.html").read_text()
    for title in ("top", "where feature", "pixels that drive feature", "switched off", "its activations",
                  "all features by how often they fire", "channels feature"):
        assert title in page, title
    bundle = b._repr_mimebundle_()
    data = bundle[0] if isinstance(bundle, tuple) else bundle
    assert data["image/png"][:8] == b"\x89PNG\r\n\x1a\n"
    assert b.frame.shape[2] == 4 and b.frame.dtype == np.uint8
    ref = closed(b)
    del b
    assert_freed(ref, threads)

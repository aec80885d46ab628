"""feature_facts against a brute-force computation over every image; merging, storing, searching."""
import numpy as np
import pytest
import torch

from nnlens_widgets.core import ModelSnapshot, hook_count, probe
from nnlens_widgets.core.sae import FeatureFacts, feature_facts, feature_scan
from tests.core.sae_models import DIGITS_LAYER, digits, digits_sae
from tests.core.sae_models import one_thread  # noqa: F401 - training on one thread


@pytest.fixture(scope="module")
def scanned():
    model, data = digits()
    sae = digits_sae(model, data.x_train[:60], steps=20)
    x, y = data.x_test[:90], data.y_test[:90]
    with probe(model, DIGITS_LAYER) as acts, torch.no_grad():
        logits = model(x)
    z = sae.encode(acts[DIGITS_LAYER].flatten(2).transpose(1, 2))  # (N, 256, F) in one go
    return model, sae, x, y, z, logits.softmax(1)


def brute_top(z: torch.Tensor, n: int):
    """Per feature: images ranked by their maximum over positions (firing ones only), ties by index."""
    best, where = z.max(1).values.numpy(), z.argmax(1).numpy()
    out = []
    for f in range(z.shape[2]):
        firing = np.flatnonzero(best[:, f] > 0)
        order = firing[np.lexsort((firing, -best[firing, f]))][:n]
        out.append((order.tolist(), best[order, f].tolist(), where[order, f].tolist()))
    return out


def test_top_images_and_positions_equal_a_brute_force_ranking(scanned, monkeypatch):
    model, sae, x, y, z, _ = scanned
    monkeypatch.setattr(feature_scan, "CHUNK_VALUES", 3 * 256 * sae.features)  # three images per chunk
    facts = feature_facts(model, sae, x, n_top=7, labels=y, batch_size=16)
    expected = brute_top(z, 7)
    assert facts.count == 90 and facts.n_top == 7 and facts.features == sae.features
    checked = 0
    for f, (idx, vals, pos) in enumerate(expected):
        got_idx, got_vals, got_pos = facts.top(f)
        assert got_idx.tolist() == idx, f
        np.testing.assert_allclose(got_vals.numpy(), vals, rtol=1e-5, atol=1e-6)
        assert got_pos.tolist() == pos, f
        assert facts.top_indices[f, len(idx):].eq(-1).all() and facts.top_positions[f, len(idx):].eq(-1).all()
        checked += len(idx)
    assert checked > 3 * sae.features  # most features fire on enough images to fill several slots


def test_densities_histograms_and_class_facts_equal_brute_force(scanned):
    model, sae, x, y, z, probs = scanned
    facts = feature_facts(model, sae, x, n_top=3, labels=y, batch_size=32, bins=12)
    fires_pos, fires_img = z > 0, (z > 0).any(1)
    assert facts.position_counts.tolist() == fires_pos.sum((0, 1)).tolist()
    assert facts.image_counts.tolist() == fires_img.sum(0).tolist()
    torch.testing.assert_close(facts.value_sums, z.double().sum((0, 1)), rtol=1e-5, atol=1e-4)
    torch.testing.assert_close(facts.density("positions"), fires_pos.double().mean((0, 1)))
    torch.testing.assert_close(facts.density("images"), fires_img.double().mean(0))
    assert facts.hist_counts.shape == (sae.features, 12) and facts.hist_edges.shape == (13,)
    assert facts.hist_counts.sum(1).tolist() == facts.position_counts.tolist()
    f = int(facts.position_counts.argmax())
    values = z[..., f][fires_pos[..., f]]
    expected = torch.bucketize(values, facts.hist_edges[1:-1])
    assert facts.hist_counts[f].tolist() == torch.bincount(expected, minlength=12).tolist()
    torch.testing.assert_close(facts.prob_sums, fires_img.T.double() @ probs.double(), rtol=1e-5, atol=1e-6)
    onehot = torch.nn.functional.one_hot(probs.argmax(1), 10)
    assert facts.predicted_counts.tolist() == (fires_img.T.long() @ onehot).tolist()
    assert facts.label_counts.tolist() == (fires_img.T.long() @ torch.nn.functional.one_hot(y, 10)).tolist()
    torch.testing.assert_close(facts.mean_probabilities(f),
                               (probs[fires_img[:, f]].mean(0) if fires_img[:, f].any() else torch.zeros(10)))


def test_search_by_class_and_sort_by_frequency(scanned):
    model, sae, x, y, *_ = scanned
    facts = feature_facts(model, sae, x, n_top=3, labels=y)
    order = facts.by_frequency()
    d = facts.density("images")
    assert d[order].tolist() == sorted(d.tolist(), reverse=True)
    ties = [(float(d[a]), int(a)) for a in order]
    assert ties == sorted(ties, key=lambda t: (-t[0], t[1]))
    assert facts.by_frequency(descending=False, per="positions")[0] in torch.nonzero(
        facts.density("positions") == facts.density("positions").min()).flatten()
    for by in ("probability", "predicted", "label"):
        share = facts.class_share(3, by)
        found = facts.fires_on_class(3, by=by, min_share=0.3, min_images=2)
        expected = [f for f in torch.sort(share, descending=True, stable=True).indices.tolist()
                    if share[f] >= 0.3 and facts.image_counts[f] >= 2]
        assert found.tolist() == expected
    labelled = facts.class_share(3, "label")
    f = int(labelled.argmax())
    assert float(labelled[f]) == pytest.approx(int(facts.label_counts[f, 3]) / int(facts.image_counts[f]))
    hist = facts.density_histogram(bins=10)
    assert int(hist.counts.sum()) + hist.dead == facts.features and len(hist.edges) == 11
    with pytest.raises(ValueError, match="by among"):
        facts.class_share(0, "colour")
    with pytest.raises(ValueError, match="class 12 is out of range"):
        facts.class_share(12)
    no_labels = feature_facts(model, sae, x[:10])
    with pytest.raises(ValueError, match="labels were given"):
        no_labels.fires_on_class(1, by="label")


def test_boxes_outline_the_firing_cell(scanned):
    model, sae, x, y, z, _ = scanned
    facts = feature_facts(model, sae, x, n_top=4)
    f = int(facts.image_counts.argmax())
    position = int(facts.top_positions[f, 0])
    row, col = divmod(position, 16)
    assert facts.box(f, 0) == (2 * col, 2 * row, 2 * col + 2, 2 * row + 2)  # 16x16 grid over 32x32 pixels
    with pytest.raises(ValueError, match="no top image number 9"):
        facts.box(f, 9)


def test_two_halves_merge_into_the_whole_and_files_round_trip(scanned, tmp_path):
    model, sae, x, y, *_ = scanned
    whole = feature_facts(model, sae, x, n_top=5, labels=y)
    first = feature_facts(model, sae, x[:37], n_top=5, labels=y[:37])
    second = feature_facts(model, sae, x[37:], n_top=5, labels=y[37:], offset=37)
    merged = second.merge(first)
    for name in ("top_indices", "top_positions", "image_counts", "position_counts", "hist_counts",
                 "predicted_counts", "label_counts"):
        assert torch.equal(getattr(merged, name), getattr(whole, name)), name
    torch.testing.assert_close(merged.top_values, whole.top_values)
    torch.testing.assert_close(merged.prob_sums, whole.prob_sums)
    assert merged.count == whole.count == 90
    whole.save(tmp_path / "facts.pt")
    back = FeatureFacts.load(tmp_path / "facts.pt")
    assert all(torch.equal(getattr(back, n), getattr(whole, n)) for n in ("top_indices", "top_values", "prob_sums"))
    assert back.positions == whole.positions and back.input_shape == whole.input_shape == (1, 32, 32)
    (tmp_path / "other.pt").write_bytes(b"not a torch file")
    with pytest.raises(ValueError, match="cannot be read as feature facts"):
        FeatureFacts.load(tmp_path / "other.pt")
    with pytest.raises(ValueError, match="same autoencoder"):
        whole.merge(feature_facts(model, sae, x[:5], n_top=4))


def test_scan_leaves_the_model_alone_and_stops(scanned):
    model, sae, x, *_ = scanned
    before = ModelSnapshot.of(model)
    seen = []
    feature_facts(model, sae, x[:40], batch_size=10, progress=lambda f, t: seen.append((f, hook_count(model))))
    assert [f for f, _ in seen] == [0.25, 0.5, 0.75, 1.0] and {h for _, h in seen} == {0}
    assert not before.differences(ModelSnapshot.of(model))
    with pytest.raises(InterruptedError):
        feature_facts(model, sae, x, should_stop=lambda: True)
    with pytest.raises(ValueError, match="one label per image"):
        feature_facts(model, sae, x[:10], labels=torch.zeros(9, dtype=torch.long))

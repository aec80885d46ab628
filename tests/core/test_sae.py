"""train_sae: shapes and TopK sparsity, held-out quality, bit-exact seeding, progress and stopping,
the model left untouched, transformer tokens, bad input."""
import math

import pytest
import torch

import nnlens_widgets as nl
from nnlens_widgets.core import ModelSnapshot, hook_count, probe
from nnlens_widgets.core.sae import LayerPositions, SparseAutoencoder
from tests.core.sae_models import DIGITS_LAYER, digits, digits_sae, encode_by_hand
from tests.core.sae_models import one_thread  # noqa: F401 - training on one thread
from tests.core.vit_models import tv_vit


@pytest.fixture(scope="module")
def trained():
    model, data = digits()
    return model, data, digits_sae(model, data.x_train[:300])


def test_encode_decode_shapes_and_topk_sparsity(trained):
    model, data, sae = trained
    with probe(model, DIGITS_LAYER) as acts, torch.no_grad():
        model(data.x_test[:6])
    rows = acts[DIGITS_LAYER].flatten(2).transpose(1, 2)  # (6, 256, 64)
    z = sae.encode(rows)
    assert z.shape == (6, 256, 128) and sae.decode(z).shape == rows.shape and sae(rows).shape == rows.shape
    nonzero = (z != 0).sum(-1)
    assert int(nonzero.max()) <= sae.k and float(nonzero.float().mean()) > sae.k - 1  # ReLU may drop a few
    assert (z >= 0).all()
    torch.testing.assert_close(z, encode_by_hand(sae, rows), rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(sae.decode(z), z @ sae.W_dec.T + sae.b_dec)
    torch.testing.assert_close(sae(rows), sae.decode(z), rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(sae.W_dec.norm(dim=0), torch.ones(sae.features))
    with pytest.raises(ValueError, match=r"expected rows \(\.\.\., 64\)"):
        sae.encode(torch.zeros(3, 5))
    with pytest.raises(ValueError, match="expected feature activations"):
        sae.decode(torch.zeros(3, 7))


def test_explained_variance_on_held_out_activations(trained):
    model, data, sae = trained
    stats = sae.stats
    assert stats.explained_variance >= 0.9, stats.summary()
    assert stats.l0 <= sae.k and stats.rows == sae.settings["held_out_rows"] > 0
    assert sae.settings["held_out_images"] > 0 and sae.settings["images"] + sae.settings["held_out_images"] == 300
    # the stats are recomputed from the definition on images the autoencoder never saw
    with probe(model, DIGITS_LAYER) as acts, torch.no_grad():
        model(data.x_test[:40])
    a = acts[DIGITS_LAYER].flatten(2).transpose(1, 2).reshape(-1, 64)
    z = sae.encode(a)
    ev = 1 - (a - sae.decode(z)).pow(2).sum() / (a - a.mean(0)).pow(2).sum()
    assert float(ev) >= 0.9
    again = nl.core.sae.measure(sae, a)
    assert math.isclose(again.explained_variance, float(ev), abs_tol=1e-4)
    assert math.isclose(again.l0, float((z > 0).sum(1).float().mean()), abs_tol=1e-6)
    frequency = (z > 0).float().mean(0)
    torch.testing.assert_close(again.frequency, frequency)
    assert again.dead == int((frequency == 0).sum()) and again.dense == int((frequency > 0.1).sum())


def test_training_is_bit_exact_under_its_seed_and_seeds_differ():
    model, data = digits()
    x = data.x_train[:60]
    a, b = (digits_sae(model, x, steps=12, seed=3) for _ in range(2))
    c = digits_sae(model, x, steps=12, seed=4)
    for name in ("W_enc", "b_enc", "W_dec", "b_dec"):
        assert torch.equal(getattr(a, name), getattr(b, name)), name
    assert torch.equal(a.stats.frequency, b.stats.frequency) and a.stats.history == b.stats.history
    assert not torch.equal(a.W_enc, c.W_enc)
    state = torch.get_rng_state()
    digits_sae(model, x, steps=2, seed=5)
    assert torch.equal(state, torch.get_rng_state())  # the global generator is neither seeded nor drawn from


def test_model_untouched_and_hook_free_while_training():
    model, data = digits()
    model.train()  # a user's model in train mode stays so
    before = ModelSnapshot.of(model)
    hooks_seen = []
    sae = digits_sae(model, data.x_train[:40], steps=12,
                     progress=lambda f, t: hooks_seen.append((hook_count(model), model.training)))
    assert not before.differences(ModelSnapshot.of(model))
    assert hooks_seen and set(hooks_seen) == {(0, True)}
    assert all(p.grad is None for p in model.parameters())
    assert sae.model_hash == nl.core.weights_hash(model) and sae.layer == DIGITS_LAYER


def test_progress_and_stopping():
    model, data = digits()
    fractions = []
    digits_sae(model, data.x_train[:40], steps=30, progress=lambda f, t: fractions.append((f, t)))
    values = [f for f, _ in fractions]
    assert values == sorted(values) and values[-1] == 1.0 and values[0] <= 0.1
    assert any("read" in t for _, t in fractions) and any("step 30/30" in t for _, t in fractions)
    calls = []

    def stop_after_ten():
        calls.append(1)
        return len(calls) > 10 + 1  # one check per batch read (one batch here), then one per step

    sae = digits_sae(model, data.x_train[:40], steps=30, read_batch=64, should_stop=stop_after_ten)
    assert sae.stats.stopped and sae.stats.steps == 10 and sae.stats.history[-1]["step"] <= 10
    with pytest.raises(InterruptedError):
        digits_sae(model, data.x_train[:40], steps=30, should_stop=lambda: True)


def test_held_out_data_set_and_row_budget():
    model, data = digits()
    sae = digits_sae(model, data.x_train[:50], steps=5, held_out=data.x_test[:10], memory_bytes=64 * 4 * 2000)
    s = sae.settings
    fractions = []
    digits_sae(model, data.x_train[:50], steps=1, held_out=data.x_test[:10], read_batch=20,
               progress=lambda f, t: fractions.append(f))
    assert fractions == sorted(fractions) and fractions[:4] == pytest.approx([0.1 * 20 / 60, 0.1 * 40 / 60,
                                                                              0.1 * 50 / 60, 0.1 * 60 / 60])
    assert s["held_out"] == "separate data" and s["held_out_images"] == 10 and s["images"] == 50
    assert s["rows"] <= 2000 and s["held_out_rows"] <= 500 and s["kept_fraction"] < 1.0  # sampled, not truncated
    assert s["rows"] > 1500  # about 2000 of 50 * 256 positions


def test_transformer_tokens_with_and_without_class_token():
    model = tv_vit(seed=1)
    x = torch.rand(24, 3, 40, 40, generator=torch.Generator().manual_seed(0))
    before = ModelSnapshot.of(model)
    layer = "encoder.layers.encoder_layer_1"
    patches = nl.core.train_sae(model, layer, x, features=40, k=4, steps=5, held_out=0.25)
    assert patches.positions == LayerPositions("tokens", (26, 36), 5, 5, prefix=1, class_token=False)
    assert patches.positions.count == 25 and patches.stats.rows % 25 == 0
    with_cls = nl.core.train_sae(model, layer, x, features=40, k=4, steps=5, held_out=0.25, class_token=True)
    assert with_cls.positions.count == 26 and with_cls.stats.rows % 26 == 0
    assert with_cls.positions.grid_position(0) == (-1, -1) and with_cls.positions.grid_position(1) == (0, 0)
    assert not before.differences(ModelSnapshot.of(model))
    with pytest.raises(ValueError, match="class_token=True needs a transformer's token layer"):
        nl.core.train_sae(*digits()[:1], DIGITS_LAYER, torch.rand(8, 1, 32, 32), steps=2, class_token=True)


def test_bad_input_is_a_clear_error():
    model, data = digits()
    x = data.x_train[:20]
    with pytest.raises(KeyError, match="relu3"):
        nl.core.train_sae(model, "relu33", x)
    with pytest.raises(ValueError, match="k <= features"):
        nl.core.train_sae(model, DIGITS_LAYER, x, features=4, k=8)
    for bad in (dict(features=0), dict(k=-1), dict(steps=1.5), dict(batch_size=True), dict(lr=float("nan")),
                dict(held_out=1.0), dict(held_out=True)):
        with pytest.raises(ValueError):
            nl.core.train_sae(model, DIGITS_LAYER, x, **bad)
    flat = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 1))
    torch.nn.init.zeros_(flat[0].weight)
    with pytest.raises(ValueError, match="same activations at every position"):
        nl.core.train_sae(flat, "0", x)
    with pytest.raises(TypeError, match="torch.nn.Module"):
        nl.core.train_sae("model", DIGITS_LAYER, x)
    with pytest.raises(ValueError, match="expected features >= 1"):
        SparseAutoencoder(4, 5, LayerPositions("vector", (3,), 1, 1))

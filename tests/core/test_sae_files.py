"""Saving and loading an autoencoder: exact round trip, refusal of damaged, foreign and mismatched files."""
import pickle

import pytest
import torch

import nnlens_widgets as nl
from nnlens_widgets.core.sae import load_sae
from nnlens_widgets.widgets.lens.state import weights_hash as lens_weights_hash
from tests.core.sae_models import DIGITS_LAYER, digits, digits_sae
from tests.core.sae_models import one_thread  # noqa: F401 - training on one thread


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    model, data = digits()
    sae = digits_sae(model, data.x_train[:40], steps=5)
    path = tmp_path_factory.mktemp("sae") / "digits.sae"
    sae.save(path)
    return model, data, sae, path


def test_round_trip_is_exact(saved):
    model, data, sae, path = saved
    back = load_sae(path, model, DIGITS_LAYER)
    for name in ("W_enc", "b_enc", "W_dec", "b_dec"):
        assert torch.equal(getattr(back, name), getattr(sae, name)), name
    assert (back.layer, back.model_hash, back.k, back.features) == (sae.layer, sae.model_hash, sae.k, sae.features)
    assert back.positions == sae.positions and back.settings == sae.settings
    assert back.stats.summary() == sae.stats.summary() and back.stats.history == sae.stats.history
    assert torch.equal(back.stats.frequency, sae.stats.frequency)
    x = torch.rand(7, 64)
    assert torch.equal(back.encode(x), sae.encode(x))
    assert not any(p.requires_grad for p in back.parameters())
    assert not list(path.parent.glob(".*.tmp"))  # written through a temporary file, renamed


def test_model_hash_is_the_lens_fingerprint(saved):
    model, _, sae, _ = saved
    assert sae.model_hash == nl.core.weights_hash(model) == lens_weights_hash(model)


@pytest.mark.parametrize("where", [0.1, 0.5, 0.9])
def test_a_damaged_file_is_refused(saved, tmp_path, where):
    _, _, _, path = saved
    data = bytearray(path.read_bytes())
    at = int(len(data) * where)
    data[at] ^= 0xFF
    bad = tmp_path / "bad.sae"
    bad.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="damaged|cannot be read|not a sparse autoencoder|unknown format"):
        load_sae(bad)
    bad.write_bytes(path.read_bytes()[: len(data) // 2])
    with pytest.raises(ValueError, match="damaged|cannot be read"):
        load_sae(bad)


def test_a_changed_payload_fails_its_digest(saved, tmp_path):
    _, _, _, path = saved
    outer = torch.load(path, weights_only=True)
    payload = outer["payload"].clone()
    payload[len(payload) // 2] ^= 1
    torch.save(dict(outer, payload=payload), tmp_path / "changed.sae")
    with pytest.raises(ValueError, match="SHA-256"):
        load_sae(tmp_path / "changed.sae")


def test_files_of_another_kind_are_refused(tmp_path):
    torch.save({"W_enc": torch.zeros(3, 3)}, tmp_path / "state.pt")
    with pytest.raises(ValueError, match="is not a sparse autoencoder file"):
        load_sae(tmp_path / "state.pt")

    class Evil:
        def __reduce__(self):
            return (print, ("ran code from the file",))

    (tmp_path / "evil.pt").write_bytes(pickle.dumps(Evil(), protocol=2))
    with pytest.raises(ValueError, match="cannot be read"):
        load_sae(tmp_path / "evil.pt")
    with pytest.raises(FileNotFoundError):
        load_sae(tmp_path / "missing.sae")


def test_a_file_for_another_model_or_layer_is_refused_unless_allowed(saved):
    model, _, sae, path = saved
    other = nl.zoo.digits_cnn(pretrained=False)
    with pytest.raises(ValueError, match="made for another model.*allow_mismatch=True"):
        load_sae(path, other)
    with pytest.raises(ValueError, match="made for layer 'relu3', not 'relu2'"):
        load_sae(path, model, "relu2")
    with pytest.warns(UserWarning, match="another model"):
        back = load_sae(path, other, allow_mismatch=True)
    assert torch.equal(back.W_enc, sae.W_enc)
    assert load_sae(path).layer == DIGITS_LAYER  # nothing to compare against: loads

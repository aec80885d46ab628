"""The shipped character LSTM: fixed vocabulary, corpus files, held-out quality, interpretable cells."""
import sysconfig
from pathlib import Path

import pytest
import torch

import nnlens_widgets as nl
from nnlens_widgets.core import lstm_states, predicate_neurons
from nnlens_widgets.zoo.char_lstm import (
    HELD_OUT_FILES, TRAIN_FILES, UNKNOWN, VOCAB, CharLSTM, bits_per_char, char_lstm, decode_indices,
    encode_text, stdlib_text, train_char_lstm,
)

HELD_OUT_BPC_BOUND = 2.0  # the shipped model scores 1.83 on Python 3.11's held-out files
CELL_R_BOUND = 0.6


@pytest.fixture(scope="module")
def model():
    return char_lstm()


@pytest.fixture(scope="module")
def held_out():
    return stdlib_text(HELD_OUT_FILES)


def test_vocabulary_is_fixed_and_encoding_round_trips():
    assert len(VOCAB) == 97 and VOCAB[0] == "\n" and VOCAB[1] == " " and VOCAB[95] == "~" and VOCAB[96] == UNKNOWN
    assert len(set(VOCAB)) == 97
    text = "def f(x):\n    return x ~ 1  # ok\n"
    assert decode_indices(encode_text(text)) == text
    assert encode_text("a\té\r").tolist() == [VOCAB.index("a"), 96, 96, 96]
    with pytest.raises(ValueError, match=r"character '\\t' at position 1 is outside the vocabulary"):
        encode_text("a\tb", strict=True)
    assert nl.zoo.char_lstm is char_lstm and isinstance(char_lstm(pretrained=False), CharLSTM)


def test_corpus_files_exist_and_training_and_held_out_sets_are_disjoint():
    root = Path(sysconfig.get_paths()["stdlib"])
    assert not set(TRAIN_FILES) & set(HELD_OUT_FILES)
    for name in TRAIN_FILES + HELD_OUT_FILES:
        assert (root / name).is_file(), name
    assert len(stdlib_text()) > 500_000
    with pytest.raises(FileNotFoundError, match="no_such_module.py"):
        stdlib_text(["no_such_module.py"])


def test_shipped_model_held_out_bits_per_character(model, held_out):
    bpc = bits_per_char(model, held_out, streams=16)  # 16 pieces side by side: fast, within 0.01 bits
    print(f"held-out bits per character: {bpc:.3f} over {len(held_out)} characters")
    assert bpc < HELD_OUT_BPC_BOUND
    assert bits_per_char(char_lstm(pretrained=False), held_out[:3000]) > 6.0  # an untrained model is near log2(97)


def test_shipped_model_has_cells_that_track_code_structure(model):
    text = stdlib_text(["plistlib.py"])[:12000]
    found = predicate_neurons(lstm_states(model, text), text, top=1)
    for name, (best,) in found.items():
        print(f"{name:14s} best {best.name:9s} r = {best.r:+.3f}")
    assert max(abs(m[0].r) for m in found.values()) >= CELL_R_BOUND
    # structure, not chance: bracket depth and indentation each have a strongly matching cell
    assert abs(found["bracket_depth"][0].r) >= CELL_R_BOUND and abs(found["indent_depth"][0].r) >= CELL_R_BOUND


def test_training_is_reproducible_and_learns():
    text = stdlib_text(["textwrap.py"])[:4000]
    a = train_char_lstm(epochs=2, hidden_size=16, batch_size=8, seq_len=32, lr=2e-2, text=text)
    b = train_char_lstm(epochs=2, hidden_size=16, batch_size=8, seq_len=32, lr=2e-2, text=text)
    for (name, p), q in zip(a.state_dict().items(), b.state_dict().values()):
        assert torch.equal(p, q), name
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        start = CharLSTM(hidden_size=16)
    assert bits_per_char(a, text) < bits_per_char(start, text) - 0.5
    assert not a.training
    with pytest.raises(ValueError, match="text too short"):
        train_char_lstm(epochs=1, batch_size=64, seq_len=128, text="abc")

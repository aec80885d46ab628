"""TextNeuronViewer without a browser: what is sent (once / per cell), colours, guesses, predicate panel."""
import struct

import numpy as np
import pytest
import torch
from torch import nn

import nnlens_widgets as nl
from nnlens_widgets.core import ModelSnapshot, hook_count, lstm_states
from nnlens_widgets.render import lut
from nnlens_widgets.widgets.text_neurons import value_colors
from nnlens_widgets.zoo.char_lstm import VOCAB, CharLSTM, encode_text

TEXT = "def area(w, h):\n    # width times height\n    return (w * h)\n\nprint(area(2, 'x'))\n" * 3


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return CharLSTM(hidden_size=24).eval()


def sent_values(view):
    version, = struct.unpack("<I", view._values[:4])
    return version, np.frombuffer(view._values[4:], dtype="<f4")


def test_cell_choice_sends_only_that_cells_values(model):
    before = ModelSnapshot.of(model)
    v = nl.TextNeuronViewer(model, TEXT)
    states = lstm_states(model, TEXT)
    assert v.cells == 24 and v.which == "c"
    version, values = sent_values(v.view)
    np.testing.assert_array_equal(values, torch.tanh(states.c[0][:, 0]).numpy())
    text_changes, value_changes = [], []
    v.view.observe(lambda c: text_changes.append(c), "text")
    v.view.observe(lambda c: value_changes.append(c), "_values")
    v.cell = 7
    v.which = "h"
    assert text_changes == [] and len(value_changes) == 2  # the text is never resent
    version2, values = sent_values(v.view)
    assert version2 == version + 2 and len(v.view._values) == 4 + 4 * len(TEXT)
    np.testing.assert_array_equal(values, states.h[0][:, 7].numpy())
    np.testing.assert_array_equal(v.values, values)
    assert "cell 7" in v._info.value
    assert ModelSnapshot.of(model).differences(before) == {} and hook_count(model) == 0


def test_top5_tables_and_colours(model):
    v = nl.TextNeuronViewer(model, TEXT, vmax=0.5)
    with torch.no_grad():
        probs = model(encode_text(TEXT)[None])[0].softmax(1)
    top_p, top_i = torch.topk(probs, 5, dim=1)
    index = np.frombuffer(v.view._top_index, dtype="<u2").reshape(-1, 5)
    prob = np.frombuffer(v.view._top_prob, dtype="<f4").reshape(-1, 5)
    np.testing.assert_array_equal(index, top_i.numpy())
    np.testing.assert_allclose(prob, top_p.numpy(), rtol=1e-6)
    assert v.view.vocab == VOCAB
    assert np.frombuffer(v.view._lut, dtype=np.uint8).reshape(256, 4).tolist() == lut("RdBu_r").tolist()
    # colours: -vmax -> first LUT entry, 0 -> the middle, +vmax and beyond -> the last
    colours = value_colors(np.array([-0.5, 0.0, 0.5, 3.0], dtype=np.float32), 0.5)
    table = lut("RdBu_r")
    assert colours.tolist() == [table[0].tolist(), table[128].tolist(), table[255].tolist(), table[255].tolist()]
    np.testing.assert_array_equal(v.char_colors, value_colors(v.values, 0.5))
    frame = v.frame
    lines = TEXT.split("\n")[:-1]
    assert frame.shape == (len(lines), max(len(l) for l in lines) + 1, 4)
    np.testing.assert_array_equal(frame[1, : len(lines[1]) + 1], v.char_colors[len(lines[0]) + 1 : len(lines[0]) + len(lines[1]) + 2])


def test_predicate_panel_lists_best_cells_and_clicks_select_them(model):
    v = nl.TextNeuronViewer(model, TEXT)
    assert list(v.matches) == ["string", "comment", "bracket_depth", "indent_depth", "line_position"]
    rows = v._panel.children
    assert len(rows) == 5
    best = v.matches["bracket_depth"][0]
    button = rows[2].children[1]
    assert button.description.startswith(best.name)
    button.click()
    assert v.cell == best.cell and v.error is None
    custom = nl.TextNeuronViewer(model, TEXT, predicates={"vowel": lambda t: [c in "aeiou" for c in t]})
    assert list(custom.matches) == ["vowel"]


def test_gru_model_and_bad_inputs(model):
    class CharGRU(nn.Module):
        vocab = VOCAB
        encode = staticmethod(encode_text)

        def __init__(self):
            super().__init__()
            self.embed = nn.Embedding(97, 8)
            self.gru = nn.GRU(8, 12, batch_first=True)
            self.head = nn.Linear(12, 97)

        def forward(self, idx):
            return self.head(self.gru(self.embed(idx))[0])

    g = nl.TextNeuronViewer(CharGRU().eval(), TEXT)
    assert g.which == "h" and g.cells == 12
    with pytest.raises(ValueError, match="a GRU has no cell state c"):
        g.which = "c"
    assert g.which == "h"
    with pytest.raises(ValueError, match="text is empty"):
        nl.TextNeuronViewer(model, "")
    with pytest.raises(ValueError, match="no nn.LSTM, nn.GRU or nn.RNN"):
        nl.TextNeuronViewer(nn.Linear(3, 3), "abc", encode=encode_text)
    with pytest.raises(ValueError, match="vmax must be positive"):
        nl.TextNeuronViewer(model, TEXT, vmax=0)
    v = nl.TextNeuronViewer(model, "naïve\tcafé")  # outside the vocabulary: the unknown token
    assert len(v.values) == len("naïve\tcafé")
    with pytest.raises(ValueError, match=r"expected a cell in 0..23, got 24"):
        v.cell = 24
    assert v.cell == 0

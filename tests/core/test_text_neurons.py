"""core.lstm_states (vs step-by-step cells), code predicates from tokenize, predicate_neurons."""
import numpy as np
import pytest
import torch
from torch import nn

from nnlens_widgets.core import (
    ModelSnapshot, cell_correlations, code_predicates, hook_count, lstm_states, predicate_neurons, recurrent_layers,
)
from nnlens_widgets.zoo.char_lstm import CharLSTM, encode_text

TEXT = "def f(x):\n    return {'a': [x, 1]}  # done\n"


class CharRNN(nn.Module):
    """Embedding + any recurrent core, time-major or batch-first, for the equivalence tests."""

    def __init__(self, core: nn.RNNBase, vocab=97):
        super().__init__()
        self.embed = nn.Embedding(vocab, core.input_size)
        self.core = core
        self.head = nn.Linear(core.hidden_size if not getattr(core, "proj_size", 0) else core.proj_size, vocab)

    encode = staticmethod(encode_text)

    def forward(self, idx):
        x = self.embed(idx)  # (1, T, F)
        if not self.core.batch_first:
            x = x.transpose(0, 1)
        out, _ = self.core(x)
        if not self.core.batch_first:
            out = out.transpose(0, 1)
        return self.head(out)


def cell_loop(cell_type, module, layer, inputs):
    """Step-by-step nn.LSTMCell / nn.GRUCell with layer ``layer``'s weights: lists of h (and c)."""
    cell = cell_type(inputs.shape[1], module.hidden_size)
    with torch.no_grad():
        for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            getattr(cell, name).copy_(getattr(module, f"{name}_l{layer}"))
        h = torch.zeros(1, module.hidden_size)
        c = torch.zeros(1, module.hidden_size)
        hs, cs = [], []
        for t in range(len(inputs)):
            if cell_type is nn.LSTMCell:
                h, c = cell(inputs[t : t + 1], (h, c))
            else:
                h = cell(inputs[t : t + 1], h)
            hs.append(h[0])
            cs.append(c[0])
    return torch.stack(hs), torch.stack(cs)


@pytest.mark.parametrize("batch_first", [True, False])
def test_lstm_states_equal_an_lstmcell_loop_for_every_layer(batch_first):
    torch.manual_seed(0)
    model = CharRNN(nn.LSTM(16, 24, num_layers=3, batch_first=batch_first)).eval()
    text = TEXT * 3
    before = ModelSnapshot.of(model)
    states = lstm_states(model, text)
    assert ModelSnapshot.of(model).differences(before) == {} and hook_count(model) == 0
    assert states.kind == "LSTM" and states.layers == 3 and states.hidden_size == 24
    inputs = model.embed(encode_text(text)).detach()
    for layer in range(3):
        h, c = cell_loop(nn.LSTMCell, model.core, layer, inputs)
        torch.testing.assert_close(states.h[layer], h, rtol=0, atol=2e-6)
        torch.testing.assert_close(states.c[layer], c, rtol=0, atol=2e-6)
        inputs = h
    with torch.no_grad():
        torch.testing.assert_close(states.logits, model(encode_text(text)[None])[0], rtol=0, atol=1e-6)
    assert states.values().shape == (len(text), 72)
    torch.testing.assert_close(states.values("c")[:, 24:48], torch.tanh(states.c[1]))
    torch.testing.assert_close(states.values("h")[:, 48:], states.h[2])
    assert states.cell_name(30) == "layer 1 cell 6"


def test_gru_states_equal_a_grucell_loop():
    torch.manual_seed(1)
    model = CharRNN(nn.GRU(12, 20, num_layers=2, batch_first=True)).eval()
    states = lstm_states(model, TEXT)
    assert states.kind == "GRU" and states.c is None
    inputs = model.embed(encode_text(TEXT)).detach()
    for layer in range(2):
        h, _ = cell_loop(nn.GRUCell, model.core, layer, inputs)
        torch.testing.assert_close(states.h[layer], h, rtol=0, atol=2e-6)
        inputs = h
    with pytest.raises(ValueError, match="a GRU has no cell state c"):
        states.values("c")
    assert torch.equal(states.values(), states.values("h"))


@pytest.mark.filterwarnings("ignore:LSTM with projections is not supported with oneDNN")
def test_projected_lstm_follows_the_lstm_equations():
    torch.manual_seed(2)
    model = CharRNN(nn.LSTM(10, 16, proj_size=6, batch_first=True)).eval()
    states = lstm_states(model, TEXT)
    lstm = model.core
    x = model.embed(encode_text(TEXT)).detach()
    h, c = torch.zeros(6), torch.zeros(16)
    with torch.no_grad():
        for t in range(len(TEXT)):  # the equations from the nn.LSTM documentation, written out
            gates = lstm.weight_ih_l0 @ x[t] + lstm.bias_ih_l0 + lstm.weight_hh_l0 @ h + lstm.bias_hh_l0
            i, f, g, o = gates.chunk(4)
            c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
            h = lstm.weight_hr_l0 @ (torch.sigmoid(o) * torch.tanh(c))
            torch.testing.assert_close(states.c[0][t], c, rtol=0, atol=2e-6)
            torch.testing.assert_close(states.h[0][t], h, rtol=0, atol=2e-6)


def test_bad_inputs():
    torch.manual_seed(0)
    model = CharLSTM(hidden_size=8).eval()
    with pytest.raises(ValueError, match="text is empty"):
        lstm_states(model, "")
    with pytest.raises(ValueError, match="must be a str"):
        lstm_states(model, b"abc")
    with pytest.raises(ValueError, match="no nn.LSTM, nn.GRU or nn.RNN submodule"):
        lstm_states(nn.Sequential(nn.Embedding(97, 4), nn.Linear(4, 97)), "abc", encode=encode_text)
    with pytest.raises(ValueError, match="has no encode method"):
        lstm_states(nn.Sequential(nn.Embedding(97, 4), nn.LSTM(4, 4, batch_first=True)), "abc")
    with pytest.raises(ValueError, match="bidirectional"):
        lstm_states(CharRNN(nn.LSTM(4, 4, batch_first=True, bidirectional=True)), "abc")
    with pytest.raises(ValueError, match="saw 6 steps for a text of 3 characters"):
        lstm_states(model, "abc", encode=lambda t: encode_text(t + t))
    with pytest.raises(ValueError, match="not an nn.LSTM"):
        lstm_states(model, "abc", rnn="head")
    # characters outside the vocabulary: mapped to the unknown token, or a clear error
    states = lstm_states(model, "é\tx")
    assert len(states.h[0]) == 3
    with pytest.raises(ValueError, match=r"character 'é' at position 0 is outside the vocabulary"):
        lstm_states(model, "é\tx", encode=lambda t: encode_text(t, strict=True))
    assert hook_count(model) == 0


def labels(text, name):
    return "".join("." if np.isnan(v) else str(int(v)) for v in code_predicates(text)[name])


def test_predicates_label_known_python_code():
    src = 'x = f(a, "b#(")  # c[\nif x:\n    y = [1,\n         2]\n'
    # x = f(a, "b#(")  # c[|if x:|    y = [1,|         2]|
    assert labels(src, "string") == "0000000001111100000000000000000000000000000000000000"
    assert labels(src, "comment") == "0000000000000000011110000000000000000000000000000000"
    assert labels(src, "bracket_depth") == "0000011111111110000000000000000000001111111111111110"
    assert labels(src, "indent_depth") == "0000000000000000000000000000111111111111111111111111"
    column = code_predicates(src)["line_position"]
    assert column.tolist() == [float(i) for line in src.splitlines(True) for i in range(len(line))]


def test_predicates_comment_lines_fstrings_and_blank_lines():
    src = "def g():\n    # note\n\n    return f'{1}' + 'x'\n"
    p = code_predicates(src)
    # def g():|    # note||    return f'{1}' + 'x'|   (comment-only and blank lines: level of the next code line)
    assert labels(src, "indent_depth") == "000000000111111111111111111111111111111111111"
    assert labels(src, "comment") == "000000000000011111100000000000000000000000000"
    assert labels(src, "string") == "000000000000000000000000000000001111110001110"
    assert p["bracket_depth"][src.index("(")] == 1 and p["bracket_depth"][src.index(")")] == 1
    assert p["bracket_depth"][src.index(":")] == 0


def test_predicates_on_text_the_tokenizer_cannot_finish():
    src = "a = 1\nb = '''open\nstring\n"
    p = code_predicates(src)
    first = src.index("b")
    assert not np.isnan(p["string"][:first]).any() and np.isnan(p["string"][first:]).all()
    assert np.isnan(p["indent_depth"][first:]).all()
    assert not np.isnan(p["line_position"]).any()


def test_cell_correlations_match_numpy():
    rng = np.random.default_rng(0)
    values = rng.normal(size=(200, 6))
    y = values[:, 2] * 2 + rng.normal(size=200)
    values[:, 5] = 1.0  # a constant cell
    r = cell_correlations(values, y)
    for j in range(5):
        assert r[j] == pytest.approx(np.corrcoef(values[:, j], y)[0, 1], abs=1e-12)
    assert r[5] == 0.0
    y_nan = y.copy()
    y_nan[:50] = np.nan
    assert cell_correlations(values, y_nan)[2] == pytest.approx(np.corrcoef(values[50:, 2], y[50:])[0, 1])


def test_predicate_neurons_ranks_a_planted_cell_first():
    src = "def f(a):\n    return (a, [a + 1])  # c\n" * 5
    truth = code_predicates(src)
    rng = np.random.default_rng(1)
    values = rng.normal(size=(len(src), 10))
    values[:, 7] = -truth["bracket_depth"] + 0.1 * rng.normal(size=len(src))
    values[:, 3] = truth["comment"]
    found = predicate_neurons(values, src, top=2)
    assert list(found) == ["string", "comment", "bracket_depth", "indent_depth", "line_position"]
    assert found["bracket_depth"][0].cell == 7 and found["bracket_depth"][0].r < -0.95
    assert found["comment"][0].cell == 3 and found["comment"][0].r == pytest.approx(1.0)
    custom = predicate_neurons(values, src, {"is_a": lambda t: [ch == "a" for ch in t], "depth": "bracket_depth"})
    assert list(custom) == ["is_a", "depth"] and custom["depth"][0].cell == 7
    with pytest.raises(KeyError, match="unknown predicate 'loops'; built-in predicates: string"):
        predicate_neurons(values, src, ["loops"])
    with pytest.raises(ValueError, match="returned 3 values for a text of"):
        predicate_neurons(values, src, [lambda t: [1, 2, 3]])
    with pytest.raises(ValueError, match=r"expected states shaped"):
        predicate_neurons(values[:5], src)


def test_states_name_their_layer_and_recurrent_layers_are_listed():
    model = CharRNN(nn.LSTM(8, 6, num_layers=2, batch_first=True))
    assert recurrent_layers(model) == ["core"]
    assert lstm_states(model, TEXT).layer == "core"
    lone = nn.LSTM(4, 3)
    assert recurrent_layers(lone) == [""]
    states = lstm_states(lone, "abc", encode=lambda t: torch.rand(len(t), 4))
    assert states.layer == "" and states.h[0].shape == (3, 3)
    with pytest.raises(ValueError, match="not an nn.LSTM.*recurrent layers: 'core'"):
        lstm_states(model, TEXT, rnn="embed")

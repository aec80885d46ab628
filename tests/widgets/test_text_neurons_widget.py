"""TextNeuronViewer without a browser: what is sent (once / per cell), colours and their contrast, guesses,
the predicate panel, validation, escaping, freeing."""
import re
import struct
import threading

import numpy as np
import pytest
import torch
from torch import nn

import nnlens_widgets as nl
from nnlens_widgets.core import ModelSnapshot, hook_count, lstm_states
from nnlens_widgets.render import lut
from nnlens_widgets.render.contrast import AA_TEXT, blend_over, contrast_ratio
from nnlens_widgets.render.text_colors import ink_table, value_colors
from nnlens_widgets.zoo.char_lstm import VOCAB, CharLSTM, encode_text
from tests.widgets.freeing import assert_freed, closed

TEXT = "def area(w, h):\n    # width times height\n    return (w * h)\n\nprint(area(2, 'x'))\n" * 3
# The page behind the text: JupyterLab's light and dark --jp-layout-color1
PAGES = {"light": (255, 255, 255), "dark": (17, 17, 17)}


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return CharLSTM(hidden_size=24).eval()


class TwoLayers(nn.Module):
    """Two recurrent modules, the first stacked twice, the second in a ModuleDict under a marked-up key."""

    vocab = VOCAB
    encode = staticmethod(encode_text)

    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(97, 8)
        self.lower = nn.LSTM(8, 6, num_layers=2, batch_first=True)
        self.upper = nn.ModuleDict({"<b>gru</b>": nn.GRU(6, 5, batch_first=True)})
        self.head = nn.Linear(5, 97)

    def forward(self, idx):
        return self.head(self.upper["<b>gru</b>"](self.lower(self.embed(idx))[0])[0])


def sent_values(view):
    version, = struct.unpack("<I", view._values[:4])
    return version, np.frombuffer(view._values[4:], dtype="<f4")


def test_channel_choice_sends_only_that_cells_values(model):
    before = ModelSnapshot.of(model)
    v = nl.TextNeuronViewer(model, TEXT)
    states = lstm_states(model, TEXT)
    assert v.cells == 24 and v.which == "c" and v.layer == "lstm"
    version, values = sent_values(v.view)
    np.testing.assert_array_equal(values, torch.tanh(states.c[0][:, 0]).numpy())
    text_changes, value_changes = [], []
    v.view.observe(lambda c: text_changes.append(c), "text")
    v.view.observe(lambda c: value_changes.append(c), "_values")
    v.channel = 7
    v.which = "h"
    assert text_changes == [] and len(value_changes) == 2  # the text is never resent
    version2, values = sent_values(v.view)
    assert version2 == version + 2 and len(v.view._values) == 4 + 4 * len(TEXT)
    np.testing.assert_array_equal(values, states.h[0][:, 7].numpy())
    np.testing.assert_array_equal(v.values, values)
    assert "cell 7" in v.views["stats"].body.value and "cell 7" in v.views["text"].static_html()
    assert ModelSnapshot.of(model).differences(before) == {} and hook_count(model) == 0


def test_top5_tables_colours_and_colour_bar(model):
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
    assert np.frombuffer(v.view._ink, dtype=np.uint8).reshape(256, 3).tolist() == ink_table("RdBu_r").tolist()
    # colours: -vmax -> first LUT entry, 0 -> the middle, +vmax and beyond -> the last, NaN -> the middle
    colours = value_colors(np.array([-0.5, 0.0, 0.5, 3.0, np.nan], dtype=np.float32), 0.5)
    table = lut("RdBu_r")
    assert colours.tolist() == [table[i].tolist() for i in (0, 128, 255, 255, 128)]
    np.testing.assert_array_equal(v.char_colors, value_colors(v.values, 0.5))
    legend = v.views["text"].legend.value
    assert ">-0.5<" in legend and ">0.5<" in legend and ">0<" in legend and "tanh(c) of cell 0" in legend
    frame = v.frame
    lines = TEXT.split("\n")[:-1]
    assert frame.shape == (len(lines), max(len(line) for line in lines) + 1, 4)
    start = len(lines[0]) + 1
    np.testing.assert_array_equal(frame[1, : len(lines[1]) + 1], v.char_colors[start: start + len(lines[1]) + 1])


@pytest.mark.parametrize("cmap", ["RdBu_r", "coolwarm", "PiYG", "viridis"])
def test_every_character_keeps_aa_contrast_in_light_and_dark_themes(model, cmap):
    """The WCAG ratio of each character's text colour against its background, over each theme's page."""
    v = nl.TextNeuronViewer(model, TEXT, cmap=cmap, vmax=0.8)
    worst = {theme: [] for theme in PAGES}
    for which in ("c", "h"):
        v.which = which
        for channel in range(v.cells):
            v.channel = channel
            for theme, page in PAGES.items():
                ratios = contrast_ratio(v.char_text_colors, blend_over(v.char_colors, page))
                assert ratios.shape == (len(TEXT),)
                worst[theme].append(ratios.min())
    for theme, page in PAGES.items():
        assert min(worst[theme]) >= AA_TEXT, f"worst contrast {min(worst[theme]):.2f} in the {theme} theme"
        # every colour the map can give, not only those this text reaches
        assert contrast_ratio(ink_table(cmap), blend_over(lut(cmap), page)).min() >= AA_TEXT


def test_static_page_colours_text_and_background_per_character(model, tmp_path):
    v = nl.TextNeuronViewer(model, TEXT)
    v.save_html(tmp_path / "v.html")
    page = (tmp_path / "v.html").read_text()
    spans = re.findall(r"<span style='background:rgb\((\d+),(\d+),(\d+)\);color:rgb\((\d+),(\d+),(\d+)\)'>", page)
    assert len(spans) == len(TEXT)
    got = np.array(spans, dtype=int)
    np.testing.assert_array_equal(got[:, :3], v.char_colors[:, :3])
    np.testing.assert_array_equal(got[:, 3:], v.char_text_colors)
    assert "white-space:pre-wrap" in page and "nnl-legend-bar" in page
    v.save_png(tmp_path / "v.png")
    assert (tmp_path / "v.png").stat().st_size > 5000


def test_predicate_panel_lists_best_cells_and_clicks_select_them(model):
    v = nl.TextNeuronViewer(model, TEXT)
    assert list(v.matches) == ["string", "comment", "bracket_depth", "indent_depth", "line_position"]
    rows = v.controls["predicates"].children
    assert len(rows) == 5
    best = v.matches["bracket_depth"][0]
    button = rows[2].children[1]
    assert button.description.startswith(best.name)
    button.click()
    assert v.channel == best.cell and v.error is None
    custom = nl.TextNeuronViewer(model, TEXT, predicates={"vowel": lambda t: [c in "aeiou" for c in t]})
    assert list(custom.matches) == ["vowel"]


def test_a_model_with_several_recurrent_layers_picks_one_by_name():
    model = TwoLayers().eval()
    before = ModelSnapshot.of(model)
    with pytest.raises(ValueError, match="several recurrent layers"):
        nl.TextNeuronViewer(model, TEXT)
    v = nl.TextNeuronViewer(model, TEXT, layer="lower")
    assert v.cells == 12 and v.which == "c" and v.controls["layer"].layout.display == "flex"
    v.channel = 11
    assert "layer 1 cell 5" in v.views["stats"].body.value
    v.layer = "upper.<b>gru</b>"  # recomputed in the background
    assert v.wait(30) and v.error is None
    assert v.states.layer == "upper.<b>gru</b>" and v.cells == 5 and v.channel == 4 and v.which == "h"
    np.testing.assert_array_equal(v.values, lstm_states(model, TEXT, rnn="upper.<b>gru</b>").h[0][:, 4].numpy())
    shown = v.views["stats"].body.value + v.views["text"].static_html()
    assert "<b>gru</b>" not in shown and "upper.&lt;b&gt;gru&lt;/b&gt;" in shown
    assert ModelSnapshot.of(model).differences(before) == {} and hook_count(model) == 0


@pytest.mark.parametrize("trait, bad, message", [
    ("channel", 24, r"cell \(channel\) in 0..23 of layer 'lstm'"),
    ("channel", -1, r"in 0..23"),
    ("vmax", 0, "vmax > 0"),
    ("vmax", -1.0, "vmax in 0.0..None|vmax > 0"),
    ("vmax", float("nan"), "finite vmax"),
    ("layer", "embed", "expected a recurrent layer"),
])
def test_every_trait_is_range_checked_and_a_bad_value_is_not_kept(model, trait, bad, message):
    v = nl.TextNeuronViewer(model, TEXT)
    v.channel = 3
    names = ("layer", "channel", "which", "vmax")
    before = {t: getattr(v, t) for t in names}
    with pytest.raises(ValueError, match=message):
        setattr(v, trait, bad)
    assert {t: getattr(v, t) for t in names} == before and v.error is None


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
    assert g.which == "h" and g.cells == 12 and g.controls["layer"].layout.display == "none"
    with pytest.raises(ValueError, match="a GRU has no cell state c"):
        g.which = "c"
    assert g.which == "h"
    with pytest.raises(ValueError, match="text is empty"):
        nl.TextNeuronViewer(model, "")
    with pytest.raises(ValueError, match="no nn.LSTM, nn.GRU or nn.RNN"):
        nl.TextNeuronViewer(nn.Linear(3, 3), "abc", encode=encode_text)
    with pytest.raises(ValueError, match="vmax > 0"):
        nl.TextNeuronViewer(model, TEXT, vmax=0)
    with pytest.raises(ValueError, match="height_px in 40..4000"):
        nl.TextNeuronViewer(model, TEXT, height_px=5)
    with pytest.raises(KeyError, match="unknown colormap"):
        nl.TextNeuronViewer(model, TEXT, cmap="nope")
    with pytest.raises(TypeError, match="torch.nn.Module"):
        nl.TextNeuronViewer(object(), TEXT)
    with pytest.raises(ValueError, match="same text"):
        nl.TextNeuronViewer(model, TEXT, states=lstm_states(model, "abc"))
    v = nl.TextNeuronViewer(model, "naïve\tcafé")  # outside the vocabulary: the unknown token
    assert len(v.values) == len("naïve\tcafé")


def test_a_new_text_and_refresh(model):
    v = nl.TextNeuronViewer(model, TEXT)
    v.channel = 4
    other = "for i in range(3):\n    print([i, {i: 'x'}])\n"
    v.input = other
    assert v.text == other and v.view.text == other and v.channel == 4
    np.testing.assert_array_equal(v.values, torch.tanh(lstm_states(model, other).c[0][:, 4]).numpy())
    assert len(np.frombuffer(v.view._top_index, dtype="<u2")) == 5 * len(other)
    with pytest.raises(ValueError, match="text is empty"):
        v.input = ""
    assert v.text == other
    old = v.values.copy()
    with torch.no_grad():
        model.lstm.bias_hh_l0[4 + 24] += 3.0  # cell 4 forgets less: its state changes
    try:
        np.testing.assert_array_equal(v.values, old)
        v.refresh()
        assert not np.array_equal(v.values, old)
        np.testing.assert_array_equal(v.values, torch.tanh(lstm_states(model, other).c[0][:, 4]).numpy())
    finally:
        with torch.no_grad():
            model.lstm.bias_hh_l0[4 + 24] -= 3.0


def test_model_unchanged_after_every_action(model):
    model.train()
    try:
        before = ModelSnapshot.of(model)
        v = nl.TextNeuronViewer(model, TEXT)
        for act in (lambda: setattr(v, "channel", 5), lambda: setattr(v, "which", "h"),
                    lambda: setattr(v, "vmax", 0.3), lambda: v.controls["predicates"].children[0].children[1].click(),
                    v.refresh, lambda: setattr(v, "input", "x = (1, 2)\n")):
            act()
            assert v.wait(30) and v.error is None
            assert ModelSnapshot.of(model).differences(before) == {} and hook_count(model) == 0
    finally:
        model.eval()


def test_close_frees_the_widget_and_its_thread():
    threads = set(threading.enumerate())
    v = nl.TextNeuronViewer(TwoLayers().eval(), TEXT, layer="lower")
    v.layer = "upper.<b>gru</b>"  # background work: a worker thread
    assert v.wait(30)
    ref = closed(v)
    del v
    assert_freed(ref, threads)

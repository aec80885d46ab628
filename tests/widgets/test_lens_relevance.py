"""The Lens's relevance panels: share of relevance per channel (clickable), top examples by relevance."""
from __future__ import annotations

import html
import threading

import numpy as np
import torch

import nnlens_widgets as nl
from nnlens_widgets.core import ModelSnapshot, channel_relevance, hook_count, top_examples
from tests.models import TinyNet, image
from tests.widgets.test_lens import LABELS, ThreadCountingNet, changed, content, data

RELEVANCE_VIEWS = {"relevance_share", "relevance_examples"}


def make(model=None, **kwargs):
    options = dict(data=data(), labels=LABELS, layer="relu2", vis_steps=4, trust_steps=4)
    options.update(kwargs)
    lens = nl.Lens(model if model is not None else TinyNet(), image(), **options)
    lens.relevance()
    assert lens.wait(120), "background work did not finish"
    return lens


def test_share_chart_ranks_channels_by_their_relevance_and_a_click_picks_one():
    model = TinyNet()
    lens = make(model)
    share = lens.views["relevance_share"]
    direct = channel_relevance(model, lens.input, "relu2", target=lens.target)
    scores = direct.scores[0].numpy()
    expected = [int(c) for c in np.argsort(-scores, kind="stable")[:len(share.channels)]]
    assert share.channels == expected and len(expected) == min(10, lens.channels)
    shares = share._data[1]
    assert np.allclose(shares, 100 * scores[expected] / scores.sum(), rtol=1e-5)  # the bars are percent shares
    assert "share of the relevance for" in share._title.value and html.escape(LABELS[lens.target]) \
        in share._title.value
    assert "% of its score" in share.caption.value
    picked = 100 * scores[lens.channel] / scores.sum()
    assert f"Channel {lens.channel} (picked): {picked:.1f}%." in share.caption.value
    pick = expected[-1]
    share._buttons.children[len(expected) - 1].click()
    assert lens.channel == pick
    assert [b.button_style for b in share._buttons.children].count("info") == 1
    assert lens.wait(60) and lens.error is None


def test_examples_by_relevance_equal_the_core_scan_and_follow_channel_and_target():
    model = TinyNet()
    lens = make(model)
    scan = top_examples(model, data(), "relu2", k=lens.examples_k, by="relevance", target=lens.target)
    got = lens._relevance.scanned
    assert (got.by, got.target) == ("relevance", lens.target)
    assert torch.equal(got.top_indices, scan.top_indices)
    title = lens.views["relevance_examples"].title
    assert f"channel {lens.channel}" in title and "by relevance" in title

    before = content(lens)
    lens.channel = (lens.channel + 1) % lens.channels  # drawn from the kept scan: nothing recomputed
    assert lens._relevance.scanned is got
    assert RELEVANCE_VIEWS <= changed(before, content(lens))
    assert lens.wait(60)

    before = content(lens)
    lens.target = (lens.target + 1) % 5
    assert lens.wait(120) and lens.error is None
    assert RELEVANCE_VIEWS <= changed(before, content(lens))
    assert lens._relevance.scanned.target == lens.target
    assert f"for {LABELS[lens.target]}" in lens.views["relevance_share"]._title.value.replace("&lt;", "<") \
        .replace("&gt;", ">")


def test_channel_change_runs_no_relevance_pass_on_the_kernel_thread():
    model = ThreadCountingNet()
    lens = make(model)
    kernel = threading.get_ident()
    passes = model.passes_on(kernel)
    before = content(lens)
    lens.channel = (lens.channel + 2) % lens.channels
    assert "relevance_share" in changed(before, content(lens))  # the picked channel is marked at once
    assert model.passes_on(kernel) == passes
    assert lens.wait(60)


def test_off_until_asked_state_round_trip_exports_and_model_untouched(tmp_path):
    model = TinyNet()
    before = ModelSnapshot.of(model)
    plain = nl.Lens(model, image(), data=data(), labels=LABELS, layer="relu2", vis_steps=4, trust_steps=4)
    assert plain.wait(60)
    assert "relevance_share" not in plain.views and plain._relevance.scanned is None
    assert plain._relevance.share.layout.display == "none"
    assert plain.state()["relevance"] is False
    plain.relevance()
    assert plain.wait(120)
    state = plain.state()
    assert state["relevance"] is True
    again = nl.Lens.from_state(model, image(), state, data=data(), labels=LABELS, vis_steps=4, trust_steps=4)
    assert again.wait(120)
    assert again.views["relevance_share"].channels == plain.views["relevance_share"].channels
    plain.save_html(tmp_path / "lens.html")
    page = (tmp_path / "lens.html").read_text()
    assert "share of the relevance" in page and f">channel {plain.views['relevance_share'].channels[0]}<" in page
    plain.save_png(tmp_path / "lens.png")
    assert (tmp_path / "lens.png").stat().st_size > 0
    for lens in (plain, again):
        lens.close()
    assert ModelSnapshot.of(model).differences(before) == {} and hook_count(model) == 0


def test_without_data_only_the_share_chart_shows():
    lens = make(data=None)
    assert lens.views["relevance_share"].layout.display == "flex"
    assert "relevance_examples" not in lens.views and lens._relevance.examples.layout.display == "none"
    assert lens.views["relevance_share"].channels and lens._relevance.scanned is None


def test_where_lrp_cannot_run_the_panel_says_why_instead_of_a_chart(monkeypatch):
    from nnlens_widgets.widgets.lens import relevance as lens_relevance

    def no_rule(*_args, **_kwargs):
        raise ValueError("layer 'odd' has no relevance rule")

    monkeypatch.setattr(lens_relevance, "channel_relevance", no_rule)
    lens = make()
    share = lens.views["relevance_share"]
    assert "no relevance for this model: ValueError: layer &#x27;odd&#x27; has no relevance rule" in share.body.value
    assert share.channels == [] and lens.error is None
    assert "no ranking by relevance" in lens.views["relevance_examples"].caption.value

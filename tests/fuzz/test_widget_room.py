"""Small holes, each a clear error instead of a wrong or raw result, through every widget.

Misspelt keywords, markup that could end a page's script element, state
records with fields of the wrong type, values a model's dtype cannot hold,
negative targets. Each case leaves the model bit-identical with no hook left.
"""
from __future__ import annotations

import json
from collections import OrderedDict

import pytest
import torch
from torch import nn

import nnlens_widgets as nl
from nnlens_widgets.core import ModelSnapshot, hook_count
from nnlens_widgets.zoo.painter import painter_image
from tests.core.vit_models import image as vit_image, tv_vit
from tests.fuzz.widget_models import TEXT, X, char_lstm, concept_data, concept_net, digits, painter_net, \
    plane_classifier, tiny


def _unchanged(model, snap) -> None:
    assert ModelSnapshot.of(model).differences(snap) == {} and hook_count(model) == 0


# -- misspelt keywords ------------------------------------------------------------------------------
def _concept(m, **kw):
    concepts, test = concept_data()
    return nl.ConceptExplorer(m, concept_data=concepts, test_data=test, splits=1, **kw)


# widget -> (model, build(model, **misspelt), the misspelt keyword, the name it should suggest)
MISSPELT = {
    "ActivationGrid": (tiny, lambda m, **kw: nl.ActivationGrid(m, X, **kw), "layr", "layer"),
    "FilterGrid": (tiny, lambda m, **kw: nl.FilterGrid(m, **kw), "chanel", "channel"),
    "OcclusionExplorer": (tiny, lambda m, **kw: nl.OcclusionExplorer(m, X, autorun=False, **kw), "windw", "window"),
    "SaliencyExplorer": (tiny, lambda m, **kw: nl.SaliencyExplorer(m, X, autorun=False, **kw), "method", "methods"),
    "NeuronAblation": (tiny, lambda m, **kw: nl.NeuronAblation(m, X, layer="conv2", **kw), "targt", "target"),
    "Lens": (tiny, lambda m, **kw: nl.Lens(m, X, vis_steps=2, **kw), "vis_sed", "vis_seed"),
    "TextNeuronViewer": (char_lstm, lambda m, **kw: nl.TextNeuronViewer(m, TEXT, **kw), "chanel", "channel"),
    "FeatureVisualizer": (lambda: digits()[0], lambda m, **kw: nl.FeatureVisualizer(
        m, layer="relu3", steps=4, seconds=0, input_size=16, autorun=False, **kw), "step_size", "steps"),
    "DirectionExplorer": (lambda: digits()[0], lambda m, **kw: nl.DirectionExplorer(
        m, layer="relu2", data=digits()[1], k=2, steps=4, seconds=0, input_size=16, **kw), "sead", "seed"),
    "ConceptExplorer": (concept_net, _concept, "split", "splits"),
    "SynapseExplorer": (painter_net, lambda m, **kw: nl.SynapseExplorer(m, picture=painter_image(size=16), **kw),
                        "ensemble_sise", "ensemble_size"),
    "PlaneView": (plane_classifier, lambda m, **kw: nl.PlaneView(m, **kw), "sise", "size"),
    "AttentionExplorer": (lambda: tv_vit(3), lambda m, **kw: nl.AttentionExplorer(m, vit_image(3), **kw),
                          "hed", "head"),
}


@pytest.mark.parametrize("name", list(MISSPELT))
def test_a_misspelt_keyword_is_refused_naming_the_closest_one(name):
    make_model, build, wrong, right = MISSPELT[name]
    model = make_model()
    snap = ModelSnapshot.of(model)
    with pytest.raises(TypeError, match=rf"{name}\(\) got unexpected keyword argument\(s\) '{wrong}' "
                                        rf"\(did you mean '{right}'\?\)"):
        build(model, **{wrong: 4})
    _unchanged(model, snap)


def test_a_trait_or_an_ipywidgets_keyword_is_still_taken():
    import ipywidgets as W

    model = tiny()
    snap = ModelSnapshot.of(model)
    grid = nl.ActivationGrid(model, X, layer="conv1", normalization="shared", layout=W.Layout(width="900px"))
    assert grid.normalization == "shared" and grid.layout.width == "900px"
    grid.close()
    with pytest.raises(TypeError, match=r"'zzz_unheard_of'; it takes: model, x, layer, labels.*; and its traits: .*normalization"):
        nl.ActivationGrid(model, X, zzz_unheard_of=1)
    _unchanged(model, snap)


def test_traits_given_as_keywords_are_set_once_the_widget_is_built():
    model = tiny()
    snap = ModelSnapshot.of(model)
    ablation = nl.NeuronAblation(model, X, layer="conv2", target=2)  # not overwritten by the likeliest class
    grid = nl.ActivationGrid(model, X, layer="conv2", channel=3, normalization="shared")
    assert ablation.target == 2 and ablation.controls["target"].value == 2
    assert (grid.channel, grid.normalization, grid.controls["channel"].value) == (3, "shared", 3)
    fresh = nl.ActivationGrid(model, X, layer="conv2")
    fresh.normalization, fresh.channel = "shared", 3
    assert (grid.frame == fresh.frame).all() and (grid.detail_frame == fresh.detail_frame).all()
    for w in (ablation, grid, fresh):
        w.close()
    _unchanged(model, snap)


# -- negative targets: refused by every widget with a target, however they are given ----------------
TARGETED = {
    "OcclusionExplorer": (tiny, lambda m, **kw: nl.OcclusionExplorer(m, X, autorun=False, **kw), 4),
    "SaliencyExplorer": (tiny, lambda m, **kw: nl.SaliencyExplorer(m, X, autorun=False, **kw), 4),
    "NeuronAblation": (tiny, lambda m, **kw: nl.NeuronAblation(m, X, layer="conv2", **kw), 4),
    "Lens": (tiny, lambda m, **kw: nl.Lens(m, X, vis_steps=2, **kw), 4),
    "AttentionExplorer": (lambda: tv_vit(3), lambda m, **kw: nl.AttentionExplorer(m, vit_image(3), **kw), 3),
}


@pytest.mark.parametrize("name", list(TARGETED))
def test_a_negative_target_is_refused_naming_the_range(name):
    make_model, build, last = TARGETED[name]
    model = make_model()
    snap = ModelSnapshot.of(model)
    message = rf"expected a target class in 0\.\.{last}, got -1"
    with pytest.raises(ValueError, match=message):
        build(model, target=-1)
    w = build(model)
    kept = w.target
    with pytest.raises(ValueError, match=message):
        w.target = -1
    assert w.target == kept and w.controls["target"].value == kept
    assert w.wait(60) and w.error is None
    w.close()
    _unchanged(model, snap)


# -- a weight value the network's dtype cannot hold ---------------------------------------------------
@pytest.mark.parametrize("how", ["trait", "set_value"])
def test_a_synapse_value_beyond_the_dtype_is_refused(how):
    model = painter_net()
    snap = ModelSnapshot.of(model)
    w = nl.SynapseExplorer(model, picture=painter_image(size=16), ensemble_size=4)
    assert w.wait(60)
    before, value = w.values.copy(), w.value
    with pytest.raises(ValueError, match=r"weight value in -3\.403e\+38\.\.3\.403e\+38 .*float32.*got 1e\+39"):
        if how == "trait":
            w.value = 1e39
        else:
            w.set_value(w.synapse, 1e39)
    assert w.value == value and (w.values == before).all()
    assert w.wait(60) and w.error is None
    w.close()
    _unchanged(model, snap)


# -- markup that could end a page's script element -------------------------------------------------
OPENER = "<!--<script>"


def markup_net() -> nn.Module:
    """A classifier whose first layer is named like markup that opens a comment and a script."""
    torch.manual_seed(0)
    return nn.Sequential(OrderedDict([(OPENER, nn.Conv2d(3, 4, 3, padding=1)), ("relu", nn.ReLU()),
                                      ("pool", nn.AdaptiveAvgPool2d(2)), ("flat", nn.Flatten()),
                                      ("fc", nn.Linear(16, 5))])).eval()


def _script_body(page: str) -> str:
    start = page.index("class='nnl-state'>") + len("class='nnl-state'>")
    return page[start:page.index("</script>", start)]


def test_a_lens_page_keeps_markup_in_its_state_record_as_escapes(tmp_path):
    model = markup_net()
    snap = ModelSnapshot.of(model)
    labels = [f"{OPENER} class {i} & </script>" for i in range(5)]
    lens = nl.Lens(model, X, layer=OPENER, labels=labels, vis_steps=2)
    assert lens.wait(60) and lens.error is None
    lens.save_html(tmp_path / "lens.html")
    page = (tmp_path / "lens.html").read_text(encoding="utf-8")
    body = _script_body(page)
    assert not set("<>&") & set(body), "raw markup characters inside the script element"
    assert "\\u003c!--\\u003cscript\\u003e" in body
    assert json.loads(body) == lens.state()  # the escapes read back as the same record
    assert page.count("<script") == 1 and page.rstrip().endswith("</body></html>")
    rest = page[page.index("</script>") + len("</script>"):]
    assert rest.startswith("<p style='font-size:11px'>state: layer &lt;!--&lt;script&gt;")
    lens.close()
    _unchanged(model, snap)


def test_a_layer_named_like_markup_is_text_in_every_page_and_picture_caption(tmp_path):
    model = markup_net()
    snap = ModelSnapshot.of(model)
    grid = nl.ActivationGrid(model, X, layer=OPENER)
    grid.save_html(tmp_path / "grid.html")
    page = (tmp_path / "grid.html").read_text(encoding="utf-8")
    assert "<!--" not in page and "<script" not in page and "&lt;!--&lt;script&gt;" in page
    grid.close()
    _unchanged(model, snap)


# -- state records with fields of the wrong type ------------------------------------------------------
@pytest.fixture(scope="module")
def saved():
    model = tiny()
    lens = nl.Lens(model, X, vis_steps=2)
    assert lens.wait(60)
    state = lens.state()
    lens.close()
    return model, state


BAD_FIELDS = [
    ("weights_hash", 123, r"'weights_hash' as a string, got 123"),
    ("input_hash", None, r"'input_hash' as a string, got None"),
    ("layer", None, r"'layer' as a string, got None"),
    ("channel", None, r"'channel' as a whole number, got None"),
    ("channel", 1.5, r"'channel' as a whole number, got 1\.5"),
    ("target", "3", r"'target' as a whole number, got '3'"),
    ("version", True, r"'version' as a whole number, got True"),
    ("vis_seed", False, r"'vis_seed' as a whole number, got False"),
    ("method", 7, r"'method' as a string, got 7"),
    ("method_params", [], r"'method_params' as a dict"),
    ("method_params", {"smoothgrad": 3}, r"'method_params' as a dict \{method: \{parameter: value\}\}"),
    ("occlusion", "yes", r"'occlusion' as true or false, got 'yes'"),
    ("top_k", "5", r"'top_k' as a whole number, got '5'"),
    ("target", -1, r"target class in 0\.\.4, got -1"),
]


@pytest.mark.parametrize("field, value, match", BAD_FIELDS, ids=[f"{f}={v!r}" for f, v, _ in BAD_FIELDS])
def test_a_state_field_of_the_wrong_type_is_refused_naming_it(saved, field, value, match):
    model, state = saved
    snap = ModelSnapshot.of(model)
    with pytest.raises(ValueError, match=match):
        nl.Lens.from_state(model, X, {**state, field: value})
    _unchanged(model, snap)


# -- a huge input: pictures drawn reduced, the map kept whole ------------------------------------------
def big_net() -> nn.Module:
    """A classifier cheap enough to run on a 2000 px picture many times."""
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 4, 5, stride=8), nn.ReLU(), nn.AdaptiveAvgPool2d(2), nn.Flatten(),
                         nn.Linear(16, 5)).eval()


def test_a_huge_input_is_drawn_reduced_and_the_patch_follows_the_mouse_on_it():
    model = big_net()
    snap = ModelSnapshot.of(model)
    x = torch.rand(3, 1500, 2100, generator=torch.Generator().manual_seed(0))
    w = nl.OcclusionExplorer(model, x, window=500, stride=500)
    assert w.wait(120) and w.error is None, w.error
    assert w.heatmap.shape == (1500, 2100)  # the map itself keeps every pixel
    assert w.frame.shape == (500, 700, 4)  # 1/3: the smallest whole factor within 1024 px
    assert w.views["input"].frame.shape == (500, 700, 4)
    assert "Drawn at 1/3 of the 2100x1500 px input" in w.views["map"].caption.value
    w._map_view.canvas.handle_event({"event": "move", "x": 100.0, "y": 50.0})  # frame pixels
    assert w.patch == (0, 500, 50, 550)  # centred on input pixel (300, 150), kept inside
    mark = w._map_view.canvas.marks[0]
    assert (mark["x"], mark["w"]) == (50 / 3 - 0.5, 500 / 3 + 1)  # the outline in frame pixels
    w.close()
    _unchanged(model, snap)


def test_a_partial_map_of_a_huge_input_is_drawn_without_full_size_copies():
    import tracemalloc

    model = big_net()
    snap = ModelSnapshot.of(model)
    x = torch.rand(3, 2000, 2000, generator=torch.Generator().manual_seed(0))
    w = nl.OcclusionExplorer(model, x, autorun=False)
    heat = torch.rand(2000, 2000, generator=torch.Generator().manual_seed(1))
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        w._draw_map(heat, "partial map")  # what each partial map of a run costs
        peak = tracemalloc.get_traced_memory()[1] - before
    finally:
        tracemalloc.stop()
    full = 2000 * 2000 * 4  # one full-size RGBA picture, or one float32 map
    assert peak < 4 * full, f"a partial map took {peak / 2**20:.0f} MiB of pictures to draw"
    assert w.frame.shape == (1000, 1000, 4)
    w.close()
    _unchanged(model, snap)

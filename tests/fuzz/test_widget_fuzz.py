"""Bad values, odd models and half-built widgets, through every widget.

Each case gives a clear error (its type and the words naming what was
expected, the old value kept in the trait and its control) or the right
result, and leaves the model bit-identical with no hook left. Stress (rapid
changes, stop cycles, threads, many widgets) is in test_widget_stress.py.
"""
from __future__ import annotations

import gc
import sys
import weakref
from typing import Callable, NamedTuple, Optional, Type

import ipywidgets as W
import numpy as np
import pytest
import torch
import traitlets
from torch import nn

import nnlens_widgets as nl
from nnlens_widgets.core import ModelSnapshot, hook_count
from tests.fuzz.widget_models import WIDGETS, X, build, tiny
from tests.models import TinyNet, TupleNet

NAN, INF = float("nan"), float("inf")
MARKUP = "<script>alert(1)</script>"

# (widget, trait, bad value, error type, words of the message)
BAD_VALUES = [
    ("ActivationGrid", "channel", -1, ValueError, r"channel in 0\.\.5 for layer 'conv2', got -1"),
    ("ActivationGrid", "channel", NAN, traitlets.TraitError, "expected an int"),
    ("ActivationGrid", "channel", True, ValueError, "channel as a whole number for layer 'conv2', got True"),
    ("ActivationGrid", "page", 3, ValueError, r"page in 0\.\.0"),
    ("ActivationGrid", "layer", MARKUP, KeyError, "closest names"),
    ("ActivationGrid", "normalization", "global", traitlets.TraitError, r"\['channel', 'shared'\]"),
    ("ActivationGrid", "cmap", "viridiss", KeyError, "unknown colormap"),
    ("FilterGrid", "channel", 6, ValueError, r"filter \(output channel\) in 0\.\.5"),
    ("FilterGrid", "in_channel", -1, ValueError, r"input channel in 0\.\.3"),
    ("FilterGrid", "mode", "rgb", traitlets.TraitError, r"\['color', 'channels'\]"),
    ("OcclusionExplorer", "window", 0, ValueError, r"window in 1\.\.16, got 0"),
    ("OcclusionExplorer", "stride", 10**9, ValueError, r"stride in 1\.\.16"),
    ("OcclusionExplorer", "target", 5, ValueError, r"target class in 0\.\.4"),
    ("OcclusionExplorer", "target", False, ValueError, "target class as a whole number"),
    ("OcclusionExplorer", "opacity", NAN, ValueError, "finite opacity"),
    ("OcclusionExplorer", "opacity", INF, ValueError, "finite opacity"),
    ("OcclusionExplorer", "baseline", "grey", ValueError, r"baseline in \['zero'"),
    ("SaliencyExplorer", "clip_percentile", 20.0, ValueError, r"clip_percentile in 50\.0\.\.100\.0"),
    ("SaliencyExplorer", "vmax", -1.0, ValueError, "positive vmax"),
    ("SaliencyExplorer", "vmax", INF, ValueError, "finite vmax"),
    ("SaliencyExplorer", "methods", ["gradiant"], ValueError, "unknown method 'gradiant'; offered: gradient"),
    ("SaliencyExplorer", "channel", 6, ValueError, r"channel in 0\.\.5 for layer 'pool'"),
    ("SaliencyExplorer", "target", "3", traitlets.TraitError, "expected an int"),
    ("NeuronAblation", "off", [0, 6], ValueError, r"0\.\.5"),
    ("NeuronAblation", "pin_value", NAN, ValueError, "finite pin_value"),
    ("NeuronAblation", "top_k", 0, ValueError, r"top_k in 1\.\."),
    ("TextNeuronViewer", "channel", 8, ValueError, r"cell \(channel\) in 0\.\.5 of layer 'lstm'"),
    ("TextNeuronViewer", "vmax", -1.0, ValueError, r"vmax > 0"),
    ("TextNeuronViewer", "vmax", NAN, ValueError, "finite vmax"),
    ("TextNeuronViewer", "layer", "gru", ValueError, r"recurrent layer \('lstm', 'lstm2'\)"),
    ("FeatureVisualizer", "steps", 0, ValueError, r"steps in 1\.\.100000"),
    ("FeatureVisualizer", "lr", INF, ValueError, "finite learning rate"),
    ("FeatureVisualizer", "seconds", -1.0, ValueError, r"seconds in 0\.0\.\.60\.0"),
    ("FeatureVisualizer", "batch", 9, ValueError, r"batch in 1\.\.8"),
    ("FeatureVisualizer", "channel", 64, ValueError, r"channel in 0\.\.5 for layer 'relu2'"),
    ("DirectionExplorer", "seed", -1, ValueError, r"seed in 0\.\.2147483647"),
    ("DirectionExplorer", "layer", "relu9", KeyError, "closest names"),
    ("ConceptExplorer", "example", 10, ValueError, r"example in 0\.\.9 of test_data"),
    ("ConceptExplorer", "concept", MARKUP, ValueError, r"concept of layer 'bn' in \['dark', 'light'\]"),
    ("SynapseExplorer", "synapse", -1, ValueError, r"synapse index in 0\.\.\d+"),
    ("SynapseExplorer", "value", NAN, ValueError, "finite weight value"),
    ("SynapseExplorer", "side_view", "both", ValueError, r"side_view in \('difference', 'acts'\)"),
    ("PlaneView", "output", 3, ValueError, r"output in 0\.\.2"),
    ("PlaneView", "output", True, ValueError, "output as a whole number"),
    ("PlaneView", "mode", "hsv", ValueError, r"mode in \('auto', 'rgb', 'signed', 'classes'\)"),
    ("PlaneView", "channel", 6, ValueError, r"channel in 0\.\.5 of layer '0'"),
    ("Playground", "learning_rate", INF, ValueError, "finite learning_rate"),
    ("Playground", "batch_size", 0, ValueError, r"batch_size as a whole number in 1\.\.256"),
    ("Playground", "hidden", (4, 17), ValueError, "1 to 16 neurons per hidden layer"),
    ("Playground", "activation", MARKUP, ValueError, "activation in"),
    ("Playground", "dataset", "moons", ValueError, "dataset in"),
    ("Playground", "classes", 7, ValueError, r"classes in 2\.\.6"),
    ("Playground", "noise", NAN, ValueError, "finite noise"),
]


@pytest.fixture(scope="module")
def built():
    """One widget of each kind, built on first use and shared by the bad-value cases."""
    cache = {}

    def get(name):
        if name not in cache:
            model = WIDGETS[name][0]()
            cache[name] = (build(name, model), model, ModelSnapshot.of(model))
        return cache[name]

    yield get
    for w, _, _ in cache.values():
        w.close()


def _same(a, b) -> bool:
    return a == b or (isinstance(a, float) and isinstance(b, float) and np.isnan(a) and np.isnan(b))


@pytest.mark.parametrize("name, trait, bad, error, match", BAD_VALUES,
                         ids=[f"{w}.{t}={b!r}" for w, t, b, *_ in BAD_VALUES])
def test_a_bad_value_is_refused_clearly_and_not_kept(built, name, trait, bad, error, match):
    w, model, snap = built(name)
    old = getattr(w, trait)
    control = w.controls.get(trait)
    shown = getattr(control, "value", None)
    with pytest.raises(error, match=match):
        setattr(w, trait, bad)
    assert _same(getattr(w, trait), old)
    if control is not None:
        assert _same(control.value, shown)  # the control still shows the value in use
    assert w.wait(30) and w.error is None
    assert ModelSnapshot.of(model).differences(snap) == {} and hook_count(model) == 0


@pytest.mark.parametrize("name", ["OcclusionExplorer", "SaliencyExplorer"])
def test_an_opacity_out_of_range_is_clipped_and_the_control_agrees(built, name):
    w, _, _ = built(name)
    for asked, kept in [(5, 1.0), (-0.5, 0.0), (0.25, 0.25)]:
        w.opacity = asked
        assert w.opacity == kept and w.controls["opacity"].value == kept


def _html_texts(widget) -> list:
    out, stack = [], [widget]
    while stack:
        w = stack.pop()
        if isinstance(w, (W.HTML, W.HTMLMath)):
            out.append(w.value)
        stack.extend(getattr(w, "children", ()))
    return out


LABELLED = {
    "ActivationGrid": lambda m, names: nl.ActivationGrid(m, X, layer="fc", labels=names),
    "OcclusionExplorer": lambda m, names: nl.OcclusionExplorer(m, X, labels=names, window=4, stride=4,
                                                               autorun=False),
    "SaliencyExplorer": lambda m, names: nl.SaliencyExplorer(m, X, labels=names, methods=["gradient"]),
    "NeuronAblation": lambda m, names: nl.NeuronAblation(m, X, layer="conv2", labels=names),
}


@pytest.mark.parametrize("name", list(LABELLED))
def test_markup_in_labels_is_shown_as_text(name, tmp_path):
    model = tiny()
    names = [MARKUP] + [f"<i>class {i}</i>" for i in range(1, 5)]
    w = LABELLED[name](model, names)
    assert w.wait(30) and w.error is None
    texts = _html_texts(w)
    assert any("&lt;i&gt;class" in t or "&lt;script&gt;" in t for t in texts), "the labels are not shown at all"
    assert not any("<script>" in t or "<i>class" in t for t in texts)
    w.save_html(tmp_path / "page.html")
    page = (tmp_path / "page.html").read_text(encoding="utf-8")
    assert "<script>alert" not in page and "<i>class" not in page
    w.close()


# -- odd models ---------------------------------------------------------------------------------
class TupleOut(nn.Module):
    """A classifier that returns (logits, extra), as some detection heads do."""

    def __init__(self):
        super().__init__()
        self.net = TinyNet()

    def forward(self, x):
        y = self.net(x)
        return y, y.detach()


def _frozen():
    m = tiny()
    for p in m.parameters():
        p.requires_grad_(False)
    return m


def _train():
    torch.manual_seed(0)
    return TinyNet().train()


class Odd(NamedTuple):
    model: Callable[[], nn.Module]
    run: Callable[[nn.Module], object]
    error: Optional[Type[BaseException]] = None
    match: str = ""
    check: Optional[Callable[[object, nn.Module], bool]] = None


def _grid_matches_core(layer: str, x=X):
    def check(grid, model):
        acts = nl.core.ActivationCache(model, x)[layer]
        return torch.allclose(grid.activations.float(), acts.float(), atol=1e-5)
    return check


def _occlusion_matches_core(occ, model):
    ref = nl.core.occlusion(model, occ.input, lambda out, c=occ.target: out.float().softmax(1)[:, c],
                            window=4, stride=4)
    return torch.allclose(occ.heatmap.float(), ref.reshape(-1, *occ.heatmap.shape).mean(0).float(), atol=1e-5)


def _occlusion(m, x=X):
    w = nl.OcclusionExplorer(m, x, window=4, stride=4)
    assert w.wait(30) and w.error is None
    return w


def _saliency(m, x=X):
    w = nl.SaliencyExplorer(m, x, methods=["gradient", "grad_cam", "integrated_gradients"])
    assert w.wait(60) and w.error is None, w.error
    return w


def _all_maps_finite(w, _model):
    return len(w.maps) == 3 and all(bool(torch.isfinite(torch.as_tensor(m)).all()) for m in w.maps.values())


CHANNELS_LAST_X = X[None].contiguous(memory_format=torch.channels_last)

ODD = {
    "frozen params, activation grid": Odd(_frozen, lambda m: nl.ActivationGrid(m, X, layer="conv2"),
                                          check=_grid_matches_core("conv2")),
    "frozen params, saliency": Odd(_frozen, _saliency, check=_all_maps_finite),
    "train-mode BN and dropout, occlusion": Odd(_train, _occlusion, check=_occlusion_matches_core),
    "train-mode BN and dropout, saliency": Odd(_train, _saliency, check=_all_maps_finite),
    "train-mode BN and dropout, ablation": Odd(
        _train, lambda m: nl.NeuronAblation(m, X, layer="conv2"),
        check=lambda w, m: np.allclose(w.probabilities[0], nl.core.class_probabilities(m, X[None])[0], atol=1e-6)),
    "float64 model, activation grid": Odd(lambda: tiny().double(), lambda m: nl.ActivationGrid(m, X, layer="bn"),
                                          check=lambda w, m: w.activations.dtype == torch.float64),
    "float64 model, occlusion": Odd(lambda: tiny().double(), _occlusion, check=_occlusion_matches_core),
    "channels-last input, activation grid": Odd(tiny, lambda m: nl.ActivationGrid(m, CHANNELS_LAST_X, layer="conv2"),
                                                check=_grid_matches_core("conv2")),
    "channels-last model and input, saliency": Odd(lambda: tiny().to(memory_format=torch.channels_last),
                                                   lambda m: _saliency(m, CHANNELS_LAST_X), check=_all_maps_finite),
    "DataParallel wrapper, activation grid": Odd(lambda: nn.DataParallel(tiny()),
                                                 lambda m: nl.ActivationGrid(m, X, layer="module.conv2"),
                                                 check=_grid_matches_core("module.conv2")),
    "DataParallel wrapper, occlusion": Odd(lambda: nn.DataParallel(tiny()), _occlusion, check=_occlusion_matches_core),
    "tuple output, activation grid": Odd(TupleOut, lambda m: nl.ActivationGrid(m, X, layer="net.conv2"),
                                         check=_grid_matches_core("net.conv2")),
    "tuple output, occlusion": Odd(TupleOut, _occlusion, ValueError, r"class scores shaped \(N, classes\), got tuple"),
    "tuple output, saliency": Odd(TupleOut, _saliency, ValueError, r"class scores shaped \(N, classes\)"),
    "tuple-output layer, activation grid": Odd(TupleNet, lambda m: nl.ActivationGrid(m, X, layer="pair"),
                                               ValueError, "tuple"),
    "conv-only model, ablation": Odd(TupleNet, lambda m: nl.NeuronAblation(m, X), ValueError,
                                     r"class scores shaped \(N, classes\), got shape \(1, 2, 14, 14\)"),
}


@pytest.mark.parametrize("name", list(ODD))
def test_an_odd_model_through_a_widget(name):
    case = ODD[name]
    model = case.model()
    flags = [m.training for m in model.modules()]
    snap = ModelSnapshot.of(model)
    if case.error is not None:
        with pytest.raises(case.error, match=case.match):
            case.run(model)
    else:
        w = case.run(model)
        assert w.wait(60) and w.error is None, w.error
        assert case.check(w, model), f"{name}: wrong result"
        assert [m.training for m in model.modules()] == flags  # the user's modes, as the user left them
        w.close()
    assert ModelSnapshot.of(model).differences(snap) == {}
    assert hook_count(model) == 0


# -- a constructor that fails part way ------------------------------------------------------------
FAILING = {
    "ActivationGrid": lambda m: nl.ActivationGrid(m, torch.rand(4, 12, 12)),
    "FilterGrid": lambda m: nl.FilterGrid(m, layer="fc"),
    "OcclusionExplorer": lambda m: nl.OcclusionExplorer(m, torch.rand(4, 12, 12)),
    "SaliencyExplorer": lambda m: nl.SaliencyExplorer(m, torch.rand(4, 12, 12)),
    "NeuronAblation": lambda m: nl.NeuronAblation(m, torch.rand(4, 12, 12)),
    "TextNeuronViewer": lambda m: nl.TextNeuronViewer(m, ""),
    "FeatureVisualizer": lambda m: nl.FeatureVisualizer(m, layer="relu3", steps=0, autorun=False),
    "DirectionExplorer": lambda m: nl.DirectionExplorer(m, layer="relu2", data=torch.rand(0, 1, 8, 8)),
    "ConceptExplorer": lambda m: nl.ConceptExplorer(m, concept_data={}, test_data=torch.rand(2, 3, 8, 8)),
    "SynapseExplorer": lambda m: nl.SynapseExplorer(m, size=0),
    "PlaneView": lambda m: nl.PlaneView(m, size=0),
    "Playground": lambda m: nl.Playground(np.zeros((4, 2)), [0, 0, 0, 0]),
    "ActivationGrid, not a model": lambda m: nl.ActivationGrid("model", X),
    "ConceptExplorer, not a model": lambda m: nl.ConceptExplorer(lambda x: x, concept_data={}, test_data=X[None]),
    "SynapseExplorer, not a model": lambda m: nl.SynapseExplorer(None),
}


@pytest.mark.parametrize("name", list(FAILING))
def test_a_half_built_widget_is_collected_quietly(name, monkeypatch):
    """A refused argument raises; the half-built widget is closed, freed, and leaves no error behind."""
    kind = name.split(",")[0]
    model = WIDGETS[kind][0]()
    snap = ModelSnapshot.of(model)
    cls = getattr(nl, kind)
    built = []  # a weak reference to the widget as its constructor starts (scanning the heap took seconds)
    init = cls.__init__

    def recording_init(self, *args, **kwargs):
        built.append(weakref.ref(self))
        init(self, *args, **kwargs)

    monkeypatch.setattr(cls, "__init__", recording_init)
    unraisable = []
    old_hook, sys.unraisablehook = sys.unraisablehook, unraisable.append
    try:
        try:
            FAILING[name](model)
        except (ValueError, TypeError, KeyError):
            pass  # the exception and its frames (holding the half-built widget) go here
        else:
            pytest.fail(f"{name} accepted a refused argument")
        gc.collect()
    finally:
        sys.unraisablehook = old_hook
    assert not unraisable, f"{name}: {unraisable[0].exc_type.__name__}: {unraisable[0].exc_value}"
    assert len(built) == 1 and built[0]() is None, "the half-built widget is still alive"
    assert ModelSnapshot.of(model).differences(snap) == {} and hook_count(model) == 0

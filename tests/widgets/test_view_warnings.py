"""What a view cannot know, it says: each warning triggered once, and not where it does not apply.

Dead channels of the shipped digits model (16 of relu3's 64 are 0 for test image 0) drawn hatched,
never in the colour map; a target the model gives under 1% makes the trust badge a caveat; a unit
that never fires says so in the feature visualisation and shows no tied "top examples"; LIME's
unstable top set; the occlusion map and the patch readout in one measure.
"""
from __future__ import annotations

import re

import numpy as np
import pytest
import torch

import nnlens_widgets as nl
from nnlens_widgets.core.attribution.results import LimeResult
from nnlens_widgets.core.dead_units import constant_in_maps
from nnlens_widgets.render import lut
from nnlens_widgets.render.constant_tiles import HATCH_ALPHA, HATCH_GREY
from nnlens_widgets.widgets.occlusion_readout import map_measure
from nnlens_widgets.widgets.view_warnings import WarningsView, lime_stability_warning


@pytest.fixture(scope="module")
def digits():
    return nl.zoo.digits_cnn(), nl.zoo.digits_data()


def _map_colours(name: str = "viridis") -> set:
    return {tuple(int(v) for v in c) for c in lut(name)}


def _tile_pixels(frame: np.ndarray, rect) -> np.ndarray:
    x, y, w, h = rect
    return frame[y:y + h, x:x + w].reshape(-1, 4)


def test_constant_in_maps_finds_only_channels_with_one_value():
    maps = np.stack([np.zeros((3, 3)), np.arange(9.0).reshape(3, 3), np.full((3, 3), 2.5)])
    found = constant_in_maps(maps, "layer")
    assert found.channels == (0, 2) and found.values == (0.0, 2.5) and found.dead == (0,)
    assert found.warnings == ("channel 0 of layer is 0 for this input", "channel 2 of layer is 2.5 for this input")
    assert constant_in_maps(np.ones((4, 1, 1)), "fc").channels == ()  # one number a unit has no spread to lose


def test_activation_grid_hatches_dead_channels_and_names_them(digits):
    model, data = digits
    grid = nl.ActivationGrid(model, data.x_test[0], layer="relu3")
    dead = grid.constant_channels.channels
    assert len(dead) == 16 and all(float(grid.activations[c].abs().max()) == 0 for c in dead)
    assert len(grid.warnings) == 1 and "16 of the 64 channels of relu3 are constant" in grid.warnings[0]
    assert ", ".join(str(c) for c in dead) in grid.warnings[0]
    colours, frame = _map_colours(), grid.frame
    for c in dead:  # not one pixel of a dead tile is a colour of the map
        pixels = _tile_pixels(frame, grid.tile_rect(c))
        assert not any(tuple(p) in colours for p in pixels)
        assert set(pixels[:, 3]) == set(HATCH_ALPHA) and (pixels[:, :3] == HATCH_GREY).all()
    live = next(c for c in range(64) if c not in dead)
    assert all(tuple(p) in colours for p in _tile_pixels(frame, grid.tile_rect(live)))
    assert "hatched grey" in grid.views["grid"].caption.value
    grid.channel = dead[0]
    assert grid.views["detail"].legend.value == "" and "constant: 0 everywhere" in grid.views["detail"].caption.value
    page = grid.views["warnings"].static_html()
    assert "16 of the 64 channels" in page
    grid.close()


def test_activation_grid_without_constant_channels_warns_of_nothing(digits):
    model, data = digits
    grid = nl.ActivationGrid(model, data.x_test[0], layer="conv3")
    assert grid.constant_channels.channels == () and grid.warnings == ()
    assert grid.views["warnings"].layout.display == "none" and "hatched" not in grid.views["grid"].caption.value
    grid.layer = "relu3"  # the warning follows the layer
    assert grid.warnings and grid.views["warnings"].layout.display == "flex"
    grid.close()


def test_warnings_view_keeps_each_source_apart():
    view = WarningsView()
    view.set("a", ["one", "two"])
    view.set("b", ["two", "three"])
    assert view.sentences == ("one", "two", "three")  # a sentence two sources say is shown once
    view.set("a", [])
    assert view.sentences == ("two", "three") and "one" not in view.body.value
    view.set("b", ())
    assert view.sentences == () and view.layout.display == "none"


def test_lime_unstable_top_set_is_a_warning_a_stable_one_is_not():
    result = LimeResult(torch.zeros(1, 1, 4, 4), np.zeros((4, 4), int), np.zeros(3), 0.0, 0.5, stability=0.61,
                        top=5, resamples=200)
    warning = lime_stability_warning(result)
    assert warning.startswith("top-5 not stable at 95%") and "61% of 200 bootstrap resamples" in warning
    assert lime_stability_warning(result._replace(stability=0.97)) == ""
    assert lime_stability_warning(result._replace(stability=0.9, confidence=0.8)) == ""  # its own target
    assert lime_stability_warning(result._replace(stability=None)) == ""


def _badge(lens) -> str:
    return lens.views["attribution"].caption.value


def test_lens_opens_on_the_predicted_class_with_a_verdict(digits):
    model, data = digits
    lens = nl.Lens(model, data.x_test[0], data=data.x_test, labels=data.classes, layer="relu3", vis_steps=8)
    assert lens.target == int(np.argmax(lens.probabilities))
    assert lens.wait(300)
    assert "better than a random map" in _badge(lens) and "caveat" not in _badge(lens)
    assert not any("explaining class" in w for w in lens.warnings)
    lens.close()


def test_lens_target_under_one_percent_is_a_caveat_not_a_tick(digits):
    model, data = digits
    lens = nl.Lens(model, data.x_test[0], data=data.x_test, labels=data.classes, layer="relu3", vis_steps=8)
    low = int(np.argmin(lens.probabilities))
    assert lens.probabilities[low] < 0.01
    lens.target = low
    assert lens.wait(300)
    assert "caveat" in _badge(lens) and "\u2713" not in _badge(lens) and "\u2717" not in _badge(lens)
    assert sum(w.startswith(f"explaining class {low}") for w in lens.warnings) == 1
    lens.target = int(np.argmax(lens.probabilities))  # withdrawn with the target
    assert lens.wait(300) and not any("explaining class" in w for w in lens.warnings)
    lens.close()


def test_lens_dead_unit_shows_no_top_examples_and_never_fired(digits):
    model, data = digits
    lens = nl.Lens(model, data.x_test[0], data=data.x_test, labels=data.classes, layer="relu3", vis_steps=8)
    assert lens.wait(300)
    live_warnings = lens.warnings  # the unit the Lens opens on responds most to this input
    assert not any("never fired" in w or "no top examples" in w for w in live_warnings)
    assert lens.views["examples"].title.startswith("relu3 channel") and "top 8 of 450" in lens.views["examples"].title
    lens.channel = 34  # 0 for every test image
    assert lens.wait(300)
    assert any(w.startswith("the unit never fired") for w in lens.warnings)
    assert any("no top examples are shown" in w for w in lens.warnings)
    assert lens.views["examples"].title == "relu3 channel 34: no top examples"
    assert "never fired" in lens.views["feature_vis"].caption.value
    assert "constant: 0" in lens.views["activation"].caption.value and lens.views["activation"].legend.value == ""
    gradient = lens.views["unit_gradient"]  # all zero: no placeholder colour bar
    assert gradient.legend.value == "" and "is 0 at every pixel" in gradient.caption.value
    colours, frame = _map_colours(), lens.views["channels"].frame
    assert not any(tuple(p) in colours for p in _tile_pixels(frame, lens.views["channels"].tile_rect(34)))
    lens.close()


def test_occlusion_map_and_patch_readout_measure_the_same_thing():
    model, shapes = nl.zoo.shapes_cnn(), nl.zoo.make_shapes(4, seed=1)
    explorer = nl.OcclusionExplorer(model, shapes.images[0], labels=shapes.classes)
    assert explorer.wait(120)
    heat = explorer.heatmap.numpy()
    y, x = np.unravel_index(np.abs(heat).argmax(), heat.shape)
    explorer.place_patch(float(x), float(y))
    at_pixel, window_drop = explorer.hover_values
    assert at_pixel == pytest.approx(float(heat[y, x]))
    legend = explorer.views["map"].legend.value
    name = shapes.classes[explorer.target]
    vmax = float(re.search(r": (-?[\d.e+-]+) to ([\d.e+-]+)'", legend).group(2))
    assert abs(at_pixel) <= vmax * 1.001  # on the colour bar's scale
    readout = explorer.views["probabilities"].body.value
    assert map_measure(f"P({name})") in legend and map_measure(f"P({name})") in readout
    probs = nl.core.class_probabilities(model, explorer.input)[0]
    covered = explorer.input.clone()
    y0, y1, x0, x1 = explorer.patch
    covered[..., y0:y1, x0:x1] = 0.0
    after = nl.core.class_probabilities(model, covered)[0]
    assert window_drop == pytest.approx(float(probs[explorer.target] - after[explorer.target]), abs=1e-5)
    explorer.score = "logit"  # the readout follows the map's unit
    assert explorer.wait(120)
    explorer.place_patch(float(x), float(y))
    assert not model.training  # the shipped model is in eval mode: its logits as the explorer sees them
    with torch.no_grad():
        logits = model(torch.cat([explorer.input, covered]))
    assert explorer.hover_values[1] == pytest.approx(float(logits[0, explorer.target] - logits[1, explorer.target]),
                                                     abs=1e-4)
    assert map_measure(f"the logit of {name}") in explorer.views["probabilities"].body.value
    explorer.clear_patch()
    assert explorer.hover_values is None and "nnl-occlusion-hover" not in explorer.views["probabilities"].body.value
    explorer.close()


def test_feature_visualizer_says_a_unit_never_fired_and_shows_its_sanity_check(digits):
    model, data = digits
    vis = nl.FeatureVisualizer(model, layer="relu3", data=data.x_test, channel=34, steps=8, seconds=0)
    assert vis.wait(300)
    assert len(vis.warnings) == 2 and sum(w.startswith("the unit never fired") for w in vis.warnings) == 1
    assert sum("no top examples are shown" in w for w in vis.warnings) == 1  # 0 on every image: "top" = ties
    assert vis.views["examples"].title == "relu3 channel 34: no top examples" and vis.examples_marks == []
    assert "the unit never fired" in vis.views["image"].caption.value
    assert "sanity check" not in vis.views["image"].caption.value  # a unit that never fired has nothing to check
    vis.channel = 0  # fires on the test images
    assert vis.wait(300)
    assert not any("never fired" in w or "no top examples" in w for w in vis.warnings)
    assert vis.views["examples"].title == "top 9 of 450 data images" and len(vis.examples_marks) == 9
    caption = vis.views["image"].caption.value
    sanity = nl.core.featurevis_sanity(model, "relu3", 0, data.x_test, k=16, random=16,
                                       vis=nl.core.featurevis.model_input(
                                           vis.result().images[:1],
                                           nl.core.featurevis.resolve_settings(model, (32, 32))))
    assert ("never processed like its top natural examples" in caption) == sanity.flagged
    assert tuple(sanity.warnings) == tuple(w for w in vis.warnings if "feature visualisation of" in w)
    vis.close()


def test_saliency_trust_report_lists_the_caveat_of_a_target_under_one_percent(digits):
    model, data = digits
    x = data.x_test[0]
    probs = nl.core.class_probabilities(model, x[None])[0]
    low, top = int(probs.argmin()), int(probs.argmax())
    assert probs[low] < 0.01 <= probs[top]
    shown = {}
    for target in (low, top):
        explorer = nl.SaliencyExplorer(model, x, methods=["gradient"], labels=data.classes, target=target)
        explorer.trust_report()
        assert explorer.wait(300) and explorer.error is None
        report = explorer.reports["gradient"]
        assert explorer.warnings == report.warnings  # the widget's sentences are its reports'
        shown[target] = (report, explorer.views["gradient trust"].body.value)
        explorer.close()
    report, body = shown[low]
    assert report.caveat and f"\u26a0 {report.caveat}" in body.replace("&#x27;", "'")
    report, body = shown[top]
    assert report.caveat is None and "explaining class" not in body
    for sentence in report.warnings:  # whatever else it warns of (a metric fooled by blur) is listed too
        assert sentence.split(":")[0] in body


def test_saliency_explorer_warns_of_an_unstable_lime_top_set(digits):
    model, data = digits
    lime = nl.core.attribution.METHODS["lime"]

    def lime_at(stability):  # LIME's own result, its bootstrap stability set as a run with few samples gives it
        def run(model, x, target=None):
            return lime.function(model, x, target=target, samples=40)._replace(stability=stability, top=5)
        return run

    explorer = nl.SaliencyExplorer(model, data.x_test[0], labels=data.classes,
                                   methods=[("unsteady", lime_at(0.61)), ("steady", lime_at(0.99))])
    assert explorer.wait(300) and explorer.error is None
    assert len(explorer.warnings) == 1 and explorer.warnings[0].startswith("top-5 not stable at 95%")
    assert "61% of 200 bootstrap resamples" in explorer.warnings[0]
    assert "not stable at 95%" in explorer.views["unsteady"].caption.value
    assert "not stable" not in explorer.views["steady"].caption.value
    explorer.methods = ["steady"]  # the warning belongs to the map shown
    assert explorer.warnings == ()
    explorer.close()

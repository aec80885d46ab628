"""Is a single unit special? Its top examples beside those of a random direction (Szegedy et al. 2014)."""
from __future__ import annotations

import random
from typing import Dict, Optional

import ipywidgets as W
import numpy as np
import torch
import torchvision.transforms.v2.functional  # noqa: F401 - the image transforms: loaded with the widget, not mid-run
import traitlets
from torch import nn

from ..core.featurevis import channel, direction, feature_vis, resolve_settings
from ..core.top_examples import TopExamples, activating_region, random_direction, top_examples
from .base import LensWidget
from .feature_visualizer import DataView, examples_picture, images_picture, layer_choices
from .frame_canvas import FrameCanvas

__all__ = ["DirectionExplorer"]

_COLORS = {"unit": "#ff3b30", "direction": "#0a84ff", "hidden": "#ffd60a"}


class DirectionExplorer(LensWidget):
    """Top dataset examples for channel ``unit`` next to those for a random direction in the layer.

    - unit slider; "new random direction" draws another direction (seed + 1),
      reproducible from ``seed``;
    - "optimise both" streams the optimised image of the unit and of the
      direction under their examples;
    - blind test (``blind=True``): the two sets appear as A and B in a random
      order; ``guess("a")`` (or the buttons) records which one you think is
      the unit, then reveals it. ``correct`` says whether you were right.

    The layer is scanned once for all units, and once per direction.
    Traits: ``unit``, ``seed``, ``blind``, ``revealed`` (read only).
    """

    unit = traitlets.Int(0)
    seed = traitlets.Int(0)
    blind = traitlets.Bool(False)
    revealed = traitlets.Bool(False, read_only=True)

    def __init__(self, model: nn.Module, layer: str, data, unit: int = 0, seed: int = 0, k: int = 9,
                 input_size=None, steps: int = 64, every: int = 8, examples_px: int = 240,
                 vis_px: int = 160, blind: bool = False, **kwargs):
        if not isinstance(model, nn.Module):
            raise ValueError(f"expected a torch.nn.Module, got {type(model).__name__}")
        self._model = model
        self._data = DataView(data)
        self._settings = resolve_settings(model, input_size or self._data.input_shape[1:])
        shapes = layer_choices(model, self._data.input_shape)
        if layer not in shapes:
            from ..core import get_module

            get_module(model, layer)
            raise ValueError(f"layer {layer!r} has no channels to compare; pick one of: {', '.join(list(shapes)[:12])}")
        self.layer = layer
        self.n_channels = int(shapes[layer][0])
        self.k, self.steps, self.every = int(k), int(steps), int(every)
        self._examples_px, self._vis_px = int(examples_px), int(vis_px)
        self._unit_scan: Optional[TopExamples] = None
        self._dir_scans: Dict[int, TopExamples] = {}
        self._vis: Dict[tuple, object] = {}
        self._regions: Dict[tuple, list] = {}
        self.guessed: Optional[str] = None
        super().__init__(**kwargs)
        self.add_class("nnl-direction-explorer")
        self.set_trait("unit", self._check_unit(unit))
        self.set_trait("seed", int(seed))
        self.set_trait("blind", bool(blind))

        self._unit_slider = W.IntSlider(description="unit", min=0, max=self.n_channels - 1,
                                        continuous_update=False, layout=W.Layout(width="360px"))
        self._unit_slider.add_class("nnl-unit-slider")
        self._new_dir = W.Button(description="new random direction", icon="random", layout=W.Layout(width="200px"))
        self._new_dir.add_class("nnl-new-direction")
        self._blind_cb = W.Checkbox(description="blind test", indent=False, layout=W.Layout(width="110px"))
        self._blind_cb.add_class("nnl-blind")
        self._optimise = W.Button(description="optimise both", icon="play", layout=W.Layout(width="140px"))
        self._optimise.add_class("nnl-optimise")
        self._guess_a = W.Button(description="A is the unit")
        self._guess_b = W.Button(description="B is the unit")
        self._guess_a.add_class("nnl-guess-a")
        self._guess_b.add_class("nnl-guess-b")
        self._verdict = W.HTML()
        self._verdict.add_class("nnl-verdict")
        self._titles = [W.HTML(), W.HTML()]
        self._examples = [FrameCanvas(), FrameCanvas()]
        self._vis_canvases = [FrameCanvas(), FrameCanvas()]
        for i, side in enumerate("ab"):
            self._examples[i].add_class(f"nnl-examples-{side}")
            self._vis_canvases[i].add_class(f"nnl-vis-{side}")

        for trait, control in (("unit", self._unit_slider), ("blind", self._blind_cb)):
            W.link((self, trait), (control, "value"))
        self.observe(self._guarded(self._on_change), ["unit", "seed", "blind"])
        self._new_dir.on_click(self._guarded(lambda _b: self.new_direction()))
        self._optimise.on_click(self._guarded(lambda _b: self.optimise()))
        self._guess_a.on_click(self._guarded(lambda _b: self.guess("a")))
        self._guess_b.on_click(self._guarded(lambda _b: self.guess("b")))

        self._guess_row = W.HBox([self._guess_a, self._guess_b, self._verdict])
        panels = W.HBox([W.VBox([self._titles[i], self._examples[i], self._vis_canvases[i]]) for i in range(2)])
        self._finish([W.HBox([self._unit_slider, self._new_dir, self._optimise, self._blind_cb]),
                      panels, self._guess_row])
        self._refresh()

    # -- public --------------------------------------------------------
    @property
    def direction_vector(self) -> torch.Tensor:
        """The current random direction (unit length)."""
        return random_direction(self.n_channels, self.seed)

    @property
    def unit_side(self) -> str:
        """``"a"`` or ``"b"``: where the unit's examples are shown (the other side: the direction)."""
        if not self.blind:
            return "a"
        return "a" if random.Random(f"{self.seed}:{self.unit}").random() < 0.5 else "b"

    @property
    def frame(self) -> Optional[np.ndarray]:
        """The left (A) examples picture, (H, W, 4) uint8."""
        return self._examples[0].frame

    def side_frame(self, side: str) -> Optional[np.ndarray]:
        return self._examples["ab".index(side)].frame

    def vis_frame(self, side: str) -> Optional[np.ndarray]:
        return self._vis_canvases["ab".index(side)].frame

    @property
    def correct(self) -> Optional[bool]:
        return None if self.guessed is None else self.guessed == self.unit_side

    def new_direction(self) -> None:
        self.seed = self.seed + 1

    def guess(self, side: str) -> bool:
        """Record a guess of which side (``"a"``/``"b"``) shows the unit; reveals the answer."""
        if side not in ("a", "b"):
            raise ValueError(f"expected the guess 'a' or 'b', got {side!r}")
        self.guessed = side
        self.set_trait("revealed", True)
        self._draw()
        return self.correct

    def scans(self):
        """(unit scan, direction scan) for the current seed, when done."""
        return self._unit_scan, self._dir_scans.get(self.seed)

    def optimise(self) -> None:
        """Optimise images for the unit and the direction in the background, streaming both."""
        unit, seed, v = self.unit, self.seed, self.direction_vector
        targets = [("unit", (self.layer, "unit", unit), channel(self.layer, unit)),
                   ("direction", (self.layer, "dir", seed), direction(self.layer, v))]

        def work(job):
            for which, key, objective in targets:
                if key in self._vis:
                    continue
                last = None
                for state in feature_vis(self._model, objective, steps=self.steps, every=self.every,
                                         input_size=self._settings.size, should_stop=lambda: job.cancelled):
                    job.check()
                    last = state
                    job.progress(state.step / state.steps, f"{which}: step {state.step}/{state.steps}")
                    with self._lock:
                        if not job.cancelled:
                            self._draw_vis(which, state)
                job.check()
                self._vis[key] = last
            return True

        self._run_in_background(work, lambda _r: self._draw())

    # -- internals -----------------------------------------------------
    def _check_unit(self, u):
        u = int(u)
        if not 0 <= u < self.n_channels:
            raise ValueError(f"expected a unit in 0..{self.n_channels - 1} for layer {self.layer!r}, got {u}")
        return u

    @traitlets.validate("unit")
    def _valid_unit(self, proposal):
        return self._check_unit(proposal["value"])

    def _on_change(self, change):
        if change["name"] in ("unit", "seed", "blind"):
            self.guessed = None
            self.set_trait("revealed", False)
        self._refresh()

    def _refresh(self):
        """Draw what is known at once; scan in the background what is missing."""
        self._draw()
        seed = self.seed
        need_units = self._unit_scan is None
        need_dir = seed not in self._dir_scans
        if not (need_units or need_dir):
            return
        v = self.direction_vector

        def work(job):
            stop = lambda: job.cancelled  # noqa: E731
            if need_units:
                scan = top_examples(self._model, self._data.data, self.layer, k=self.k, should_stop=stop,
                                    progress=lambda f, t: job.progress(f, f"units: {t}"))
                self._unit_scan = scan
            if need_dir:
                scan = top_examples(self._model, self._data.data, self.layer, units=[], directions=v[None],
                                    k=self.k, should_stop=stop,
                                    progress=lambda f, t: job.progress(f, f"direction: {t}"))
                self._dir_scans[seed] = scan
            return True

        self._run_in_background(work, lambda _r: self._draw())

    def _sides(self):
        """(which, title) for panel A and panel B."""
        unit_first = self.unit_side == "a"
        order = ["unit", "direction"] if unit_first else ["direction", "unit"]
        return order

    def _title(self, which, side):
        label = f"unit {self.unit}" if which == "unit" else f"random direction (seed {self.seed})"
        if self.blind and not self.revealed:
            return f"<b>{side.upper()}</b>"
        prefix = f"{side.upper()}: " if self.blind else ""
        return f"<b>{prefix}{label}</b>"

    def _examples_of(self, which):
        if which == "unit":
            scan = self._unit_scan
            if scan is None:
                return None
            idx, values, locs = scan.top(unit=self.unit)
            key, kw = ("unit", self.unit), dict(unit=self.unit)
        else:
            scan = self._dir_scans.get(self.seed)
            if scan is None:
                return None
            idx, values, locs = scan.top(direction=0)
            key, kw = ("dir", self.seed), dict(direction=self.direction_vector)
        images = self._data.images(idx.tolist())
        if key not in self._regions:
            self._regions[key] = [activating_region(self._model, images[i], self.layer, tuple(locs[i].tolist()), **kw)
                                  for i in range(len(idx))]
        return images, self._regions[key]

    def _draw(self):
        hidden = self.blind and not self.revealed
        for i, which in enumerate(self._sides()):
            side = "ab"[i]
            self._titles[i].value = self._title(which, side)
            found = self._examples_of(which)
            color = _COLORS["hidden"] if hidden else _COLORS[which]
            if found is not None:
                grid, marks = examples_picture(found[0], found[1], self._examples_px, color=color)
                self._examples[i].draw(grid.rgba)
                self._examples[i].marks = marks
            key = (self.layer, "unit", self.unit) if which == "unit" else (self.layer, "dir", self.seed)
            state = self._vis.get(key)
            if state is not None:
                self._vis_canvases[i].draw(images_picture(state.images, self._vis_px).rgba)
        self._guess_row.layout.display = "flex" if self.blind else "none"
        if self.blind and self.revealed:
            right = "right" if self.correct else "wrong"
            self._verdict.value = (f"you said {self.guessed.upper()}: <b>{right}</b> &mdash; "
                                   f"{self.unit_side.upper()} was unit {self.unit}")
        else:
            self._verdict.value = ""

    def _draw_vis(self, which, state):
        i = self._sides().index(which)
        self._vis_canvases[i].draw(images_picture(state.images, self._vis_px).rgba)

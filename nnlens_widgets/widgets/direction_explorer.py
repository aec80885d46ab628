"""Is a single channel special? Its top data images beside those of a random direction (Szegedy et al. 2014)."""
from __future__ import annotations

import random
from typing import Dict, Optional

import ipywidgets as W
import numpy as np
import torch
import torchvision.transforms.v2.functional  # noqa: F401 - the image transforms: loaded with the widget, not mid-run
import traitlets

from ..core import TopExamples, axis_response, random_direction, top_examples
from ..core.featurevis import channel as channel_objective, direction as direction_objective, resolve_settings
from ..render import box_marks, example_grid, fit_factor
from ..render.legend import fmt
from .checks import tensor_shape, forget
from .base import LensWidget, check_count, check_index, check_number, text
from .examples import Example, image_net, images
from .traits import ChannelTrait, LayerTrait
from .data_views import DataView
from .unit_runs import VisOptions, channel_layers, check_channel_layer, regions_of, spread_text, stream_run
from .views import HtmlView, PictureView, TileGridView, column, row

__all__ = ["DirectionExplorer"]

COLORS = {"channel": "#ff3b30", "direction": "#0a84ff", "hidden": "#ffd60a"}
SIDES = ("a", "b")


class DirectionExplorer(LayerTrait, ChannelTrait, LensWidget):
    """Top data images of channel ``channel`` of ``layer`` next to those of a random direction in the layer.

    Szegedy et al. (2014) found that the images that most excite one channel
    are no more alike than those that most excite a random direction in the
    same layer. Here both are side by side, ranked by the same measure: the
    peak over positions of the layer's output projected on the side's axis
    (a channel is the axis ``e_c``; the direction is a random unit vector).

    - channel slider; "new random direction" draws another direction
      (``seed + 1``; a seed always gives the same direction);
    - ``refresh()`` (the "optimise both" button) streams an image optimised
      for each side under its examples;
    - blind test (``blind=True``): the sides are shown as A and B in a
      random order and nothing says which is which until an explicit
      action: ``guess("a")`` (or the buttons) records a guess and reveals
      the answer; ``reveal()`` reveals without a guess. ``channel_side`` is
      None while the answer is hidden.

    A layer is scanned once for all its channels and once per direction.
    Traits: ``layer``, ``channel``, ``seed``, ``blind``, ``revealed`` (read only).
    """

    seed = traitlets.Int(0)
    blind = traitlets.Bool(False)
    revealed = traitlets.Bool(False, read_only=True)

    @classmethod
    def small_example(cls) -> Example:
        """A small untrained model (and input) to try the widget on."""
        return Example(image_net(), None, {"layer": "relu2", "data": images(12), "k": 2, "steps": 4,
                                                 "seconds": 0, "input_size": 16})

    def __init__(self, model, *, layer: str, data, channel: int = 0, seed: int = 0, blind: bool = False,
                 k: int = 9, input_size=None, steps: int = 256, lr: float = 0.05, seconds: float = 4.0,
                 every: int = 8, examples_px: int = 224, vis_px: int = 160, **kwargs):
        super().__init__(model, **kwargs)
        self._unit_scans: Dict[str, TopExamples] = {}
        self._dir_scans: Dict[tuple, TopExamples] = {}
        self._examples: Dict[tuple, dict] = {}
        self._vis: Dict[tuple, tuple] = {}
        self._data = DataView(data)
        self._settings = resolve_settings(self._model, input_size or self._data.input_shape[1:])
        self._layers = channel_layers(self._model, self._data.input_shape)
        self._k = check_count(k, "k", 1, 100)
        self._steps = check_count(steps, "steps", 1, 100000)
        self._every = check_count(every, "every", 1, 100000)
        self._lr = check_number(lr, "learning rate", 1e-5, 10.0)
        self._seconds = check_number(seconds, "seconds", 0.0, 60.0)
        self._guessed: Optional[str] = None
        self.add_class("nnl-direction-explorer")
        self.layer = layer
        self.channel, self.seed, self.blind = channel, seed, blind

        auto = W.Layout(width="auto", max_width="100%")
        layer_dd = W.Dropdown(description="layer", options=[(i.label(), n) for n, i in self._layers.items()],
                              layout=auto)
        self._channel_slider = W.IntSlider(description="channel", min=0, max=self.channels - 1,
                                           continuous_update=False, layout=W.Layout(width="360px", max_width="100%"))
        self._channel_slider.add_class("nnl-channel-slider")
        blind_cb = W.Checkbox(description="blind test", indent=False, layout=auto)
        blind_cb.add_class("nnl-blind")
        self._bind(layer=layer_dd, channel=self._channel_slider, blind=blind_cb)
        buttons = {"new direction": ("new random direction", "random", self.new_direction),
                   "optimise": ("optimise both", "play", self.refresh),
                   "guess a": ("A is the channel", "", lambda: self.guess("a")),
                   "guess b": ("B is the channel", "", lambda: self.guess("b")),
                   "reveal": ("show the answer", "eye", self.reveal)}
        for name, (label, icon, action) in buttons.items():
            button = self._control(name, W.Button(description=label, icon=icon, layout=auto))
            button.add_class("nnl-" + name.replace(" ", "-"))
            button.on_click(self._guarded(lambda _b, action=action: action()))
        c = self.controls
        self._about = HtmlView()
        self._examples_views = {s: self._view(f"{s} examples", TileGridView(
            s.upper(), display_px=examples_px, css_class=f"nnl-examples-{s}", plain_rgb=True)) for s in SIDES}
        self._image_views = {s: self._view(f"{s} image", PictureView(
            f"{s.upper()}: optimised image", display_px=vis_px, css_class=f"nnl-vis-{s}", plain_rgb=True))
            for s in SIDES}
        self._verdict = self._view("verdict", HtmlView(css_class="nnl-verdict"))
        self._guess_row = row(c["guess a"], c["guess b"], c["reveal"])
        self._on(self._on_change, "layer", "channel", "seed", "blind")
        self._finish([
            row(layer_dd, self._channel_slider),
            row(c["new direction"], c["optimise"], blind_cb),
            self._about,
            row(*[column(self._examples_views[s], self._image_views[s]) for s in SIDES]),
            self._guess_row, self._verdict,
        ])
        self._show()

    # -- public --------------------------------------------------------
    @property
    def channels(self) -> int:
        return int(tensor_shape(self._layers[self.layer])[1])

    @property
    def direction_vector(self) -> torch.Tensor:
        """The current random direction (unit length, one entry per channel)."""
        return random_direction(self.channels, self.seed)

    @property
    def hidden(self) -> bool:
        """Whether the blind test is on and its answer not yet shown."""
        return self.blind and not self.revealed

    @property
    def channel_side(self) -> Optional[str]:
        """``"a"`` or ``"b"``: the side showing the channel; None while the blind test hides it."""
        return None if self.hidden else self._channel_side()

    @property
    def guessed(self) -> Optional[str]:
        return self._guessed

    @property
    def correct(self) -> Optional[bool]:
        """Whether the last guess was right (None before a guess)."""
        return None if self._guessed is None else self._guessed == self._channel_side()

    @property
    def frame(self) -> Optional[np.ndarray]:
        """Side A's examples, (H, W, 4) uint8."""
        return self._examples_views["a"].frame

    @property
    def side_frames(self) -> Dict[str, Optional[np.ndarray]]:
        """Each side's examples picture: ``{"a": ..., "b": ...}``."""
        return {s: v.frame for s, v in self._examples_views.items()}

    @property
    def image_frames(self) -> Dict[str, Optional[np.ndarray]]:
        """Each side's optimised image: ``{"a": ..., "b": ...}`` (None before ``refresh()``)."""
        return {s: v.frame for s, v in self._image_views.items()}

    @property
    def measures(self) -> Dict[str, dict]:
        """What each side's captions state: ``{"a": {"examples": {"peak": ..., "mean": ...}, "image": ...}}``."""
        out = {}
        for side, which in zip(SIDES, self._order()):
            found = self._examples.get(self._examples_key(which))
            vis = self._vis.get(self._vis_key(which))
            out[side] = {"examples": None if found is None else dict(found["measures"]),
                         "image": None if vis is None else dict(vis[1])}
        return out

    def scans(self):
        """(channel scan, direction scan) of the current layer and seed, when done."""
        return self._unit_scans.get(self.layer), self._dir_scans.get((self.layer, self.seed))

    def new_direction(self) -> None:
        """Draw another random direction (the next seed)."""
        self.seed = self.seed + 1

    def guess(self, side: str) -> bool:
        """Record a guess of the side (``"a"``/``"b"``) showing the channel; reveals the answer."""
        if side not in SIDES:
            raise ValueError(f"expected the guess 'a' or 'b', got {side!r}")
        self._guessed = side
        self.reveal()
        return side == self._channel_side()

    def reveal(self) -> None:
        """Show which side is the channel."""
        self.set_trait("revealed", True)
        self._draw()

    def refresh(self) -> None:
        """Optimise an image for each side in the background, streaming both (cached per side)."""
        self._show(optimise=True)

    # -- validation ------------------------------------------------------
    def _check_layer(self, value: str) -> str:
        return check_channel_layer(self._model, self._layers, value, "to compare")

    def _check_channel(self, value: int) -> int:
        return check_index(value, self.channels, "a channel", f" for layer {self.layer!r}")

    @traitlets.validate("seed")
    def _valid_seed(self, proposal):
        return check_count(proposal["value"], "seed", 0, 2**31 - 1)

    # -- reacting --------------------------------------------------------
    def _on_change(self, change) -> None:
        self._guessed = None
        self.set_trait("revealed", False)
        if change["name"] == "layer":
            self._channel_slider.max = self.channels - 1  # clamps the channel through the link
        if change["name"] != "blind":
            self._work.cancel()  # work for another channel or direction is stale
        self._show()

    def _channel_side(self) -> str:
        if not self.blind:
            return "a"
        return "a" if random.Random(f"{self.layer}:{self.seed}:{self.channel}").random() < 0.5 else "b"

    def _order(self):
        return ("channel", "direction") if self._channel_side() == "a" else ("direction", "channel")

    def _examples_key(self, which: str) -> tuple:
        return (self.layer, which, self.channel if which == "channel" else self.seed)

    def _vis_key(self, which: str) -> tuple:
        options = VisOptions(self._settings.size, self._steps, self._lr, "fourier", "standard", 1, 0)
        return self._examples_key(which) + (options,)

    def _show(self, optimise: bool = False) -> None:
        """Draw what is known at once; scan, measure and optimise in the background what is missing."""
        self._draw()
        layer, seed = self.layer, self.seed
        vector = self.direction_vector
        missing = [w for w in ("channel", "direction") if self._examples_key(w) not in self._examples]
        to_run = [w for w in ("channel", "direction") if optimise and self._vis_key(w) not in self._vis]
        if not (missing or to_run):
            return
        keys = {w: (self._examples_key(w), self._vis_key(w)) for w in ("channel", "direction")}
        labels = {which: side.upper() + ": " for side, which in zip(SIDES, self._order())}

        def work(job):
            stop = lambda: job.cancelled  # noqa: E731
            if "channel" in missing and layer not in self._unit_scans:
                self._unit_scans[layer] = top_examples(
                    self._model, self._data.data, layer, k=self._k, should_stop=stop,
                    progress=lambda f, t: job.progress(f, f"scanning for the channels: {t}"))
            if "direction" in missing and (layer, seed) not in self._dir_scans:
                self._dir_scans[(layer, seed)] = top_examples(
                    self._model, self._data.data, layer, units=[], directions=vector[None], k=self._k,
                    should_stop=stop, progress=lambda f, t: job.progress(f, f"scanning for the direction: {t}"))
            for which in missing:
                self._measure_examples(job, which, keys[which][0], vector)
            self._draw_if_current(job, self._draw)
            for which in to_run:
                self._optimise(job, which, keys[which][1], vector, labels[which])
            return True

        self._run_in_background(work, lambda _done: self._draw())

    # -- background work (worker thread) --------------------------------
    def _measure_examples(self, job, which: str, key: tuple, vector: torch.Tensor) -> None:
        layer, _, pick = key
        if which == "channel":
            idx, _values, locations = self._unit_scans[layer].top(unit=pick)
            axis, kw = pick, dict(channel=pick)
        else:
            idx, _values, locations = self._dir_scans[(layer, pick)].top(direction=0)
            axis, kw = vector, dict(direction=vector)
        images = self._data.images(idx.tolist())
        regions = regions_of(self._model, images, layer, locations, **kw)
        response = axis_response(self._model, images, layer, axis)
        job.check()
        self._examples[key] = dict(images=images, regions=regions,
                                   measures={"peak": response.peak.numpy(), "mean": response.mean.numpy()})

    def _optimise(self, job, which: str, key: tuple, vector: torch.Tensor, label: str) -> None:
        layer, _, pick = key[:3]
        options = key[3]
        axis = pick if which == "channel" else vector
        objective = channel_objective(layer, pick) if which == "channel" else direction_objective(layer, vector)

        def measure(images):
            response = axis_response(self._model, images, layer, axis, settings=self._settings)
            return {"peak": response.peak.numpy(), "mean": response.mean.numpy()}

        def on_frame(state):
            if not state.done:
                shown = (state, measure(state.images))
                self._draw_if_current(job, lambda: self._draw_image(which, shown, "running"))

        last = stream_run(self._model, objective, options, job, every=self._every, seconds=self._seconds,
                          on_frame=on_frame, label=label if self.blind else f"{which}: ")
        self._vis[key] = (last, measure(last.images))
        self._draw_if_current(job, lambda: self._draw_image(which, self._vis[key], "done"))

    # -- drawing ---------------------------------------------------------
    def _name(self, which: str) -> str:
        return f"channel {self.channel}" if which == "channel" else f"random direction (seed {self.seed})"

    def _draw(self) -> None:
        hidden = self.hidden
        for side, which in zip(SIDES, self._order()):
            title = side.upper() if hidden else (f"{side.upper()}: " if self.blind else "") + self._name(which)
            view = self._examples_views[side]
            found = self._examples.get(self._examples_key(which))
            if found is None:
                self._placeholder(view, title, "scanning the data…")
            else:
                grid, layout = example_grid(found["images"])
                m = found["measures"]
                view.show_tiles(grid, layout, scale=fit_factor(max(grid.shape[:2]), view.display_px), title=title,
                                caption=(f"top {len(found['images'])} of {len(self._data)} data images<br>by peak "
                                         f"response<br>peak response {spread_text(m['peak'])}<br>mean response "
                                         f"{fmt(min(m['mean']))} to {fmt(max(m['mean']))}"))
                view.select(extra=box_marks(layout, found["regions"], COLORS["hidden" if hidden else which]))
            vis = self._vis.get(self._vis_key(which))
            if vis is not None:
                self._draw_image(which, vis, "done")
            else:
                name = side.upper() if hidden else self._name(which)
                self._placeholder(self._image_views[side], f"{name}: optimised image",
                                  "press <b>optimise both</b> to see an image for each side")
        self._about.show(
            f"<div style='font-size:12px'>layer <b>{text(self.layer)}</b> ({self.channels} channels). "
            "Response: the layer's output projected on the side's axis (a channel is one axis; the random "
            "direction mixes all channels). Box: the input region driving the peak.</div>")
        self._guess_row.layout.display = "flex" if self.blind else "none"
        self._verdict.show(self._verdict_html())

    def _draw_image(self, which: str, shown: tuple, where: str) -> None:
        state, m = shown
        side = SIDES[self._order().index(which)]
        grid, _ = example_grid(state.images)
        name = side.upper() if self.hidden else self._name(which)
        view = self._image_views[side]
        view.show(grid, scale=fit_factor(max(grid.shape[:2]), view.display_px),
                  title=f"{name}: optimised image",
                  caption=(f"step {state.step}/{state.steps} ({where})<br><b>mean response {fmt(m['mean'][0])}"
                           f"</b> (maximised)<br>peak response {fmt(m['peak'][0])}"))

    def _placeholder(self, view: PictureView, title: str, caption: str) -> None:
        grey, layout = example_grid(torch.full((1,) + self._data.input_shape, 0.5))
        if isinstance(view, TileGridView):
            view.show_tiles(grey, layout, scale=1, title=title, caption=caption)
            view.select()
        else:
            view.show(grey, scale=1, title=title, caption=caption)

    def _verdict_html(self) -> str:
        if not self.blind:
            return ""
        if self.hidden:
            return (f"<div style='font-size:12px'>Which side shows channel {self.channel}? Click "
                    "<b>A is the channel</b> or <b>B is the channel</b> (or <b>show the answer</b>).</div>")
        side = self._channel_side()
        other = "b" if side == "a" else "a"
        said = "" if self._guessed is None else (
            f"You said {self._guessed.upper()}: <b>{'right' if self.correct else 'wrong'}</b>. ")
        return (f"<div style='font-size:12px'>{said}{side.upper()} is channel {self.channel}; "
                f"{other.upper()} is the random direction (seed {self.seed}).</div>")

    def _release(self) -> None:
        self._unit_scans.clear()
        self._dir_scans.clear()
        self._examples.clear()
        self._vis.clear()
        forget(self, "_data")

    def _state_caption(self) -> str:
        mode = " (blind test)" if self.blind else ""
        return f"DirectionExplorer: {self.layer}, channel {self.channel} and a random direction{mode}"

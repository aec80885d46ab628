"""Which weights of a 2-input network control which part of its picture."""
from __future__ import annotations

import html
from typing import List, Optional, Sequence

import ipywidgets as W
import numpy as np
import torch
import traitlets
from torch import nn

from ..core.synapses import DEFAULT_EXTENT, Ranking, Sensitivity, SynapseSpace
from ..render.plane import difference_rgba, magnitude_rgba, neuron_grid, plane_rgba, rgb_from_signed, signed_rgba
from ..render.tiling import fit_factor, upscale
from ..zoo.painter import SAMPLES, painter_image
from .base import LensWidget
from .frame_canvas import FrameCanvas
from .scheduling import LatestWins

__all__ = ["SynapseExplorer"]

PAD_PX = 128
SIDE_VIEWS = ("difference", "acts")


class SynapseExplorer(LensWidget):
    """Move single weights of a small 2-input network and watch its painting change.

    - the painting beside the target picture (with RMSE), and a side view:
      ``"difference"`` (painting now minus the original) or ``"acts"`` (where
      in the picture the selected weight acts: how fast each pixel changes
      when it moves);
    - every hidden neuron's map over the plane; click one to enlarge it and
      list its incoming and outgoing weights (pick one to select it);
    - every weight numbered (``.synapses``, the numbering of
      ``core.synapse_table``); a slider for the selected weight repaints live;
      reset one, reset all, and ``commit()`` to write the moved weights into
      the network: until then the network is not touched (the explorer works
      on a private copy);
    - drag a rectangle on the painting: all weights are ranked by how much
      more they change that rectangle than the rest of the picture (from the
      Jacobian of every pixel with respect to every weight) and the top ones
      are listed (the rectangle's "synapse ensemble");
    - a 2-D pad moves two weights together (``pad``: their two indices);
    - train from the widget on a sample picture or any array (``train``),
      watching the painting and the neurons form; Stop ends it.

    Works for any network mapping ``(N, 2)`` points to ``(N, k)`` outputs
    with ``nn.Linear`` layers; a target picture needs ``k = 3``.

    ``size`` is the painting's resolution (default: 96 for a sample photo
    or no picture, else the picture's shorter side up to 128; the picture's
    central square is resized to it).

    Traits: ``synapse``, ``value`` (the selected weight's current value),
    ``neuron``, ``view``, ``pad``.
    """

    synapse = traitlets.Int(0)
    value = traitlets.Float(0.0)
    neuron = traitlets.Int(0)
    view = traitlets.Enum(SIDE_VIEWS, default_value="difference")
    pad = traitlets.Tuple(traitlets.Int(), traitlets.Int(), default_value=(0, 1))

    def __init__(self, net: nn.Module, image=None, size: Optional[int] = None,
                 extent: Sequence[float] = DEFAULT_EXTENT, ensemble_size: int = 24,
                 display_px: int = 288, neuron_px: int = 24, **kwargs):
        self._space = SynapseSpace(net)  # clear ValueError for a non-2-input model, before anything is built
        self._net = net
        self.extent = tuple(float(v) for v in extent)
        self.ensemble_size = int(ensemble_size)
        self._neuron_px = int(neuron_px)
        self._target: Optional[np.ndarray] = None
        if image is not None:
            self._target = self._picture(image, size or _default_size(image))
        self.size = self._target.shape[0] if self._target is not None else int(size or 96)
        self._flat = self._space.original.clone()
        self._version = 0  # bumps on every change of the weights
        self._original_paint = self._space.paint(None, self.size, self.size, self.extent)
        self._painting = self._original_paint
        self._maps: Optional[np.ndarray] = None
        self._grid_layout = None
        self._sensitivity: Optional[Sensitivity] = None
        self._sensitivity_version = -1
        self._sensitivity_pending = -1
        self.ranking: Optional[Ranking] = None
        self.box: Optional[tuple] = None
        self._filling = False
        self._range = float(max(2.0, np.ceil(1.5 * float(self._space.original.abs().max()))))
        super().__init__(**kwargs)
        self.add_class("nnl-synapse-explorer")
        self._rank_work = LatestWins(on_error=self._show_error, draw_lock=self._lock)
        self._build(display_px)
        self.set_trait("pad", (0, min(1, self._space.count - 1)))
        self._select(0)
        self._draw_all(self._compute(self._flat, self._version, None))
        self._draw_pad()

    # -- construction ----------------------------------------------------
    def _build(self, display_px: int) -> None:
        scale = float(fit_factor(self.size, display_px))
        self._paint_canvas = FrameCanvas(scale=scale, drag=True)
        self._paint_canvas.add_class("nnl-painting")
        self._target_canvas = FrameCanvas(scale=scale)
        self._target_canvas.add_class("nnl-target")
        self._side_canvas = FrameCanvas(scale=scale)
        self._side_canvas.add_class("nnl-side")
        self._grid_canvas = FrameCanvas()
        self._grid_canvas.add_class("nnl-neuron-grid")
        self._neuron_canvas = FrameCanvas()
        self._neuron_canvas.add_class("nnl-neuron-detail")
        self._pad_canvas = FrameCanvas(drag=True)
        self._pad_canvas.add_class("nnl-pad")
        self._rmse = W.HTML()
        self._side_caption = W.HTML(layout=W.Layout(width=f"{int(scale * self.size)}px"))
        self._side_caption.add_class("nnl-side-caption")
        self._rmse.add_class("nnl-rmse")
        self._view_tb = W.ToggleButtons(options=[("difference", "difference"), ("where it acts", "acts")],
                                        style={"button_width": "110px"})
        self._synapse_box = W.BoundedIntText(description="synapse #", min=0, max=self._space.count - 1,
                                             layout=W.Layout(width="180px"))
        self._synapse_box.add_class("nnl-synapse-index")
        self._slider = W.FloatSlider(description="value", min=-self._range, max=self._range, step=0.01,
                                     continuous_update=True, readout_format=".3f",
                                     layout=W.Layout(width="420px"))
        self._slider.add_class("nnl-weight-slider")
        self._synapse_info = W.HTML()
        self._synapse_info.add_class("nnl-synapse-info")
        self._reset_one = W.Button(description="reset", layout=W.Layout(width="80px"))
        self._reset_all = W.Button(description="reset all", layout=W.Layout(width="90px"))
        self._commit_btn = W.Button(description="commit", button_style="warning", layout=W.Layout(width="90px"),
                                    tooltip="write the moved weights into the network")
        self._neuron_info = W.HTML()
        self._neuron_list = W.Select(rows=10, layout=W.Layout(width="360px"))
        self._neuron_list.add_class("nnl-neuron-synapses")
        self._ensemble_info = W.HTML("<i>drag a rectangle on the painting to rank the weights for it</i>")
        self._ensemble_info.add_class("nnl-ensemble-info")
        self._ensemble = W.Select(rows=12, layout=W.Layout(width="420px"))
        self._ensemble.add_class("nnl-ensemble")
        self._pad_x = W.BoundedIntText(description="pad x #", min=0, max=self._space.count - 1,
                                       layout=W.Layout(width="160px"))
        self._pad_y = W.BoundedIntText(description="pad y #", min=0, max=self._space.count - 1,
                                       layout=W.Layout(width="160px"))
        self._pad_info = W.HTML()
        self._picture_dd = W.Dropdown(options=[("current target", "")] + [(n, n) for n in SAMPLES],
                                      description="picture", layout=W.Layout(width="240px"))
        self._steps = W.BoundedIntText(value=1500, min=1, max=100000, description="steps",
                                       layout=W.Layout(width="160px"))
        self._restart = W.Checkbox(value=True, description="from scratch", indent=False)
        self._train_btn = W.Button(description="train", icon="play", layout=W.Layout(width="90px"))

        W.link((self, "view"), (self._view_tb, "value"))
        W.link((self, "synapse"), (self._synapse_box, "value"))
        W.link((self, "value"), (self._slider, "value"))
        self.observe(self._guarded(self._on_synapse), "synapse")
        self.observe(self._guarded(self._on_value), "value")
        self.observe(self._guarded(self._on_view), "view")
        self.observe(self._guarded(self._on_neuron), "neuron")
        self.observe(self._guarded(self._on_pad), "pad")
        self._pad_x.observe(self._guarded(lambda c: setattr(self, "pad", (c["new"], self.pad[1]))), "value")
        self._pad_y.observe(self._guarded(lambda c: setattr(self, "pad", (self.pad[0], c["new"]))), "value")
        self._neuron_list.observe(self._guarded(self._on_pick), "value")
        self._ensemble.observe(self._guarded(self._on_pick), "value")
        self._reset_one.on_click(self._guarded(lambda _b: self.reset(self.synapse)))
        self._reset_all.on_click(self._guarded(lambda _b: self.reset()))
        self._commit_btn.on_click(self._guarded(lambda _b: self.commit()))
        self._train_btn.on_click(self._guarded(lambda _b: self.train(
            self._picture_dd.value or None, self._steps.value, restart=self._restart.value)))
        self._grid_canvas.on_click(self._guarded(self._on_grid_click))
        self._paint_canvas.on_drag(self._guarded(self._on_drag))
        self._pad_canvas.on_click(self._guarded(lambda x, y, _e: self._pad_to(x, y)))
        self._pad_canvas.on_drag(self._guarded(lambda _x0, _y0, x1, y1, _done: self._pad_to(x1, y1)))

        def titled(title, *children):
            return W.VBox([W.HTML(f"<b>{title}</b>"), *children])

        pictures = W.HBox([
            titled("painting (drag a rectangle)", self._paint_canvas, self._rmse),
            titled("target", self._target_canvas),
            titled("side view", self._side_canvas, self._view_tb, self._side_caption),
        ])
        controls = W.VBox([
            W.HBox([self._synapse_box, self._slider, self._reset_one, self._reset_all, self._commit_btn]),
            self._synapse_info,
        ])
        neurons = titled("hidden neurons (click one)", self._grid_canvas)
        neuron = titled("neuron", self._neuron_canvas, self._neuron_info, self._neuron_list)
        ensemble = titled("synapse ensemble", self._ensemble_info, self._ensemble)
        pad = titled("2-D pad: two weights together", self._pad_canvas,
                     W.HBox([self._pad_x, self._pad_y]), self._pad_info)
        training = W.HBox([self._picture_dd, self._steps, self._restart, self._train_btn])
        self._finish([pictures, controls, W.HBox([neurons, neuron]), W.HBox([ensemble, pad]), training])

    def _picture(self, image, size) -> np.ndarray:
        if self._space.outputs != 3:
            raise ValueError(f"a target picture needs a network with 3 outputs (R, G, B); "
                             f"this one has {self._space.outputs}")
        return painter_image(image, int(size))

    # -- public ------------------------------------------------------------
    @property
    def net(self) -> nn.Module:
        return self._net

    @property
    def synapses(self):
        """Every weight and bias of the linear layers, numbered (``core.Synapse``)."""
        return self._space.synapses

    @property
    def values(self) -> np.ndarray:
        """The current value of every synapse (the network itself is unchanged until ``commit``)."""
        return self._flat.detach().cpu().numpy().copy()

    @property
    def original_values(self) -> np.ndarray:
        return self._space.original.detach().cpu().numpy().copy()

    @property
    def moved(self) -> List[int]:
        """Indices of the synapses that differ from the network's values."""
        return self._space.changed(self._flat)

    @property
    def painting(self) -> np.ndarray:
        """What the network draws now, ``(H, W, k)`` (colours in [-1, 1] for a painter)."""
        return self._painting

    @property
    def target(self) -> Optional[np.ndarray]:
        return self._target

    @property
    def rmse(self) -> Optional[float]:
        """RMSE of the painting against the target, colours in [0, 1] (None without a target)."""
        if self._target is None:
            return None
        t = self._target.astype(np.float32) / 127.5 - 1.0
        return float(np.sqrt(np.mean((self._painting - t) ** 2)) / 2)

    @property
    def neuron_maps(self) -> Optional[np.ndarray]:
        return self._maps

    @property
    def ensemble(self) -> List[int]:
        """The listed top synapses for the last rectangle (empty before one is dragged)."""
        return [] if self.ranking is None else self.ranking.top(self.ensemble_size)

    @property
    def frame(self) -> Optional[np.ndarray]:
        """The painting as drawn, ``(H, W, 4)`` uint8."""
        return self._paint_canvas.frame

    @property
    def target_frame(self):
        return self._target_canvas.frame

    @property
    def side_frame(self):
        return self._side_canvas.frame

    @property
    def neuron_frame(self):
        return self._grid_canvas.frame

    @property
    def pad_frame(self):
        return self._pad_canvas.frame

    def set_value(self, index: int, value: float) -> None:
        """Move synapse ``index`` to ``value`` (repaints; the network is not touched)."""
        self._check_index(index)
        with self._lock:
            if int(index) == self.synapse:
                self.value = float(value)
            else:
                self._change({int(index): float(value)})

    def reset(self, index: Optional[int] = None) -> None:
        """Put synapse ``index`` (or, with ``None``, every synapse) back to the network's value."""
        with self._lock:
            if index is None:
                changes = {i: float(self._space.original[i]) for i in self.moved}
            else:
                self._check_index(index)
                changes = {int(index): float(self._space.original[int(index)])}
            self._change(changes)

    def commit(self) -> List[int]:
        """Write the moved synapses into the network; returns their indices.

        Only those elements are written; every other parameter stays
        bit-identical. The current painting becomes the new original.
        """
        with self._lock:
            moved = self._space.commit(self._flat)
            self._original_paint = self._painting
            self._redraw_side()
            self._show_synapse()
            return moved

    def select_box(self, x0: float, y0: float, x1: float, y1: float) -> None:
        """Rank every synapse for a rectangle of the painting (corners in picture pixels),
        as a drag does. A rectangle without area raises ``ValueError``."""
        self._rank(x0, y0, x1, y1, final=True)

    def train(self, image=None, steps: int = 1500, restart: bool = False, lr: float = 0.02,
              every: int = 25, seed: int = 0):
        """Train the weights (of the private copy) to paint ``image`` in the background.

        ``image``: a sample name (``zoo.painter.SAMPLES``), an array or PIL
        image (``None``: the current target). ``restart`` starts from freshly
        initialised weights. The painting and neuron maps are redrawn every
        ``every`` steps; Stop (or ``stop()``) ends training and keeps the
        weights reached. ``commit()`` writes them into the network.
        """
        if image is not None:
            target = self._picture(image, self.size)
        elif self._target is not None:
            target = self._target
        else:
            raise ValueError("expected a picture to train on: a sample name, an array or a PIL image")
        with self._lock:
            self._target = target
            self._target_canvas.draw(rgb_from_signed(target.astype(np.float32) / 127.5 - 1.0))
            start = self._space.initial(seed) if restart else self._flat.clone()
            if restart:
                self._adopt(start)
        values = target.astype(np.float32) / 127.5 - 1.0
        steps = int(steps)

        def work(job):
            def stream(step, vector, mse):
                job.check()
                job.progress(step / steps, f"step {step}/{steps}  rmse {np.sqrt(mse) / 2:.4f}")
                state = self._compute(vector, None, job)
                with self._lock:
                    if job.cancelled:
                        return False
                    self._adopt(vector)
                    self._draw_all(state)
                return True

            self._space.fit(start, values, steps, lr=lr, extent=self.extent, every=every, callback=stream)
            return None

        return self._run_in_background(work, lambda _r: None)

    def wait(self, timeout: Optional[float] = 60.0) -> bool:
        """Block until repainting, ranking and training are done (for scripts and tests)."""
        return self._work.wait(timeout) and self._rank_work.wait(timeout)

    # -- reacting to controls --------------------------------------------------
    def _check_index(self, index) -> None:
        if not 0 <= int(index) < self._space.count:
            raise ValueError(f"expected a synapse index in 0..{self._space.count - 1}, got {index}")

    @traitlets.validate("synapse")
    def _valid_synapse(self, proposal):
        self._check_index(proposal["value"])
        return int(proposal["value"])

    @traitlets.validate("value")
    def _valid_value(self, proposal):
        v = float(proposal["value"])
        if not np.isfinite(v):
            raise ValueError(f"expected a finite weight value, got {v}")
        return v

    @traitlets.validate("pad")
    def _valid_pad(self, proposal):
        a, b = (int(v) for v in proposal["value"])
        self._check_index(a)
        self._check_index(b)
        return (a, b)

    def _select(self, index: int) -> None:
        self.set_trait("synapse", int(index))
        self._synapse_box.value = int(index)
        self._on_synapse(None)

    def _on_synapse(self, _change) -> None:
        current = float(self._flat[self.synapse])
        self._slider.max = max(self._range, current)
        self._slider.min = min(-self._range, current)
        self.set_trait("value", current)  # no repaint: nothing moved
        self._show_synapse()
        if self.view == "acts":
            self._redraw_side()

    def _on_value(self, change) -> None:
        if float(self._flat[self.synapse]) == float(np.float32(change["new"])):
            return
        self._change({self.synapse: float(change["new"])})

    def _on_view(self, _change) -> None:
        self._redraw_side()

    def _on_neuron(self, _change) -> None:
        self._draw_neuron()

    def _on_pad(self, _change) -> None:
        self._pad_x.value, self._pad_y.value = self.pad
        self._draw_pad()

    def _on_pick(self, change) -> None:
        if not self._filling and change["new"] is not None and change["new"] != self.synapse:
            self.synapse = int(change["new"])

    def _on_grid_click(self, x: float, y: float, _event) -> None:
        i = self._grid_layout.index_at(x, y) if self._grid_layout is not None else None
        if i is not None:
            self.neuron = i

    @traitlets.validate("neuron")
    def _valid_neuron(self, proposal):
        n = int(proposal["value"])
        count = len(self._space.neurons)
        if count and not 0 <= n < count:
            raise ValueError(f"expected a neuron in 0..{count - 1}, got {n}")
        return n

    def _on_drag(self, x0, y0, x1, y1, done) -> None:
        self._rank(x0, y0, x1, y1, final=done)

    def _pad_to(self, x: float, y: float) -> None:
        r = self._range
        a = float(np.clip(-r + 2 * r * x / PAD_PX, -r, r))
        b = float(np.clip(r - 2 * r * y / PAD_PX, -r, r))  # up is positive
        ia, ib = self.pad
        if ia == ib:
            raise ValueError("the pad needs two different synapses on its axes")
        self._change({ia: round(a, 3), ib: round(b, 3)})
        if self.synapse in (ia, ib):
            self.set_trait("value", float(self._flat[self.synapse]))

    # -- the weights and the work ----------------------------------------------
    def _adopt(self, vector: torch.Tensor) -> None:
        self._flat = vector.detach().clone()
        self._version += 1

    def _change(self, changes: dict) -> None:
        """Apply ``{index: value}`` to the working vector and repaint in the background."""
        flat = self._flat.clone()
        for i, v in changes.items():
            flat[int(i)] = v
        if torch.equal(flat, self._flat):
            return
        self._adopt(flat)
        if self.synapse in changes and float(self.value) != float(flat[self.synapse]):
            self.set_trait("value", float(flat[self.synapse]))
        version, selected, view = self._version, self.synapse, self.view

        def work(job):
            return self._compute(flat, version, job, selected if view == "acts" else None)

        self._run_in_background(work, self._draw_all)

    def _compute(self, flat: torch.Tensor, version, job, acts_for: Optional[int] = None) -> dict:
        """Everything a repaint needs, computed off the kernel's main thread."""
        paint = self._space.paint(flat, self.size, self.size, self.extent)
        if job is not None:
            job.check()
        step = max(1, self.size // self._neuron_px)
        maps = self._space.neuron_maps(flat, self.size, self.size, self.extent)[:, ::step, ::step] \
            if self._space.neurons else None
        acts = (self._space.direction_map(flat, acts_for, self.size, self.size, self.extent)
                if acts_for is not None else None)
        return dict(version=version, paint=paint, maps=maps, acts=acts, acts_for=acts_for)

    def _draw_all(self, state: dict) -> None:
        self._painting = state["paint"]
        self._maps = state["maps"]
        self._paint_canvas.draw(plane_rgba(self._painting))
        if self._target is not None and self._target_canvas.frame is None:
            self._target_canvas.draw(rgb_from_signed(self._target.astype(np.float32) / 127.5 - 1.0))
        rmse = self.rmse
        self._rmse.value = (f"RMSE <b>{rmse:.4f}</b> &middot; {len(self.moved)} weight(s) moved"
                            if rmse is not None else f"{len(self.moved)} weight(s) moved")
        if self._maps is not None:
            rgba, self._grid_layout = neuron_grid(self._maps, tile_px=48)
            self._grid_canvas.draw(rgba)
            self._draw_neuron()
        if state.get("acts") is not None and state["acts_for"] == self.synapse and self.view == "acts":
            self._draw_acts(state["acts"])
        else:
            self._redraw_side()
        self._show_synapse()
        self._draw_pad()

    def _redraw_side(self) -> None:
        if self.view == "difference":
            # small changes are amplified (up to 20x) so that they can be seen; the caption says how much
            largest = float(np.abs(self._painting - self._original_paint).max())
            gain = 1.0 / max(largest, 0.05)
            self._side_canvas.draw(difference_rgba(self._painting, self._original_paint, gain))
            self._side_caption.value = (f"now &minus; original, &times;{gain:.1f} (largest change "
                                        f"{largest / 2:.3f} in [0, 1] colour units; grey: none)")
        else:
            self._draw_acts(self._space.direction_map(self._flat, self.synapse, self.size, self.size, self.extent))

    def _draw_acts(self, rate: np.ndarray) -> None:
        self._side_canvas.draw(magnitude_rgba(rate))
        self._side_caption.value = (f"where #{self.synapse} acts: rate of change per unit weight, "
                                    f"black 0 to bright {float(rate.max()):.3f}")

    def _draw_neuron(self) -> None:
        neurons = self._space.neurons
        if not neurons or self._maps is None:
            return
        n = int(np.clip(self.neuron, 0, len(neurons) - 1))
        neuron = neurons[n]
        factor = fit_factor(self._maps.shape[1], 144)
        self._neuron_canvas.draw(upscale(signed_rgba(self._maps[n], vmax=1.0), factor))
        x, y, w, h = self._grid_layout.rect(n)
        self._grid_canvas.marks = [dict(x=x - 2, y=y - 2, w=w + 4, h=h + 4, color="#ffcc00", width=2)]
        incoming = [s for s in self.synapses if s.target == neuron.label]
        outgoing = [s for s in self.synapses if s.source == neuron.label]
        self._neuron_info.value = (f"<b>{neuron.label}</b>: {len(incoming)} incoming, "
                                   f"{len(outgoing)} outgoing weights")
        options = [(f"in  {self._describe(s)}", s.index) for s in incoming]
        options += [(f"out {self._describe(s)}", s.index) for s in outgoing]
        self._fill(self._neuron_list, options)

    def _fill(self, listing: W.Select, options) -> None:
        """Replace a list's entries without the change counting as the user's pick."""
        self._filling = True
        try:
            listing.options = options
            listing.value = self.synapse if any(v == self.synapse for _, v in options) else None
        finally:
            self._filling = False

    def _describe(self, s) -> str:
        return f"{s.label} = {float(self._flat[s.index]):+.3f}"

    def _show_synapse(self) -> None:
        s = self.synapses[self.synapse]
        now, was = float(self._flat[s.index]), float(self._space.original[s.index])
        moved = "" if now == was else f" &middot; <b>moved</b> from {was:+.4f}"
        self._synapse_info.value = f"<code>{html.escape(s.label)}</code> &middot; value {now:+.4f}{moved}"

    # -- ranking -----------------------------------------------------------------
    def _rank(self, x0, y0, x1, y1, final: bool) -> None:
        sensitivity = self._sensitivity if self._sensitivity_version == self._version else None
        if sensitivity is None:
            sensitivity = Sensitivity(np.zeros((self.size, self.size, 1)))  # only to validate the box
        box = sensitivity.pixel_box((x0, y0, x1, y1))  # ValueError for a rectangle without area
        self.box = box
        self._paint_canvas.marks = [dict(x=box[0], y=box[1], w=box[2] - box[0], h=box[3] - box[1],
                                         color="#00e5ff", width=1)]
        if self._sensitivity is not None and self._sensitivity_version == self._version:
            self._show_ranking(self._sensitivity.rank(box))
            return
        if self._sensitivity_pending == self._version and self._rank_work.busy:
            return  # the Jacobian for these weights is on its way; it will rank the newest box
        flat, version = self._flat.clone(), self._version
        self._sensitivity_pending = version
        self._ensemble_info.value = "<i>computing the Jacobian of every pixel ...</i>"

        def work(job):
            return self._space.sensitivity(flat, self.size, self.size, self.extent, job=job), version

        def draw(result):
            sens, v = result
            self._sensitivity, self._sensitivity_version = sens, v
            if self.box is not None:
                self._show_ranking(sens.rank(self.box))

        self._rank_work.submit(work, draw)

    def _show_ranking(self, ranking: Ranking) -> None:
        self.ranking = ranking
        x0, y0, x1, y1 = ranking.box
        top = ranking.top(self.ensemble_size)
        self._ensemble_info.value = (
            f"rectangle x {x0}..{x1 - 1}, y {y0}..{y1 - 1}: top {len(top)} of {self._space.count} "
            f"weights by (change inside) - (change outside)")
        options = [(f"{self.synapses[i].label}  score {ranking.score[i]:+.3f} (in {ranking.inside[i]:.3f}"
                    f" / out {ranking.outside[i]:.3f})", i) for i in top]
        self._fill(self._ensemble, options)

    # -- the pad ---------------------------------------------------------------
    def _draw_pad(self) -> None:
        ia, ib = self.pad
        r = self._range
        pad = np.full((PAD_PX, PAD_PX, 4), 34, dtype=np.uint8)
        pad[..., 3] = 255
        mid = PAD_PX // 2
        pad[mid, :, :3] = 90
        pad[:, mid, :3] = 90

        def to_px(a, b):
            x = int(np.clip(round((a + r) / (2 * r) * (PAD_PX - 1)), 0, PAD_PX - 1))
            y = int(np.clip(round((r - b) / (2 * r) * (PAD_PX - 1)), 0, PAD_PX - 1))
            return x, y

        ox, oy = to_px(float(self._space.original[ia]), float(self._space.original[ib]))
        pad[max(oy - 2, 0):oy + 3, max(ox - 2, 0):ox + 3, :3] = 160
        cx, cy = to_px(float(self._flat[ia]), float(self._flat[ib]))
        pad[max(cy - 3, 0):cy + 4, max(cx - 3, 0):cx + 4, :3] = (255, 80, 60)
        self._pad_canvas.draw(pad)
        self._pad_info.value = (f"x: #{ia} = {float(self._flat[ia]):+.3f}, y: #{ib} = "
                                f"{float(self._flat[ib]):+.3f} (range &plusmn;{r:g}; grey: original)")


def _default_size(image) -> int:
    """A sample photo is painted at 96x96; an array or PIL image at its shorter side, up to 128."""
    if isinstance(image, str):
        return 96
    shape = image.size[::-1] if hasattr(image, "getbands") else np.shape(image)
    if len(shape) == 3 and shape[0] in (1, 3, 4) and shape[2] not in (1, 3, 4):  # a (C, H, W) tensor
        shape = shape[1:]
    return int(min(128, max(2, min(shape[:2]))))

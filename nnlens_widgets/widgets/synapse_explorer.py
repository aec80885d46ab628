"""Which weights of a 2-input network control which part of its painting."""
from __future__ import annotations

from typing import List, Optional, Sequence

import numpy as np
import torch
import traitlets

from ..core.pictures import default_picture_size, load_picture
from ..core.plane import DEFAULT_EXTENT, check_extent
from ..core.synapse_edits import SynapseEdits
from ..core.synapse_space import Pictures, SynapseSpace
from ..core.synapse_training import fit_synapses, picture_rmse, picture_values
from .base import LensWidget, check_choice, check_count, check_index, check_number
from .plane_neurons import NeuronPicking
from .synapse_display import SynapseDisplay
from .synapse_panels import wait_all

__all__ = ["SynapseExplorer"]

SIDE_VIEWS = ("difference", "acts")
DEFAULT_SIZE = 96  # pixels per side of the painting without a picture
MAX_SIZE = 256
MAX_STEPS = 1_000_000  # slider positions on either side of a weight's value
PAINTING_PX, PICTURE_PX = 288, 192  # on-screen size the painting and the other pictures are enlarged to


class SynapseExplorer(NeuronPicking, LensWidget):
    """Move single weights of a small 2-input network and watch its painting change.

    - the **painting**, the **picture** it learned (RMSE) and a side view:
      ``"difference"`` (now minus the original) or ``"acts"`` (how fast each
      pixel changes when the selected weight moves);
    - every weight numbered (``synapses``); a slider moves the selected one
      in exact steps of ``step`` from the network's value, up to ``reach``
      either way; ``commit()`` writes the moved weights into the network,
      which is not touched before (the explorer works on a private copy);
    - every hidden neuron's map; click one (or set ``layer``, ``channel``)
      to enlarge it and list its weights;
    - drag a rectangle on the painting (or ``rank``): every weight ranked by
      how much more it changes the rectangle than the rest (from the
      Jacobian), the top ``ensemble_size`` charted and listed;
    - a pad moves two weights together (``pad``), coloured by the error;
    - ``train()`` paints another picture in the background; Stop ends it.

    Works for any network mapping ``(N, 2)`` points to ``(N, k)`` with
    ``nn.Linear`` layers; a ``picture`` needs ``k = 3`` (R, G, B in [-1, 1]).
    ``size``: pixels per side (default: 96 for a sample photo or no picture,
    else the picture's shorter side up to 128, its central square).

    Traits: ``synapse`` (the selected weight), ``value`` (its value),
    ``layer`` and ``channel`` (the picked hidden neuron), ``side_view``,
    ``pad``.
    """

    synapse = traitlets.Int(0)
    value = traitlets.Float(0.0)
    side_view = traitlets.Unicode("difference")
    pad = traitlets.Tuple(traitlets.Int(), traitlets.Int(), default_value=(0, 1))

    def __init__(self, model, *, picture=None, size: Optional[int] = None,
                 extent: Sequence[float] = DEFAULT_EXTENT, step: float = 0.01, reach: float = 2.0,
                 ensemble_size: int = 24, synapse: int = 0, pad: Optional[Sequence[int]] = None,
                 painting_px: int = PAINTING_PX, display_px: int = PICTURE_PX, **kwargs):
        super().__init__(model, **kwargs)
        self._space = SynapseSpace(self._model)  # clear ValueError for a non-2-input model
        count = self._space.count
        self.extent = check_extent(extent)
        self.step = check_number(step, "step", 1e-6, 1.0)
        self.reach = check_number(reach, "reach", self.step, self.step * MAX_STEPS)
        self.ensemble_size = check_count(ensemble_size, "ensemble_size", 1, count)
        size = None if size is None else check_count(size, "size (pixels per side)", 2, MAX_SIZE)
        self._picture: Optional[np.ndarray] = None
        if picture is not None:
            self._picture = self._load(picture, size or min(default_picture_size(picture), MAX_SIZE))
        self.size = self._picture.shape[0] if self._picture is not None else size or DEFAULT_SIZE
        self._edits = SynapseEdits(self._space)
        self._reference = 0  # bumps when the picture or the network's values change (what the pad measures)
        self._original_paint = self._space.paint(None, self.size, self.size, self.extent)
        self._painting = self._original_paint
        self._display = d = SynapseDisplay(
            self._space, self.step, check_count(painting_px, "painting_px", 16, 4096),
            check_count(display_px, "display_px", 16, 4096), self._show_error, self._lock, self._guarded,
            self._pad_moved, lambda pair: setattr(self, "pad", pair))
        self.set_trait("synapse", synapse)  # validated; no observer is registered yet
        if count > 1:
            self.set_trait("pad", tuple(pad) if pad is not None else (0, 1))
        self.add_class("nnl-synapse-explorer")
        for name, view in d.views().items():
            self._view(name, view)
        self._bind(synapse=d.synapse_box, side_view=d.side_toggle)
        for name, control in d.controls().items():
            self._control(name, control)
        self._on(self._on_synapse, "synapse")
        self._on(lambda c: self._change({self.synapse: c["new"]}), "value")
        self._on(lambda _c: self._draw_side(None), "side_view")
        self._pick_neurons(d.neurons)
        self._on(lambda _c: (d.pad.show_pair(self.pad), self._update_pad()), "pad")
        d.slider.observe(self._guarded(self._on_offset), "value")
        d.neuron_list.observe(self._guarded(self._on_list_pick), "value")
        d.ranking.listing.observe(self._guarded(self._on_list_pick), "value")
        d.buttons["reset"].on_click(self._guarded(lambda _b: self.reset(self.synapse)))
        d.buttons["reset_all"].on_click(self._guarded(lambda _b: self.reset()))
        d.buttons["commit"].on_click(self._guarded(lambda _b: self.commit()))
        d.train.on_click(self._guarded(lambda _b: self.train(
            d.train_picture.value or None, steps=d.steps.value, restart=d.restart.value)))
        d.painting.canvas.on_drag(self._guarded(lambda x0, y0, x1, y1, _done: self.rank(x0, y0, x1, y1)))
        d.pad.show_pair(self.pad)
        d.draw_picture(self._picture)
        self._draw_all(self._space.pictures(self._edits.flat, self.size, self.extent), pad_now=True)
        self._show_weight()
        self._finish(d.rows(self._space.outputs, count))

    def _load(self, source, size: int) -> np.ndarray:
        if self._space.outputs != 3:
            raise ValueError(f"a picture needs a network with 3 outputs (R, G, B); "
                             f"this one has {self._space.outputs}")
        return load_picture(source, size)

    # -- public ------------------------------------------------------------
    @property
    def synapses(self):
        """Every weight and bias of the linear layers, numbered (``core.Synapse``)."""
        return self._space.synapses

    @property
    def values(self) -> np.ndarray:
        """The current value of every synapse (the network itself is unchanged until ``commit``)."""
        return self._edits.flat.detach().cpu().numpy().copy()

    @property
    def original_values(self) -> np.ndarray:
        """The network's values (as read, committed or refreshed)."""
        return self._space.original.detach().cpu().numpy().copy()

    @property
    def moved(self) -> List[int]:
        """Indices of the synapses whose value differs from the network's."""
        return self._edits.moved

    @property
    def painting(self) -> np.ndarray:
        """What the network draws now, ``(H, W, k)`` (colours in [-1, 1] for a painter)."""
        return self._painting

    @property
    def picture(self) -> Optional[np.ndarray]:
        """The picture to paint, ``(H, W, 3)`` uint8 (None without one). Assign a sample name,
        an array, a tensor or a PIL image to replace it (resized to the painting's size)."""
        return self._picture

    @picture.setter
    def picture(self, source) -> None:
        self._set_picture(self._load(source, self.size))

    def _set_picture(self, picture: np.ndarray) -> None:
        with self._lock:
            self._picture = picture
            self._reference += 1
            self._display.draw_picture(picture)
            self._draw_painting()
            self._update_pad()

    @property
    def rmse(self) -> Optional[float]:
        """RMSE of the painting against the picture, colours in [0, 1] (None without a picture)."""
        return None if self._picture is None else picture_rmse(self._painting, self._picture)

    @property
    def ranking(self):
        """The last ranking (``core.Ranking``; None before a rectangle was ranked)."""
        return self._display.ranking.ranking

    @property
    def box(self):
        """The last rectangle ranked, as whole pixels ``(x0, y0, x1, y1)``, end exclusive."""
        return self._display.ranking.box

    @property
    def ensemble(self) -> List[int]:
        """The top ``ensemble_size`` synapses for the last rectangle (empty before one)."""
        return self._display.ranking.top(self.ensemble_size)

    def set_value(self, index: int, value: float) -> None:
        """Move synapse ``index`` to ``value`` (repaints; the network is not touched)."""
        i = check_index(index, self._space.count, "a synapse index")
        self._change({i: self._weight_value(value)})

    def reset(self, index: Optional[int] = None) -> None:
        """Put synapse ``index`` (or, with ``None``, every synapse) back to the network's value."""
        indices = None if index is None else [check_index(index, self._space.count, "a synapse index")]
        with self._lock:
            if self._edits.reset(indices):
                self._moved_weights()

    def commit(self) -> List[int]:
        """Write the moved synapses into the network, exactly as set; returns their indices.

        Only those elements are written; every other parameter stays
        bit-identical. The current painting becomes the new original.
        """
        with self._lock:
            moved = self._edits.commit()
            if moved:
                self._original_paint = self._painting
                self._reference += 1
                self._draw_painting()
                self._draw_side(None)
                self._show_weight()
                self._update_pad()
            return moved

    def rank(self, x0: float, y0: float, x1: float, y1: float) -> None:
        """Rank every synapse for a rectangle of the painting (corners in picture pixels),
        as a drag does; in the background the first time for these weights. A rectangle
        without area raises ``ValueError``."""
        with self._lock:
            box = self._display.ranking.rank((x0, y0, x1, y1), (self.size, self.size), self._space,
                                             self._edits.flat, self._edits.version, self.extent,
                                             self._show_ranking)
            self._display.mark_box(box)

    def refresh(self) -> None:
        """Read the network again (after it changed elsewhere) and recompute every picture.

        Weights moved here and not committed keep the values you set.
        """
        with self._lock:
            self._edits.reload()
            self._original_paint = self._space.paint(None, self.size, self.size, self.extent)
            self._reference += 1
            self._moved_weights()

    def train(self, picture=None, *, steps: int = 1500, restart: bool = False, lr: float = 0.02,
              every: int = 25, seed: int = 0):
        """Train the weights (of the private copy) to paint ``picture`` in the background.

        ``picture``: a sample name (``core.SAMPLE_PICTURES``), an array, a
        tensor or a PIL image (``None``: the current picture). ``restart``
        starts from freshly initialised weights (from ``seed``). The painting
        and neuron maps are redrawn every ``every`` steps; Stop (or
        ``stop()``) ends training and keeps the weights reached; moving a
        weight stops it too. ``commit()`` writes the result into the network.
        """
        new = None if picture is None else self._load(picture, self.size)
        if new is None and self._picture is None:
            raise ValueError("expected a picture to train on: a sample name, an array, a tensor or a PIL image")
        with self._lock:
            start = self._space.initial(seed) if restart else self._edits.flat.clone()
        steps_done = fit_synapses(self._space, start, picture_values(self._picture if new is None else new),
                                  steps, lr=lr, every=every, extent=self.extent)  # checks every argument
        if new is not None:
            self._set_picture(new)

        def work(job):
            for now in steps_done:
                job.check()
                job.progress(now.step / steps, f"training: step {now.step} of {steps}, RMSE {now.rmse:.4f}")
                state = self._space.pictures(now.vector, self.size, self.extent, job=job)
                with self._lock:
                    if job.cancelled:
                        return None
                    self._edits.adopt(now.vector)
                    self._draw_all(state)
            return None

        return self._run_in_background(work, lambda _r: None)

    def stop(self) -> None:
        """Stop training, repainting, ranking and the pad's colouring."""
        super().stop()
        self._display.ranking.cancel()
        self._display.pad.cancel()

    def wait(self, timeout: Optional[float] = 60.0) -> bool:
        """Block until repainting, ranking, the pad and training are done; False on timeout."""
        return wait_all((self._work, self._display.ranking, self._display.pad), timeout)

    # -- validation -----------------------------------------------------------
    @traitlets.validate("synapse")
    def _valid_synapse(self, proposal):
        return check_index(proposal["value"], self._space.count, "a synapse index")

    @traitlets.validate("value")
    def _valid_value(self, proposal):
        return self._weight_value(proposal["value"])

    def _weight_value(self, value) -> float:
        """``value`` if the network's weights (their dtype) can hold it; a ValueError otherwise."""
        v, limit = check_number(value, "weight value"), float(torch.finfo(self._space.dtype).max)
        if abs(v) > limit:
            raise ValueError(f"expected a weight value in -{limit:.4g}..{limit:.4g} (what the network's "
                             f"{str(self._space.dtype).replace('torch.', '')} weights can hold), got {v:g}")
        return v

    @traitlets.validate("side_view")
    def _valid_side_view(self, proposal):
        return check_choice(proposal["value"], SIDE_VIEWS, "side_view")

    @traitlets.validate("pad")
    def _valid_pad(self, proposal):
        return self._display.pad.check_pair(proposal["value"])

    # -- reacting to controls --------------------------------------------------
    def _on_synapse(self, _change) -> None:
        self.set_trait("value", self._edits.value(self.synapse))  # selecting never moves a weight
        self._show_weight()
        if self.side_view == "acts":
            self._draw_side(None)
        self._on_neuron()
        if self.ranking is not None:
            self._show_ranking()

    def _on_offset(self, change) -> None:
        if not self._display.filling:
            self.value = self._edits.stepped(self.synapse, change["new"], self.step)

    def _on_list_pick(self, change) -> None:
        if not self._display.filling and change["new"] is not None and change["new"] != self.synapse:
            self.synapse = int(change["new"])

    def _pad_moved(self, dx: float, dy: float) -> None:
        a, b = self.pad
        self._change({a: self._edits.stepped(a, round(dx / self.step), self.step),
                      b: self._edits.stepped(b, round(dy / self.step), self.step)})

    # -- the weights and the work ----------------------------------------------
    def _change(self, changes: dict) -> None:
        """Apply ``{index: value}`` to the working weights and repaint in the background."""
        with self._lock:
            if self._edits.apply(changes):
                self._moved_weights()

    def _moved_weights(self) -> None:
        self._display.pad.cancel()  # colours for the old weights: stop them, the painting comes first
        self._show_weight()
        flat, rate_for = self._edits.flat, self.synapse if self.side_view == "acts" else None
        self._run_in_background(lambda job: self._space.pictures(flat, self.size, self.extent, rate_for, job),
                                self._draw_all)

    def _draw_all(self, pictures: Pictures, pad_now: bool = False) -> None:
        if not torch.equal(pictures.flat, self._edits.flat):
            return  # computed for weights that have moved on since
        self._painting = pictures.painting
        self._draw_painting()
        self._display.neurons.show(pictures.maps, self.layer, self.channel)
        self._on_neuron()
        self._draw_side(pictures.rate if pictures.rate_for == self.synapse else None)
        if self.ranking is not None:
            self._show_ranking()
        self._update_pad(now=pad_now)

    # -- drawing ---------------------------------------------------------------
    def _draw_painting(self) -> None:
        self._display.draw_painting(self._painting, self.rmse, len(self.moved))

    def _draw_side(self, rate: Optional[np.ndarray]) -> None:
        if self.side_view == "difference":
            self._display.draw_difference(self._painting, self._original_paint)
            return
        if rate is None:
            rate = self._space.direction_map(self._edits.flat, self.synapse, self.size, self.size, self.extent)
        self._display.draw_rate(rate, self.synapses[self.synapse])

    def _show_weight(self) -> None:
        i = self.synapse
        now = self._edits.value(i)
        self._display.show_weight(self.synapses[i], now, self._edits.original(i), self.step, self.reach,
                                  self._space.dtype)
        if self.value != now:
            self.set_trait("value", now)

    def _on_neuron(self) -> None:
        neurons = self._display.neurons
        if neurons.layers and neurons.maps is not None:
            neuron = neurons.neuron_at(neurons.index(self.layer, self.channel))
            self._display.show_neuron_weights(neuron, self.synapses, self.values, self._space.dtype, self.synapse)

    def _show_ranking(self) -> None:
        self._display.show_ranking(self.synapses, self.ensemble_size, self.synapse, self._edits.version)

    def _update_pad(self, now: bool = False) -> None:
        if self._space.count > 1:
            self._display.pad.update(self._space, self._edits.flat, self.pad, self.reach, self._picture,
                                     self._reference, self.extent, now=now)

    def _release(self) -> None:
        if hasattr(self, "_display"):  # a constructor that failed on its arguments has none
            self._display.close()
        self._painting = self._original_paint = self._picture = None

    def _state_caption(self) -> str:
        return f"SynapseExplorer: weight #{self.synapse}, {len(self.moved)} weight(s) moved"

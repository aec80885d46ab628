"""A recurrent text model's cells shown on the text itself (Karpathy-style)."""
from __future__ import annotations

import html
import struct
from typing import Callable, Dict, List, Optional, Sequence

import anywidget
import ipywidgets as W
import numpy as np
import torch
import traitlets
from torch import nn

from ..core import CellMatch, TextStates, lstm_states, predicate_neurons
from ..render import lut
from .assets import asset_path
from .base import LensWidget

__all__ = ["TextView", "TextNeuronViewer", "value_colors"]

TOP = 5


def value_colors(values: np.ndarray, vmax: float = 1.0, cmap: str = "RdBu_r") -> np.ndarray:
    """(T,) values -> (T, 4) RGBA: [-vmax, vmax] onto the colormap, exactly as ``js/text_neurons.js`` does."""
    t = np.clip((np.asarray(values, dtype=np.float32).astype(np.float64) / vmax + 1) / 2, 0, 1)
    t = np.nan_to_num(t, nan=0.5)
    return lut(cmap)[np.floor(t * 255 + 0.5).astype(np.int64)]


class TextView(anywidget.AnyWidget):
    """The coloured text, rendered in the browser.

    The text, colour table and top-5 tables are sent once; ``show(values)``
    sends only one float32 per character (with a version number the browser
    puts on the view's ``data-version`` after recolouring).
    """

    _esm = asset_path("text_neurons.js")
    text = traitlets.Unicode("").tag(sync=True)
    vocab = traitlets.List(traitlets.Unicode()).tag(sync=True)
    vmax = traitlets.Float(1.0).tag(sync=True)
    height_px = traitlets.Int(360).tag(sync=True)
    _values = traitlets.Bytes(b"").tag(sync=True)
    _lut = traitlets.Bytes(b"").tag(sync=True)
    _top_index = traitlets.Bytes(b"").tag(sync=True)
    _top_prob = traitlets.Bytes(b"").tag(sync=True)

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.version = 0
        self.values: Optional[np.ndarray] = None

    def set_tables(self, cmap: str, top_index: Optional[np.ndarray], top_prob: Optional[np.ndarray]) -> None:
        self._lut = np.ascontiguousarray(lut(cmap)).tobytes()
        if top_index is not None:
            self._top_index = np.ascontiguousarray(top_index, dtype="<u2").tobytes()
            self._top_prob = np.ascontiguousarray(top_prob, dtype="<f4").tobytes()

    def show(self, values: np.ndarray) -> None:
        values = np.ascontiguousarray(values, dtype="<f4")
        if values.shape != (len(self.text),):
            raise ValueError(f"expected {len(self.text)} values, one per character, got shape {values.shape}")
        self.version = (self.version + 1) % 2**32
        self.values = values
        self._values = struct.pack("<I", self.version) + values.tobytes()


class TextNeuronViewer(LensWidget):
    """The text with each character's background coloured by one cell of a recurrent model.

    - cell slider (and the predicate panel's buttons) pick the cell; ``which``
      switches between tanh(c) and h;
    - colours: [-vmax, vmax] (default 1) on a diverging colormap;
    - hovering a character shows its value and the model's top-5 guesses for
      the next character (computed once, shown by the browser);
    - the panel lists, for each predicate (``core.code_predicates`` by
      default), the cells that correlate best with it over this text.

    States come from ``core.lstm_states`` once; choosing a cell sends only
    that cell's per-character values (float32) to the browser, which renders
    the text. ``encode`` defaults to ``model.encode``, ``vocab`` to
    ``model.vocab`` (the characters that the output logits stand for).
    Traits: ``cell``, ``which`` ("c" | "h").
    """

    cell = traitlets.Int(0)
    which = traitlets.Enum(("c", "h"), default_value="c")

    def __init__(
        self,
        model: nn.Module,
        text: str,
        encode: Optional[Callable] = None,
        vocab: Optional[Sequence[str]] = None,
        rnn: Optional[str] = None,
        predicates=None,
        states: Optional[TextStates] = None,
        vmax: float = 1.0,
        cmap: str = "RdBu_r",
        height_px: int = 360,
        **kwargs,
    ):
        if not isinstance(model, nn.Module):
            raise ValueError(f"expected a torch.nn.Module, got {type(model).__name__}")
        if not vmax > 0:
            raise ValueError(f"vmax must be positive, got {vmax}")
        self._model = model
        self.states = states if states is not None else lstm_states(model, text, encode, rnn)
        if self.states.text != text:
            raise ValueError("states were computed for a different text")
        self._predicates = predicates
        self._cmap = cmap
        self._vmax = float(vmax)
        self._values_cache: Dict[str, np.ndarray] = {}
        vocab = list(vocab if vocab is not None else getattr(model, "vocab", []) or [])
        self.vocab = [str(v) for v in vocab]
        self.top_index, self.top_prob = self._top_guesses()
        self.matches: Dict[str, List[CellMatch]] = {}
        super().__init__(**kwargs)
        self.add_class("nnl-text-neurons")
        if self.states.c is None:
            self.set_trait("which", "h")

        self._view = TextView(text=text, vocab=self.vocab, vmax=self._vmax, height_px=int(height_px))
        self._view.add_class("nnl-text-view-widget")
        self._view.set_tables(cmap, self.top_index, self.top_prob)
        cells = self.states.values("h").shape[1]
        self._cell_slider = W.IntSlider(description="cell", min=0, max=cells - 1, continuous_update=True,
                                        layout=W.Layout(width="460px"))
        self._cell_slider.add_class("nnl-cell-slider")
        self._which_tb = W.ToggleButtons(
            options=[("tanh(c)", "c"), ("h", "h")] if self.states.c is not None else [("h", "h")],
            style={"button_width": "70px"},
        )
        self._info = W.HTML()
        self._info.add_class("nnl-cell-info")
        self._panel = W.VBox()
        self._panel.add_class("nnl-predicate-panel")

        for trait, control in (("cell", self._cell_slider), ("which", self._which_tb)):
            W.link((self, trait), (control, "value"))
        self.observe(self._guarded(self._on_cell), "cell")
        self.observe(self._guarded(self._on_which), "which")
        self._fill_panel()
        self._draw()
        self._finish([W.HBox([self._cell_slider, self._which_tb]), self._info, self._view,
                      W.HTML("<b>cells that best match each predicate</b> (click to show)"), self._panel])

    # -- public --------------------------------------------------------
    @property
    def model(self) -> nn.Module:
        return self._model

    @property
    def text(self) -> str:
        return self.states.text

    @property
    def cells(self) -> int:
        return self._matrix().shape[1]

    @property
    def values(self) -> np.ndarray:
        """The selected cell's value at every character (what the browser colours by), float32."""
        return self._matrix()[:, self.cell]

    @property
    def char_colors(self) -> np.ndarray:
        """(T, 4) RGBA background of every character, as the browser paints it."""
        return value_colors(self.values, self._vmax, self._cmap)

    @property
    def frame(self) -> np.ndarray:
        """The colouring as a picture: one pixel per character, one row per line (newline included)."""
        colors = self.char_colors
        starts = [0] + [i + 1 for i, ch in enumerate(self.text) if ch == "\n"]
        if starts[-1] == len(self.text) and len(starts) > 1:
            starts.pop()
        ends = starts[1:] + [len(self.text)]
        width = max(e - s for s, e in zip(starts, ends))
        out = np.zeros((len(starts), width, 4), dtype=np.uint8)
        for row, (s, e) in enumerate(zip(starts, ends)):
            out[row, : e - s] = colors[s:e]
        return out

    @property
    def view(self) -> TextView:
        return self._view

    def select(self, cell: int) -> None:
        self.cell = int(cell)

    # -- internals -----------------------------------------------------
    def _matrix(self) -> np.ndarray:
        if self.which not in self._values_cache:
            self._values_cache[self.which] = np.ascontiguousarray(self.states.values(self.which).numpy(), dtype=np.float32)
        return self._values_cache[self.which]

    def _top_guesses(self):
        logits = self.states.logits
        if logits is None:
            return None, None
        k = min(TOP, logits.shape[1])
        prob, index = torch.topk(logits.float().softmax(1), k, dim=1)
        if k < TOP:  # pad so every character has five entries
            prob = torch.cat([prob, prob.new_zeros(len(prob), TOP - k)], 1)
            index = torch.cat([index, index.new_zeros(len(index), TOP - k)], 1)
        return index.numpy().astype(np.uint16), prob.numpy().astype(np.float32)

    @traitlets.validate("cell")
    def _valid_cell(self, proposal):
        c = int(proposal["value"])
        if not 0 <= c < self.cells:
            raise ValueError(f"expected a cell in 0..{self.cells - 1}, got {c}")
        return c

    @traitlets.validate("which")
    def _valid_which(self, proposal):
        if proposal["value"] == "c" and self.states.c is None:
            raise ValueError(f"a {self.states.kind} has no cell state c; use which='h'")
        return proposal["value"]

    def _on_cell(self, _change) -> None:
        self._draw()

    def _on_which(self, _change) -> None:
        self._fill_panel()
        self._draw()

    def _draw(self) -> None:
        self._view.show(self.values)
        v = self.values
        what = "tanh(c)" if self.which == "c" else "h"
        self._info.value = (
            f"<b>{html.escape(self.states.cell_name(self.cell))}</b> {what}: "
            f"min {v.min():.3f} &middot; max {v.max():.3f} &middot; mean {v.mean():.3f}"
            f" &middot; colours: blue -{self._vmax:g} &hellip; red +{self._vmax:g}"
        )

    def _fill_panel(self) -> None:
        self.matches = predicate_neurons(self.states, self.text, self._predicates, top=3, which=self.which)
        rows = []
        for name, found in self.matches.items():
            buttons = []
            for m in found:
                b = W.Button(description=f"{m.name}  r={m.r:+.2f}", layout=W.Layout(width="170px"),
                             tooltip=f"{name}: Pearson r {m.r:+.3f}")
                b.add_class("nnl-predicate-cell")
                b.on_click(self._guarded(lambda _b, cell=m.cell: self.select(cell)))
                buttons.append(b)
            rows.append(W.HBox([W.Label(name, layout=W.Layout(width="120px"))] + buttons))
        self._panel.children = rows

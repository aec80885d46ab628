"""A recurrent text model's cells shown on the text itself (Karpathy-style)."""
from __future__ import annotations

from typing import Callable, Dict, List, Optional, Sequence

import ipywidgets as W
import numpy as np
import torch
import traitlets

from ..core import CellMatch, TextStates, lstm_states, predicate_neurons, recurrent_layers, recurrent_module
from ..render import lut
from ..render.legend import Scale, fmt
from .base import LensWidget, check_count, check_index, check_number, text
from .examples import Example, TEXT, text_net
from .traits import ChannelTrait, InputTrait, LayerTrait
from .text_view import TOP, ColoredTextView, TextView
from .views import HtmlView

__all__ = ["TextNeuronViewer", "TextView"]


class TextNeuronViewer(LayerTrait, ChannelTrait, InputTrait, LensWidget):
    """The text with each character's background coloured by one cell of a recurrent model.

    - the channel slider (and the predicate panel's buttons) pick the cell of
      the recurrent ``layer``; ``which`` switches between tanh(c) and h;
    - colours: ``[-vmax, vmax]`` (default 1) on a diverging colormap, with a
      colour bar; each character's text is black or white, whichever
      contrasts more with its background (WCAG ratio at least 4.5 in light
      and dark themes); long lines wrap;
    - hovering a character shows its value and the model's top-5 guesses for
      the next character (computed once, shown by the browser);
    - the panel lists, for each predicate (``core.code_predicates`` by
      default), the cells that correlate best with it over this text.

    States come from ``core.lstm_states`` once per layer; choosing a cell
    sends only that cell's per-character values (float32) to the browser.
    ``encode`` defaults to ``model.encode``, ``vocab`` to ``model.vocab``
    (the characters the output logits stand for).

    Traits: ``layer`` (the recurrent module, as in ``named_modules()``),
    ``channel`` (a cell of that layer: ``layer_index * hidden + unit`` for a
    stacked module), ``which`` ("c" | "h"), ``vmax``.
    """

    which = traitlets.Enum(("c", "h"), default_value="c")
    vmax = traitlets.Float(1.0)

    @classmethod
    def small_example(cls) -> Example:
        """A small untrained model (and input) to try the widget on."""
        return Example(text_net(), TEXT, {"layer": "lstm"})

    def __init__(self, model, text: str, *, layer: Optional[str] = None, encode: Optional[Callable] = None,
                 vocab: Optional[Sequence[str]] = None, predicates=None, states: Optional[TextStates] = None,
                 vmax: float = 1.0, cmap: str = "RdBu_r", height_px: int = 360, **kwargs):
        super().__init__(model, **kwargs)
        lut(cmap)  # KeyError naming matplotlib colormaps
        self._cmap = cmap
        self._encode = encode
        self._predicates = predicates
        self._height_px = check_count(height_px, "height_px", 40, 4000)
        self.vmax = vmax
        if states is None:
            states = lstm_states(self._model, text, encode, layer)
        elif not isinstance(states, TextStates) or states.text != text:
            raise ValueError("states must be the TextStates that lstm_states gave for this same text")
        self._layers = recurrent_layers(self._model)
        if layer is None:  # states made by hand may not name their layer
            layer = states.layer if states.layer in self._layers else recurrent_module(self._model)[0]
        elif states.layer in self._layers and states.layer != layer:
            raise ValueError(f"states are for layer {states.layer!r}, not {layer!r}")
        self._set_states(states)
        self.set_trait("layer", layer)
        if states.c is None:
            self.set_trait("which", "h")
        vocab = list(vocab if vocab is not None else getattr(self._model, "vocab", None) or [])
        self.vocab = [str(v) for v in vocab]
        self.add_class("nnl-text-neurons")

        self._text_view = self._view("text", ColoredTextView(text, vocab=self.vocab, height_px=self._height_px,
                                                            css_class="nnl-text-view-widget"))
        self._stats = self._view("stats", HtmlView(css_class="nnl-cell-info"))
        self._layer_dd = W.Dropdown(options=self._layers, description="layer",
                                    layout=W.Layout(width="auto", max_width="100%"))
        self._layer_dd.layout.display = "flex" if len(self._layers) > 1 else "none"
        self._channel_slider = W.IntSlider(description="cell (channel)", min=0, continuous_update=True,
                                           layout=W.Layout(width="460px", max_width="100%"))
        self._channel_slider.add_class("nnl-channel-slider")
        self._which_tb = W.ToggleButtons(style={"button_width": "auto"})
        self._panel = self._control("predicates", W.VBox(layout=W.Layout(max_width="100%")))
        self._panel.add_class("nnl-predicate-panel")
        self._panel_title = W.HTML()

        self._sync_controls()
        self._bind(layer=self._layer_dd, channel=self._channel_slider, which=self._which_tb)
        self._on(self._on_layer, "layer")
        self._on(lambda _c: self._draw(), "channel", "vmax")
        self._on(lambda _c: self._on_which(), "which")
        self._fill_panel()
        self._draw()
        self._keep_input(self.states.text)
        self._finish([W.HBox([self._layer_dd, self._channel_slider, self._which_tb],
                             layout=W.Layout(flex_flow="row wrap", max_width="100%")),
                      self._stats, self._text_view, self._panel_title, self._panel])

    # -- public --------------------------------------------------------
    @property
    def text(self) -> str:
        return self.states.text

    def _load_input(self, text_: str) -> str:
        """Run the model once on a new text (``viewer.input = text``) and show it; returns the text."""
        self._show_states(lstm_states(self._model, text_, self._encode, self.layer))  # validates, may raise
        self._clear_error()
        return self.states.text

    def refresh(self) -> None:
        """Recompute the states (after the model's weights changed, say) and redraw."""
        self.input = self.states.text

    @property
    def cells(self) -> int:
        """How many cells the chosen layer has (all its stacked layers together)."""
        return self._matrix().shape[1]

    @property
    def values(self) -> np.ndarray:
        """The selected cell's value at every character (what the browser colours by), float32."""
        return self._matrix()[:, self.channel]

    @property
    def char_colors(self) -> np.ndarray:
        """(T, 4) RGBA background of every character, as the browser paints it (opaque)."""
        return self._text_view.char_colors

    @property
    def char_text_colors(self) -> np.ndarray:
        """(T, 3) RGB text colour of every character, as the browser paints it (black or white)."""
        return self._text_view.char_text_colors

    @property
    def frame(self) -> np.ndarray:
        """The colouring as a picture: one pixel per character, one row per line (newline included)."""
        return self._text_view.frame

    @property
    def view(self) -> TextView:
        """The browser view of the text (what is sent to it)."""
        return self._text_view.view

    # -- validation -----------------------------------------------------
    def _check_layer(self, value: str) -> str:
        name = value
        if name not in self._layers:
            raise ValueError(f"expected a recurrent layer ({', '.join(repr(n) for n in self._layers)}), got {name!r}")
        return name

    def _check_channel(self, value: int) -> int:
        return check_index(value, self.cells, "a cell (channel)", f" of layer {self.layer!r}")

    @traitlets.validate("which")
    def _valid_which(self, proposal):
        if proposal["value"] == "c" and self.states.c is None:
            raise ValueError(f"a {self.states.kind} has no cell state c; use which='h'")
        return proposal["value"]

    @traitlets.validate("vmax")
    def _valid_vmax(self, proposal):
        v = check_number(proposal["value"], "vmax")
        if v <= 0:
            raise ValueError(f"expected vmax > 0 (the value at the colour bar's ends), got {v}")
        return v

    # -- internals -----------------------------------------------------
    def _set_states(self, states: TextStates) -> None:
        self.states = states
        self._values_cache: Dict[str, np.ndarray] = {}
        self.top_index, self.top_prob = _top_guesses(states.logits)
        self.matches: Dict[str, List[CellMatch]] = {}

    def _matrix(self) -> np.ndarray:
        if self.which not in self._values_cache:
            self._values_cache[self.which] = np.ascontiguousarray(self.states.values(self.which).numpy(),
                                                                  dtype=np.float32)
        return self._values_cache[self.which]

    def _sync_controls(self) -> None:
        has_c = self.states.c is not None
        self._which_tb.options = [("tanh(c)", "c"), ("h", "h")] if has_c else [("h", "h")]
        self._which_tb.tooltips = (["the cell state, squashed to -1..1", "the hidden state (the layer's output)"]
                                   if has_c else ["the hidden state (the layer's output)"])
        with self.hold_trait_notifications():
            if not has_c:
                self.set_trait("which", "h")
            self.set_trait("channel", min(self.channel, self.cells - 1))
        self._channel_slider.max = self.cells - 1
        self._text_view.view.set_tables(self._cmap, self.top_index, self.top_prob)

    def _on_layer(self, change) -> None:
        name, model, text_, encode = change["new"], self._model, self.states.text, self._encode
        if name == self.states.layer:
            return

        def work(_job):
            return lstm_states(model, text_, encode, name)

        def draw(states):
            if self.layer == name and self.states.text == text_:
                self._show_states(states)

        self._run_in_background(work, draw)

    def _show_states(self, states: TextStates) -> None:
        with self._lock:
            self._work.cancel()  # states for the old text or layer must not land
            self._set_states(states)
            self._text_view.view.text = states.text
            self._sync_controls()
            self._fill_panel()
            self._draw()

    def _on_which(self) -> None:
        self._fill_panel()
        self._draw()

    def _draw(self) -> None:
        v = self.values
        what = "tanh(c)" if self.which == "c" else "h"
        name = self.states.cell_name(self.channel)
        where = f"{self.layer} " if self.layer else ""
        scale = Scale(self._cmap, -self.vmax, self.vmax, f"{what} of {name} at each character", middle="0")
        beyond = int(np.sum(np.abs(v) > self.vmax))
        self._text_view.show(
            v, scale=scale, title=f"{where}{name}: {what} over the text",
            caption_html=text(f"{beyond} character(s) beyond ±{fmt(self.vmax)} take the end colours. "
                              "Hover a character for its value and the model's guesses for the next one."
                              if beyond else
                              "Hover a character for its value and the model's guesses for the next one."))
        self._stats.show(
            f"<div style='font-size:12px'><b>{text(where + name)}</b> {what}: min {fmt(v.min())} &middot; "
            f"max {fmt(v.max())} &middot; mean {fmt(v.mean())} over {len(v)} characters</div>")

    def _fill_panel(self) -> None:
        self.matches = predicate_neurons(self.states, self.text, self._predicates, top=3, which=self.which)
        what = "tanh(c)" if self.which == "c" else "h"
        self._panel_title.value = (f"<b>cells whose {what} best follows each property of the text</b> "
                                   "(Pearson r over its characters; click one to show it)")
        for old in self._panel.children:
            for w in getattr(old, "children", ()):
                w.close()
            old.close()
        rows = []
        for name, found in self.matches.items():
            buttons = []
            for m in found:
                b = W.Button(description=f"{m.name}  r={m.r:+.2f}", layout=W.Layout(width="auto"),
                             tooltip=f"{name}: Pearson r {m.r:+.3f}")
                b.add_class("nnl-predicate-cell")
                b.on_click(self._guarded(lambda _b, cell=m.cell: setattr(self, "channel", cell)))
                buttons.append(b)
            label = W.Label(name, layout=W.Layout(min_width="110px"))
            rows.append(W.HBox([label] + buttons, layout=W.Layout(flex_flow="row wrap", max_width="100%")))
        self._panel.children = rows

    def _release(self) -> None:
        self._values_cache = {}
        self.matches = {}

    def _state_caption(self) -> str:
        return f"TextNeuronViewer: {self.states.cell_name(self.channel)}"


def _top_guesses(logits: Optional[torch.Tensor]):
    """Top-5 next-character indices (uint16) and probabilities (float32) per character, or (None, None)."""
    if logits is None:
        return None, None
    k = min(TOP, logits.shape[1])
    prob, index = torch.topk(logits.float().softmax(1), k, dim=1)
    if k < TOP:  # pad so every character has five entries
        prob = torch.cat([prob, prob.new_zeros(len(prob), TOP - k)], 1)
        index = torch.cat([index, index.new_zeros(len(index), TOP - k)], 1)
    return index.numpy().astype(np.uint16), prob.numpy().astype(np.float32)

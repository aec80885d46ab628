"""Where a vision transformer's tokens look: hover a patch, see its attention in every layer and head."""
from __future__ import annotations

from typing import Iterable, Optional

import ipywidgets as W
import numpy as np
import traitlets

from ...core import get_module
from ...render import image_rgba
from ...render.charts import probability_rows_html
from ...render.legend import fmt
from .data import AttentionInput, check_has_attention
from .readouts import AttentionReadouts
from .views import entropy_chart, grid_picture, query_words, show_patch_map
from ..checks import forget
from ..base import LensWidget, check_count, check_index, labels_for, text
from ..examples import Example, attention_net, image
from ..traits import InputTrait, LayerTrait, TargetTrait
from ..target_choices import class_options
from ..views import SELECTED, HtmlView, PictureView, TileGridView, row

__all__ = ["AttentionExplorer"]

PINNED = "#ffffff"  # the pinned patch while another one is hovered: white, apart from the red hover box


class AttentionExplorer(LayerTrait, TargetTrait, InputTrait, LensWidget):
    """Attention maps of a vision transformer for one image.

    - the input: hover a patch to make it the query, click to pin it (the
      query returns there when the mouse leaves); "class token" pins the
      class token again;
    - a layer x head grid of small maps: where the query attends in each
      layer (rows, first layer at the top) and head (columns; the last
      column is the mean over heads); click a tile to pick that layer and head;
    - the chosen layer and head enlarged over the image;
    - where the class token attends in that layer and head;
    - attention rollout (all layers, heads averaged) and Chefer et al.'s
      relevance for ``target``;
    - each head's attention entropy per layer, and the class probabilities.

    Attention is computed once per input: a hover redraws from the cache and
    never runs the model. Replace the input with ``explorer.input = new_x``.

    Traits: ``layer`` (an attention layer's name), ``head`` (an index of that
    layer's heads), ``mean_heads`` (show the mean over heads instead of
    ``head``), ``query`` (a token index: 0 is the class token of a ViT, the
    patches follow row by row), ``target`` (the class the relevance explains),
    ``normalization`` ("shared": one colour range for the grid, "tile": each
    tile its own).
    """

    head = traitlets.Int(0)
    mean_heads = traitlets.Bool(False)
    query = traitlets.Int(0)
    normalization = traitlets.Enum(("shared", "tile"), default_value="shared")

    @classmethod
    def small_example(cls) -> Example:
        """A small untrained model (and input) to try the widget on."""
        return Example(attention_net(), image())

    def __init__(self, model, x, *, labels: Optional[Iterable] = None, preprocess=None, layer: Optional[str] = None,
                 head: Optional[int] = None, target: Optional[int] = None, top_k: int = 5, display_px: int = 192,
                 **kwargs):
        super().__init__(model, **kwargs)
        check_has_attention(self._model)
        self._preprocess = preprocess
        self._top_k = check_count(top_k, "top_k", 1)
        self._data = AttentionInput(self._model, x, preprocess)
        self._readouts = AttentionReadouts(self)  # rows and words for the chosen layer and head
        self._labels = labels_for(labels, len(self._data.probabilities))
        self._pin = 0
        self._hovering = False
        self._query_maps: np.ndarray = np.zeros((0, 0, 0, 0))  # filled by the first draw
        self.add_class("nnl-attention-explorer")

        self._layer_dd = W.Dropdown(description="layer", layout=W.Layout(width="auto", max_width="100%"))
        self._head_slider = W.IntSlider(description="head", min=0, max=0, layout=W.Layout(width="260px"))
        self._mean_cb = W.Checkbox(description="mean over heads", indent=False, layout=W.Layout(width="auto"))
        self._target_dd = W.Dropdown(description="relevance for", layout=W.Layout(width="auto", max_width="100%"))
        self._norm_tb = W.ToggleButtons(options=[("one range", "shared"), ("each tile", "tile")],
                                        tooltips=["one colour range for every tile", "each tile its own range"],
                                        description="grid colours", style={"button_width": "auto"})
        self._class_button = self._control("class_token", W.Button(description="query: class token",
                                                                   layout=W.Layout(width="auto")))
        self._class_button.on_click(self._guarded(lambda _b: self._pin_query(0)))

        def picture(name, title, px, css, cls=PictureView, **options):
            view = self._view(name, cls(title, display_px=px, css_class=f"nnl-attention-{css}", **options))
            view.caption.layout.max_width = "260px"  # long captions wrap instead of widening the row
            return view

        px, small = check_count(display_px, "display_px", 32, 2048), display_px * 3 // 4
        self._input_view = picture("input", "input", px, "input", track_moves=True, plain_rgb=True)
        self._grid_view = picture("grid", "", 4 * px // 3, "grid", cls=TileGridView)
        self._detail_view = picture("detail", "", px, "detail")
        self._cls_view = picture("class_token", "", small, "cls")
        self._rollout_view = picture("rollout", "", small, "rollout")
        self._relevance_view = picture("relevance", "", small, "relevance")
        self._entropy_view = self._view("entropy", HtmlView(css_class="nnl-entropy"))
        self._probs_view = self._view("probabilities", HtmlView(css_class="nnl-probs"))

        with self.hold_trait_notifications():
            self.set_trait("layer", self._data.names[0] if layer is None else layer)
            self.set_trait("head", 0 if head is None else head)
            self.set_trait("target", int(self._data.probabilities.argmax()) if target is None else target)
        self._fill_options()
        self._draw_all()
        self._bind(layer=self._layer_dd, head=self._head_slider, mean_heads=self._mean_cb, target=self._target_dd,
                   normalization=self._norm_tb)
        self._on(self._on_layer, "layer")
        self._on(self._on_head, "head", "mean_heads")
        self._on(self._on_query, "query")
        self._on(self._on_target, "target")
        self._on(lambda _c: self._draw_grid(), "normalization")
        self._input_view.canvas.on_move(self._guarded(self._moved))
        self._input_view.canvas.on_click(self._guarded(self._clicked))
        self._grid_view.on_pick(self._guarded(self._picked))

        self._keep_input(self._data.x)
        self._finish([
            row(self._layer_dd, self._head_slider, self._mean_cb),
            row(self._class_button, self._norm_tb, self._target_dd),
            row(self._input_view, self._grid_view, self._detail_view),
            row(self._cls_view, self._rollout_view, self._relevance_view),
            row(self._entropy_view, self._probs_view),
        ])

    # -- public --------------------------------------------------------
    @property
    def model(self):
        return self._model

    def _load_input(self, x):
        """Check, prepare and show a new input (``widget.input = x``); returns the batch kept as ``input``."""
        data = AttentionInput(self._model, x, self._preprocess)  # validates, may raise
        with self._lock:
            self._work.cancel()  # a relevance for the old input must not land
            self._data.clear()
            self._data = data
            self._pin = min(self._pin, data.tokens - 1)
            with self.hold_trait_notifications():
                self.set_trait("query", self._pin)
            self._clear_error()
            self._fill_options()
            self._draw_all()
        return self._data.x

    @property
    def frame(self) -> Optional[np.ndarray]:
        """The layer x head grid as drawn, one pixel per patch, (H, W, 4) uint8."""
        return self._grid_view.frame

    def tile_rect(self, layer: str, head: Optional[int] = None):
        """(x, y, w, h) in grid pixels of ``layer``'s tile for ``head`` (None: the mean column)."""
        col = self._data.max_heads if head is None else head
        return self._grid_view.tile_rect(self._data.names.index(layer) * (self._data.max_heads + 1) + col)


    # -- what it shows, as arrays (read-only) ----------------------------
    layers = property(lambda self: list(self._data.names), doc="The attention layers' names, first to last.")
    heads = property(lambda self: self._data.heads[self.layer], doc="Number of heads of the chosen layer.")
    tokens = property(lambda self: self._data.tokens, doc="Number of tokens (prefix tokens, then patches).")
    grid = property(lambda self: self._data.grid, doc="The ``core.TokenGrid`` (patch rows and columns, prefix tokens).")
    attention = property(lambda self: dict(self._data.maps),
                         doc="Every layer's attention probabilities (heads, T, T) as numpy, from the one cached pass.")
    query_maps = property(lambda self: self._query_maps.copy(),
                          doc="The grid's values: (layers, heads + 1, h, w) attention of ``query`` over the patches "
                              "(last column: the mean over heads).")
    selected_map = property(lambda self: self._data.patch_part(self._readouts.row(self.query)),
                            doc="The enlarged map's values: the query's attention over the patches, (h, w).")
    class_token_map = property(lambda self: self._data.patch_part(self._readouts.row(0 if self._data.prefix else None)),
                               doc="Where the class token attends in layer/head (h, w) (none: every token's mean).")
    rollout = property(lambda self: self._data.rollout.copy(), doc="Attention rollout over the patches (h, w).")
    relevance = property(lambda self: self._data.relevance(self.target) if self._data.has_relevance(self.target)
                         else None, doc="Chefer et al.'s relevance of ``target`` over the patches (h, w), once computed.")
    entropy = property(lambda self: dict(self._data.entropy),
                       doc="Mean attention entropy in bits, per layer: an array with one value per head.")
    pinned_query = property(lambda self: self._pin, doc="The token the query returns to when the mouse leaves the image.")
    forward_passes = property(lambda self: self._data.forward_passes,
                              doc="Forward passes the cache took for this input (relevance passes not counted).")

    # -- validation -----------------------------------------------------
    def _check_layer(self, value: str) -> str:
        name = value
        if name not in self._data.maps:
            get_module(self._model, name)  # no such module: a KeyError naming the closest
            raise ValueError(f"expected an attention layer, one of {self._data.names}; got {name!r}")
        return name

    @traitlets.validate("head")
    def _valid_head(self, proposal):
        heads = self._data.heads.get(self.layer, self._data.max_heads)
        return check_index(proposal["value"], heads, "a head", f" of layer {self.layer!r}")

    @traitlets.validate("query")
    def _valid_query(self, proposal):
        return check_index(proposal["value"], self._data.tokens, "a query token",
                           f" ({self._data.grid.label()}; 0 is the first token)")

    def _check_target(self, value: int) -> int:
        return check_index(value, len(self._data.probabilities), "a target class")

    # -- reacting ------------------------------------------------------
    def _moved(self, x, y) -> None:
        token = None if x is None else self._data.token_at(x, y)
        token = self._pin if token is None else token
        if token != self.query:
            self._hovering = True
            try:
                self.query = token
            finally:
                self._hovering = False

    def _clicked(self, x, y, _event) -> None:
        token = self._data.token_at(x, y)
        if token is not None:
            self._pin_query(token)

    def _pin_query(self, token: int) -> None:
        self.query = token
        self._pin = token
        self._draw_marks()

    def _picked(self, index: int) -> None:
        layer_index, col = divmod(index, self._data.max_heads + 1)
        layer = self._data.names[layer_index]
        with self.hold_trait_notifications():
            self.layer = layer
            if col < self._data.heads[layer]:
                self.head, self.mean_heads = col, False
            elif col == self._data.max_heads:
                self.mean_heads = True

    def _on_layer(self, _change) -> None:
        heads = self._data.heads[self.layer]
        self._head_slider.max = heads - 1
        if self.head >= heads:
            self.head = heads - 1
        self._draw_layer_views()

    def _on_head(self, _change) -> None:
        self._draw_layer_views()

    def _on_query(self, change) -> None:
        if not self._hovering:
            self._pin = change["new"]
        self._draw_query_views()

    def _on_target(self, _change) -> None:
        data, target = self._data, self.target
        self._fill_target_options()
        self._draw_probabilities()
        if data.has_relevance(target):
            self._draw_relevance()
            return
        self._relevance_view.set_caption("computing...")

        def draw(_value):
            if data is self._data and self.target == target:
                self._draw_relevance()

        self._run_in_background(lambda _job: data.relevance(target), draw)

    # -- drawing (never runs the model, except the relevance) ----------
    def _fill_options(self) -> None:
        data = self._data
        self._layer_dd.options = [(f"{n} ({data.heads[n]} heads)", n) for n in data.names]
        self._head_slider.max = data.heads[self.layer] - 1
        self._fill_target_options()

    def _fill_target_options(self) -> None:
        options = class_options(self._data.probabilities, self._labels, self._top_k, keep=[self.target])
        if list(self._target_dd.options) != options:
            self._target_dd.options = options

    def _draw_all(self) -> None:
        self._draw_input()
        self._draw_query_views()
        self._draw_class_token()
        self._draw_rollout()
        self._draw_relevance()
        self._draw_entropy()
        self._draw_probabilities()

    def _draw_layer_views(self) -> None:
        self._draw_detail()
        self._draw_class_token()
        self._draw_grid_selection()
        self._draw_entropy()

    def _draw_query_views(self) -> None:
        self._query_maps, self._present = self._data.query_maps(self.query)
        self._draw_grid()
        self._draw_detail()
        self._draw_marks()

    def _draw_input(self) -> None:
        self._photo = image_rgba(self._data.x[0].detach().cpu().numpy())
        self._input_view.show(self._photo, title="input: hover a patch, click to pin")

    def _draw_marks(self) -> None:
        h, w = self._data.image_size
        self._input_view.set_caption(text(f"{w}x{h} px, {self._data.grid.label()}") + "<br>"
                                     + text("query: " + query_words(self._data, self.query)))
        marks = []
        for token, color in ((self._pin, PINNED), (self.query, SELECTED)):
            rect = self._data.patch_rect(token)
            if rect is not None and (color == SELECTED or token != self.query):
                marks.append(dict(x=rect[0], y=rect[1], w=rect[2], h=rect[3], color=color, width=2))
        self._input_view.canvas.marks = marks

    def _draw_grid(self) -> None:
        rgba, layout, legend = grid_picture(self._query_maps, self._present, self.normalization)
        rows, heads = len(self._data.names), self._data.max_heads
        self._grid_view.show_tiles(
            rgba, layout, title="where the query attends",
            legend=legend, caption=text(f"rows: {rows} layers, the first at the top") + "<br>"
            + text(f"columns: heads 0..{heads - 1}, then their mean") + "<br>"
            + text(f"query: {query_words(self._data, self.query)}"))
        self._draw_grid_selection()

    def _draw_grid_selection(self) -> None:
        self._grid_view.select(self._data.names.index(self.layer) * (self._data.max_heads + 1)
                               + (self._data.max_heads if self.mean_heads else self.head))

    def _draw_detail(self) -> None:
        row_ = self._readouts.row(self.query)
        note = (f"<br>{100 * float(row_[:self._data.prefix].sum()):.1f}% of it goes to the class token"
                if self._data.prefix else "")
        show_patch_map(self._detail_view, self._photo, self._data.patch_part(row_),
                       title=f"{self._readouts.layer_words()}, {self._readouts.heads_words()}",
                       meaning="attention probability (query to patch)",
                       caption=text(f"query: {query_words(self._data, self.query)}") + note + "<br>" + self._readouts.name_html())

    def _draw_class_token(self) -> None:
        show_patch_map(self._cls_view, self._photo, self.class_token_map,
                       title="where the class token attends" if self._data.prefix else "mean attention of every token",
                       meaning="attention probability",
                       caption=text(f"{self._readouts.layer_words()}, {self._readouts.heads_words()}") + "<br>" + self._readouts.name_html())

    def _draw_rollout(self) -> None:
        show_patch_map(self._rollout_view, self._photo, self._data.rollout, title="attention rollout",
                       meaning="rolled-out attention to the class token",
                       caption="all layers, heads averaged<br>the same for every class")

    def _draw_relevance(self) -> None:
        name = self._labels[self.target]
        show_patch_map(self._relevance_view, self._photo, self._data.relevance(self.target),  # first: at once
                       title=f"relevance for {name} (Chefer et al.)",
                       meaning=f"relevance to the class token for {name}",
                       caption=text("gradient-weighted attention") + "<br>"
                       + text(f"P({name}) = {fmt(self._data.probabilities[self.target])}"))

    def _draw_entropy(self) -> None:
        self._entropy_view.show(entropy_chart(self._data, self.layer),
                                title="attention entropy per layer (mean over queries)")

    def _draw_probabilities(self) -> None:
        p = self._data.probabilities
        order = [int(i) for i in np.argsort(-p, kind="stable")[:self._top_k]]
        self._probs_view.show(probability_rows_html([self._labels[i] for i in order], p[order], indices=order,
                                                    highlight=self.target, title="class probabilities"))

    def _release(self) -> None:
        self._data.clear()
        forget(self, "_query_maps", "_present", "_photo")

    def _state_caption(self) -> str:
        return (f"AttentionExplorer: {self.layer}, {self._readouts.heads_words()}, "
                f"query {query_words(self._data, self.query)}")

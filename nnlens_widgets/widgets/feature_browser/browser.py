"""A page per sparse-autoencoder feature: top images with the firing patch, switching it off, what drives it."""
from __future__ import annotations

from collections import OrderedDict
from pathlib import Path
from typing import List, Optional, Tuple, Union

import ipywidgets as W
import torch
import traitlets

from ...core import class_probabilities
from ...core.sae import FACTS_FILE, FeatureFacts, SparseAutoencoder, feature_facts, train_sae
from ...core.sae.ablation import _check_layer as check_sae_layer, model_inputs
from ..base import LensWidget, check_count, check_index, check_number, labels_for
from ..data_views import DataView
from ..examples import Example, image_net, images
from ..traits import InputTrait, LayerTrait
from ..views import row
from .charts import percent
from .page_views import FeaturePage
from .page_work import InputLook, SwitchOff, facts_for, look_at_input, switch_off

__all__ = ["FeatureBrowser", "FACTS_FILE", "ORDERS"]

ORDERS = {"frequency": "most frequent first", "rarity": "rarest first", "number": "feature number"}
LISTED = 200  # features offered in the list at once (the feature box reaches every one)
CACHED_PAGES = 64  # pages of model results kept (a few kilobytes each)


class FeatureBrowser(LayerTrait, InputTrait, LensWidget):
    """Every feature of a sparse autoencoder, one page at a time, over a data set.

    - a list of features, sorted by how often they fire (``order``) and
      filtered to those whose images the model mostly predicts as one class
      (``fires_on``; -1: any; at least ``min_share`` of the images it
      fires on), and a box to type any feature number;
    - the feature's top data images (an image's value is the feature's
      maximum over positions), the patch where it peaks outlined;
    - for one image (the top one, a clicked one, or ``browser.input = x``):
      where the feature fires and the input pixels that drive it (its
      gradient);
    - the mean class probabilities of its top images with the feature
      switched off (``core.sae_ablate``) against the model as it is;
    - its activation histogram, where it sits among all features' densities,
      and the layer channels its encoder reads most.

    The per-feature facts come from ``core.feature_facts`` over ``data``
    (scanned in the background when ``facts`` is not given), or from a
    finished scan (``facts=`` a ``FeatureFacts``, its file, or the scan's
    folder). Picking a feature draws what the facts know at once; the model
    work (switching off, the gradient) runs in the background, latest wins.

    Traits: ``layer`` (the autoencoder's), ``input`` (the image in the input
    panels: the picked top image, or one assigned), ``feature``, ``order``,
    ``fires_on``.
    """

    _frame_view = "_examples_view"
    fixed_traits = ("layer",)

    feature = traitlets.Int(0)
    order = traitlets.Unicode("frequency")
    fires_on = traitlets.Int(-1)

    @classmethod
    def small_example(cls) -> Example:
        """A small untrained model, an autoencoder of its ``relu2`` and a few images to try the widget on."""
        model = image_net()
        sae = train_sae(model, "relu2", images(8), features=16, k=2, steps=2, seed=0)
        return Example(model, sae, {"data": images(12)})

    def __init__(self, model, sae: SparseAutoencoder, data, *, layer: Optional[str] = None,
                 facts: Union[FeatureFacts, str, Path, None] = None, labels=None, feature: Optional[int] = None,
                 order: str = "frequency", fires_on: int = -1, min_share: float = 0.5, n_top: int = 12, batch_size: int = 64,
                 examples_px: int = 320, picture_px: int = 176, **kwargs):
        super().__init__(model, **kwargs)
        check_sae_layer(sae, self._model, layer)
        self._sae = sae
        self._data = DataView(data)
        shape = tuple(sae.positions.shape)
        self._n_top = check_count(n_top, "n_top", 1, 100)
        self._batch_size = check_count(batch_size, "batch_size", 1, 65536)
        self._min_share = check_number(min_share, "min_share", 0.0, 1.0)
        probs = class_probabilities(self._model, model_inputs(self._model, self._data.images([0])))
        self._names = labels_for(labels, probs.shape[1]) if probs.ndim == 2 else []
        self._facts: Optional[FeatureFacts] = None if facts is None else facts_for(self._sae, facts, len(self._data))
        self._pages: "OrderedDict[int, Optional[SwitchOff]]" = OrderedDict()
        self._looks: "OrderedDict[tuple, InputLook]" = OrderedDict()
        self._given: Optional[torch.Tensor] = None  # an input set by the user (else a top image)
        self._chosen_rank = 0
        self._kept: tuple = ()  # the look key of the top image last kept as ``input``
        self._listed_options: Optional[List[Tuple[str, int]]] = None  # the list's entries (order, fires_on)
        self._what = "token feature" if sae.positions.kind == "tokens" else "channel"
        self._layer_shape = shape
        self.add_class("nnl-feature-browser")
        self.set_trait("layer", sae.layer)
        self.order = order
        self.fires_on = fires_on
        self._feature_given = feature is not None
        self.feature = self._first_feature() if feature is None else feature
        self._build(examples_px, picture_px)
        if self._facts is None:
            self._scan()
        else:
            self._show_page()

    def _build(self, examples_px: int, picture_px: int) -> None:
        auto = W.Layout(width="auto", max_width="100%")
        self._list = W.Dropdown(description="feature list", layout=W.Layout(width="340px", max_width="100%"))
        self._list.add_class("nnl-feature-list")
        self._list.observe(self._guarded(self._on_list), "value")
        box = W.BoundedIntText(description="feature", min=0, max=self._sae.features - 1,
                               layout=W.Layout(width="170px"))
        box.add_class("nnl-feature-box")
        classes = [("any class", -1)] + [(name, i) for i, name in enumerate(self._names)]
        self._bind(feature=box, order=W.Dropdown(description="sort", options=[(v, k) for k, v in ORDERS.items()],
                                                 layout=auto),
                   fires_on=W.Dropdown(description="fires on (predicted)", options=classes, layout=auto))
        self._control("list", self._list)
        self._page = FeaturePage(self._view, examples_px, picture_px)
        self._examples_view = self._page.examples
        self._examples_view.on_pick(self._guarded(self._pick_example))
        self._on(self._on_feature, "feature")
        self._on(self._on_listing, "order", "fires_on")
        c = self.controls
        self._finish([row(self._list, c["feature"], c["order"], c["fires_on"])] + self._page.layout())

    # -- public --------------------------------------------------------
    @property
    def sae(self) -> SparseAutoencoder:
        return self._sae

    @property
    def facts(self) -> Optional[FeatureFacts]:
        """The per-feature facts shown (None while the data scan runs)."""
        return self._facts

    @property
    def features(self) -> int:
        return self._sae.features

    def _top_input(self) -> Optional[torch.Tensor]:
        """The image (1, C, H, W) in the input panels: one assigned to ``input``, else the picked top image."""
        if self._given is not None:
            return self._given
        indices = self.top_examples(self.feature)
        if not indices:
            return None
        rank = min(self._chosen_rank, len(indices) - 1)
        return self._data.images([indices[rank]])

    def _load_input(self, x) -> torch.Tensor:
        """``browser.input = x``: the input panels look at ``x`` (one image) until a top image is picked."""
        if x is None:
            raise ValueError("expected an image (1, C, H, W) or (C, H, W) for the input panels, got None")
        xb = model_inputs(self._model, x)
        if xb.shape[0] != 1:
            raise ValueError(f"expected one input image, got a batch of {xb.shape[0]}")
        with self._lock:
            self._given = xb
            self._show_page(xb)
        return xb

    def switched_off(self, feature: Optional[int] = None):
        """``SwitchOff`` (mean class probabilities of the top images, before and after) once computed, else None."""
        return self._pages.get(self.feature if feature is None else int(feature))

    def input_look(self):
        """``InputLook`` of the current feature on ``input`` (where it fires, its gradient) once computed."""
        return self._looks.get(self._look_key())

    def _look_key(self) -> tuple:
        f = self.feature
        if self._given is not None:
            return (f, "given", id(self._given))
        n = len(self.top_examples(f))
        return (f, "top", min(self._chosen_rank, n - 1) if n else None)

    def top_examples(self, feature: Optional[int] = None) -> List[int]:
        """Data indices of the feature's top images, best first (an image counts with its peak over positions)."""
        if self._facts is None:
            return []
        f = self.feature if feature is None else check_index(feature, self.features, "a feature")
        return [int(i) for i in self._facts.top(f)[0]]

    def listed(self) -> List[int]:
        """The features that pass ``fires_on``, in ``order`` (all of them, not only those in the list)."""
        if self._facts is None:
            return []
        facts = self._facts
        if self.order == "number":
            ordered = torch.arange(self.features)
        else:
            ordered = facts.by_frequency(descending=self.order == "frequency")
        if self.fires_on >= 0 and facts.classes:
            keep = set(facts.fires_on_class(self.fires_on, by="predicted", min_share=self._min_share).tolist())
            ordered = torch.tensor([f for f in ordered.tolist() if f in keep], dtype=torch.long)
        return ordered.tolist()

    @property
    def warnings(self) -> Tuple[str, ...]:
        """What the page cannot show, as plain sentences (also in the view and exports)."""
        if self._facts is None:
            return ()
        out = []
        dead = int((self._facts.image_counts == 0).sum())
        if dead:
            out.append(f"{dead} of {self.features} features never fire on the {self._facts.count} images scanned")
        if int(self._facts.image_counts[self.feature]) == 0:
            out.append(f"feature {self.feature} never fires on the data: it has no top images")
        return tuple(out)

    def refresh(self) -> None:
        """Redo the current feature's model work (switching off, the gradient)."""
        self._pages.pop(self.feature, None)
        for key in [k for k in self._looks if k[0] == self.feature]:
            self._looks.pop(key)
        self._show_page()

    # -- validation -----------------------------------------------------
    def _check_layer(self, value: str) -> str:
        if value != self._sae.layer:
            raise ValueError(f"the autoencoder reads layer {self._sae.layer!r}; the browser shows only that layer, "
                             f"not {value!r}")
        return value

    @traitlets.validate("feature")
    def _valid_feature(self, proposal):
        return check_index(proposal["value"], self._sae.features, "a feature",
                           f" of the autoencoder ({self._sae.features} features)")

    @traitlets.validate("order")
    def _valid_order(self, proposal):
        if proposal["value"] not in ORDERS:
            raise ValueError(f"expected order in {tuple(ORDERS)}, got {proposal['value']!r}")
        return proposal["value"]

    @traitlets.validate("fires_on")
    def _valid_fires_on(self, proposal):
        v = proposal["value"]
        return -1 if v == -1 else check_index(v, max(1, len(self._names)), "a class (or -1 for any)")

    # -- reacting -------------------------------------------------------
    def _first_feature(self) -> int:
        """The first feature of the listing that fires on the data (the first listed if none does)."""
        listed = self.listed()
        live = [f for f in listed if int(self._facts.image_counts[f]) > 0] if self._facts is not None else []
        return live[0] if live else listed[0] if listed else 0

    def _fill_list(self) -> None:
        """Build the list's entries for the current ``order`` and ``fires_on`` (not on every page)."""
        facts, shown = self._facts, self.listed()
        assert facts is not None  # called once the facts are there
        density = facts.density("images")
        self._listed_options = [(f"{f}: fires on {percent(float(density[f]))} of images", f)
                                for f in shown[:LISTED]]
        more = len(shown) - min(len(shown), LISTED)
        self._list.description = f"feature list ({len(shown)}{', first ' + str(LISTED) if more else ''})"
        self._sync_list()

    def _sync_list(self) -> None:
        """Show the current feature in the list, as an extra entry when the list does not hold it."""
        options: List[Tuple[str, int]] = list(self._listed_options or [])
        if all(v != self.feature for _, v in options):
            options.append((f"{self.feature} (not in this list)", self.feature))
        self._echo = True
        try:
            if list(self._list.options) != options:
                self._list.options = options
            self._list.value = self.feature
        finally:
            self._echo = False

    def _on_list(self, change) -> None:
        if not self._echo and change["new"] is not None and change["new"] != self.feature:
            self.feature = change["new"]

    def _on_listing(self, _change) -> None:
        if self._facts is not None:
            self._fill_list()

    def _on_feature(self, _change) -> None:
        self._chosen_rank = 0
        self._show_page()

    def _pick_example(self, rank: int) -> None:
        self._given = None
        self._chosen_rank = int(rank)
        self._show_page()

    # -- the page -------------------------------------------------------
    def _scan(self) -> None:
        data, n = self._data, len(self._data)
        for view in (self._page.examples, self._page.fires, self._page.drives):
            view.set_caption(f"scanning {n} images for {self.features} features…")

        def work(job):
            job.progress(0.0, f"scanning {n} images for {self.features} features")
            return feature_facts(self._model, self._sae, data.data, n_top=self._n_top, batch_size=self._batch_size,
                                 progress=job.progress, should_stop=lambda: job.cancelled)

        def draw(facts):
            self._facts = facts
            if not self._feature_given:
                self.feature = self._first_feature()  # the listing's first live feature, as with given facts
            self._show_page()

        self._run_in_background(work, draw)

    def _show_page(self, given: Optional[torch.Tensor] = None) -> None:
        """Draw what the facts know at once; run the model work the page still lacks in the background.

        ``given``: an input being assigned (``input`` takes it once this returns);
        otherwise a picked top image becomes ``input`` here.
        """
        facts = self._facts
        if facts is None:
            return
        f = self.feature
        if self._listed_options is None:
            self._fill_list()
        else:
            self._sync_list()
        indices = self.top_examples(f)
        images = self._data.images(indices) if indices else torch.zeros(0)
        chosen = None if self._given is not None or not indices else min(self._chosen_rank, len(indices) - 1)
        rank = self.listed_rank(f)
        self._page.draw_facts(facts, f, rank, self._names, images, chosen, self.warnings)
        self._page.draw_channels(self._sae, f, self._what)
        x = self._top_input()
        if given is None and x is not None and self._given is None and self._kept != self._look_key():
            self._kept = self._look_key()
            self._keep_input(x)  # the picked top image is what the input panels (and linked widgets) look at
        where = "the given input" if self._given is not None else (
            f"top image {chosen + 1} (data image {indices[chosen]})" if chosen is not None else "")
        look_key = self._look_key()
        page, look = self._pages.get(f), self._looks.get(look_key)
        peak = float(facts.top_values[f, 0]) if indices else 0.0
        if page is not None:
            self._page.draw_switch(page, f, self._names or [])
        else:
            self._page.switch.show("<div class='nnl-caption'>switching it off…</div>", title="switched off")
        if x is None:
            self._page.draw_blank_input(facts.input_shape, f"feature {f} fires on no image: nothing to show")
        elif look is not None:
            self._page.draw_input(x, look, f, peak, where)
        if page is not None and (look is not None or x is None):
            self._work.cancel()  # nothing older may draw over what is shown
            return

        def work(job):
            got_page = page if page is not None else switch_off(self._model, self._sae, images, f)
            job.check()
            got_look = look if look is not None or x is None else look_at_input(self._model, self._sae, x, f)
            return got_page, got_look

        def draw(result):
            got_page, got_look = result
            self._remember(self._pages, f, got_page)
            if got_look is not None:
                self._remember(self._looks, look_key, got_look)
            if self.feature == f:
                self._page.draw_switch(got_page, f, self._names or [])
                if got_look is not None and x is not None:
                    self._page.draw_input(x, got_look, f, peak, where)

        self._run_in_background(work, draw)

    def listed_rank(self, feature: int) -> int:
        """The feature's place by firing frequency (0: the most frequent)."""
        if self._facts is None:
            return 0
        order = self._facts.by_frequency()
        return int((order == int(feature)).nonzero()[0, 0])

    @staticmethod
    def _remember(cache: "OrderedDict", key, value) -> None:
        cache[key] = value
        cache.move_to_end(key)
        while len(cache) > CACHED_PAGES:
            cache.popitem(last=False)

    def _release(self) -> None:
        self._pages.clear()
        self._looks.clear()
        self._facts = None
        self._given = None
        self._listed_options = None

    def _state_caption(self) -> str:
        return f"FeatureBrowser: {self.layer}, feature {self.feature} of {self.features}"


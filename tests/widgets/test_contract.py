"""The widget contract, checked on every exported widget (found from ``nl.widgets.__all__``).

A widget added to ``__all__`` is tested here without a line of test code: it
is built from its own ``small_example()``; every trait it adds refuses bad
values clearly and keeps the old one; ``close()`` frees it; the model stays
bit-identical with no hook left; any two widgets sharing ``layer``,
``channel``, ``target`` or ``input`` link by it; it displays as a PNG and
saves one self-contained page.
"""
from __future__ import annotations

import itertools
import math
import re
import threading
from typing import Any, Dict, List, Tuple

import ipywidgets as W
import pytest
import torch
import traitlets

import nnlens_widgets as nl
from nnlens_widgets.core import ModelSnapshot, hook_count
from nnlens_widgets.widgets.base import LensWidget
from nnlens_widgets.widgets.traits import SHARED_TRAITS
from tests.widgets.freeing import assert_freed, closed

WIDGET_CLASSES = [c for c in (getattr(nl.widgets, n) for n in nl.widgets.__all__)
                  if isinstance(c, type) and issubclass(c, LensWidget) and c is not LensWidget]
NAMES = [c.__name__ for c in WIDGET_CLASSES]
MARKUP = "<b>no such</b>"
REFUSED = (ValueError, KeyError, TypeError, traitlets.TraitError)


def own_traits(w) -> List[str]:
    return sorted(set(w.trait_names()) - set(W.VBox.class_trait_names()))


class Built:
    """One widget of each class, built on first use; widgets whose examples use the same kind of model share one."""

    def __init__(self) -> None:
        self.models: Dict[type, torch.nn.Module] = {}
        self.widgets: Dict[type, Tuple[Any, Any]] = {}

    def __call__(self, cls):
        if cls not in self.widgets:
            example = cls.small_example()
            if example.model is not None:
                model = self.models.setdefault(type(example.model), example.model)
                example = type(example)(model, example.input, example.options)
            w = example.build(cls)
            assert w.wait(60) and w.error is None, f"{cls.__name__} failed on its example: {w.error}"
            self.widgets[cls] = (w, example)
        return self.widgets[cls]

    def close(self) -> None:
        for w, _ in self.widgets.values():
            w.close()


@pytest.fixture(scope="module")
def built():
    widgets = Built()
    yield widgets
    widgets.close()


def untouched(model) -> Tuple[ModelSnapshot, Any]:
    return ModelSnapshot.of(model), model


def assert_untouched(snapshot) -> None:
    snap, model = snapshot
    assert ModelSnapshot.of(model).differences(snap) == {} and hook_count(model) == 0


def test_every_exported_widget_is_found():
    assert {"Lens", "AttentionExplorer", "ActivationGrid", "Playground"} <= set(NAMES)
    assert len(NAMES) >= 14


# -- bad values ---------------------------------------------------------
def bad_values(w, name: str) -> List[Any]:
    """Values no widget may keep for trait ``name``: wrong types, and out of range (refused, or clipped into it)."""
    trait = w.traits()[name]
    if name == "layer":
        return [MARKUP, 3]
    if name in ("channel", "target"):
        return [-1, 10**6, math.nan, "1"]
    if name == "input" and isinstance(w.input, str):
        return ["", 3, None]
    if name == "input":
        return ["not an input", torch.zeros(1, 1, 1, 1), None]
    if isinstance(trait, traitlets.Bool):
        return ["yes", None]
    if isinstance(trait, traitlets.Int):
        return [math.nan, "1", 2**62]
    if isinstance(trait, traitlets.Float):
        return [math.nan, math.inf, "1"]
    if isinstance(trait, (traitlets.Unicode, traitlets.Enum)):
        return [MARKUP, 3]
    if isinstance(trait, traitlets.Container):
        return [[MARKUP], 3]
    if isinstance(trait, traitlets.Dict):
        return [{MARKUP: 1}, 3]
    return [MARKUP, math.nan]


def same(a, b) -> bool:
    if isinstance(a, torch.Tensor) or isinstance(b, torch.Tensor):
        return a is b
    return a == b or (isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b))


@pytest.mark.parametrize("cls", WIDGET_CLASSES, ids=NAMES)
def test_every_trait_refuses_bad_values_clearly_and_keeps_the_old_one(built, cls):
    w, example = built(cls)
    snapshot = untouched(w.model) if w.model is not None else None
    problems = []
    for name in own_traits(w):
        for bad in bad_values(w, name):
            old = getattr(w, name)
            control = w.controls.get(name)
            shown = getattr(control, "value", None)
            try:
                setattr(w, name, bad)
            except REFUSED as exc:
                if len(str(exc)) < 10:
                    problems.append(f"{name} = {bad!r}: {str(exc)!r} says nothing")
            else:  # taken: only as a value brought into range (a count clipped to the classes there are)
                if same(getattr(w, name), bad) or isinstance(bad, str):
                    problems.append(f"{name} took {bad!r}")
                setattr(w, name, old)
                continue
            if not same(getattr(w, name), old):
                problems.append(f"{name} changed after refusing {bad!r}")
            if control is not None and not same(control.value, shown):
                problems.append(f"the {name} control moved after refusing {bad!r}")
    assert problems == []
    assert w.wait(30) and w.error is None
    if snapshot is not None:
        assert_untouched(snapshot)


# -- closing -----------------------------------------------------------
@pytest.mark.parametrize("cls", WIDGET_CLASSES, ids=NAMES)
def test_close_frees_the_widget_and_its_worker_and_leaves_the_model_unchanged(cls):
    threads = set(threading.enumerate())
    example = cls.small_example()
    snapshot = untouched(example.model) if example.model is not None else None
    w = example.build(cls)
    w.refresh()
    assert w.wait(60)
    ref = closed(w)
    assert w.model is None and not w.views
    del w
    assert_freed(ref, threads)
    if snapshot is not None:
        assert_untouched(snapshot)


# -- linking ------------------------------------------------------------
def candidates(w, example, name: str) -> List[Any]:
    """Values to try for a shared trait (each widget accepts some of them)."""
    if name == "layer":
        return [n for n, _ in w.model.named_modules() if n]
    if name in ("channel", "target"):
        return [0, 1, 2]
    x = example.input if isinstance(example.input, (torch.Tensor, str)) else w.input  # e.g. a FeatureBrowser's top image
    return [x.flip(-1), x * 0.5] if isinstance(x, torch.Tensor) else [x + "x = 1\n", x[: len(x) // 2]]


def accepts(w, name: str, value) -> bool:
    try:
        setattr(w, name, value)
    except REFUSED:
        return False
    return w.wait(30) and w.error is None


def equal(a, b) -> bool:
    if isinstance(a, torch.Tensor):
        return isinstance(b, torch.Tensor) and torch.equal(a, b)
    return a == b


def linkable_pairs():
    """(class a, class b, trait) for every shared trait two classes have on one kind of model and input
    (a class with no such partner is linked to a second widget of its own class)."""
    pairs = []
    for a, b in itertools.combinations_with_replacement(WIDGET_CLASSES, 2):
        ea, eb = a.small_example(), b.small_example()
        for name in SHARED_TRAITS:
            if not (a.class_traits().get(name) and b.class_traits().get(name)):
                continue
            if name in a.fixed_traits or name in b.fixed_traits:
                continue  # one value for the widget's life: see test_a_fixed_trait_refuses_any_other_value
            if name == "input":
                fits = type(ea.input) is type(eb.input) and getattr(ea.input, "shape", 0) == getattr(eb.input, "shape", 0)
            else:
                fits = type(ea.model) is type(eb.model)
            if fits:
                pairs.append((a, b, name))
    # a widget linked to another class by a trait needs no second copy of itself linked by it
    partnered = {(c, n) for a, b, n in pairs if a is not b for c in (a, b)}
    return [(a, b, n) for a, b, n in pairs if a is not b or (a, n) not in partnered]


PAIRS = linkable_pairs()


@pytest.mark.parametrize("a, b, name", PAIRS, ids=[f"{a.__name__}-{b.__name__}-{n}" for a, b, n in PAIRS])
def test_two_widgets_link_by_a_shared_trait(built, a, b, name):
    wa, example = built(a)
    wb = built(b)[0] if b is not a else example.build(b)
    try:
        common = [v for v in candidates(wa, example, name) if accepts(wa, name, v) and accepts(wb, name, v)]
        assert len(common) >= 2, f"{a.__name__} and {b.__name__} share fewer than two values of {name}"
        first, second = common[0], common[1]
        setattr(wa, name, first)
        links = nl.link(wa, wb, name)
        try:
            setattr(wa, name, second)
            assert wa.wait(30) and wb.wait(30)
            assert equal(getattr(wb, name), getattr(wa, name)), f"{b.__name__} did not follow {a.__name__}"
            setattr(wb, name, first)
            assert wa.wait(30) and wb.wait(30)
            assert equal(getattr(wa, name), getattr(wb, name)), f"{a.__name__} did not follow {b.__name__}"
            assert wa.error is None and wb.error is None
        finally:
            for link in links:
                link.unlink()
        kept = getattr(wb, name)
        setattr(wa, name, second)  # unlinked: b stays where it was
        assert equal(getattr(wb, name), kept)
    finally:
        if b is a:
            wb.close()


def test_a_trait_only_one_widget_has_is_refused_naming_what_both_share(built):
    grid, plane = built(nl.ActivationGrid)[0], built(nl.PlaneView)[0]
    with pytest.raises(ValueError, match="share: channel, layer"):
        nl.link(grid, plane, "input")


# -- pictures -----------------------------------------------------------
@pytest.mark.parametrize("cls", WIDGET_CLASSES, ids=NAMES)
def test_it_displays_as_a_png_and_saves_one_self_contained_page(built, cls, tmp_path):
    w, _ = built(cls)
    bundle = w._repr_mimebundle_()
    data = bundle[0] if isinstance(bundle, tuple) else bundle
    assert data["image/png"][:8] == b"\x89PNG\r\n\x1a\n"
    w.save_html(tmp_path / "page.html")
    page = (tmp_path / "page.html").read_text(encoding="utf-8")
    assert page.lstrip().lower().startswith("<!doctype html") and type(w).__name__ in page
    outside = re.findall(r"""(?:src|href)\s*=\s*["']?(?!data:|#)([^"'\s>]+)""", page)
    assert outside == [], f"{cls.__name__}'s page loads {outside[:3]}"


FIXED = [(c, n) for c in WIDGET_CLASSES for n in c.fixed_traits]


@pytest.mark.parametrize("cls, name", FIXED, ids=[f"{c.__name__}-{n}" for c, n in FIXED])
def test_a_fixed_trait_refuses_any_other_value(built, cls, name):
    w, example = built(cls)
    kept = getattr(w, name)
    assert accepts(w, name, kept)
    for value in candidates(w, example, name):
        if not equal(value, kept):
            assert not accepts(w, name, value)
            assert equal(getattr(w, name), kept)

"""Join widgets by the names of their traits, to build dashboards of your own.

Every widget speaks the same vocabulary (``layer``, ``channel``, ``target``,
``input``), so ``nl.link(grid, vis, "layer", "channel")`` makes the feature
visualisation follow the activation grid's selection, and back, and
``nl.link(grid, explorer, "input")`` shows a new image in both.
"""
from __future__ import annotations

import threading
from typing import Any, List

import ipywidgets as W
import traitlets

__all__ = ["link", "TraitLink"]


class TraitLink:
    """Trait ``name`` of ``a`` and ``b`` kept equal both ways; ``unlink()`` undoes it.

    Not ``ipywidgets.link``: after passing a value on, it compares the two
    with ``!=``, which a tensor (the ``input`` trait) cannot answer with one
    bool. Here a value is passed on once, the receiving widget validates it
    (a value it refuses raises a clear error and it keeps its own), and the echo
    of that change is not sent back. The guard is per thread, so two threads
    changing the linked traits never swallow each other's change.
    """

    def __init__(self, a: traitlets.HasTraits, b: traitlets.HasTraits, name: str):
        self.a, self.b, self.name = a, b, name
        self._passing = threading.local()
        setattr(b, name, getattr(a, name))
        a.observe(self._from_a, name)
        b.observe(self._from_b, name)

    def _pass(self, target: traitlets.HasTraits, value: Any) -> None:
        if getattr(self._passing, "on", False):
            return  # the echo of a value this link is passing on
        self._passing.on = True
        try:
            setattr(target, self.name, value)
        finally:
            self._passing.on = False

    def _from_a(self, change) -> None:
        self._pass(self.b, change["new"])

    def _from_b(self, change) -> None:
        self._pass(self.a, change["new"])

    def unlink(self) -> None:
        self.a.unobserve(self._from_a, self.name)
        self.b.unobserve(self._from_b, self.name)


def link(a: W.Widget, b: W.Widget, *names: str) -> List[TraitLink]:
    """Two-way links between the traits ``names`` of ``a`` and ``b`` (``b`` takes ``a``'s values first).

    Returns the links (call ``.unlink()`` to undo). A name one of them lacks
    raises a ValueError listing what both share. ``input`` carries the batch
    as the model sees it: link it between widgets with the same
    preprocessing (or none).
    """
    if not names:
        raise ValueError("expected at least one trait name to link, e.g. link(a, b, 'channel')")
    for name in names:
        if not (a.has_trait(name) and b.has_trait(name)):
            shared = sorted(set(a.trait_names()) & set(b.trait_names()) - set(W.VBox.class_trait_names()))
            raise ValueError(
                f"both widgets need a trait {name!r} to link it ({type(a).__name__} and "
                f"{type(b).__name__} share: {', '.join(shared) or 'nothing linkable'})"
            )
    return [TraitLink(a, b, name) for name in names]

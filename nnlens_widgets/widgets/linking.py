"""Join widgets by the names of their traits, to build dashboards of your own.

Every widget speaks the same vocabulary (``layer``, ``channel``, ``target``),
so ``nl.link(grid, vis, "layer", "channel")`` makes the feature
visualisation follow the activation grid's selection, and back.
"""
from __future__ import annotations

from typing import List

import ipywidgets as W

__all__ = ["link"]


def link(a: W.Widget, b: W.Widget, *names: str) -> List[W.link]:
    """Two-way links between the traits ``names`` of ``a`` and ``b`` (``b`` takes ``a``'s values first).

    Returns the ``ipywidgets.link`` objects (call ``.unlink()`` to undo). A
    name one of them lacks raises a ValueError listing what both share.
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
    return [W.link((a, name), (b, name)) for name in names]

"""Pickers of what a widget explains: a class of a classifier, or a layer with a spatial map."""
from __future__ import annotations

import difflib
from typing import List, Mapping, Sequence, Tuple

import numpy as np

from ..core import get_module

__all__ = ["class_options", "check_spatial_layer"]


def class_options(probs: Sequence[float] | np.ndarray, labels: Sequence[str], top_k: int,
                  keep: Sequence[int] = ()) -> List[Tuple[str, int]]:
    """Dropdown options ``(name (p%), index)``: the ``top_k`` likeliest classes first,
    then any class in ``keep`` (e.g. a target picked from code) that is not among them."""
    p = np.asarray(probs, dtype=np.float64)
    order = [int(i) for i in np.argsort(-p, kind="stable")[:max(1, int(top_k))]]
    order += [int(i) for i in keep if int(i) not in order]
    return [(f"{labels[i]} ({100 * p[i]:.1f}%)", i) for i in order]


def check_spatial_layer(model, layers: Mapping[str, tuple], name: str) -> str:
    """``name`` if it is one of ``layers`` (those with a spatial map); a KeyError naming the
    closest modules when it is no module at all, a ValueError listing ``layers`` otherwise."""
    if name in layers:
        return name
    get_module(model, name)
    close = difflib.get_close_matches(name, list(layers), n=3, cutoff=0.3)
    raise ValueError(f"expected a layer with a spatial map, one of {list(layers)}; got {name!r}"
                     + (f" (closest: {', '.join(close)})" if close else ""))

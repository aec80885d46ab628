"""Class pickers shared by the widgets that explain one class of a classifier."""
from __future__ import annotations

from typing import List, Sequence, Tuple

import numpy as np

__all__ = ["class_options"]


def class_options(probs: Sequence[float], labels: Sequence[str], top_k: int,
                  keep: Sequence[int] = ()) -> List[Tuple[str, int]]:
    """Dropdown options ``(name (p%), index)``: the ``top_k`` likeliest classes first,
    then any class in ``keep`` (e.g. a target picked from code) that is not among them."""
    p = np.asarray(probs, dtype=np.float64)
    order = [int(i) for i in np.argsort(-p, kind="stable")[:max(1, int(top_k))]]
    order += [int(i) for i in keep if int(i) not in order]
    return [(f"{labels[i]} ({100 * p[i]:.1f}%)", i) for i in order]


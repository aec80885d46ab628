"""LRP's options by name, and the checks that turn a wrong one into a clear error."""
from __future__ import annotations

import math
import numbers
from typing import Optional

__all__ = ["COMPOSITES", "RULES", "check_rules", "check_epsilon"]

#: zennit's composites by name (see ``composites``)
COMPOSITES = ("epsilon_plus_flat", "epsilon_gamma_box", "epsilon_alpha2_beta1")
#: rules that can stand on every layer instead of a composite
RULES = ("epsilon",)


def check_rules(composite: str, rule: Optional[str]) -> None:
    if rule is not None and rule not in RULES:
        raise ValueError(f"expected rule in {list(RULES)} or None (use a composite), got {rule!r}")
    if rule is None and composite not in COMPOSITES:
        raise ValueError(f"expected composite in {list(COMPOSITES)}, got {composite!r}")


def check_epsilon(epsilon) -> float:
    if isinstance(epsilon, bool) or not isinstance(epsilon, numbers.Real) or not math.isfinite(epsilon) or epsilon < 0:
        raise ValueError(f"expected epsilon as a finite number >= 0, got {epsilon!r}")
    return float(epsilon)

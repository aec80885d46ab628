"""What a page shows of a Lens's unit (the first Lens on the page), for the JupyterLab and app tests."""
from __future__ import annotations

import labharness as harness

ROOT = ".nnl-lens"
UNIT_PICTURES = ("activation", "unit-gradient", "feature-vis", "examples")


def canvas(name: str) -> str:
    """The canvas of panel ``name`` (``channels``, ``activation``, ...)."""
    return f"{ROOT} .nnl-lens-{name} canvas.nnl-canvas"


def unit_panels(page) -> dict:
    """What the page shows of the unit: each picture's pixels and the ablation chart's text."""
    shown = {name: harness.canvas_pixels(page, canvas(name)) for name in UNIT_PICTURES}
    shown["ablation"] = page.locator(f"{ROOT} .nnl-lens-ablation").first.inner_text()
    return shown


def wait_until_all_changed(page, before: dict, timeout: float) -> None:
    """Wait until every panel of :func:`unit_panels` differs from ``before``."""
    def all_changed() -> bool:
        now = unit_panels(page)
        return all(now[name] != before[name] for name in before)

    harness.wait_until(all_changed, timeout, "not every panel of the unit was redrawn after the click")

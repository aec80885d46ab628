"""FeatureVisualizer's optimised picture as drawn: the images, what was measured on them, the sanity check."""
from __future__ import annotations

from typing import Tuple

import torch

from ...render import example_grid, fit_factor
from ..checks import text
from ..lens.panels import sanity_line
from ..unit_runs import measures_html
from ..views import TileGridView

__all__ = ["draw_picture", "draw_blank"]


def draw_picture(view, state, measures: dict, sanity, where: str, layer: str, channel: int, size: Tuple[int, int],
                 maximised: str) -> None:
    """Show ``state``'s images in ``view`` with their step, ``where`` they come from (running, done,
    cached), whether the unit ever fired, the sanity verdict and the ``measures`` read off them."""
    grid, _layout = example_grid(state.images)
    h, w = size
    view.show(
        grid, scale=fit_factor(max(grid.shape[:2]), view.display_px),
        title="optimised image" + (f"s (batch of {len(state.images)})" if len(state.images) > 1 else ""),
        caption=(f"{text(layer)}, channel {channel} &middot; step {state.step}/{state.steps} "
                 f"({where}{', the unit never fired' if state.never_fired else ''})<br>"
                 + (f"{text(sanity_line(sanity))}<br>" if sanity is not None else "")
                 + f"{measures_html(measures, maximised=maximised)}<br>"
                 f"<span style='font-size:11px'>measured on the {w}x{h} px input as shown</span>"))


def draw_blank(view, channels: int, size: Tuple[int, int], note: str) -> None:
    """A grey stand-in of the input's ``size`` in ``view``, so no picture of other settings stays shown."""
    grey, layout = example_grid(torch.full((1, channels) + tuple(size), 0.5))
    if isinstance(view, TileGridView):
        view.show_tiles(grey, layout, scale=fit_factor(max(grey.shape[:2]), view.display_px), caption=note)
        view.select()
    else:
        view.show(grey, scale=fit_factor(max(grey.shape[:2]), view.display_px), caption=note)

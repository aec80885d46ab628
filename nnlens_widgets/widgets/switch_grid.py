"""A layer's channels as tiles that can be switched off (the grid, what it means, the frames),
and the slider that pins a channel to a value."""
from __future__ import annotations

from typing import Iterable

import ipywidgets as W
import numpy as np

from ..render import channel_grid
from ..render.legend import Scale
from .base import text
from .views import TileGridView

__all__ = ["SwitchGridView", "PinSlider", "OFF_MARKS", "SELECTED_MARK"]

OFF_MARKS = (dict(color="#000000", width=4), dict(color="#ffffff", width=2))  # white with black edges: any tile
SELECTED_MARK = dict(color="#ff3b30", width=2)


class SwitchGridView(TileGridView):
    """Every channel as a tile (each on its own range), switched-off ones framed, the selected one boxed.

    The caption says what the frames mean and explains flat tiles: a channel
    that is constant for this input has no range to colour, so it takes the
    colormap's middle colour.
    """

    def show_channels(self, maps: np.ndarray, cmap: str, target_px: int, title: str) -> None:
        grid = channel_grid(maps, "channel", cmap, 0, None, target_px, enlarge=False)
        flat = [c for c in range(len(maps)) if np.ptp(maps[c]) == 0]
        zeros = sum(1 for c in flat if maps[c].flat[0] == 0)
        note = (f" {len(flat)} flat tile(s) in the colormap's middle colour: a channel that is constant for this "
                f"input has no range to colour ({zeros} of them all zero: units that stay off)." if flat else "")
        self.show_tiles(grid.rgba, grid.layout, scale=grid.factor, title=title,
                        legend=Scale(cmap, 0.0, 1.0, "activation, each tile from its own min to its own max",
                                     ends=("tile min", "tile max")),
                        caption=text("White frame with black edges: switched off; red frame: selected." + note))

    def mark(self, selected: int, off: Iterable[int]) -> None:
        """Frame the switched-off tiles inside their edges and box the selected one outside them,
        so a selected tile that is off shows both."""
        marks = []
        for c in off:
            x, y, w, h = self.tile_rect(c)
            inset = min(1.0, w / 4, h / 4)
            marks += [dict(x=x + inset, y=y + inset, w=w - 2 * inset, h=h - 2 * inset, **style) for style in OFF_MARKS]
        x, y, w, h = self.tile_rect(selected)
        self.canvas.marks = marks + [dict(x=x - 0.5, y=y - 0.5, w=w + 1, h=h + 1, **SELECTED_MARK)]


class PinSlider(W.FloatSlider):
    """The value a pinned channel takes: spans a few times the layer's largest |activation|, both signs,
    and widens (instead of clamping) for a value set in code beyond its range."""

    def __init__(self):
        super().__init__(min=-10.0, max=10.0, step=0.1, continuous_update=True,
                         layout=W.Layout(width="190px", max_width="100%"))

    def span(self, largest: float, value: float) -> None:
        reach = max(float(np.ceil(3 * max(1e-3, largest) * 10) / 10), abs(value))
        with self.hold_sync():
            self.max, self.min, self.step = reach, -reach, reach / 100
            self.value = value

    def show(self, value: float) -> None:
        with self.hold_sync():
            self.max, self.min = max(self.max, value), min(self.min, value)
            self.value = value

"""A layer's channels as tiles that can be switched off: the grid, what it means, and the frames."""
from __future__ import annotations

from typing import Iterable

import numpy as np

from ..render import channel_grid
from ..render.legend import Scale
from .base import text
from .views import TileGridView

__all__ = ["SwitchGridView", "OFF_MARKS"]

OFF_MARKS = (dict(color="#000000", width=5), dict(color="#ffffff", width=2))  # white with black edges: any tile


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
        extra = []
        for c in off:
            x, y, w, h = self.tile_rect(c)
            extra += [dict(x=x - 0.5, y=y - 0.5, w=w + 1, h=h + 1, **style) for style in OFF_MARKS]
        self.select(selected, extra=extra)

import numpy as np
import pytest

from nnlens_widgets.render import lut
from nnlens_widgets.render.synapse_pad import (
    CURRENT_COLOUR,
    ORIGINAL_COLOUR,
    PAD_CMAP,
    PadGeometry,
    pad_rgba,
)


def test_geometry_puts_offsets_on_cell_centres_and_back():
    g = PadGeometry(reach=2.0, cells=5, cell_px=4)
    assert g.size == 20 and g.spacing == 1.0
    assert g.offsets().tolist() == [-2.0, -1.0, 0.0, 1.0, 2.0]
    assert g.x_of(0.0) == 10.0 and g.x_of(-2.0) == 2.0 and g.x_of(2.0) == 18.0  # cell centres
    assert g.y_of(2.0) == 2.0  # up is positive
    assert g.offset_at(10.0, 10.0) == (0.0, 0.0)
    assert g.offset_at(18.0, 2.0) == (2.0, 2.0)
    assert g.offset_at(-5.0, 50.0) == (-2.0, -2.0)  # clipped to the pad
    for offset in (-1.5, 0.25, 1.0):
        assert g.offset_at(g.x_of(offset), g.y_of(offset)) == pytest.approx((offset, offset))


def test_pad_picture_colours_cells_and_marks_original_and_current():
    g = PadGeometry(reach=2.0, cells=5, cell_px=10)
    errors = np.arange(25, dtype=float).reshape(5, 5)
    rgba = pad_rgba(errors, g, 0.0, 24.0, current=(2.0, 2.0))
    assert rgba.shape == (50, 50, 4)
    table = lut(PAD_CMAP)
    assert rgba[42, 2].tolist() == table[round(20 / 24 * 255)].tolist()  # bottom-left cell: errors[4, 0]
    assert rgba[25, 25, :3].tolist() == list(ORIGINAL_COLOUR)  # the middle: the original pair
    red = np.all(rgba[..., :3] == CURRENT_COLOUR, axis=2)
    ys, xs = np.nonzero(red)
    cx, cy = (xs.min() + xs.max()) / 2, (ys.min() + ys.max()) / 2
    assert (cx, cy) == pytest.approx((g.x_of(2.0), g.y_of(2.0)), abs=1.0)  # top-right corner
    with pytest.raises(ValueError, match="errors shaped"):
        pad_rgba(np.zeros((4, 4)), g, 0, 1, (0, 0))

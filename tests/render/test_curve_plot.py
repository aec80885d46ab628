import numpy as np
import pytest

from nnlens_widgets.render import line_plot


def test_line_plot_draws_each_curve_in_its_colour_where_expected():
    x = np.linspace(0, 1, 11)
    pic = line_plot([(x, 1 - x), (x, np.full_like(x, 0.5))], [(255, 0, 0), (0, 0, 255)],
                    width=104, height=54, fill=False)
    assert pic.shape == (54, 104, 4) and pic.dtype == np.uint8
    red = np.argwhere((pic[..., :3] == (255, 0, 0)).all(-1))
    blue = np.argwhere((pic[..., :3] == (0, 0, 255)).all(-1))
    # the decreasing curve starts top-left and ends bottom-right
    assert red[:, 0][red[:, 1] == red[:, 1].min()].min() <= 6
    assert red[:, 0][red[:, 1] == red[:, 1].max()].max() >= 47
    # the flat curve sits in the middle row band, across the whole width
    assert set(np.unique(blue[:, 0])) <= {25, 26, 27, 28}
    assert blue[:, 1].min() <= 5 and blue[:, 1].max() >= 98


def test_line_plot_fill_shades_the_area_under_the_curve_only():
    x = np.linspace(0, 1, 5)
    pic = line_plot([(x, np.full_like(x, 0.5))], [(0, 0, 200)], width=60, height=44, line_width=1)
    assert (pic[35, 30, :3] != 255).any()  # below the line: shaded
    assert (pic[8, 30, :3] == 255).all()  # above: white
    with pytest.raises(ValueError, match="one colour per series"):
        line_plot([(x, x)], [])

"""The pointing game on hand-made maps and masks."""
import numpy as np
import pytest
import torch

import nnlens_widgets as nl
from nnlens_widgets.core.attribution.results import CamMaps


def _mask():
    m = torch.zeros(20, 20, dtype=torch.bool)
    m[5:10, 5:10] = True
    return m


def _peak(y, x, value=1.0, channels=1):
    a = torch.zeros(1, channels, 20, 20)
    a[0, 0, y, x] = value
    return a


def test_hit_within_the_tolerance_and_miss_beyond():
    mask = _mask()
    assert nl.core.pointing_hit(_peak(7, 7), mask, tolerance=0)
    assert not nl.core.pointing_hit(_peak(7, 12), mask, tolerance=0)
    assert nl.core.pointing_hit(_peak(7, 12), mask, tolerance=3)  # 3 px right of the square
    assert not nl.core.pointing_hit(_peak(7, 13), mask, tolerance=3)
    # any result type: a CAM's upsampled map
    assert nl.core.pointing_hit(CamMaps(None, _peak(6, 6), "layer"), mask)


def test_reductions_of_channels():
    mask = _mask()
    a = torch.zeros(1, 3, 20, 20)
    a[0, 0, 7, 7] = -5.0  # the largest magnitude, negative: on the shape
    a[0, 1, 15, 15] = 1.0  # the largest positive sum: off the shape
    assert nl.core.pointing_hit(a, mask, reduce="absolute")
    assert not nl.core.pointing_hit(a, mask, reduce="positive")


def test_pointing_game_is_the_fraction_of_hits():
    images = torch.zeros(4, 3, 20, 20)
    masks = _mask().expand(4, 20, 20)
    spots = [(7, 7), (0, 0), (9, 9), (19, 0)]

    def method(_model, x, target):
        return _peak(*spots[target])

    assert nl.core.pointing_game(None, images, [0, 1, 2, 3], masks, method, tolerance=1) == pytest.approx(0.5)


def test_bad_arguments():
    with pytest.raises(ValueError, match="tolerance as an integer >= 0"):
        nl.core.pointing_hit(_peak(1, 1), _mask(), tolerance=-1)
    with pytest.raises(ValueError, match="mask shaped like the map"):
        nl.core.pointing_hit(_peak(1, 1), np.zeros((10, 10), bool))
    with pytest.raises(ValueError, match="reduce in"):
        nl.core.pointing_hit(_peak(1, 1), _mask(), reduce="max")
    with pytest.raises(ValueError, match="as many labels and masks as images"):
        nl.core.pointing_game(None, torch.zeros(2, 3, 20, 20), [0], _mask()[None], lambda *a: None)

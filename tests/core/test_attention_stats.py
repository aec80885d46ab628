import math

import numpy as np
import pytest
import torch

import nnlens_widgets as nl
from nnlens_widgets.render.attention_pictures import patch_pixels, patch_tiles


def test_entropy_hand_cases():
    one_hot = torch.zeros(1, 3, 4)
    one_hot[0, :, 1] = 1.0  # every query looks at one key: 0 bits
    uniform = torch.full((1, 3, 4), 0.25)  # spread evenly over 4 keys: 2 bits
    half = torch.tensor([[[0.5, 0.5, 0.0, 0.0]]])  # masked keys (p = 0) add nothing: 1 bit
    a = torch.cat([one_hot, uniform])
    np.testing.assert_allclose(nl.core.attention_entropy(a).numpy(), [0.0, 2.0])
    assert nl.core.attention_entropy(half).item() == pytest.approx(1.0)
    mixed = torch.tensor([[[0.7, 0.2, 0.1], [1 / 3, 1 / 3, 1 / 3]]])
    expected = (-(0.7 * math.log2(0.7) + 0.2 * math.log2(0.2) + 0.1 * math.log2(0.1)) + math.log2(3)) / 2
    assert nl.core.attention_entropy(mixed).item() == pytest.approx(expected)
    with pytest.raises(ValueError, match="heads, T, S"):
        nl.core.attention_entropy(torch.zeros(3, 4))


def test_patch_pixels_covers_each_patch_with_its_value():
    values = np.arange(6, dtype=float).reshape(2, 3)
    big = patch_pixels(values, (4, 6))
    assert big.shape == (4, 6)
    assert (big[:2, :2] == 0).all() and (big[2:, 4:] == 5).all() and (big[:2, 2:4] == 1).all()


def test_patch_tiles_colours_each_tile_and_greys_absent_ones():
    values = np.zeros((1, 2, 2, 2), dtype=np.float32)
    values[0, 0] = [[0.0, 1.0], [0.5, 1.0]]
    rgba, layout = patch_tiles(values, np.array([[True, False]]), 1.0, cmap="gray")
    assert (layout.rows, layout.cols) == (1, 2) and rgba.shape == (4, 7, 4)
    x, y, _, _ = layout.rect(0)
    assert rgba[y, x, 0] == 0 and rgba[y, x + 1, 0] == 255 and rgba[y + 1, x, 0] in (127, 128)
    x, y, _, _ = layout.rect(1)
    assert tuple(rgba[y, x]) == (40, 40, 40, 255)

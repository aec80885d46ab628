"""Box geometry of incremental occlusion against hand cases and real layers."""
import numpy as np
import pytest
import torch
from torch import nn

from nnlens_widgets.core.incremental.boxes import Boxes, FULL, fit, layout, through_window, union
from nnlens_widgets.core.incremental.graph import trace


def test_through_window_hand_cases():
    changed = np.array([[4, 8, 0, 16]])
    # 3x3, stride 1, padding 1 on 16 pixels: one more pixel each side
    assert through_window(changed, (3, 3), (1, 1), (1, 1), (16, 16)).tolist() == [[3, 9, 0, 16]]
    # stride 2: outputs 2..4 read inputs 3..9
    assert through_window(changed, (3, 3), (2, 2), (1, 1), (8, 8)).tolist() == [[2, 5, 0, 8]]
    # a 1x1 stride-2 conv never reads odd rows: a change in row 3 alone changes nothing
    out = through_window(np.array([[3, 4, 3, 4]]), (1, 1), (2, 2), (0, 0), (8, 8))
    assert (out[:, 1] <= out[:, 0]).all()


@pytest.mark.parametrize("k, s, p, d", [(3, 1, 1, 1), (3, 2, 1, 1), (7, 2, 3, 1), (1, 2, 0, 1),
                                        (3, 1, 2, 2), (5, 3, 0, 1), (2, 2, 0, 1)])
def test_through_window_is_exactly_what_a_conv_changes(k, s, p, d):
    torch.manual_seed(0)
    conv = nn.Conv2d(2, 3, k, stride=s, padding=p, dilation=d)
    x = torch.rand(1, 2, 23, 23)
    with torch.no_grad():
        clean = conv(x)
        h = clean.shape[-1]
        for a, b in [(0, 3), (5, 9), (11, 12), (18, 23)]:
            y = x.clone()
            y[..., a:b, a:b] += 1.0
            diff = (conv(y) - clean).abs().amax((0, 1)) > 0
            rows = np.flatnonzero(diff.any(1).numpy())
            got = through_window(np.array([[a, b, a, b]]), (d * (k - 1) + 1,) * 2, (s, s), (p, p), (h, h))[0]
            if len(rows) == 0:
                assert got[1] <= got[0]
            else:
                assert (got[0], got[1]) == (rows.min(), rows.max() + 1)


def test_union_skips_empty_intervals_and_fit_keeps_boxes_inside_the_map():
    a = np.array([[2, 5, 2, 5], [0, 0, 0, 0]])
    b = np.array([[4, 9, 1, 3], [6, 8, 6, 7]])
    assert union([a, b]).tolist() == [[2, 9, 1, 5], [6, 8, 6, 7]]
    boxes = fit(np.array([[0, 3, 0, 3], [8, 10, 5, 7], [4, 6, 4, 6]]), (10, 10))
    assert boxes.size == (3, 3)
    assert boxes.start.tolist() == [[0, 0], [7, 5], [4, 4]]  # shifted to stay inside the map
    assert fit(np.zeros((2, 4), dtype=np.int64), (10, 10)) is None  # nothing changed
    capped = fit(np.array([[0, 10, 2, 4]]), (10, 10), cap=(4, 4))
    assert capped.size == (4, 2) and capped.changed.tolist() == [[3, 7, 2, 4]]  # centred on the change


def test_layout_grows_boxes_through_a_network_then_goes_whole():
    net = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(4, 4, 3, padding=1),
                        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 2))
    steps, why = trace(net, torch.rand(1, 3, 16, 16))
    assert why == ""
    kinds = [s.kind for s in steps]
    assert kinds == ["input", "window", "elementwise", "window", "window", "generic", "generic", "generic",
                     "output"]
    shapes = {steps[i].node: hw for i, hw in [(1, (16, 16)), (2, (16, 16)), (3, (8, 8)), (4, (8, 8))]}
    first = Boxes(np.array([[4, 6, 4, 6]]), np.array([[4, 4]]), (2, 2))
    lay = layout(steps, shapes, first)
    assert lay[steps[1].node].size == (4, 4) and lay[steps[2].node] is lay[steps[1].node]
    assert lay[steps[3].node].size == (3, 3)  # rows 3..6 pooled by 2 -> rows 1..3
    assert lay[steps[4].node].size == (5, 5)
    assert layout(steps, shapes, first, full_fraction=0.3)[steps[4].node] is FULL  # 25 of 64 pixels
    assert lay[steps[5].node] is FULL and lay[steps[-1].node] is FULL

import numpy as np
import pytest

from nnlens_widgets.widgets import FrameCanvas


def test_draw_keeps_exact_pixels_and_rejects_non_rgba():
    c = FrameCanvas()
    img = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    c.draw(img)
    assert np.array_equal(c.frame, img) and c._frame[12:] == img.tobytes()
    with pytest.raises(ValueError, match=r"\(H, W, 4\)"):
        c.draw(np.zeros((2, 3, 3), np.uint8))


def test_click_move_and_drag_events_reach_handlers():
    c = FrameCanvas()
    got = []
    c.on_click(lambda x, y, e: got.append(("click", x, y)))
    c.on_move(lambda x, y: got.append(("move", x, y)))
    c.on_drag(lambda *box: got.append(("drag",) + box))
    c._dispatch(c, {"event": "click", "x": 1.5, "y": 2}, [])
    c._dispatch(c, {"event": "move", "x": 3, "y": 4}, [])
    c._dispatch(c, {"event": "leave"}, [])
    c._dispatch(c, {"event": "drag", "x0": 1, "y0": 2, "x1": 5, "y1": 6, "done": True}, [])
    assert got == [("click", 1.5, 2.0), ("move", 3.0, 4.0), ("move", None, None),
                   ("drag", 1.0, 2.0, 5.0, 6.0, True)]

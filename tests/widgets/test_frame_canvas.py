import gc
import struct
import weakref

import numpy as np
import pytest

from nnlens_widgets.widgets import FrameCanvas
from nnlens_widgets.render.constant_tiles import hatch
from nnlens_widgets.widgets.frame_encoding import DEFLATE, PALETTE, PALETTE_RAW, PALETTE_WIDE, RAW, decode_frame, encode_frame


def _body(raw: bytes) -> bytes:
    return decode_frame(raw)[0].tobytes()


def test_draw_keeps_exact_pixels_and_rejects_non_rgba():
    c = FrameCanvas()
    img = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    c.draw(img)
    assert np.array_equal(c.frame, img) and _body(c._frame) == img.tobytes()
    with pytest.raises(ValueError, match=r"\(H, W, 4\)"):
        c.draw(np.zeros((2, 3, 3), np.uint8))


def test_draw_copies_the_callers_array_and_leaves_it_writable():
    c = FrameCanvas()
    img = np.zeros((4, 4, 4), np.uint8)
    c.draw(img)
    assert img.flags.writeable
    img[0, 0, 0] = 9  # the caller may reuse its buffer: what was shown stays as drawn
    assert c.frame[0, 0, 0] == 0 and not c.frame.flags.writeable


def test_large_frames_travel_compressed_and_decode_to_the_same_pixels():
    c = FrameCanvas()
    img = np.zeros((256, 256, 4), np.uint8)
    img[::2, :, 0] = 200
    img[..., 3] = 255
    c.draw(img, scale=2)
    w, h, _, encoding = struct.unpack("<IIII", c._frame[:16])
    assert (w, h, encoding) == (256, 256, PALETTE) and len(c._frame) < img.nbytes / 10
    assert _body(c._frame) == img.tobytes() and c.scale == 2


def _encoding(frame: bytes) -> int:
    return struct.unpack("<IIII", frame[:16])[3]


@pytest.mark.parametrize("side, expected", [(60, PALETTE_RAW), (300, PALETTE)])  # small: colour bytes not deflated
def test_colour_mapped_pictures_travel_as_a_palette_with_exact_pixels(side, expected):
    rng = np.random.default_rng(0)
    lut = rng.integers(0, 256, (256, 4), dtype=np.uint8)
    lut[:, 3] = 255
    img = lut[rng.integers(0, 256, (side, side + 3))]  # noise: 256 colours, nothing to compress but the palette
    frame = encode_frame(img, 7)
    assert _encoding(frame) == expected
    assert len(frame) < img.nbytes * 0.35  # one byte per pixel and the colours
    pixels, frame_id = decode_frame(frame)
    assert frame_id == 7 and np.array_equal(pixels, img)


@pytest.mark.parametrize("side, colours, expected", [(60, 254, PALETTE_RAW), (300, 254, PALETTE),
                                                     (300, 256, PALETTE_WIDE), (300, 1022, PALETTE_WIDE)])
def test_a_colour_mapped_grid_with_hatched_see_through_tiles_travels_as_a_palette(side, colours, expected):
    rng = np.random.default_rng(2)
    lut = rng.integers(0, 256, (colours, 4), dtype=np.uint8)
    lut[:, 3] = 255
    img = lut[rng.integers(0, colours, (side, side))]
    img[: side // 3, : side // 3] = hatch(side // 3, side // 3)  # a constant channel: grey and see-through grey stripes
    frame = encode_frame(img, 3)
    assert _encoding(frame) == expected
    assert len(frame) < img.nbytes * (0.35 if colours <= 256 else 0.5)  # one byte per pixel; two for a wide palette
    assert np.array_equal(decode_frame(frame)[0], img)


def test_pictures_with_many_colours_or_transparency_do_not_use_a_palette():
    rng = np.random.default_rng(1)
    many = rng.integers(0, 256, (200, 200, 4), dtype=np.uint8)
    many[..., 3] = 255  # about 40,000 colours
    smooth = np.zeros((200, 200, 4), np.uint8)
    smooth[..., 0] = np.arange(200)[:, None]
    smooth[..., 3] = np.arange(200)[None, :]  # see-through, 40,000 colours with their alpha: stays RGBA
    tiny = np.full((8, 8, 4), 255, np.uint8)  # too small to be worth encoding
    large = rng.integers(0, 256, (300, 300, 4), dtype=np.uint8)
    large[..., 3] = 255  # past the size where a colour table is used: turned away by its first pixels
    for img, expected in ((many, RAW), (smooth, DEFLATE), (tiny, RAW), (large, RAW)):
        frame = encode_frame(img, 1)
        assert _encoding(frame) == expected
        assert np.array_equal(decode_frame(frame)[0], img)


def test_a_unknown_encoding_is_refused():
    frame = bytearray(encode_frame(np.zeros((2, 2, 4), np.uint8), 1))
    frame[12] = 9
    with pytest.raises(ValueError, match="unknown frame encoding 9; expected one of 0..4"):
        decode_frame(bytes(frame))


def test_click_move_and_drag_events_reach_handlers():
    c = FrameCanvas()
    got = []
    c.on_click(lambda x, y, e: got.append(("click", x, y)))
    c.on_move(lambda x, y: got.append(("move", x, y)))
    c.on_drag(lambda *box: got.append(("drag",) + box))
    c.handle_event({"event": "click", "x": 1.5, "y": 2})
    c.handle_event({"event": "move", "x": 3, "y": 4})
    c.handle_event({"event": "leave"})
    c.handle_event({"event": "drag", "x0": 1, "y0": 2, "x1": 5, "y1": 6, "done": True})
    assert got == [("click", 1.5, 2.0), ("move", 3.0, 4.0), ("move", None, None),
                   ("drag", 1.0, 2.0, 5.0, 6.0, True)]


@pytest.mark.parametrize("message", [
    None, "click", [], {}, {"event": "click"}, {"event": "click", "x": "a", "y": 1},
    {"event": "move", "x": float("nan"), "y": 1}, {"event": "drag", "x0": 1}, {"event": "explode"},
])
def test_malformed_front_end_messages_are_dropped(message, caplog):
    c = FrameCanvas()
    got = []
    c.on_click(lambda *a: got.append(a))
    c.on_move(lambda *a: got.append(a))
    c.handle_event(message)
    assert got == [] and "malformed" in caplog.text


def test_a_closed_canvas_is_freed():
    c = FrameCanvas()
    c.draw(np.zeros((8, 8, 4), np.uint8))
    c.on_click(lambda *a, owner=c: owner)  # a handler pointing back at its owner
    ref = weakref.ref(c)
    c.clear_handlers()
    c.close()
    del c
    gc.collect()
    assert ref() is None

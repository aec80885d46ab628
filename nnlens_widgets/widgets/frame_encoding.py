"""Pictures as binary frames for the browser: exact pixels, as few bytes as pays.

A frame is a 16-byte header (width, height, frame id, encoding; little-endian
uint32) and a body, one of:

- ``RAW``: the ``width * height * 4`` RGBA bytes (small pictures);
- ``DEFLATE``: those bytes deflated;
- ``PALETTE``: for pictures of at most 256 RGBA colours (a colour map's
  pictures are, hatched tiles included): the colour count (uint32), the
  colours as RGBA, then one deflated byte per pixel giving its colour. A
  quarter of the bytes to compress, and what remains compresses better;
- ``PALETTE_RAW``: the same with the colour bytes not deflated, for small
  pictures: inflating in the browser is asynchronous and costs a channel
  step about 20 ms, more than the bytes it saves.
- ``PALETTE_WIDE``: for large pictures of 257 to 1,024 colours (a full
  colour map with a hatched tile and the gaps): the colour count, the
  colours, then each pixel's colour number as two bytes, all low bytes
  first and then all high bytes (which are mostly 0 and deflate to almost
  nothing), deflated.

Every encoding is lossless: ``decode_frame`` (and the browser's decoder in
``js/frame_canvas.js``) gives back the exact pixels.
"""
from __future__ import annotations

import struct
import zlib
from typing import Optional, Tuple

import numpy as np

__all__ = ["RAW", "DEFLATE", "PALETTE", "PALETTE_RAW", "PALETTE_WIDE", "HEADER_FIELDS", "HEADER_BYTES", "encode_frame",
           "decode_frame"]

# The browser's decoder (js/frame_canvas.js) repeats these numbers; a test reads them there and
# checks they are these.
RAW, DEFLATE, PALETTE, PALETTE_RAW, PALETTE_WIDE = 0, 1, 2, 3, 4
HEADER_FIELDS = ("w", "h", "id", "encoding")  # in header order, each a little-endian uint32
_HEADER = struct.Struct("<" + "I" * len(HEADER_FIELDS))
HEADER_BYTES = _HEADER.size
_PALETTE_FROM = 1024  # bytes of RGBA; smaller pictures go raw: a palette saves nothing worth the time
_DEFLATE_FROM = 16 * 1024  # bytes of RGBA; smaller pictures are not deflated
_MAX_COLOURS = 256  # one byte per pixel
_MAX_WIDE = 1024  # two bytes per pixel; more colours than this is a photo or a blend: deflated RGBA
_SMALL = 1 << 16  # pixels: below this a sort finds the colours faster than a full colour table


def _palette(rgba: np.ndarray) -> Optional[Tuple[np.ndarray, np.ndarray]]:
    """(colours (n, 4) uint8, each pixel's colour number (uint16)) for a picture of <= 1,024 RGBA colours."""
    key = np.ascontiguousarray(rgba).reshape(-1, 4).view("<u4").ravel()  # R | G << 8 | B << 16 | A << 24
    if len(key) < _SMALL:
        colours, index = np.unique(key, return_inverse=True)
        if len(colours) > _MAX_WIDE:
            return None
    elif len(np.unique(key[::len(key) // 4096 + 1])) > _MAX_WIDE:
        return None  # a large photo or blend, seen from pixels spread over all of it: no need to look further
    else:  # one pass over a table of every 24-bit colour: linear time, where a sort is not
        opaque = key >= 0xFF000000
        all_opaque = bool(opaque.all())
        rgb = key & 0xFFFFFF
        present = np.zeros(1 << 24, dtype=bool)
        present[rgb if all_opaque else rgb[opaque]] = True
        solid = np.flatnonzero(present)
        # see-through pixels (a hatch over a page) are few: sorted apart, numbered after the opaque colours
        see_through = ~opaque
        clear = np.empty(0, dtype=np.uint32) if all_opaque else np.unique(key[see_through])
        if len(solid) + len(clear) > _MAX_WIDE:
            return None
        table = np.zeros(1 << 24, dtype=np.uint16)
        table[solid] = np.arange(len(solid), dtype=np.uint16)
        index = table[rgb]
        if not all_opaque:
            index[see_through] = len(solid) + np.searchsorted(clear, key[see_through])
        colours = np.concatenate([solid.astype(np.uint32) | np.uint32(0xFF000000), clear])
    return colours.astype("<u4").view(np.uint8).reshape(-1, 4), index.astype(np.uint16)


def encode_frame(rgba: np.ndarray, frame_id: int) -> bytes:
    """The frame for an ``(H, W, 4)`` uint8 C-contiguous picture, in the smallest encoding that pays."""
    h, w = rgba.shape[:2]
    body, encoding = rgba.tobytes(), RAW
    found = _palette(rgba) if len(body) >= _PALETTE_FROM else None
    small = len(body) < _DEFLATE_FROM
    if found is not None and (len(found[0]) <= _MAX_COLOURS or not small):
        colours, index = found
        head = struct.pack("<I", len(colours)) + colours.tobytes()
        if len(colours) > _MAX_COLOURS:  # low bytes, then high bytes
            packed, kind = head + zlib.compress((index & 255).astype(np.uint8).tobytes()
                                                + (index >> 8).astype(np.uint8).tobytes(), 1), PALETTE_WIDE
        elif small:
            packed, kind = head + index.astype(np.uint8).tobytes(), PALETTE_RAW
        else:
            packed, kind = head + zlib.compress(index.astype(np.uint8).tobytes(), 1), PALETTE
        if len(packed) < len(body):
            body, encoding = packed, kind
    elif not small:
        packed = zlib.compress(body, 1)
        if len(packed) < 0.8 * len(body):
            body, encoding = packed, DEFLATE
    return _HEADER.pack(w, h, frame_id, encoding) + body


def decode_frame(frame: bytes) -> Tuple[np.ndarray, int]:
    """``(rgba (H, W, 4) uint8, frame id)`` from a frame made by ``encode_frame``."""
    w, h, frame_id, encoding = _HEADER.unpack_from(frame)
    body = frame[_HEADER.size:]
    if encoding == RAW:
        pixels = np.frombuffer(body, dtype=np.uint8)
    elif encoding == DEFLATE:
        pixels = np.frombuffer(zlib.decompress(body), dtype=np.uint8)
    elif encoding in (PALETTE, PALETTE_RAW):
        (n,) = struct.unpack_from("<I", body)
        colours = np.frombuffer(body, dtype=np.uint8, count=4 * n, offset=4).reshape(n, 4)
        index = body[4 + 4 * n:]
        pixels = colours[np.frombuffer(zlib.decompress(index) if encoding == PALETTE else index, dtype=np.uint8)]
    elif encoding == PALETTE_WIDE:
        (n,) = struct.unpack_from("<I", body)
        colours = np.frombuffer(body, dtype=np.uint8, count=4 * n, offset=4).reshape(n, 4)
        low, high = np.frombuffer(zlib.decompress(body[4 + 4 * n:]), dtype=np.uint8).reshape(2, -1)
        pixels = colours[low.astype(np.intp) | (high.astype(np.intp) << 8)]
    else:
        raise ValueError(f"unknown frame encoding {encoding}; expected one of {RAW}..{PALETTE_WIDE}")
    return pixels.reshape(h, w, 4), frame_id

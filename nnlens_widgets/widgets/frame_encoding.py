"""Pictures as binary frames for the browser: exact pixels, as few bytes as pays.

A frame is a 16-byte header (width, height, frame id, encoding; little-endian
uint32) and a body, one of:

- ``RAW``: the ``width * height * 4`` RGBA bytes (small pictures);
- ``DEFLATE``: those bytes deflated;
- ``PALETTE``: for opaque pictures of at most 256 colours (a colour map's
  pictures are): the colour count (uint32), the colours as RGBA, then one
  deflated byte per pixel giving its colour. A quarter of the bytes to
  compress, and what remains compresses better;
- ``PALETTE_RAW``: the same with the colour bytes not deflated, for small
  pictures: inflating in the browser is asynchronous and costs a channel
  step about 20 ms, more than the bytes it saves.

Every encoding is lossless: ``decode_frame`` (and the browser's decoder in
``js/frame_canvas.js``) gives back the exact pixels.
"""
from __future__ import annotations

import struct
import zlib
from typing import Optional, Tuple

import numpy as np

__all__ = ["RAW", "DEFLATE", "PALETTE", "PALETTE_RAW", "HEADER_FIELDS", "HEADER_BYTES", "encode_frame",
           "decode_frame"]

# The browser's decoder (js/frame_canvas.js) repeats these numbers; a test reads them there and
# checks they are these.
RAW, DEFLATE, PALETTE, PALETTE_RAW = 0, 1, 2, 3
HEADER_FIELDS = ("w", "h", "id", "encoding")  # in header order, each a little-endian uint32
_HEADER = struct.Struct("<" + "I" * len(HEADER_FIELDS))
HEADER_BYTES = _HEADER.size
_PALETTE_FROM = 1024  # bytes of RGBA; smaller pictures go raw: a palette saves nothing worth the time
_DEFLATE_FROM = 16 * 1024  # bytes of RGBA; smaller pictures are not deflated
_MAX_COLOURS = 256
_SMALL = 1 << 16  # pixels: below this a sort finds the colours faster than a full colour table


def _palette(rgba: np.ndarray) -> Optional[Tuple[np.ndarray, np.ndarray]]:
    """(colours (n, 4) uint8, one uint8 index per pixel) for an opaque picture of <= 256 colours."""
    if not (rgba[..., 3] == 255).all():
        return None
    flat = rgba.reshape(-1, 4)
    key = flat[:, 0].astype(np.uint32) | (flat[:, 1].astype(np.uint32) << 8) | (flat[:, 2].astype(np.uint32) << 16)
    if len(key) < _SMALL:
        colours, index = np.unique(key, return_inverse=True)
        if len(colours) > _MAX_COLOURS:
            return None
    elif len(np.unique(key[:4096])) > _MAX_COLOURS:  # a large photo or blend: no need to look further
        return None
    else:  # one pass over a table of every 24-bit colour: linear time, where a sort is not
        present = np.zeros(1 << 24, dtype=bool)
        present[key] = True
        colours = np.flatnonzero(present)
        if len(colours) > _MAX_COLOURS:
            return None
        table = np.zeros(1 << 24, dtype=np.uint8)
        table[colours] = np.arange(len(colours), dtype=np.uint8)
        index = table[key]
    rgb = np.stack([colours & 255, (colours >> 8) & 255, colours >> 16, np.full_like(colours, 255)], axis=1)
    return rgb.astype(np.uint8), index.astype(np.uint8)


def encode_frame(rgba: np.ndarray, frame_id: int) -> bytes:
    """The frame for an ``(H, W, 4)`` uint8 C-contiguous picture, in the smallest encoding that pays."""
    h, w = rgba.shape[:2]
    body, encoding = rgba.tobytes(), RAW
    found = _palette(rgba) if len(body) >= _PALETTE_FROM else None
    if found is not None:
        colours, index = found
        small = len(body) < _DEFLATE_FROM
        packed = struct.pack("<I", len(colours)) + colours.tobytes() + (
            index.tobytes() if small else zlib.compress(index.tobytes(), 1))
        if len(packed) < len(body):
            body, encoding = packed, PALETTE_RAW if small else PALETTE
    elif len(body) >= _DEFLATE_FROM:
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
    else:
        raise ValueError(f"unknown frame encoding {encoding}; expected one of {RAW}..{PALETTE_RAW}")
    return pixels.reshape(h, w, 4), frame_id

"""The frame format is written down once in Python; the browser's decoder must read it the same way."""
import re
from pathlib import Path

import numpy as np

from nnlens_widgets.widgets import frame_encoding as F

JS = (Path(__file__).resolve().parents[2] / "js" / "frame_canvas.js").read_text()


def _js_constant(name: str) -> int:
    found = re.findall(rf"^const {name} = (\d+);$", JS, flags=re.M)
    assert len(found) == 1, f"expected one `const {name} = <number>;` in frame_canvas.js, found {found}"
    return int(found[0])


def test_the_js_decoder_uses_the_python_encodings_and_header_size():
    assert _js_constant("HEADER") == F.HEADER_BYTES == 4 * len(F.HEADER_FIELDS)
    for name in ("RAW", "DEFLATE", "PALETTE", "PALETTE_RAW", "PALETTE_WIDE"):
        assert _js_constant(name) == getattr(F, name), name


def test_the_js_header_reads_the_python_fields_in_order():
    body = re.search(r"function header\(view\) \{(.*?)\n\}", JS, flags=re.S).group(1)
    fields = re.findall(r"(\w+): dv\.getUint32\((\d+), true\)", body)  # little-endian uint32 each
    assert [name for name, _ in fields] == list(F.HEADER_FIELDS)
    assert [int(offset) for _, offset in fields] == [4 * i for i in range(len(F.HEADER_FIELDS))]


def test_a_frame_starts_with_the_header_fields():
    rgba = np.zeros((3, 5, 4), np.uint8)
    frame = F.encode_frame(rgba, 7)
    header = dict(zip(F.HEADER_FIELDS, np.frombuffer(frame[:F.HEADER_BYTES], "<u4").tolist()))
    assert header == {"w": 5, "h": 3, "id": 7, "encoding": F.RAW}

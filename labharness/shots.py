"""Screenshots of whole widgets, however tall, as a reader sees them in the notebook.

JupyterLab scrolls the notebook inside a panel, so an element taller than
that panel cannot be captured in one shot (the panel clips it).  A tall
widget is scrolled through band by band and the bands are stacked into one
picture; the window keeps its size so the layout is the one being checked.
"""
from __future__ import annotations

import io
import math
import os
from pathlib import Path
from typing import Any

from .scripts import script

_SCROLL_WIDGET = script("scroll_widget", uses=["notebookScroller"])
EDGE = 4
"""Rows at the top of the notebook area not used for a band (in shadow)."""


def screenshot_widget(page: Any, selector: str, path: str | os.PathLike) -> Path:
    """Save the whole element ``selector`` (the first match) as a PNG at ``path``; return the path."""
    from PIL import Image

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    first = page.evaluate(_SCROLL_WIDGET, {"selector": selector, "offset": 0, "inset": EDGE})
    width, height = first["widget"]["width"], first["widget"]["height"]
    if width < 1 or height < 1:
        raise ValueError(f"{selector} has no area to screenshot ({width:.1f} x {height:.1f})")
    picture = Image.new("RGBA", (round(width), round(height)))
    done = 0  # widget rows captured so far
    while height - done >= 1:  # a last fraction of a pixel row is not worth a band
        boxes = page.evaluate(_SCROLL_WIDGET, {"selector": selector, "offset": done, "inset": EDGE})
        w, v = boxes["widget"], boxes["visible"]
        # the widget rows on screen now, counted from the widget's top, without the EDGE rows at
        # the top of the notebook area (the toolbar above casts a shadow there)
        first_row, end_row = v["y"] + EDGE - w["y"], min(height, v["y"] + v["height"] - w["y"])
        rows = math.floor(end_row - done) if end_row - done >= 1 else math.floor(height - done)
        if first_row > done + 1 or rows < 1:
            raise RuntimeError(f"cannot scroll row {done} of {selector} ({height:.1f} px tall) into view")
        left, right = max(w["x"], v["x"]), min(w["x"] + width, v["x"] + v["width"])
        band = page.screenshot(clip={"x": left, "y": w["y"] + done, "width": right - left, "height": rows})
        image = Image.open(io.BytesIO(band))
        picture.paste(image, (round(left - w["x"]), done))
        done += image.height
    picture.save(path)
    return path

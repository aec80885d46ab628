"""Reading and clicking canvases in the page, to compare what is shown with what Python sent.

A FrameCanvas shows a picture's exact pixels, so tests compare canvas
pixels with the widget's ``.frame`` in the kernel, wait on the
``data-frame-id`` it sets after drawing, and click at picture coordinates.
"""
from __future__ import annotations

from typing import Any, Sequence

from .kernel import kernel_eval
from .scripts import script

_READ_CANVAS_PIXEL = script("read_canvas_pixel")
_CANVAS_PIXELS = script("canvas_pixels")
_CANVAS_FRAME_ID = script("canvas_frame_id")


def read_canvas_pixel(page: Any, selector: str, x: int, y: int) -> list[int]:
    """[r, g, b, a] of the pixel (x, y) in canvas backing-store coordinates.

    Reads the 2D context of the first element matching ``selector``; raises
    if it is missing or not a 2D canvas (a WebGL canvas has no 2D context).
    """
    return page.evaluate(_READ_CANVAS_PIXEL, [selector, x, y])


def canvas_frame_id(page: Any, selector: str) -> str | None:
    """The ``data-frame-id`` a FrameCanvas sets right after drawing (None before any frame)."""
    return page.evaluate(_CANVAS_FRAME_ID, selector)


def canvas_pixels(page: Any, selector: str) -> str:
    """Every RGBA byte of a 2-D canvas, joined into one string (for before/after comparisons)."""
    return page.evaluate(_CANVAS_PIXELS, selector)


def click_canvas(page: Any, client: Any, selector: str, frame_expr: str, x: float, y: float) -> None:
    """Click the canvas ``selector`` at picture pixel (x, y) of ``frame_expr`` (a kernel-side RGBA array).

    The canvas may be shown scaled by CSS; the scale is the on-screen width over the picture's.
    """
    canvas = page.locator(selector).first
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    scale = box["width"] / kernel_eval(client, f"{frame_expr}.shape[1]")
    page.mouse.click(box["x"] + x * scale, box["y"] + y * scale)


def canvas_matches_frame(page: Any, client: Any, selector: str, frame_expr: str,
                         points: Sequence[tuple], tolerance: int = 1) -> bool:
    """Whether the canvas pixels at ``points`` (x, y) equal ``frame_expr[y, x]`` in the kernel."""
    for x, y in points:
        shown = read_canvas_pixel(page, selector, x, y)
        sent = kernel_eval(client, f"{frame_expr}[{y}, {x}].tolist()")
        if max(abs(a - b) for a, b in zip(shown, sent)) > tolerance:
            return False
    return True

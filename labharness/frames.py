"""Counting the frames a canvas shows, in the page: how fast a live picture really updates.

A frame counts when the FrameCanvas marks it drawn (``data-frame-id``);
a distinct frame is one whose pixels, read back from the canvas, differ
from every frame before. Counting happens in the page, so it measures what
a reader sees, not what the kernel sent.

On a machine shared with other work, a thread that wants to run may wait
for a core: ``thread_wait_seconds`` reads that wait from Linux's
``/proc/<pid>/task/<tid>/schedstat`` (the time a thread spent runnable but
not running), so a rate can also be given per second the thread could run.
"""
from __future__ import annotations

from typing import Any, Optional

from .kernel import kernel_eval
from .scripts import script

_COUNT_FRAMES = script("count_frames")


def count_canvas_frames(page: Any, selector: str, seconds: float) -> dict:
    """``{"frames", "distinct", "seconds"}`` drawn on the canvas ``selector`` during ``seconds``."""
    return page.evaluate(_COUNT_FRAMES, {"selector": selector, "ms": int(seconds * 1000)})


def thread_wait_seconds(client: Any, thread_id_expr: str) -> Optional[float]:
    """Seconds the kernel thread ``thread_id_expr`` (a native id) has waited for a core so far.

    None where Linux's scheduler statistics are not readable.
    """
    code = (f"(lambda tid: (lambda p: int(open(p).read().split()[1]) / 1e9 if __import__('os').path.exists(p) "
            f"else None)(f'/proc/self/task/{{tid}}/schedstat') if tid else None)({thread_id_expr})")
    return kernel_eval(client, code)

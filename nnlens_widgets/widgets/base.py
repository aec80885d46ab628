"""What every nnlens widget shares: a status line for errors, progress with a
stop button for long work, latest-wins background work, and PNG export."""
from __future__ import annotations

import html
import threading
import traceback
from typing import Any, Callable, Optional

import ipywidgets as W
import numpy as np

from .scheduling import Job, LatestWins

__all__ = ["LensWidget"]


class LensWidget(W.VBox):
    """Base container. Subclasses build their controls, then call ``_finish(children)``.

    - ``_run_in_background(work, draw)``: latest-wins model work (see scheduling.py).
    - Errors from controls are shown in the widget (``.error`` keeps the text);
      the kernel and the other controls keep working.
    - ``.frame`` is the main picture as RGBA; ``save_png(path)`` writes it.
    """

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._lock = threading.RLock()
        self.error: Optional[str] = None
        self._status = W.HTML(layout=W.Layout(min_height="0"))
        self._status.add_class("nnl-status")
        self._progress = W.FloatProgress(min=0.0, max=1.0, layout=W.Layout(width="240px"))
        self._progress_text = W.Label()
        self._stop = W.Button(description="Stop", icon="stop", layout=W.Layout(width="80px"))
        self._stop.on_click(lambda _b: self.stop())
        self._progress_row = W.HBox([self._progress, self._stop, self._progress_text])
        self._progress_row.layout.display = "none"
        self._work = LatestWins(
            on_error=self._show_error,
            on_progress=self._show_progress,
            on_idle=self._hide_progress,
            draw_lock=self._lock,
        )

    def _finish(self, children) -> None:
        self.children = tuple(children) + (self._progress_row, self._status)

    # -- errors ---------------------------------------------------------
    def _show_error(self, exc: BaseException) -> None:
        self.error = f"{type(exc).__name__}: {exc}"
        detail = html.escape("".join(traceback.format_exception_only(type(exc), exc)).strip())
        self._status.value = (
            f"<div style='color:#b00020;white-space:pre-wrap;font-family:monospace'>{detail}</div>"
        )

    def _clear_error(self) -> None:
        self.error = None
        self._status.value = ""

    def _guarded(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        """Wrap a control callback so an exception is shown, not lost in the log."""

        def call(*args, **kwargs):
            try:
                with self._lock:
                    return fn(*args, **kwargs)
            except Exception as exc:  # noqa: BLE001 - any user-model error must surface here
                self._show_error(exc)

        return call

    # -- background work ------------------------------------------------
    def _run_in_background(self, work: Callable[[Job], Any], draw: Callable[[Any], None]) -> Job:
        def draw_and_clear(result):
            self._clear_error()
            draw(result)

        return self._work.submit(work, draw_and_clear)

    def _draw_if_current(self, job: Job, draw: Callable[[], None]) -> None:
        """Draw a partial result from inside background work, unless it went stale."""
        with self._lock:
            if not job.cancelled:
                draw()

    def _show_progress(self, fraction: float, text: str) -> None:
        self._progress_row.layout.display = "flex"
        self._progress.value = float(np.clip(fraction, 0.0, 1.0))
        self._progress_text.value = text

    def _hide_progress(self) -> None:
        self._progress_row.layout.display = "none"

    def stop(self) -> None:
        """Stop the work in progress (what the Stop button does)."""
        self._work.cancel()
        self._hide_progress()

    def wait(self, timeout: Optional[float] = 60.0) -> bool:
        """Block until background work is done (for scripts and tests)."""
        return self._work.wait(timeout)

    # -- pictures -------------------------------------------------------
    @property
    def frame(self) -> Optional[np.ndarray]:  # pragma: no cover - overridden
        raise NotImplementedError

    def save_png(self, path) -> None:
        """Write ``.frame`` (exact pixels, RGBA) to ``path`` as PNG."""
        from PIL import Image

        if self.frame is None:
            raise ValueError("nothing has been drawn yet")
        Image.fromarray(np.asarray(self.frame), mode="RGBA").save(path)

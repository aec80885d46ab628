"""What every nnlens widget shares, and the contract each one keeps.

The widget contract
-------------------
- **Construction.** ``Widget(model, x, *, layer=None, labels=None,
  preprocess=None, ...)`` wherever a model and an input are meant; widgets
  without an input (``FilterGrid``, ``FeatureVisualizer``) drop ``x``. Every
  option after the input is keyword-only.
- **One vocabulary of traits.** ``layer`` is a module name as in
  ``model.named_modules()``; ``channel`` is a channel (unit, filter, cell)
  of ``layer``; ``target`` is what a map explains (a class index); ``input``
  is the input shown (assign a new one to look at it). The same names mean
  the same things in every widget, so ``ipywidgets.link`` (or ``nl.link``)
  joins any two widgets.
- **Verbs.** ``refresh()`` recomputes what the view shows (in the background
  when slow, streaming partial pictures); ``stop()`` stops it; ``wait()``
  blocks until it is done; ``close()`` gives everything back: caches,
  canvases, handlers and the worker thread.
- **Pictures.** ``.frame`` is the main picture (exact RGBA), ``.views`` the
  named view components (each with its ``.frame``); ``save_png(path)``
  writes the widget as shown, legends included; ``save_html(path)`` one
  self-contained page; the display bundle carries an ``image/png`` for
  places with no live front end.
- **Errors.** A bad value set in code raises a ``ValueError`` naming the
  allowed range and is not kept; an error in work started by a control is
  shown in the widget and kept in ``.error`` until the next success clears it.
  The kernel and the other controls keep working. A misspelt keyword raises
  ``TypeError`` naming the closest real one.
- **Threads.** Traits may be set from any thread: the last values win.
  Work whose model's weights changed under it (training meanwhile) is
  dropped and redone, ``scheduling.TRIES`` tries in all, the status saying
  so; then ``.error`` says so until the next change or ``refresh()``.
- **Text** from the user's model, labels or arguments goes through ``text()``
  (escaped), so markup in a layer name is shown, never run.

Shared pieces live here and in ``views.py``: the tile-grid view, the
trait/control binding (``_bind``), trait changes from several threads (last wins),
index validation (``check_index``, in ``checks.py``), label
handling (``labels_for``), latest-wins background work and the static export.
"""
from __future__ import annotations

import functools
import html
import threading
import traceback
from typing import Any, Callable, Dict, Optional, Sequence

import ipywidgets as W
import numpy as np

from ..core.guard import check_model
from ..render.legend import THEME
from .construction import check_keywords, closed_on_failure, descendants
from .checks import check_choice, check_count, check_index, check_number, labels_for, text
from .export import widget_html, widget_png
from .scheduling import Job, LatestWins, weights_stamp
from .views import HtmlView, PictureView

__all__ = ["LensWidget", "check_index", "check_count", "labels_for", "text", "check_number", "check_choice"]


class LensWidget(W.VBox):
    """Base container. Subclasses build their views and controls, then call ``_finish``.

    - ``_bind(trait=control, ...)``: two-way links between traits and controls
      (labels never cut: the description takes the room it needs).
    - ``_on(handler, *names)``: observe traits; errors are shown, not lost.
    - ``_run_in_background(work, draw)``: latest-wins model work.
    - ``views``: the named view components, for ``frame``/export.
    """

    #: The attribute holding the view whose picture ``frame`` is (None: the first picture view).
    _frame_view: Optional[str] = None

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if "__init__" in cls.__dict__:
            cls.__init__ = closed_on_failure(cls.__dict__["__init__"])

    def __init__(self, model=None, **kwargs):
        check_keywords(self, kwargs)
        late = self.__dict__.get("_late_traits")  # see construction.closed_on_failure
        if late is not None:
            late.update({k: kwargs.pop(k) for k in list(kwargs) if k in _ordered_traits(type(self))})
        super().__init__(**kwargs)
        if model is not None or not hasattr(self, "_model"):
            self._model = None if model is None else check_model(model)
        self._setting = threading.local()  # this thread's trait changes waiting to be announced
        self._echo = False  # a control being set to show its trait (not a person's change)
        self._lock = threading.RLock()
        self._closed = False
        self.error: Optional[str] = None
        self._views: Dict[str, W.Widget] = {}
        self._controls: Dict[str, W.Widget] = {}
        self._status = W.HTML(layout=W.Layout(min_height="0"))
        self._status.add_class("nnl-status")
        self._progress = W.FloatProgress(min=0.0, max=1.0, layout=W.Layout(width="200px"))
        self._progress_text = W.Label()
        self._stop = W.Button(description="Stop", icon="stop", layout=W.Layout(width="80px"))
        self._stop.on_click(lambda _b: self.stop())
        self._progress_row = W.HBox([self._progress, self._stop, self._progress_text])
        self._progress_row.layout.display = "none"
        self._work = self._new_worker(on_progress=self._show_progress, on_idle=self._hide_progress)
        self.add_class("nnl-widget")
        self.layout.max_width = "100%"

    # -- building --------------------------------------------------------
    def _view(self, name: str, view: W.Widget) -> W.Widget:
        """Register a named view component (shown in ``views`` and in exports)."""
        self._views[name] = view
        return view

    def _control(self, name: str, control: W.Widget) -> W.Widget:
        """Register a control (listed in ``controls``); its label takes the room it needs."""
        if hasattr(control, "style") and hasattr(control.style, "description_width"):
            control.style.description_width = "initial"
        self._controls[name] = control
        return control

    def _bind(self, **controls: W.Widget) -> None:
        """Link each trait to its control both ways (and register the control).

        Not ``ipywidgets.link``: its guard against echoes is one flag shared by
        every thread, so two threads changing a trait could leave the control
        showing the older value. Here the control always shows the trait's
        current value, set under the widget's lock.
        """
        for trait, control in controls.items():
            self._control(trait, control)
            control.value = getattr(self, trait)
            self.observe(functools.partial(self._show_on_control, trait, control), trait)
            control.observe(functools.partial(self._take_from_control, trait), "value")

    def _show_on_control(self, trait: str, control: W.Widget, change) -> None:
        with self._lock:
            if not stale(change):
                echo, self._echo = self._echo, True
                try:
                    control.value = getattr(self, trait)
                finally:
                    self._echo = echo

    def _take_from_control(self, trait: str, change) -> None:
        with self._lock:
            if not self._echo and not stale(change) and change["new"] != getattr(self, trait):
                setattr(self, trait, change["new"])

    def _on(self, handler: Callable, *names: str) -> None:
        self.observe(self._guarded(handler), list(names))

    # -- trait changes from several threads ------------------------------
    # A change is validated and stored under the widget's lock, so it is
    # checked against the state it lands in; observers run after the lock is
    # let go (a link to another widget never holds two widgets' locks), each
    # under the lock, and skip a change another thread has already replaced
    # (``stale``): the newer change's own observers draw it, so the last
    # values always win.
    def __setattr__(self, name: str, value: Any) -> None:
        if name in _ordered_traits(type(self)) and "_lock" in self.__dict__:
            self._set_in_order(lambda: W.VBox.__setattr__(self, name, value))
        else:
            super().__setattr__(name, value)

    def set_trait(self, name: str, value: Any) -> None:
        if name in _ordered_traits(type(self)) and "_lock" in self.__dict__:
            self._set_in_order(lambda: W.VBox.set_trait(self, name, value))
        else:
            super().set_trait(name, value)

    def _set_in_order(self, assign: Callable[[], None]) -> None:
        if getattr(self._setting, "queue", None) is not None:  # a change made while validating another
            assign()
            return
        self._setting.queue = []
        try:
            with self._lock:
                assign()
        finally:
            queue, self._setting.queue = self._setting.queue, None
        for name, old, new in queue:
            super()._notify_trait(name, old, new)

    def _notify_trait(self, name: str, old_value: Any, new_value: Any) -> None:
        queue = getattr(self.__dict__.get("_setting"), "queue", None)
        if queue is not None:
            queue.append((name, old_value, new_value))
        else:
            super()._notify_trait(name, old_value, new_value)

    def _finish(self, children: Sequence[W.Widget]) -> None:
        self.children = tuple(children) + (self._progress_row, self._status)

    # -- errors ---------------------------------------------------------
    def _show_error(self, exc: BaseException) -> None:
        self.error = f"{type(exc).__name__}: {exc}"
        detail = html.escape("".join(traceback.format_exception_only(type(exc), exc)).strip())
        self._status.value = (
            f"<div role='alert' style='color:{THEME['error']};white-space:pre-wrap;"
            f"font-family:{THEME['mono']}'>{detail}</div>"
        )

    def _show_note(self, message: str) -> None:
        """A sentence in the status line that is no error (e.g. why a result is being recomputed)."""
        self._status.value = f"<div role='status' style='color:{THEME['fg']};font-style:italic'>{text(message)}</div>"

    def _clear_error(self) -> None:
        if self.error is not None or self._status.value:
            self.error = None
            self._status.value = ""

    def _guarded(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        """Wrap a control callback so an exception is shown, not lost in the log."""

        def call(*args, **kwargs):
            try:
                with self._lock:
                    if args and stale(args[0]):
                        return None  # another thread's newer value: its own notification draws it
                    result = fn(*args, **kwargs)
                self._clear_error()
                return result
            except Exception as exc:  # noqa: BLE001 - any user-model error must surface here
                self._show_error(exc)

        return call

    # -- background work ------------------------------------------------
    def _new_worker(self, **callbacks) -> LatestWins:
        """A latest-wins worker that shows errors and redoes work the model changed under."""
        return LatestWins(on_error=self._show_error, draw_lock=self._lock, on_note=self._show_note,
                          watch=lambda: weights_stamp(self._model), **callbacks)

    def _run_in_background(self, work: Callable[[Job], Any], draw: Callable[[Any], None]) -> Job:
        def draw_and_clear(result):
            self._clear_error()
            draw(result)

        return self._work.submit(work, draw_and_clear)

    def _draw_if_current(self, job: Job, draw: Callable[[], None]) -> None:
        """Draw a partial result from inside background work, unless it went stale."""
        with self._lock:
            if not job.cancelled and not job.model_changed:  # a result of moving weights is redone
                draw()

    def _show_progress(self, fraction: float, text_: str) -> None:
        self._progress_row.layout.display = "flex"
        self._progress.value = float(np.clip(fraction, 0.0, 1.0))
        self._progress_text.value = text_

    def _hide_progress(self) -> None:
        self._progress_row.layout.display = "none"

    # -- verbs ----------------------------------------------------------
    def refresh(self) -> None:
        """Recompute what the widget shows (subclasses that compute override this)."""

    def stop(self) -> None:
        """Stop the work in progress (what the Stop button does)."""
        self._work.cancel()
        self._hide_progress()

    def wait(self, timeout: Optional[float] = 60.0) -> bool:
        """Block until background work is done (for scripts and tests); False on timeout."""
        return self._work.wait(timeout)

    def close(self) -> None:
        """Stop the work, end the worker thread and free the views, caches and model reference."""
        if getattr(self, "_closed", None) is not False:  # closed, or never finished building
            if not hasattr(self, "_closed"):
                super().close()
            return
        self._closed = True
        self._work.close()
        self._release()
        for widget in descendants(self):
            widget.close()
        self._views.clear()
        self._model = None
        super().close()

    def _release(self) -> None:
        """Drop caches (subclasses holding more than their views override this)."""

    # -- pictures -------------------------------------------------------
    @property
    def model(self):
        """The model looked at (``None`` once closed)."""
        return self._model

    @property
    def views(self) -> Dict[str, W.Widget]:
        """The named view components, in display order."""
        return dict(self._views)

    @property
    def controls(self) -> Dict[str, W.Widget]:
        """The named controls (sliders, dropdowns, buttons), e.g. to drive them from code."""
        return dict(self._controls)

    @property
    def status(self) -> str:
        """The status line's text (the last error shown, or empty)."""
        import re

        return html.unescape(re.sub(r"<[^>]+>", "", self._status.value))

    @property
    def frame(self) -> Optional[np.ndarray]:
        """The main picture as drawn, (H, W, 4) uint8 (the first picture view's frame unless the widget names one)."""
        if self._frame_view is not None:
            return getattr(self, self._frame_view).frame
        for view in self._views.values():
            if isinstance(view, PictureView):
                return view.frame
        return None

    def save_png(self, path) -> None:
        """Write the widget as shown (pictures with their titles and colour bars) as PNG."""
        if not any(isinstance(v, (PictureView, HtmlView)) for v in self._views.values()):
            raise ValueError("nothing has been drawn yet")
        with open(path, "wb") as f:
            f.write(widget_png(self))

    def save_html(self, path) -> None:
        """Write one self-contained page: every view's pixels, legends and captions."""
        with open(path, "w", encoding="utf-8") as f:
            f.write(widget_html(self))

    def _repr_mimebundle_(self, **kwargs):
        bundle = super()._repr_mimebundle_(**kwargs)
        data = bundle[0] if isinstance(bundle, tuple) else bundle
        if data is None:
            return bundle
        data["text/plain"] = f"{type(self).__name__} (a live view; the picture below is its state when shown)"
        try:
            data["image/png"] = widget_png(self)
        except Exception:  # noqa: BLE001 - a static picture must never break the live display
            pass
        return bundle

    def _state_caption(self) -> str:
        """One line saying what the widget shows (title of exports); override to say more."""
        return type(self).__name__


def stale(change: Any) -> bool:
    """Whether ``change`` is a trait change whose value has since been replaced by another."""
    if not isinstance(change, dict) or change.get("type") != "change" or "owner" not in change:
        return False
    try:
        current = getattr(change["owner"], change["name"])
        return current is not change["new"] and not bool(current == change["new"])
    except Exception:  # noqa: BLE001 - values that do not compare (arrays): treat the change as current
        return False


_ORDERED_TRAITS: Dict[type, frozenset] = {}  # widget class -> its own trait names (fixed per class)


def _ordered_traits(cls: "type[W.VBox]") -> frozenset:
    """The traits a widget class adds to ipywidgets' own (those set in order under its lock)."""
    names = _ORDERED_TRAITS.get(cls)
    if names is None:
        names = _ORDERED_TRAITS[cls] = frozenset(cls.class_trait_names()) - frozenset(W.VBox.class_trait_names())
    return names

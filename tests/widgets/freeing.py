"""Closing a widget frees it: nothing keeps it alive and its worker thread is gone."""
import gc
import threading
import weakref


def closed(widget) -> weakref.ref:
    """Close ``widget``; return a weak reference to check once the caller drops its own."""
    ref = weakref.ref(widget)
    widget.close()
    return ref


def assert_freed(ref: weakref.ref, threads_before) -> None:
    gc.collect()
    assert ref() is None, "something still holds the closed widget"
    assert not [t for t in threading.enumerate() if t not in threads_before and t.name == "nnlens-work"]

"""A label beside a control that has no room for its own (ToggleButtons put their
description above the buttons): the two stay on one line when a row wraps."""
from __future__ import annotations

import ipywidgets as W

__all__ = ["labelled"]


def labelled(label: str, control: W.Widget) -> W.HBox:
    """``label`` (plain text) then ``control``, side by side, never split by wrapping."""
    return W.HBox([W.Label(label, layout=W.Layout(width="auto", margin="0 6px 0 0")), control],
                  layout=W.Layout(align_items="center", width="auto", max_width="100%"))

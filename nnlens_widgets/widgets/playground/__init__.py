"""``Playground``: train a small network live on points of the plane (TensorFlow Playground on torch).

The widget (``widget``) holds plain collaborators it calls by name: its
controls (``controls``), its pictures and readout (``display``, ``views``,
``readout``), the frames it draws (``frames``), its training thread
(``loop``) and its saved sessions (``session``). The training itself is
headless, in ``core.playground``.
"""
from .widget import Playground

__all__ = ["Playground"]

"""Validators for widgets whose ``channel`` is a channel of their ``layer``."""
from __future__ import annotations

import traitlets

from .base import check_index

__all__ = ["LayerChannelTraits"]


class LayerChannelTraits:
    """Mixed into a widget with ``layer`` and ``channel`` traits, ``_check_layer(name)`` and
    ``channels`` (the layer's channel count): a layer is checked by the widget's own rule, a
    channel against the layer's range."""

    @traitlets.validate("layer")
    def _valid_layer(self, proposal):
        return self._check_layer(proposal["value"])

    @traitlets.validate("channel")
    def _valid_channel(self, proposal):
        return check_index(proposal["value"], self.channels, "a channel", f" for layer {self.layer!r}")

"""What the saliency explorer keeps per map key (method, target, parameters): the
pixel map, its trust report, its stability figure and a failure message, the
oldest dropped beyond a size so revisited targets come back without a rerun, all
of it dropped once the model's weights change."""
from __future__ import annotations

from collections import OrderedDict
from typing import Any, Callable, Dict, Hashable, Tuple

import torch
import torch.nn.functional as F

from ...core.attribution import pixel_map
from ..view_warnings import lime_stability_warning

__all__ = ["ResultCache"]


class ResultCache:
    def __init__(self, size: int = 128):
        self.size = int(size)
        self.maps: "OrderedDict[tuple, torch.Tensor]" = OrderedDict()
        self.reports: "OrderedDict[tuple, Any]" = OrderedDict()
        self.stability: Dict[tuple, Any] = {}
        self.unstable: Dict[tuple, str] = {}  # LIME's "top-5 not stable at 95%" sentence ("" when stable)
        self.failures: Dict[tuple, str] = {}
        self.conservation: Dict[tuple, str] = {}  # LRP: "relevance sums to 97.8% of the logit"
        self.stamp: Hashable = None  # the model's weights stamp (scheduling.weights_stamp) they belong to

    def keep_for(self, stamp: Hashable) -> None:
        """Forget everything computed for other weights than those ``stamp`` stands for."""
        if stamp != self.stamp:
            self.clear()
            self.stamp = stamp

    def put_map(self, key: tuple, result, size: Tuple[int, int],
                to_pixels: Callable[[Any], torch.Tensor] = pixel_map) -> None:
        """Keep ``result``'s pixel map (``to_pixels``: its method's) at the input's ``size``
        (a coarser map is upsampled)."""
        m = to_pixels(result).detach().float().cpu()
        if tuple(m.shape[-2:]) != tuple(size):  # e.g. a layer-resolution map from a user's function
            m = F.interpolate(m.reshape(1, -1, *m.shape[-2:]), size=tuple(size), mode="bilinear",
                              align_corners=False)
        self.maps[key] = m
        self.failures.pop(key, None)
        stability = getattr(result, "stability", None)  # methods that measure it (e.g. LIME) say how stable
        if stability is not None and callable(getattr(result, "describe", None)):
            unstable = lime_stability_warning(result)  # "top-5 not stable at 95%: ..."
            stability = result.describe() + (f". \u26a0 {unstable}" if unstable else "")  # in words
            self.unstable[key] = unstable
        if stability is not None:
            self.stability[key] = stability
        if getattr(result, "conservation", None) is not None and callable(getattr(result, "describe", None)):
            self.conservation[key] = result.describe()  # beside the map: how much of the score it accounts for
        while len(self.maps) > self.size:  # oldest first
            old = self.maps.popitem(last=False)[0]
            self.stability.pop(old, None)
            self.unstable.pop(old, None)
            self.conservation.pop(old, None)

    def put_report(self, key: tuple, report) -> None:
        self.reports[key] = report
        while len(self.reports) > self.size:
            self.reports.popitem(last=False)

    def fail(self, key: tuple, message: str) -> None:
        self.failures[key] = message

    def clear(self) -> None:
        self.maps.clear()
        self.reports.clear()
        self.stability.clear()
        self.unstable.clear()
        self.conservation.clear()
        self.failures.clear()

    def warnings_of(self, keys) -> Tuple[str, ...]:
        """The sentences of the maps and reports under ``keys``, each once, in order."""
        said: Dict[str, None] = {}
        for key in keys:
            report = self.reports.get(key)
            said.update(dict.fromkeys(getattr(report, "warnings", ()) if report is not None else ()))
            if self.unstable.get(key):
                said[self.unstable[key]] = None
        return tuple(said)

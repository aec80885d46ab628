"""What the saliency explorer keeps per map key (method, target, parameters): the
pixel map, its trust report, its stability figure and a failure message, the
oldest dropped beyond a size so revisited targets come back without a rerun, all
of it dropped once the model's weights change."""
from __future__ import annotations

from collections import OrderedDict
from typing import Any, Dict, Hashable, Tuple

import torch
import torch.nn.functional as F

from ..core.attribution import pixel_map

__all__ = ["ResultCache"]


class ResultCache:
    def __init__(self, size: int = 128):
        self.size = int(size)
        self.maps: "OrderedDict[tuple, torch.Tensor]" = OrderedDict()
        self.reports: "OrderedDict[tuple, Any]" = OrderedDict()
        self.stability: Dict[tuple, Any] = {}
        self.failures: Dict[tuple, str] = {}
        self.stamp: Hashable = None  # the model's weights stamp (scheduling.weights_stamp) they belong to

    def keep_for(self, stamp: Hashable) -> None:
        """Forget everything computed for other weights than those ``stamp`` stands for."""
        if stamp != self.stamp:
            self.clear()
            self.stamp = stamp

    def put_map(self, key: tuple, result, size: Tuple[int, int]) -> None:
        """Keep ``result``'s pixel map at the input's ``size`` (a coarser map is upsampled)."""
        m = pixel_map(result).detach().float().cpu()
        if tuple(m.shape[-2:]) != tuple(size):  # e.g. a layer-resolution map from a user's function
            m = F.interpolate(m.reshape(1, -1, *m.shape[-2:]), size=tuple(size), mode="bilinear",
                              align_corners=False)
        self.maps[key] = m
        self.failures.pop(key, None)
        stability = getattr(result, "stability", None)  # methods that measure it (e.g. LIME) say how stable
        if stability is not None and callable(getattr(result, "describe", None)):
            stability = result.describe()  # in words: which set is stable, after how many samples
        if stability is not None:
            self.stability[key] = stability
        while len(self.maps) > self.size:  # oldest first
            self.stability.pop(self.maps.popitem(last=False)[0], None)

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
        self.failures.clear()

"""Incremental occlusion (Krypton, Nakandala et al., SIGMOD 2019).

A patch changes one box of the input, and each layer's map changes only
inside that box's growing projection. The model runs once on the clean input
keeping every layer's map; each batch of patches then recomputes every layer
only on the boxes that changed, reading the rest from the clean pass.

- ``recorder``: the model's dataflow, recorded from one run of a private twin;
- ``graph``: what each recorded step is, and the recorded graphs kept per model;
- ``boxes``: where each map changes, per patch (integer geometry);
- ``regions``: batches of patched maps held as crops over a clean map;
- ``executor``: the clean pass and the batched crop execution;
- ``linear``: approximate mode, first order where a change has covered the maps;
- ``patches``: occlusion windows as input crops, and when incremental pays.
"""
from .boxes import FULL, Boxes
from .executor import Incremental
from .patches import IncrementalOcclusion, agrees, pays, plan_incremental, prepare_incremental, worth_tracing

__all__ = ["Boxes", "FULL", "Incremental", "IncrementalOcclusion", "agrees", "pays", "plan_incremental", "prepare_incremental", "worth_tracing"]

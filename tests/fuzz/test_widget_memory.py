"""Re-running a cell that builds a widget: resident memory stays within the shared cache budget.

The user re-runs ``grid = nl.ActivationGrid(model, x)`` twenty times and every
old widget stays referenced (the kernel cannot tell that an output was
cleared). Their activation caches share ``nl.core.memory.CACHES.budget``, so
the growth is one widget's worth, plus the budget, plus what each widget
shows (its pictures and the shown layer, outside the budget). The model is
chosen so that its caches dwarf its pictures: twenty caches without the budget
would pass the bound by far (checked too, so the bound can fail).
benchmarks/memory.py measures the same on the tour's resnet18 cell.
"""
from __future__ import annotations

import gc

import torch
from torch import nn

import nnlens_widgets as nl
from tests.fuzz.widget_models import resident_bytes

MIB = 2**20
RUNS = 20


def deep_net() -> nn.Module:
    """A 1x1 conv to 16 channels, then 23 cheap elementwise layers at 64x64.

    6 MiB of activations per input (all cached), one 0.25 MiB layer shown.
    """
    torch.manual_seed(0)
    layers = [nn.Conv2d(3, 16, 1)]
    for i in range(23):
        layers.append(nn.Tanh() if i % 2 else nn.ReLU())
    return nn.Sequential(*layers).eval()


def _shown_bytes(grid) -> int:
    """What a widget holds outside the budget: its pictures and the shown layer's maps."""
    frames = [v.frame for v in grid.views.values() if getattr(v, "frame", None) is not None]
    return sum(f.nbytes for f in frames) + grid.activations.numel() * 4


def _rerun(model, x, budget: int):
    """Resident growth after each of RUNS runs of the cell, every widget kept; and the widgets' shown bytes."""
    old = nl.core.memory.CACHES.budget
    nl.core.memory.CACHES.budget = budget
    kept, growth = [], []
    try:
        gc.collect()
        start = resident_bytes()
        for _ in range(RUNS):
            kept.append(nl.ActivationGrid(model, x, layer="0"))
            growth.append(resident_bytes() - start)
        shown = max(_shown_bytes(g) for g in kept)
    finally:
        for g in kept:
            g.close()
        nl.core.memory.CACHES.budget = old
    gc.collect()
    return growth, shown


def test_rerunning_a_cell_twenty_times_stays_within_one_widget_plus_the_budget():
    model, x = deep_net(), torch.rand(3, 64, 64)
    first = nl.ActivationGrid(model, x, layer="0")  # warm-up: first allocations of every kind
    cached = nl.core.memory.CACHES.used  # what one widget puts in the budget
    first.close()
    budget = 4 * MIB
    growth, shown = _rerun(model, x, budget)
    one = growth[1] - growth[0]  # a widget in a warm process (run 1 reuses what the warm-up freed)
    bound = one + budget + RUNS * 4 * shown  # pictures are held in a few copies (frame, canvas, bytes sent)
    assert growth[-1] <= bound, (f"grew {growth[-1] / MIB:.0f} MiB over {RUNS} runs; one widget "
                                 f"{one / MIB:.0f} MiB, budget {budget / MIB:.0f} MiB, shown {shown / MIB:.1f} MiB")
    # without the shared budget the caches alone would pass the bound: the check can fail
    assert RUNS * cached > 1.5 * bound, "this model does not tell a binding budget from none"
    assert nl.core.memory.CACHES.used == 0  # closed widgets leave nothing counted

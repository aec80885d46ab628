"""The headless core with values and sizes that used to give a wrong or raw answer.

Each case either gives a clear error (type and words saying what was
expected) or the right result, and leaves the model bit-identical with no
hook left, as in ``test_core_fuzz``:

- images whose activations are not finite are left out of every ranking of
  ``top_examples`` and counted in ``skipped`` (they used to rank first);
- ``top_examples`` on images with the wrong channel count or rank;
- ``transformer_attribution`` on a wrong-size image: the same ValueError as
  ``attention_maps`` (it was torchvision's bare AssertionError);
- a PIL mode ``I`` image beyond 16 bits (it was divided by 65535 anyway);
- ``target=-1`` in every core function that takes a target: refused, naming
  the range (it silently meant the last class);
- occlusion's batches within ``core.batching.MEMORY_BUDGET``;
- what a model's ``forward`` writes to its own attributes lands on the twin.
"""
from __future__ import annotations

from typing import Callable, NamedTuple, Optional, Type

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

import nnlens_widgets as nl
from nnlens_widgets.core import ModelSnapshot, hook_count
from nnlens_widgets.core.targets import parse_target
from tests.core.vit_models import image as vit_image
from tests.core.vit_models import tv_vit
from tests.models import TinyNet, image

core = nl.core
X = image()


class Case(NamedTuple):
    run: Callable[[nn.Module], object]
    error: Optional[Type[BaseException]] = None
    match: str = ""
    check: Optional[Callable[[object], bool]] = None
    model: Callable[[], nn.Module] = lambda: TinyNet().eval()


def _images(n: int = 12, bad=(4, 9)) -> torch.Tensor:
    data = torch.rand(n, 3, 12, 12, generator=torch.Generator().manual_seed(3))
    if 4 in bad:
        data[4] = float("nan")
    if 9 in bad:
        data[9, 1, 5, 5] = float("inf")
    return data


def _left_out(m: nn.Module) -> bool:
    """The scan without images 4 and 9 equals the scan of the rest, renumbered."""
    data = _images()
    got = core.top_examples(m, data, "conv2", k=3, batch_size=5)
    keep = [i for i in range(12) if i not in (4, 9)]
    ref = core.top_examples(m, data[keep], "conv2", k=3, batch_size=5)
    renumbered = torch.tensor(keep)[ref.top_indices]
    return (got.skipped == 2 and got.count == 12 and torch.equal(got.top_indices, renumbered)
            and torch.equal(got.top_values, ref.top_values)
            and torch.equal(got.bottom_indices, torch.tensor(keep)[ref.bottom_indices]))


def _merged_and_saved(m: nn.Module) -> bool:
    data = _images()
    first = core.top_examples(m, data[:6], "conv2", k=3)
    second = core.top_examples(m, data[6:], "conv2", k=3, offset=6)
    merged = first.merge(second)
    back = core.TopExamples.from_state_dict(merged.state_dict())
    return (first.skipped, second.skipped, merged.skipped, back.skipped) == (1, 1, 2, 2)


def _incremental_over_budget(m: nn.Module):
    budget = core.batching.MEMORY_BUDGET
    core.batching.MEMORY_BUDGET = 1 << 16
    try:
        return core.occlusion(m, torch.rand(3, 64, 64), 0, 8, 8, method="incremental")
    finally:
        core.batching.MEMORY_BUDGET = budget


class Diary(nn.Module):
    """Writes to its own attributes in ``forward``: a counter, the last input's shape."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)
        self.fc = nn.Linear(4, 3)
        self.calls = 0

    def forward(self, x):
        self.calls += 1
        self.last_shape = tuple(x.shape)
        return self.fc(self.conv(x).mean((2, 3)))


def _attributes_stay_on_the_twin(m: nn.Module) -> bool:
    core.gradient(m, X, 0)
    core.occlusion(m, X, 1, 4, 4)
    return m.calls == 0 and not hasattr(m, "last_shape")


def _resnet() -> nn.Module:
    import torchvision

    torch.manual_seed(0)
    return torchvision.models.resnet18(num_classes=5).eval()


def _pil_i(value: int):
    return Image.fromarray(np.full((4, 4), value, np.int32), mode="I")


NEGATIVE = r"expected a class index in 0\.\.4, got -1 \(negative indices are not counted from the end\)"
CASES = {
    # -- images that are not finite, and the wrong images ----------------------------------
    "top examples leave out images that are not finite": Case(_left_out, check=bool),
    "skipped images merge and survive the state": Case(_merged_and_saved, check=bool),
    "every image not finite": Case(lambda m: core.top_examples(m, torch.full((3, 3, 12, 12), float("nan")), "conv2",
                                                               k=2),
                                   check=lambda r: r.skipped == 3 and bool((r.top_indices == -1).all())),
    "top examples, wrong channel count": Case(lambda m: core.top_examples(m, torch.rand(4, 1, 12, 12), "conv2"),
                                              ValueError, r"expected batches of images shaped \(N, 3, \.\.\.\).*"
                                              r"got a batch shaped \(4, 1, 12, 12\)"),
    "top examples, images without channels": Case(lambda m: core.top_examples(m, torch.rand(4, 12, 12), "conv2"),
                                                  ValueError, r"with 2 spatial axes"),
    "transformer attribution, wrong size": Case(lambda m: core.transformer_attribution(m, vit_image(0, 48)),
                                                ValueError, r"expected 40x40 images for this VisionTransformer.*48x48",
                                                model=tv_vit),
    "transformer attribution, wrong size, class target": Case(
        lambda m: core.transformer_attribution(m, vit_image(0, 32), 1), ValueError, r"expected 40x40 images",
        model=tv_vit),
    "PIL mode I beyond 16 bits": Case(lambda m: core.to_batch(_pil_i(70_000), m), ValueError,
                                      r"mode 'I' to hold 16-bit values \(0\.\.65535\), got values in 70000\.\.70000",
                                      model=lambda: TinyNet(in_ch=1)),
    "PIL mode I negative": Case(lambda m: core.to_batch(_pil_i(-3), m), ValueError, r"16-bit values",
                                model=lambda: TinyNet(in_ch=1)),
    "PIL mode I within 16 bits": Case(lambda m: core.to_batch(_pil_i(65535), m), check=lambda t: float(t.max()) == 1.0,
                                      model=lambda: TinyNet(in_ch=1)),
    # -- target -1 everywhere --------------------------------------------------------------
    **{f"target -1, {name}": Case(lambda m, name=name: core.METHODS[name].function(m, X, target=-1), ValueError,
                                  NEGATIVE) for name in core.METHODS},
    "target -1, occlusion": Case(lambda m: core.occlusion(m, X, -1, 4, 4), ValueError, NEGATIVE),
    "target -1, occlusion stream": Case(lambda m: next(core.occlusion_stream(m, X, -1, 4, 4)), ValueError, NEGATIVE),
    "target -1, deletion curve": Case(lambda m: core.metrics.deletion_curve(m, X, torch.rand(12, 12), -1, steps=2),
                                      ValueError, NEGATIVE),
    "target -1, insertion curve": Case(lambda m: core.metrics.insertion_curve(m, X, torch.rand(12, 12), -1, steps=2),
                                       ValueError, NEGATIVE),
    "target -1, trust report": Case(lambda m: core.metrics.trust_report(m, X, "gradient", -1, steps=2), ValueError,
                                    NEGATIVE),
    "target -1, sanity check": Case(lambda m: core.metrics.cascading_randomization(m, X, "gradient", -1), ValueError,
                                    NEGATIVE),
    "target -1, ablation": Case(lambda m: core.ablation_effects(m, X, "conv2", -1), ValueError,
                                r"class index in 0\.\.4 as target, got -1"),
    "target -1, GradCAM class": Case(lambda m: core.GradCAM(m, "conv2")(X, -1), ValueError, NEGATIVE),
    "target -1, numpy integer": Case(lambda m: core.gradient(m, X, np.int64(-1)), ValueError, NEGATIVE),
    "target -1, transformer attribution": Case(lambda m: core.transformer_attribution(m, vit_image(0), -1),
                                               ValueError, r"class index in 0\.\.3, got -1", model=tv_vit),
    "target -1, pointing game": Case(lambda m: core.pointing_game(m, X[None], [-1], torch.ones(1, 12, 12, dtype=bool),
                                                                  core.gradient), ValueError, NEGATIVE),
    "target -1 without a model to count classes": Case(lambda m: parse_target(-1), ValueError,
                                                       r"class index in 0\.\.classes-1, got -1"),
    # -- memory ----------------------------------------------------------------------------
    "incremental occlusion over the budget": Case(_incremental_over_budget, ValueError,
                                                  r"about \d+ MiB for this model and input, over "
                                                  r"core\.batching\.MEMORY_BUDGET \(0 MiB\)", model=_resnet),
    # -- the twin --------------------------------------------------------------------------
    "forward's attribute writes land on the twin": Case(_attributes_stay_on_the_twin, check=bool, model=Diary),
}


@pytest.mark.parametrize("name", list(CASES))
def test_core_case(name):
    case = CASES[name]
    model = case.model()
    snap = ModelSnapshot.of(model)
    if case.error is not None:
        with pytest.raises(case.error, match=case.match):
            case.run(model)
    else:
        result = case.run(model)
        assert case.check is not None and case.check(result), f"{name}: unexpected result {result!r}"
    assert ModelSnapshot.of(model).differences(snap) == {}
    assert hook_count(model) == 0


def _budget_for(model: nn.Module, x: torch.Tensor, windows: int, incremental: bool) -> int:
    """A budget with room for ``windows`` dense rows (beside the clean pass, for incremental)."""
    per_row = core.batching.bytes_per_row(model, x[None], grad=False)
    if not incremental:
        return windows * per_row
    from nnlens_widgets.core.occlusion import incremental_bytes

    with core.looking_at(model) as twin, core.batching.measuring(twin, x[None]) as row, torch.no_grad():
        twin(x[None])
    return incremental_bytes(row) + windows * per_row


@pytest.mark.parametrize("method", ["dense", "incremental"])
def test_occlusion_batches_stay_within_the_memory_budget(method, monkeypatch):
    model = _resnet() if method == "incremental" else TinyNet().eval()
    x = torch.rand(3, 32, 32, generator=torch.Generator().manual_seed(5))
    sizes = []
    real = core.incremental.IncrementalOcclusion.scores
    monkeypatch.setattr(core.incremental.IncrementalOcclusion, "scores",
                        lambda self, chunk: sizes.append(len(chunk)) or real(self, chunk))
    snap = ModelSnapshot.of(model)
    handle = model.conv1.register_forward_pre_hook(lambda _m, args: sizes.append(args[0].shape[0])) if (
        method == "dense") else None
    monkeypatch.setattr(core.batching, "MEMORY_BUDGET", _budget_for(model, x, 2, method == "incremental"))
    try:
        got = core.occlusion(model, x, 0, 4, 2, method=method)
    finally:
        if handle is not None:
            handle.remove()
    monkeypatch.undo()
    assert len(sizes) > 8 and max(sizes) <= 2, sizes  # many batches, none over two windows
    torch.testing.assert_close(got, core.occlusion(model, x, 0, 4, 2, method="dense"), rtol=1e-4, atol=1e-6)
    assert ModelSnapshot.of(model).differences(snap) == {} and hook_count(model) == 0


def test_auto_occlusion_stays_dense_when_the_clean_pass_would_not_fit(monkeypatch):
    model, x = _resnet(), torch.rand(3, 224, 224)

    def first_method():
        stream = core.occlusion_stream(model, x, 0, 16, 8, batch_size=4)
        method = next(stream).method
        stream.close()
        return method

    assert first_method() == "incremental"  # within the default budget, auto takes the incremental path
    monkeypatch.setattr(core.batching, "MEMORY_BUDGET", 1 << 16)
    assert first_method() == "dense"
    assert hook_count(model) == 0


def test_partial_maps_equal_the_window_by_window_average():
    import itertools

    rng = np.random.default_rng(0)
    for dims, window, stride in [((3, 20, 17), (3, 5, 4), (1, 3, 2)), ((3, 20, 17), (1, 5, 4), (1, 3, 5)),
                                 ((3, 20, 17), (2, 6, 6), (2, 7, 7)), ((5,), (2,), (1,))]:
        grid = core.OcclusionGrid.make(dims, window, stride)
        diffs = rng.normal(size=grid.counts)
        total, count = np.zeros(dims), np.zeros(dims)
        for idx in itertools.product(*(range(c) for c in grid.counts)):
            total[grid.slices(idx)] += diffs[idx]
            count[grid.slices(idx)] += 1
        expected = np.divide(total, count, out=np.zeros(dims), where=count > 0).astype(np.float32)
        got = grid.spread(diffs)
        assert got.dtype == np.float32 and np.array_equal(got, expected)

"""top_examples against a brute-force computation; merging, saving, bounded memory, bad input."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

import nnlens_widgets as nl
from nnlens_widgets.core import ModelSnapshot, probe
from nnlens_widgets.core.top_examples import TopExamples, activating_region, random_direction, top_examples
from tests.models import TinyNet


@pytest.fixture(scope="module")
def setup():
    model = nl.zoo.digits_cnn()
    x = nl.zoo.digits_data().x_test[:150]
    with probe(model, "relu3") as acts, torch.no_grad():
        model(x)
    return model, x, acts["relu3"]


def brute_force(maps: torch.Tensor, k: int, largest: bool):
    """Per row of maps (N, R, P): k best (indices, values, flat positions), ties by lower index."""
    n, r, _ = maps.shape
    score, where = (maps.max(2) if largest else maps.min(2))
    out = []
    for row in range(r):
        s = score[:, row].numpy()
        order = np.argsort(-s if largest else s, kind="stable")[:k]
        out.append((order.tolist(), s[order].tolist(), where[order, row].tolist()))
    return out


def check_against(result, maps, k, offset=0):
    w = maps.shape[-1]
    flat = maps.flatten(2)
    for which, largest in (("top", True), ("bottom", False)):
        expected = brute_force(flat, k, largest)
        for row, (idx, vals, pos) in enumerate(expected):
            got_idx = getattr(result, f"{which}_indices")[row].tolist()
            assert got_idx == [i + offset for i in idx], (which, row)
            assert np.allclose(getattr(result, f"{which}_values")[row].numpy(), vals, rtol=1e-6, atol=1e-6)
            locs = getattr(result, f"{which}_locations")[row].tolist()
            assert locs == [[p // w, p % w] for p in pos], (which, row)


def test_equals_brute_force_for_channels_and_directions(setup):
    model, x, acts = setup
    dirs = torch.randn(3, 64, generator=torch.Generator().manual_seed(0))
    result = top_examples(model, x, "relu3", k=7, directions=dirs, batch_size=32)
    unit_dirs = dirs / dirs.norm(dim=1, keepdim=True)
    projected = torch.einsum("nchw,dc->ndhw", acts, unit_dirs)
    check_against(result, torch.cat([acts, projected], dim=1), 7)
    assert result.count == 150 and result.layer_shape == (64, 16, 16) and result.input_shape == (1, 32, 32)
    idx, vals, locs = result.top(unit=5)
    assert idx.tolist() == result.top_indices[5].tolist()
    idx, _, _ = result.top(direction=2, k=3)
    assert idx.tolist() == result.top_indices[64 + 2, :3].tolist()


def test_chosen_units_dataset_and_loader_inputs(setup):
    model, x, acts = setup
    y = torch.zeros(len(x), dtype=torch.long)
    units = [9, 2, 40]
    by_tensor = top_examples(model, x, "relu3", units=units, k=4)
    by_dataset = top_examples(model, TensorDataset(x, y), "relu3", units=units, k=4, batch_size=17)
    by_loader = top_examples(model, DataLoader(TensorDataset(x, y), batch_size=23), "relu3", units=units, k=4)
    check_against(by_tensor, acts[:, units], 4)
    for other in (by_dataset, by_loader):
        assert torch.equal(other.top_indices, by_tensor.top_indices)
        assert torch.equal(other.bottom_locations, by_tensor.bottom_locations)
    assert by_tensor.units == units and by_tensor.top(unit=40)[0].tolist() == by_tensor.top_indices[2].tolist()


def test_ties_are_broken_by_the_lower_index():
    model = TinyNet()
    x = torch.zeros(10, 3, 6, 6)  # every image identical: all scores tie
    result = top_examples(model, x, "relu2", k=4, batch_size=5)  # equal batches: bit-equal scores
    assert (result.top_values == result.top_values[:, :1]).all()
    assert result.top_indices.tolist() == [[0, 1, 2, 3]] * 6
    assert result.bottom_indices.tolist() == [[0, 1, 2, 3]] * 6


def test_merging_two_halves_equals_the_whole(setup):
    model, x, _ = setup
    dirs = torch.randn(2, 64, generator=torch.Generator().manual_seed(3))
    whole = top_examples(model, x, "relu3", k=9, directions=dirs)
    first = top_examples(model, x[:61], "relu3", k=9, directions=dirs)
    second = top_examples(model, x[61:], "relu3", k=9, directions=dirs, offset=61)
    for merged in (first.merge(second), second.merge(first)):
        assert merged.count == whole.count
        for name in ("top_values", "top_indices", "top_locations", "bottom_values", "bottom_indices",
                     "bottom_locations"):
            assert torch.equal(getattr(merged, name), getattr(whole, name)), name
    with pytest.raises(ValueError, match="same layer"):
        whole.merge(top_examples(model, x[:10], "relu3", k=5))


def test_save_and_load_round_trip(setup, tmp_path):
    model, x, _ = setup
    result = top_examples(model, x[:40], "relu3", k=3, directions=torch.ones(64))
    path = tmp_path / "scan.pt"
    result.save(path)
    loaded = nl.core.load_top_examples(path)
    assert loaded.layer == "relu3" and loaded.k == 3 and loaded.count == 40 and loaded.units == result.units
    for name in ("directions", "top_values", "top_indices", "top_locations", "bottom_values", "bottom_indices"):
        assert torch.equal(getattr(loaded, name), getattr(result, name))
    torch.save({"something": 1}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="not a file written by"):
        TopExamples.load(tmp_path / "other.pt")


def test_memory_is_bounded_by_k_whatever_the_data_size():
    model = TinyNet()
    sizes = {}
    for n in (20, 400):
        data = torch.rand(n, 3, 6, 6, generator=torch.Generator().manual_seed(n))
        seen = []
        # the per-batch state is what the scan keeps between batches: capture its size via progress
        result = top_examples(model, data, "relu2", k=5, batch_size=10,
                              progress=lambda f, t: seen.append(f))
        sizes[n] = tuple(result.top_values.shape) + tuple(result.bottom_indices.shape)
        assert len(seen) == n // 10
    assert sizes[20] == sizes[400] == (6, 5, 6, 5)


def test_state_between_batches_stays_k_per_unit(monkeypatch):
    """The buffers handed from batch to batch never exceed k entries per row."""
    import importlib

    te_module = importlib.import_module("nnlens_widgets.core.top_examples")  # the module, not the function

    widths = []
    original = te_module._keep_best

    def spy(values, indices, locations, k, descending):
        out = original(values, indices, locations, k, descending)
        widths.append(out[0].shape[1])
        return out

    monkeypatch.setattr(te_module, "_keep_best", spy)
    top_examples(TinyNet(), torch.rand(300, 3, 6, 6), "relu2", k=4, batch_size=25)
    assert widths and max(widths) == 4


def test_model_unchanged_and_bad_inputs(setup):
    model, x, _ = setup
    model.train()
    before = ModelSnapshot.of(model)
    try:
        with pytest.raises(ValueError, match=r"channel\(s\) \[64\] out of range.*64 channels"):
            top_examples(model, x, "relu3", units=[1, 64])
        with pytest.raises(ValueError, match="direction vectors of length 64"):
            top_examples(model, x, "relu3", directions=torch.ones(2, 10))
        for k in (0, -1, 2.5):
            with pytest.raises(ValueError, match="k >= 1"):
                top_examples(model, x, "relu3", k=k)
        with pytest.raises(ValueError, match="non-empty data set"):
            top_examples(model, x[:0], "relu3")
        with pytest.raises(KeyError, match="relu3"):
            top_examples(model, x, "relu_3")
        with pytest.raises(ValueError, match="tensor"):
            top_examples(model, 42, "relu3")
        result = top_examples(model, x[:20], "relu3", k=3)
        assert ModelSnapshot.of(model).differences(before) == {}
        with pytest.raises(ValueError, match="was not scanned"):
            top_examples(model, x[:20], "relu3", units=[1, 2]).top(unit=5)
        with pytest.raises(ValueError, match="out of range"):
            result.top(direction=0)
    finally:
        model.eval()


def test_small_data_set_leaves_empty_slots():
    result = top_examples(TinyNet(), torch.rand(3, 3, 6, 6), "relu2", k=5)
    assert result.top_indices[0].tolist()[3:] == [-1, -1]
    assert len(result.top(unit=0)[0]) == 3


def test_activating_region_and_random_direction(setup):
    model, x, _ = setup
    before = ModelSnapshot.of(model)
    result = top_examples(model, x, "relu3", units=[3], k=1)
    idx, _, loc = result.top(unit=3)
    x0, y0, x1, y1 = activating_region(model, x[idx[0]], "relu3", tuple(loc[0].tolist()), unit=3)
    # relu3 is a 16x16 grid over 32 px (2 px a cell); its receptive field is 10 px (3 convs, 1 pool)
    cy, cx = (loc[0] * 2 + 1).tolist()
    assert x0 <= cx < x1 and y0 <= cy < y1
    assert 2 <= x1 - x0 <= 10 and 2 <= y1 - y0 <= 10
    assert all(p.grad is None for p in model.parameters())
    assert ModelSnapshot.of(model).differences(before) == {}
    v = random_direction(64, seed=5)
    assert v.shape == (64,) and float(v.norm()) == pytest.approx(1.0)
    assert torch.equal(v, random_direction(64, seed=5)) and not torch.equal(v, random_direction(64, seed=6))


def test_state_dict_round_trip_and_loading_a_scan_folder(setup, tmp_path):
    model, x, _ = setup
    result = top_examples(model, x[:40], "relu3", units=[1, 2], k=3)
    back = TopExamples.from_state_dict(result.state_dict())
    for name in ("top_values", "top_indices", "top_locations", "bottom_values", "bottom_indices"):
        assert torch.equal(getattr(back, name), getattr(result, name))
    assert (back.units, back.k, back.count, back.layer_shape) == ([1, 2], 3, 40, (64, 16, 16))
    with pytest.raises(ValueError, match="folder without top_examples.pt"):
        nl.core.load_top_examples(tmp_path)
    result.save(tmp_path / "top_examples.pt")  # what a command-line scan leaves in its --out folder
    assert nl.core.load_top_examples(tmp_path).top(unit=2)[0].tolist() == result.top(unit=2)[0].tolist()
    with pytest.raises(ValueError, match="not a TopExamples state"):
        TopExamples.from_state_dict({"format": "other"})

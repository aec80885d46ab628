"""Automatic batch sizes for streamed work, driven by made-up batch times."""
from nnlens_widgets.core.batching import BatchGrowth


def drive(growth, seconds_for):
    """Feed ``growth`` the time ``seconds_for(size)`` of each batch until it settles; the sizes run."""
    sizes = []
    while not growth.settled and len(sizes) < 20:
        sizes.append(growth.size)
        growth.record(growth.size, seconds_for(growth.size))
    return sizes


def test_quick_batches_grow_to_the_cap():
    g = BatchGrowth(4, 64)
    sizes = drive(g, lambda n: 0.001 * n)  # far under the quick limit: quadruples
    assert sizes == [4, 16, 64] and g.size == 64


def test_a_large_model_keeps_growing_while_each_window_gets_cheaper():
    # a fixed cost per batch (weights read once) plus a cost per item: bigger batches pay less per item
    g = BatchGrowth(4, 64)
    sizes = drive(g, lambda n: 0.2 + 0.03 * n)
    assert sizes == [4, 8, 16]  # 16 took 0.68 s: doubling it would pass the 1.2 s ceiling
    assert g.size == 16


def test_growth_stops_when_windows_cost_the_same_and_keeps_the_best_size():
    g = BatchGrowth(4, 64)
    sizes = drive(g, lambda n: 0.05 * n)  # no gain per item past the quick limit
    assert sizes == [4, 8]
    assert g.size == 8  # a tie in time per item goes to the larger batch


def test_one_slow_batch_does_not_send_the_run_back_to_the_smallest_size():
    g = BatchGrowth(4, 64)
    times = {4: 0.004, 16: 0.016, 64: 3.0}  # the batch of 64 ran while the machine was busy
    sizes = drive(g, times.__getitem__)
    assert sizes == [4, 16, 64]
    assert g.size == 16


def test_partial_batches_and_settled_growth_are_ignored():
    g = BatchGrowth(4, 64)
    g.record(3, 0.001)  # the stream's last, short batch
    assert g.size == 4 and not g.settled
    drive(g, lambda n: 0.05 * n)
    g.record(g.size, 0.0001)
    assert g.size == 8

"""How fast the Lens answers a tile click, kernel side, on the digits model and on resnet18.

For each model, ``--clicks`` clicks on channel tiles (each sent as the front
end sends it, through the tile canvas's ``handle_event``), one at a time with
the Lens idle before each, and for each click:

1. click -> every cheap panel drawn: the tile selection and the unit's
   activation over the input, read from the activation cache (the click
   returns once they are drawn; no model pass);
2. click -> the first streamed frame of the unit's feature visualisation
   (the run happens on a worker thread; its first frame comes after one step);
3. click -> the unit's gradient map and its ablation chart drawn (one
   backward and one forward pass, on the other worker).

Beside them, in the same run: one forward pass of the model on the input
(``core.class_probabilities``, best of 5), so the cheap panels read as a
fraction of what recomputing would cost. After timing 2 and 3 the click's
remaining work is stopped, so clicks do not queue behind a long
optimisation. resnet18 has random weights (``weights=None``) and a random
224 px image; digits is ``nl.zoo.digits_cnn()`` on a test image with the test
set as ``data`` (scanned once before the clicks).

    python benchmarks/lens.py [--clicks 20] [--vis-steps 64]
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402
import torch  # noqa: E402

import nnlens_widgets as nl  # noqa: E402
from benchmarks.timing import best_time  # noqa: E402

POLL_S = 0.0005


def first_times(predicates, timeout: float = 300.0) -> list:
    """Wall time when each of ``predicates`` first holds (all polled together every half millisecond)."""
    deadline = time.perf_counter() + timeout
    times = [None] * len(predicates)
    while None in times:
        now = time.perf_counter()
        for i, predicate in enumerate(predicates):
            if times[i] is None and predicate():
                times[i] = now
        if now > deadline:
            raise TimeoutError("a panel was never drawn")
        time.sleep(POLL_S)
    return times


def summary(seconds) -> str:
    ms = np.asarray(seconds) * 1000
    return f"median {statistics.median(ms):8.1f} ms   p95 {np.percentile(ms, 95):8.1f} ms   (n={len(ms)})"


def click_tile(lens, channel: int) -> None:
    view = lens.views["channels"]
    x, y, w, h = view.tile_rect(channel)
    view.canvas.handle_event({"event": "click", "x": x + w / 2, "y": y + h / 2})


def measure(name: str, model, x, layer: str, clicks: int, vis_steps: int, data=None, labels=None) -> None:
    t = time.perf_counter()
    lens = nl.Lens(model, x, layer=layer, data=data, labels=labels, vis_steps=vis_steps)
    built = time.perf_counter() - t
    lens.wait(600)
    xb = lens.input
    forward = best_time(lambda: nl.core.class_probabilities(model, xb), repeat=5)
    views = lens.views
    rng = np.random.default_rng(0)
    cheap, first_frame, unit = [], [], []
    for _ in range(clicks):
        channel = int(rng.integers(lens.channels))
        if channel == lens.channel:
            channel = (channel + 1) % lens.channels
        lens.wait(600)
        t0 = time.perf_counter()
        click_tile(lens, channel)
        cheap.append(time.perf_counter() - t0)
        assert lens.channel == channel and views["activation"].title.startswith(f"{layer} channel {channel} ")
        vis_at, unit_at = first_times([
            lambda: views["feature_vis"].title.endswith(f" channel {channel} wants"),
            lambda: (views["unit_gradient"].title.endswith(f" channel {channel}")
                     and f"channel {channel} set to 0" in views["ablation"].body.value)])
        first_frame.append(vis_at - t0)
        unit.append(unit_at - t0)
        lens.stop()
    assert lens.error is None, lens.error
    print(f"\n{name}: layer {layer} ({lens.channels} channels), input {tuple(xb.shape)}, "
          f"Lens built in {built * 1000:.0f} ms")
    print(f"  one forward pass (best of 5)            {forward * 1000:8.1f} ms")
    print(f"  click -> cheap panels drawn             {summary(cheap)}")
    print(f"      = {statistics.median(cheap) / forward:.2f}x one forward pass (median)")
    print(f"  click -> first feature-vis frame        {summary(first_frame)}")
    print(f"  click -> unit gradient + ablation drawn {summary(unit)}")
    lens.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clicks", type=int, default=20)
    parser.add_argument("--vis-steps", type=int, default=64)
    args = parser.parse_args()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; times are kernel side (no browser)")

    digits = nl.zoo.digits_data()
    measure("digits_cnn", nl.zoo.digits_cnn(), digits.x_test[0], "relu3", args.clicks, args.vis_steps,
            data=digits.x_test, labels=digits.classes)

    from torchvision.models import resnet18

    torch.manual_seed(0)
    model = resnet18(weights=None)
    x = torch.rand(3, 224, 224, generator=torch.Generator().manual_seed(0))
    measure("resnet18 (random weights)", model, x, "layer3", args.clicks, args.vis_steps)


if __name__ == "__main__":
    main()

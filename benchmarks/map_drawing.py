"""Drawing an occlusion / attribution map frame: sent enlarged (the former way) vs
sent at its own resolution over a grey copy of the photo (now), one run, CPU.

For each picture size: milliseconds to colour the map, lay it over the photo and
encode the frame message, and the bytes that message carries to the browser.
Both ways are timed alternately, best of ``--repeat``.

    python benchmarks/map_drawing.py [--repeat 30]
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from timing import best_time  # noqa: E402

from nnlens_widgets.render import blend, heatmap_rgba, upscale  # noqa: E402
from nnlens_widgets.render.attribution_maps import overlay_rgba  # noqa: E402
from nnlens_widgets.render.tiling import fit_factor  # noqa: E402
from nnlens_widgets.widgets.frame_canvas import encode_frame  # noqa: E402


def enlarged(photo, values, factor):
    """The former way: colour, blend over the photo in colour, enlarge, encode."""
    picture = upscale(blend(photo, heatmap_rgba(values, "both"), 0.6), factor)
    return encode_frame(picture, 1)


def own_resolution(photo, values):
    """Now: colour over a grey copy, at the picture's own size; the browser enlarges it."""
    vmax = float(np.abs(values).max()) or 1.0
    return encode_frame(overlay_rgba(photo, values, "both", vmax, 0.8), 1)


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=30)
    args = ap.parse_args(argv)
    rng = np.random.default_rng(0)
    print(f"{'picture':>30s} {'former ms':>10s} {'now ms':>8s} {'speed-up':>9s} "
          f"{'former bytes':>13s} {'now bytes':>10s} {'bytes ratio':>12s}")
    for name, side, display in (("digits 32x32", 32, 384), ("shapes 64x64", 64, 384),
                                ("photo 224x224", 224, 384)):
        photo = np.empty((side, side, 4), np.uint8)
        photo[..., :3] = rng.integers(0, 256, (side, side, 3))
        photo[..., 3] = 255
        yy, xx = np.mgrid[:side, :side] / side
        values = np.exp(-((yy - 0.6) ** 2 + (xx - 0.4) ** 2) * 20) - 0.3 * np.exp(-((yy - 0.2) ** 2) * 40)
        values = values.astype(np.float32)
        factor = fit_factor(side, display)
        old_t = new_t = float("inf")
        for _ in range(args.repeat):  # alternate, so both see the same machine load
            old_t = min(old_t, best_time(lambda: enlarged(photo, values, factor)))
            new_t = min(new_t, best_time(lambda: own_resolution(photo, values)))
        old_b, new_b = len(enlarged(photo, values, factor)), len(own_resolution(photo, values))
        print(f"{name + f' (x{factor} on screen)':>30s} {1e3 * old_t:10.2f} {1e3 * new_t:8.2f} "
              f"{old_t / new_t:8.1f}x {old_b:13d} {new_b:10d} {old_b / new_b:11.1f}x")


if __name__ == "__main__":
    main()

"""Concept whitening costs, side by side in one run on the CPU.

- forward + backward of ``ConceptWhitening`` vs ``nn.BatchNorm2d`` in training
  mode, batch 32 at 16x16, 64 and 256 channels (ratio = CW / BN);
- one rotation update (Cayley step with curvilinear search), 6 concepts of 32
  examples each, 64 channels;
- Newton-iteration whitening (10 and 20 steps) vs eigendecomposition ZCA on
  the same batch: time, and how far the whitened covariance is from identity
  (largest |Cov - I| entry) for each.

Times are the best of ``--repeat`` runs, alternating. Nothing is asserted.

    python benchmarks/concept_whitening.py [--repeat 5] [--threads N]
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch
from torch import nn

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from timing import best_time as _best  # noqa: E402

from nnlens_widgets.core import ConceptWhitening, newton_whitening  # noqa: E402


def _correlated(n, c, hw, seed=0, spread=2.0):
    """Activations whose covariance spans about ``2 * spread`` decades, as real layers' do."""
    g = torch.Generator().manual_seed(seed)
    q, _ = torch.linalg.qr(torch.randn(c, c, generator=g))
    scales = torch.logspace(-spread, 0, c)
    x = torch.randn(n, c, hw, hw, generator=g)
    return torch.einsum("nchw,dc->ndhw", x * scales[None, :, None, None], q) + 1.0


def forward_backward(repeat):
    print("forward + backward, training mode, batch 32 x C x 16 x 16 (ms)")
    print(f"{'channels':>8}  {'BatchNorm2d':>11}  {'ConceptWhitening':>16}  {'ratio':>6}")
    for c in (64, 256):
        x = _correlated(32, c, 16).requires_grad_(True)
        bn, cw = nn.BatchNorm2d(c).train(), ConceptWhitening(c).train()

        def run(m):
            return lambda: m(x).square().mean().backward()

        t_bn, t_cw = float("inf"), float("inf")
        run(bn)(), run(cw)()  # warm up
        for _ in range(repeat):
            t_bn = min(t_bn, _best(run(bn), 1))
            t_cw = min(t_cw, _best(run(cw), 1))
        print(f"{c:>8}  {t_bn * 1e3:>11.2f}  {t_cw * 1e3:>16.2f}  {t_cw / t_bn:>5.1f}x")


def rotation_update(repeat):
    cw = ConceptWhitening(64, [f"c{i}" for i in range(6)]).eval()
    maps = {f"c{i}": cw.whiten(_correlated(32, 64, 16, seed=i)) for i in range(6)}
    cw.update_rotation(maps)
    t = _best(lambda: cw.update_rotation(maps), repeat)
    step = cw.update_rotation(maps)
    print(f"\none rotation update (64 channels, 6 concepts x 32 examples at 16x16): {t * 1e3:.1f} ms "
          f"({step.tries} loss evaluations in the last search)")


def whitening(repeat):
    x = _correlated(64, 64, 16, seed=7)
    cols = x.transpose(0, 1).reshape(64, -1)

    def zca():
        centred = cols - cols.mean(1, keepdim=True)
        sigma = (centred @ centred.T).double() / centred.shape[1] + 1e-5 * torch.eye(64, dtype=torch.float64)
        vals, vecs = torch.linalg.eigh(sigma)
        return (vecs @ torch.diag(vals.rsqrt()) @ vecs.T).float()

    def off_identity(w):
        y = w @ (cols - cols.mean(1, keepdim=True))
        return float((y @ y.T / y.shape[1] - torch.eye(64)).abs().max())

    ref = zca()
    print("\nwhitening 64 channels, 64 x 16 x 16 samples, covariance spanning 4 decades")
    print(f"{'method':>22}  {'ms':>7}  {'max |Cov - I|':>13}  {'max |W - W_zca| / max |W_zca|':>30}")
    for name, fn in (("eigh ZCA (float64)", zca),
                     ("Newton, 10 steps", lambda: newton_whitening(x, iterations=10)[1]),
                     ("Newton, 20 steps", lambda: newton_whitening(x, iterations=20)[1])):
        fn()
        t = _best(fn, repeat)
        w = fn()
        diff = float((w - ref).abs().max() / ref.abs().max())
        print(f"{name:>22}  {t * 1e3:>7.2f}  {off_identity(w):>13.2e}  {diff:>30.2e}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads\n")
    forward_backward(args.repeat)
    rotation_update(args.repeat)
    whitening(args.repeat)


if __name__ == "__main__":
    main()

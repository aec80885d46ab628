"""Training a TopK sparse autoencoder on one layer of a model, on the CPU in minutes.

The layer is read once over the data (``reading.sample_rows``, through a
private twin of the model, whole images held out for measuring); training
then only touches those rows (``optimizing.optimize``). The decoder starts
as random unit columns, the encoder as its transpose and ``b_dec`` as the
mean row. Rows are divided by one scale during training (their
root-mean-square deviation per number), folded into the biases at the end,
so the result works in the layer's own units: z scales with the rows, the
unit decoder columns do not.

Every random draw comes from one ``torch.Generator`` seeded by ``seed``, so
the same call gives the same autoencoder bit for bit (same machine, same
thread count).
"""
from __future__ import annotations

import math
import numbers
import time
from typing import Callable, Optional

import torch
from torch import nn

from ..fingerprints import weights_hash
from ..guard import check_model
from ..inputs import model_device
from ..probe import get_module
from .autoencoder import SparseAutoencoder, measure
from .optimizing import optimize
from .reading import sample_rows

__all__ = ["train_sae", "DEFAULT_MEMORY"]

#: bytes of activation rows kept for training (the held-out rows take a quarter more)
DEFAULT_MEMORY = 256 * 2**20
READ_SHARE = 0.1  # share of the progress bar for reading the layer


def _positive_int(value, name: str, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"expected {name} as an integer >= {minimum}, got {value!r}")
    return int(value)


def train_sae(
    model: nn.Module,
    layer: str,
    data,
    features: Optional[int] = None,
    k: Optional[int] = None,
    steps: Optional[int] = None,
    seed: int = 0,
    batch_size: int = 1024,
    progress: Optional[Callable[[float, str], None]] = None,
    *,
    should_stop: Optional[Callable[[], bool]] = None,
    class_token: bool = False,
    held_out=0.1,
    lr: float = 2e-3,
    resample_every: Optional[int] = None,
    dense_threshold: float = 0.1,
    memory_bytes: int = DEFAULT_MEMORY,
    read_batch: int = 64,
    preprocess: Optional[Callable] = None,
) -> SparseAutoencoder:
    """A TopK sparse autoencoder of ``layer``'s activations at every position, trained on ``data``.

    Parameters
    ----------
    model, layer
        The model (left unchanged and hook-free) and a layer name: a conv
        layer (every position of its maps), a vision transformer block
        (its patch tokens; ``class_token=True`` adds the class/register
        tokens) or a layer with one vector per image.
    data
        Images: a tensor ``(N, C, H, W)``, a Dataset or a DataLoader (items
        may be ``(x, y)`` pairs); ``preprocess`` maps each batch first.
    features, k
        Dictionary size (default 4 per number in a row) and
        features kept per position (default an eighth of the row's
        numbers, at least 1).
    steps
        Optimisation steps of ``batch_size`` rows (default: 10 passes over
        the rows read, between 500 and 4000).
    seed
        Seeds the one generator behind every random draw.
    progress, should_stop
        ``progress(fraction, text)`` while reading the layer and every few
        steps; ``should_stop()`` is checked before each batch read and each
        step. Stopped while reading: ``InterruptedError``; stopped while
        training: the autoencoder as far as it got (``stats.stopped``).
    held_out
        Fraction of the images (whole images) kept aside to measure the
        result on, or a data set of its own.
    lr, resample_every, dense_threshold
        Adam's learning rate; the dead-feature check interval (default
        ``steps // 20``, at least 25); the firing share above which a
        feature counts as dense in ``stats``.
    memory_bytes, read_batch
        Budget for the rows kept (positions are sampled uniformly when the
        data has more); images per forward pass while reading.

    Returns
    -------
    SparseAutoencoder
        With ``layer``, ``model_hash``, ``settings`` and ``stats`` (held-out
        explained variance, L0, dead and dense counts, the loss history).
    """
    check_model(model)
    get_module(model, layer)  # KeyError with the closest names before any work
    if features is not None:
        features = _positive_int(features, "features")
    if k is not None:
        k = _positive_int(k, "k")
    if steps is not None:
        steps = _positive_int(steps, "steps")
    if features is not None and k is not None and k > features:
        raise ValueError(f"expected k <= features, got k={k}, features={features}")
    batch_size = _positive_int(batch_size, "batch_size")
    if not (isinstance(lr, numbers.Real) and math.isfinite(lr) and lr > 0):
        raise ValueError(f"expected a positive learning rate, got {lr!r}")
    if isinstance(held_out, bool):
        raise ValueError(f"expected held_out as a fraction in [0, 1) of the images, or a data set; got {held_out!r}")
    started = time.perf_counter()
    generator = torch.Generator().manual_seed(int(seed))
    report = progress or (lambda _f, _t: None)
    sample = sample_rows(model, layer, data, held_out=held_out, class_token=class_token, generator=generator,
                         max_values=_positive_int(memory_bytes, "memory_bytes") // 4,
                         batch_size=_positive_int(read_batch, "read_batch"), preprocess=preprocess,
                         progress=lambda f, t: report(READ_SHARE * f, t), should_stop=should_stop)
    rows, positions = sample.train, sample.positions
    d = positions.dim
    features = features or 4 * d
    k = k or max(1, d // 8)
    if k > features:
        raise ValueError(f"expected k <= features, got k={k}, features={features}")
    steps = steps or int(min(4000, max(500, math.ceil(10 * len(rows) / batch_size))))
    resample_every = _positive_int(resample_every, "resample_every") if resample_every else max(25, steps // 20)

    mean = rows.double().mean(0)
    scale = float(((rows.double() - mean).pow(2).sum(1).mean() / d).sqrt())
    if not math.isfinite(scale) or scale == 0:
        raise ValueError(f"layer {layer!r} gives the same activations at every position of the data; "
                         "there is nothing for an autoencoder to learn")
    sae = SparseAutoencoder(features, k, positions, layer, weights_hash(model)).to(model_device(model))
    with torch.no_grad():
        sae.W_dec.copy_(torch.randn(d, features, generator=generator))
        sae.normalize_decoder()
        sae.W_enc.copy_(sae.W_dec.T)
        sae.b_dec.copy_((mean / scale).float())
    loop = optimize(sae, rows, scale=scale, steps=steps, batch_size=batch_size, lr=lr,
                    resample_every=resample_every, generator=generator, should_stop=should_stop,
                    report=lambda f, t: report(READ_SHARE + (1 - READ_SHARE) * f, t))
    with torch.no_grad():  # back to the layer's units: z and the biases scale, the unit columns do not
        sae.b_dec.mul_(scale)
        sae.b_enc.mul_(scale)
    sae.requires_grad_(False)
    stats = measure(sae, sample.held_out, dense_threshold)
    stats.steps, stats.resampled, stats.stopped, stats.history = loop.steps, loop.resampled, loop.stopped, loop.history
    stats.seconds = time.perf_counter() - started
    sae.stats = stats
    sae.settings = dict(
        features=features, k=k, steps=steps, seed=int(seed), batch_size=batch_size, lr=float(lr),
        resample_every=resample_every, class_token=bool(class_token),
        held_out=float(held_out) if isinstance(held_out, numbers.Real) else "separate data",
        images=sample.images, held_out_images=sample.held_out_images, rows=len(rows),
        held_out_rows=len(sample.held_out), kept_fraction=sample.kept_fraction, scale=scale,
        input_shape=list(sample.input_shape), torch=str(torch.__version__))
    report(1.0, f"done: {stats.summary()}")
    return sae

"""Is a unit's feature visualisation processed like the natural images that drive it?

Geirhos et al. 2023 ("Don't trust your eyes") build networks whose feature
visualisations show anything at all while their behaviour on natural
images is unchanged, and find that even in ordinary networks
visualisations travel through most layers very differently from natural
images. Their sanity check, per unit: at every layer up to the unit's, take
each channel's mean activation, and compare (Spearman rank correlation
over the layer's channels) the visualisation's profile with those of the
unit's top natural examples and with those of random data images. Where
the visualisation is closer to the top examples than to random images, the
network treats it like the natural images the unit stands for. A
visualisation that is never so, up to the unit itself, shows a way to
drive the unit that natural images do not take: it is flagged.

At the unit's own layer the unit is left out of the profiles: it is high
for the visualisation and the top examples by construction.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import List, Optional, Sequence, Tuple

import numpy as np
import torch
from torch import nn

from ..guard import check_model
from ..probe import forward_capture, get_module
from ..scan_data import inputs_of
from ..top_examples import top_examples
from .objectives import channel as channel_objective
from .render import VisStep, model_input, optimize_image, resolve_settings

__all__ = ["LayerSimilarity", "FeatureVisSanity", "featurevis_sanity"]


@dataclass(frozen=True)
class LayerSimilarity:
    layer: str
    to_top: float  # mean Spearman of the visualisation's channel profile with the top examples'
    to_random: float  # ... with the random images'
    natural: float  # mean Spearman of the top examples with the random images (natural images among themselves)
    z: float  # (to_top - to_random) / its standard error over the images compared

    @property
    def like_natural(self) -> bool:
        """The visualisation is clearly closer to the unit's top examples than to random images here (z > 2)."""
        return self.z > 2.0


@dataclass(frozen=True)
class FeatureVisSanity:
    """Result of :func:`featurevis_sanity` (plain numbers, names and sentences)."""

    layer: str
    channel: int
    layers: Tuple[LayerSimilarity, ...]  # in forward order, ending with the unit's layer
    first_layer: Optional[str]  # from this layer on (to the unit's) it is processed like natural images
    top_indices: Tuple[int, ...]
    random_indices: Tuple[int, ...]
    unit_value: float  # the unit's mean activation for the visualisation
    top_value: float  # ... and, averaged, for its top natural examples

    @property
    def flagged(self) -> bool:
        return self.first_layer is None

    @property
    def warnings(self) -> Tuple[str, ...]:
        if not self.flagged:
            return ()
        return (f"the feature visualisation of {self.layer} channel {self.channel} is never processed like the "
                f"natural images that drive the unit: at no layer up to {self.layer} are its activations closer "
                "to the unit's top examples than to random images, so the picture may show a way to drive the "
                "unit that natural images do not take",)


def _spearman_rows(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Spearman correlation of every row of ``a`` with every row of ``b`` (0 where a row is constant)."""
    from scipy.stats import rankdata

    def centred_ranks(m):
        r = rankdata(m, axis=1)
        r = r - r.mean(axis=1, keepdims=True)
        norm = np.linalg.norm(r, axis=1, keepdims=True)
        return np.divide(r, norm, out=np.zeros_like(r), where=norm > 0)

    return centred_ranks(a) @ centred_ranks(b).T


def _z(a: np.ndarray, b: np.ndarray) -> float:
    """Difference of means over its standard error (Welch); 0 when both sets are constant."""
    se = float(np.sqrt(a.var(ddof=1) / len(a) + b.var(ddof=1) / len(b)))
    diff = float(a.mean() - b.mean())
    return diff / se if se > 0 else (float(np.sign(diff)) * np.inf if diff else 0.0)


def _profiles(output) -> torch.Tensor:
    """Each channel's mean over positions: (N, C)."""
    if not isinstance(output, torch.Tensor) or output.ndim < 2:
        return torch.zeros(0)
    return output.detach().float().reshape(output.shape[0], output.shape[1], -1).mean(-1)


def _compared_layers(model: nn.Module, x: torch.Tensor, layer: str) -> List[str]:
    """Leaf modules with (N, C, ...) tensor outputs that finish no later than ``layer``, in forward order."""
    names = [n for n, m in model.named_modules() if n and not any(True for _ in m.children())]
    if layer not in names:
        names.append(layer)
    acts, _ = forward_capture(model, x, names, keep=lambda out: out.ndim if isinstance(out, torch.Tensor) else 0)
    if layer not in acts.finished:
        raise ValueError(f"layer {layer!r} did not run in the model's forward pass")
    end = acts.finished[layer]
    ran = sorted((acts.finished[n], n) for n in names if n in acts.finished and acts[n] >= 2)
    return [n for order, n in ran if order <= end]


def _item(data, i: int) -> torch.Tensor:
    if isinstance(data, torch.Tensor):
        return data[i]
    source = data.dataset if isinstance(data, torch.utils.data.DataLoader) else data
    return torch.as_tensor(inputs_of(source[i]))


def featurevis_sanity(model: nn.Module, layer: str, channel: int, data, *, k: int = 16, random: int = 16,
                      steps: int = 128, seed: int = 0, layers: Optional[Sequence[str]] = None,
                      vis: Optional[torch.Tensor] = None, batch_size: int = 128, **vis_kwargs) -> FeatureVisSanity:
    """Compare, layer by layer, how ``channel`` of ``layer``'s visualisation and its natural images are processed.

    Parameters
    ----------
    model : nn.Module
        Looked at, never changed.
    layer, channel
        The unit: a channel of a layer with outputs ``(N, C, ...)``.
    data
        Natural images: a tensor ``(N, C, H, W)``, a Dataset or a DataLoader (the model's inputs).
    k, random
        How many top examples (by the unit's peak, as ``top_examples`` ranks them)
        and how many random other images (own generator, ``seed``) to compare with.
    steps, seed, **vis_kwargs
        The feature visualisation (``optimize_image`` of ``channel(layer, channel)``
        at the data's image size); or ``vis``: a visualisation already made, as
        the model's input ``(1, C, H, W)``.
    layers
        The layers to compare (default: every leaf module up to ``layer``).
    """
    check_model(model)
    get_module(model, layer)
    first = _item(data, 0)
    count = len(data.dataset if isinstance(data, torch.utils.data.DataLoader) else data)  # type: ignore[arg-type]
    if count < k + random:
        raise ValueError(f"expected at least k + random = {k + random} images in data, got {count}")
    found = top_examples(model, data, layer, units=[int(channel)], k=k, batch_size=batch_size)
    top = [int(i) for i in found.top(unit=int(channel))[0]]
    rest = np.setdiff1d(np.arange(count), top)
    others = sorted(int(i) for i in np.random.default_rng(seed).choice(rest, random, replace=False))
    if vis is None:
        size = tuple(first.shape[-2:])
        step: VisStep = optimize_image(model, channel_objective(layer, int(channel)), steps=steps, seed=seed,
                                       input_size=size, **vis_kwargs)
        settings = resolve_settings(model, size, vis_kwargs.get("channels"), vis_kwargs.get("normalize", "auto"),
                                    vis_kwargs.get("resize_to", "auto"))
        vis = model_input(step.images, settings)
    device = next((p.device for p in model.parameters()), torch.device("cpu"))
    images = torch.cat([vis.reshape(1, *first.shape).to(device, torch.float32),
                        torch.stack([_item(data, i) for i in top + others]).to(device, torch.float32)])
    names = list(layers) if layers is not None else _compared_layers(model, images[:1], layer)
    acts, _ = forward_capture(model, images, names, keep=_profiles)
    rows = []
    for name in names:
        p = acts[name].numpy()
        if name == layer:
            p = np.delete(p, int(channel), axis=1)
        v, t, r = p[:1], p[1:1 + len(top)], p[1 + len(top):]
        to_top, to_random = _spearman_rows(v, t)[0], _spearman_rows(v, r)[0]
        rows.append(LayerSimilarity(name, float(to_top.mean()), float(to_random.mean()),
                                    float(_spearman_rows(t, r).mean()), _z(to_top, to_random)))
    first_layer = None
    for i in range(len(rows) - 1, -1, -1):
        if not rows[i].like_natural:
            break
        first_layer = rows[i].layer
    unit = acts[layer] if layer in acts else forward_capture(model, images, [layer], keep=_profiles)[0][layer]
    return FeatureVisSanity(layer, int(channel), tuple(rows), first_layer, tuple(top), tuple(others),
                            float(unit[0, int(channel)]), float(unit[1:1 + len(top), int(channel)].mean()))

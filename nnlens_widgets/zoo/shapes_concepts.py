"""The shapes CNN with concept whitening in place of ``bn2``, and the concept sets it was aligned with.

Six concepts, one axis each: the shape's colour (red, green, blue, yellow,
magenta, cyan). Each concept set holds images showing exactly one of the
listed concepts, so a set's images are negatives for every other concept.

Why colours, and why ``bn2``: a network trained to tell shapes apart learns
to ignore the background, so background texture is barely readable in its
layers (a rotation aligned with stripes, checker, noise and gradient reached
AUC 0.39 to 0.80 at ``bn2`` and ``bn3``), and size is readable only late
(``bn4``: large 0.94, small 0.87). The shape's colour is kept in ``bn2``;
each colour sits on a small part of the image, so examples are scored by
their axis's maximum over the map (``pool=0``).

Run ``python -m nnlens_widgets.zoo.shapes_concepts`` to retrain from the shipped
shapes CNN and rewrite the shipped weights.
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch

from ..core.concepts import ConceptTraining, replace_batchnorm, train_concept_whitening
from .shapes import SHAPE_CONCEPTS, Shapes, ShapesCNN, _augment, concept_examples, shapes_cnn, shapes_data
from .training import accuracy, load_weights, save_weights

__all__ = ["CW_CONCEPTS", "CW_LAYER", "CW_WEIGHTS_PATH", "shapes_concept_sets", "shapes_cw", "train_shapes_cw"]

#: (concept name, attribute, value); the name is the axis label.
CW_CONCEPTS: Tuple[Tuple[str, str, str], ...] = tuple((c, "color", c) for c in SHAPE_CONCEPTS["color"])
CW_LAYER = "bn2"
#: 20 Newton steps: the shapes CNN's layers have covariances spanning four
#: decades, and 10 steps leave the smallest directions at a tenth of unit variance.
CW_OPTIONS = dict(iterations=20, pool=0)
CW_WEIGHTS_PATH = Path(__file__).parent / "weights" / "shapes_cw.pt"


def _has_one(images: Shapes, concepts: Sequence[Tuple[str, str, str]], index: int) -> np.ndarray:
    """Which images show concept ``index`` and none of the others."""
    keep = np.ones(len(images), dtype=bool)
    for j, (_, attribute, value) in enumerate(concepts):
        has = np.array([v == value for v in images.attributes[attribute]])
        keep &= has if j == index else ~has
    return keep


def shapes_concept_sets(n: int = 200, seed: int = 0, concepts=CW_CONCEPTS, size: int = 64) -> Dict[str, Shapes]:
    """``{concept name: n images}`` where each image shows its concept and none of the other listed ones.

    Drawn with ``concept_examples`` (the concept's attribute fixed, the rest
    random) and filtered; the same seed gives the same sets. Use different
    seeds for the sets a rotation is trained on and the ones it is judged on.
    """
    for name, attribute, value in concepts:
        if attribute not in SHAPE_CONCEPTS or value not in SHAPE_CONCEPTS[attribute]:
            raise ValueError(f"concept {name!r}: unknown attribute value {attribute}={value!r}; "
                             f"expected one of {SHAPE_CONCEPTS}")
    out = {}
    for index, (name, attribute, value) in enumerate(concepts):
        kept: List[Shapes] = []
        round_ = 0
        while sum(len(k) for k in kept) < n:
            batch = concept_examples(attribute, value, 4 * n, seed=seed * 1000 + round_, size=size)
            kept.append(batch.subset(np.flatnonzero(_has_one(batch, concepts, index))))
            round_ += 1
        out[name] = _join(kept, n)
    return out


def _join(parts: List[Shapes], n: int) -> Shapes:
    attributes: Dict[str, Union[list, np.ndarray]] = {}
    for key, value in parts[0].attributes.items():
        if isinstance(value, list):
            attributes[key] = [v for p in parts for v in p.attributes[key]][:n]
        else:
            attributes[key] = np.concatenate([p.attributes[key] for p in parts])[:n]
    return Shapes(torch.cat([p.images for p in parts])[:n], torch.cat([p.labels for p in parts])[:n],
                  torch.cat([p.masks for p in parts])[:n], attributes, list(parts[0].classes))


def _with_cw() -> ShapesCNN:
    model = ShapesCNN()
    replace_batchnorm(model, CW_LAYER, [c[0] for c in CW_CONCEPTS], **CW_OPTIONS)
    return model


def shapes_cw(pretrained: bool = True) -> ShapesCNN:
    """The shapes CNN with ``bn3`` replaced by concept whitening (eval mode): the shipped weights,
    or the random init of that architecture if not ``pretrained``."""
    return load_weights(_with_cw(), CW_WEIGHTS_PATH) if pretrained else _with_cw().eval()


def train_shapes_cw(epochs: int = 6, seed: int = 0, every: int = 3, lr: float = 3e-3, n_concept: int = 300,
                    layer: str = CW_LAYER,
                    progress: Optional[Callable[[float, str], None]] = None) -> Tuple[ShapesCNN, ConceptTraining]:
    """From the shipped shapes CNN: swap ``layer`` for concept whitening, fine-tune with rotation updates
    (AdamW, one-cycle learning rate peaking at ``lr``)."""
    model = shapes_cnn(pretrained=True)
    replace_batchnorm(model, layer, [c[0] for c in CW_CONCEPTS], **CW_OPTIONS)
    concepts = {k: v.images for k, v in shapes_concept_sets(n_concept, seed=seed).items()}
    history = train_concept_whitening(
        model, shapes_data(seed), concepts, epochs=epochs, every=every, lr=lr, augment=_augment, seed=seed,
        schedule=lambda opt, total: torch.optim.lr_scheduler.OneCycleLR(opt, lr, total_steps=total),
        progress=progress)
    return model, history


def main() -> None:
    """Retrain with the default settings and overwrite ``CW_WEIGHTS_PATH``."""
    from ..core.concepts import best_channels, concept_purity

    start = time.perf_counter()
    last = [0.0]

    def report(fraction: float, text: str) -> None:
        if time.perf_counter() - last[0] > 20:
            last[0] = time.perf_counter()
            print(f"{fraction:5.1%} {text} ({last[0] - start:.0f} s)", flush=True)

    import sys

    layer = sys.argv[1] if len(sys.argv) > 1 else CW_LAYER
    model, history = train_shapes_cw(progress=report, layer=layer)
    save_weights(model, CW_WEIGHTS_PATH)
    data = shapes_data(n_train=0)
    held_out = {k: v.images for k, v in shapes_concept_sets(200, seed=1).items()}
    print(f"trained in {time.perf_counter() - start:.0f} s; main loss per epoch {history.main_loss}")
    print(f"test accuracy: concept whitening {accuracy(model, data.x_test, data.y_test):.4f}, "
          f"BatchNorm {accuracy(shapes_cnn(), data.x_test, data.y_test):.4f}")
    purity = concept_purity(model, layer, held_out)
    base = best_channels(shapes_cnn(), layer, held_out, pool=CW_OPTIONS["pool"])
    for c, a, s, b in zip(purity.concepts, purity.auc, purity.std, base.auc):
        print(f"{c:8s} axis AUC {a:.3f} +- {s:.3f}   best BN channel {b:.3f}")


if __name__ == "__main__":
    main()

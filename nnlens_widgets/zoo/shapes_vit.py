"""A small vision transformer trained on the shapes images.

torchvision's ``VisionTransformer`` at the shapes' 64x64 pixels with 8x8
patches: a class token and an 8x8 grid of patch tokens, a few encoder
blocks, the class token read by a linear head. It sees the same data and is
trained by the same loop as ``ShapesCNN`` (``training.fit_classifier``), so
the two can be compared method by method on the shapes' exact masks.

Run ``python -m nnlens_widgets.zoo.shapes_vit`` to retrain it and rewrite the
shipped weights (stored as float16, loaded as float32).
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable, NamedTuple, Optional

import torch
from torchvision.models import VisionTransformer
from torchvision.models.vision_transformer import ConvStemConfig

from .shapes import SHAPE_CLASSES, _augment, make_shapes, shapes_data
from .training import accuracy, epoch_printer, fit_classifier, retrain, seeded

__all__ = ["VIT_WEIGHTS_PATH", "VIT_CONFIG", "ShapesViT", "TrainingSet", "shapes_vit", "train_shapes_vit",
           "vit_training_data"]

VIT_WEIGHTS_PATH = Path(__file__).parent / "weights" / "shapes_vit.pt"

#: The architecture: 64 px images, 8 px patches (an 8x8 grid of tokens plus the class token).
VIT_CONFIG = dict(image_size=64, patch_size=8, num_layers=4, num_heads=4, hidden_dim=64, mlp_dim=128)

#: The patch embedding: three 3x3 stride-2 convolutions (64 -> 32 -> 16 -> 8 px) then a 1x1
#: projection, instead of one 8x8 linear map per patch (Xiao et al. 2021, "Early convolutions
#: help transformers see better"): each token still stands for one 8x8 patch (its receptive
#: field is 15 px around it) and the transformer learns in minutes on a CPU.
STEM = [ConvStemConfig(16, 3, 2), ConvStemConfig(32, 3, 2), ConvStemConfig(64, 3, 2)]

#: Extra training images beyond ``shapes_data``'s 6000: a transformer has no
#: convolutional prior and needs more examples to reach the CNN's accuracy.
EXTRA_TRAIN = 6000


class ShapesViT(VisionTransformer):
    """torchvision's ``VisionTransformer`` with ``VIT_CONFIG``.

    Input 3x64x64 RGB in [0, 1]; ``conv_proj`` cuts 8x8 patches; blocks
    ``encoder.layers.encoder_layer_0..3``, each with ``ln_1``,
    ``self_attention`` (4 heads of 16), ``ln_2``, ``mlp``; ``heads.head``
    maps the class token to 5 logits.
    """

    def __init__(self, num_classes: int = len(SHAPE_CLASSES)):
        super().__init__(num_classes=num_classes, conv_stem_configs=STEM, **VIT_CONFIG)


class TrainingSet(NamedTuple):
    """Images and labels as ``training.fit_classifier`` reads them."""

    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor


def vit_training_data(seed: int = 0) -> TrainingSet:
    """``shapes_data(seed)`` with ``EXTRA_TRAIN`` more training images (``make_shapes(EXTRA_TRAIN, seed + 20_000)``)."""
    base = shapes_data(seed)
    more = make_shapes(EXTRA_TRAIN, seed=seed + 20_000)
    return TrainingSet(torch.cat([base.x_train, more.images]), torch.cat([base.y_train, more.labels]),
                       base.x_test, base.y_test)


def train_shapes_vit(
    epochs: int = 20,
    seed: int = 0,
    on_progress: Optional[Callable[[int, float, float], None]] = None,
    data: Optional[TrainingSet] = None,
    batch_size: int = 128,
    lr: float = 2e-3,
) -> VisionTransformer:
    """Train a ``ShapesViT`` on the shapes (``shapes_data(seed)`` plus ``EXTRA_TRAIN`` images).

    The ``ShapesCNN`` recipe (``training.fit_classifier``: AdamW, one-cycle
    schedule, random flips and quarter turns, seeded and bit-reproducible on
    the same machine and thread count) with a transformer's weight decay.
    ``on_progress(epoch, loss, test_accuracy)`` after each epoch. Returns the
    model in eval mode.
    """
    if data is None:
        data = vit_training_data(seed)
    generator = torch.Generator().manual_seed(seed)
    model = seeded(ShapesViT, seed)
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.05)
    return fit_classifier(model, data, epochs, batch_size, optimizer, generator, _augment, on_progress)


def shapes_vit(pretrained: bool = True) -> VisionTransformer:
    """A ``ShapesViT`` in eval mode: the shipped weights (float32), or a random init if not ``pretrained``."""
    model = ShapesViT()
    if pretrained:
        state = torch.load(VIT_WEIGHTS_PATH, map_location="cpu", weights_only=True)
        model.load_state_dict({k: v.float() for k, v in state.items()})
    return model.eval()


def _save_half(model: torch.nn.Module, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({k: v.half() for k, v in model.state_dict().items()}, path)
    print(f"wrote {path} ({path.stat().st_size / 1024:.1f} KiB)")


def main() -> None:
    """Retrain with the default settings and overwrite ``VIT_WEIGHTS_PATH``."""

    def train(elapsed: Callable[[], float]) -> torch.nn.Module:
        data = vit_training_data(0)
        print(f"generated {len(data.x_train)} + {len(data.x_test)} images in {elapsed():.1f} s", flush=True)
        return train_shapes_vit(on_progress=epoch_printer(elapsed), data=data)

    test = shapes_data(0, n_train=0).test  # the test set of ``vit_training_data(0)``
    retrain(train, lambda model: _save_half(model, VIT_WEIGHTS_PATH),
            lambda _: f"test accuracy {accuracy(shapes_vit(), test.images, test.labels):.4f} (float16 weights)",
            "data and training")


if __name__ == "__main__":
    main()

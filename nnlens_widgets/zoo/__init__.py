"""Small demo models trained by our own code on data that ships with Python packages."""
import importlib

from .digits import DIGIT_CLASSES, DigitsCNN, digits_cnn, digits_data, train_digits_cnn
from .shapes import (
    SHAPE_CLASSES,
    SHAPE_CONCEPTS,
    ShapesCNN,
    concept_examples,
    make_shapes,
    shapes_cnn,
    shapes_data,
    train_shapes_cnn,
)
from .shapes_concepts import CW_CONCEPTS, CW_LAYER, shapes_concept_sets, shapes_cw, train_shapes_cw
from .char_lstm import CharLSTM, char_lstm, train_char_lstm
from .painter import PainterNet, painter, painter_image, painting_rmse, train_painter

_VIT = ("ShapesViT", "shapes_vit", "train_shapes_vit")


def __getattr__(name: str):
    # The transformer needs torchvision, slow to import: loaded on first use. Importing the
    # submodule binds its name here, so the function of the same name is bound after it.
    if name in _VIT:
        module = importlib.import_module(".shapes_vit", __name__)
        globals().update({n: getattr(module, n) for n in _VIT})
        return globals()[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

__all__ = ["ShapesViT", "shapes_vit", "train_shapes_vit", "CW_CONCEPTS", "CW_LAYER", "shapes_concept_sets", "shapes_cw", "train_shapes_cw", "PainterNet", "painter", "painter_image", "painting_rmse", "train_painter", "CharLSTM", "char_lstm", "train_char_lstm", "DigitsCNN", "digits_cnn", "digits_data", "train_digits_cnn", "DIGIT_CLASSES",
           "SHAPE_CLASSES", "SHAPE_CONCEPTS", "ShapesCNN", "make_shapes", "shapes_data", "shapes_cnn",
           "train_shapes_cnn", "concept_examples"]

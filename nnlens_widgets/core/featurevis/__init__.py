"""Feature visualisation: objectives, image parameterisations, transforms and the render loop.

>>> from nnlens_widgets.core import featurevis as fv
>>> for state in fv.feature_vis(model, fv.channel("conv3", 5), steps=128, input_size=32):
...     show(state.images)

Objective kinds are described once in ``OBJECTIVES`` (``fv.make_objective("channel", "conv3", 5)``).
"""
from . import registry
from .registry import OBJECTIVES, ObjectiveSpec, make_objective, objective_spec, register_objective
from . import objectives, param, transforms
from .objectives import (
    Objective, as_objective, blur_penalty, channel, class_logit, direction, diversity, l2, neuron, peak,
    total_variation,
)
from .param import (
    PARAMETERISATIONS, FourierImage, ImageParam, PixelImage, correlate_colors, decorrelate_colors,
    image_param,
)
from .render import (
    VisSettings, VisStep, default_input_size, feature_vis, model_input, optimize_image, resolve_settings,
)
from .scores import AxisResponse, axis_response, objective_values
from .sanity import FeatureVisSanity, LayerSimilarity, featurevis_sanity
from .transforms import standard_transforms

__all__ = [
    "OBJECTIVES", "ObjectiveSpec", "make_objective", "objective_spec", "register_objective",
    "Objective", "as_objective", "blur_penalty", "channel", "class_logit", "direction", "diversity",
    "l2", "neuron", "peak", "total_variation", "PARAMETERISATIONS", "FourierImage", "ImageParam", "PixelImage",
    "correlate_colors", "decorrelate_colors", "image_param", "VisSettings", "VisStep",
    "default_input_size", "feature_vis", "model_input", "objective_values", "axis_response",
    "AxisResponse", "optimize_image", "FeatureVisSanity", "LayerSimilarity", "featurevis_sanity",
    "resolve_settings", "standard_transforms", "objectives", "param", "registry", "transforms",
]

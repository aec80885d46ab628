"""Feature visualisation: objectives, image parameterisations, transforms and the render loop.

>>> from nnlens_widgets.core import featurevis as fv
>>> for state in fv.feature_vis(model, fv.channel("conv3", 5), steps=128, input_size=32):
...     show(state.images)
"""
from . import objectives, param, transforms
from .objectives import (
    Objective, as_objective, blur_penalty, channel, class_logit, direction, diversity, l2, neuron,
    total_variation,
)
from .param import (
    PARAMETERISATIONS, FourierImage, ImageParam, PixelImage, correlate_colors, decorrelate_colors,
    image_param,
)
from .render import VisSettings, VisStep, default_input_size, feature_vis, optimize_image, resolve_settings
from .transforms import standard_transforms

__all__ = [
    "Objective", "as_objective", "blur_penalty", "channel", "class_logit", "direction", "diversity",
    "l2", "neuron", "total_variation", "PARAMETERISATIONS", "FourierImage", "ImageParam", "PixelImage",
    "correlate_colors", "decorrelate_colors", "image_param", "VisSettings", "VisStep",
    "default_input_size", "feature_vis", "optimize_image", "resolve_settings", "standard_transforms",
    "objectives", "param", "transforms",
]

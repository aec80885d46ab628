"""Attribution methods: which input pixels (or superpixels) drive a target.

Every method is ``method(model, x, target=None, ...)``; gradient methods
return a tensor shaped like the input batch, Grad-CAM a ``CamMaps``, LIME a
``LimeResult``; ``pixel_map(result)`` gives the input-resolution map of any.
"""
from .cam import CAM, GradCAM, GradCAMPlusPlus, HiResCAM, default_cam_layer, grad_cam, guided_grad_cam, spatial_layers
from .captum_wrapper import Captum
from .gradients import deconvnet, gradient, guided_backprop, input_gradients, input_x_gradient
from .integrated import Completeness, baseline_like, integrated_gradients, integration_points
from .lime import lime, superpixels
from .registry import METHODS, method_function
from .relu_rules import relu_rule
from .results import CamMaps, LimeResult, PatchMap, pixel_map
from .smooth import smoothgrad
from ..targets import UnitTarget, resolve_target

__all__ = [
    "CAM", "GradCAM", "GradCAMPlusPlus", "HiResCAM", "default_cam_layer", "spatial_layers",
    "grad_cam", "guided_grad_cam", "Captum", "deconvnet", "gradient", "guided_backprop",
    "input_gradients", "input_x_gradient", "Completeness", "baseline_like",
    "integrated_gradients", "integration_points", "lime", "superpixels", "METHODS",
    "method_function", "relu_rule", "CamMaps", "LimeResult", "PatchMap", "pixel_map", "smoothgrad",
    "UnitTarget", "resolve_target",
]

"""Attribution methods: which input pixels (or superpixels) drive a target.

Every method is ``method(model, x, target=None, ...)``; gradient methods
return a tensor shaped like the input batch, Grad-CAM a ``CamMaps``, LIME a
``LimeResult``; ``pixel_map(result)`` gives the input-resolution map of any.
"""
# The order widgets list the methods in is registry.METHOD_MODULES's, not this import order.
from .gradients import deconvnet, gradient, guided_backprop, input_gradients, input_x_gradient
from .integrated import Completeness, integrated_gradients, integration_points
from .smooth import smoothgrad
from .cam import (CAM, GradCAM, GradCAMPlusPlus, HiResCAM, default_cam_layer, grad_cam, grad_cam_plus_plus,
                  guided_grad_cam, hires_cam, register_cam, spatial_layers)
from .lime import lime, superpixels
from .captum_wrapper import Captum
from .registry import METHOD_MODULES, METHODS, GradientRule, MethodSpec, method_function, method_spec, register_method
from ..relu_rules import relu_rule
from .results import CamMaps, LimeResult, PatchMap, pixel_map
from ..targets import UnitTarget, resolve_target

__all__ = [
    "CAM", "GradCAM", "GradCAMPlusPlus", "HiResCAM", "default_cam_layer", "spatial_layers",
    "grad_cam", "grad_cam_plus_plus", "hires_cam", "register_cam", "guided_grad_cam", "Captum", "deconvnet", "gradient", "guided_backprop",
    "input_gradients", "input_x_gradient", "Completeness",
    "integrated_gradients", "integration_points", "lime", "superpixels", "METHODS", "METHOD_MODULES",
    "method_function", "method_spec", "register_method", "MethodSpec", "GradientRule", "relu_rule", "CamMaps", "LimeResult", "PatchMap", "pixel_map", "smoothgrad",
    "UnitTarget", "resolve_target",
]

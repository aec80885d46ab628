"""Relevance rules for what a model computes outside its layers, during one forward pass.

zennit puts its rules on modules (a ``Conv2d``, a ``ReLU`` module, an
``AvgPool2d``). A model also computes with functions: ``F.relu`` and
in-place relus, the residual ``out += identity``, a squeeze-excitation
gate ``x * scale``, ``x.mean(1)``, ``F.layer_norm`` and a transformer's
``Q @ K^T``, softmax and ``A @ V``. Under the plain gradient these would
multiply, duplicate or drop relevance. ``RelevanceMode`` (a
``TorchFunctionMode``, like ``relu_rules``) sees every such call made while
the model runs and gives it the rule of its kind (see ``rules``):

- element-wise activations pass relevance unchanged;
- operations linear in their input-dependent operands (sums, means, pools,
  ``F.linear`` / convolutions with fixed weights, normalisations with their
  scale held fixed) use the z-rule;
- element-wise products split it evenly among their input-dependent
  factors (a scaling by a constant, or a division by a divisor held fixed,
  passes it on whole); matrix products of two input-dependent operands give
  each half of the z-rule;
- softmax uses AttnLRP's rule; ``scaled_dot_product_attention`` is written
  out so the three rules apply inside it (fused and unfused attention agree).

Calls inside a module that already has a layer rule are left to that rule
(``enter``/``leave``, called by hooks around those modules). Shape and
indexing operations route relevance as the gradient does. Any other call on
an input-dependent tensor is counted in ``unruled`` so the result can say
where the plain gradient stood in. Nothing global changes: the mode is
popped when its block ends, and in-place calls become out-of-place inside
it (the caller uses the result, as ``x += y`` does).
"""
from __future__ import annotations

from collections import Counter
from typing import Callable, Dict

import torch
import torch.nn.functional as F
from torch.overrides import TorchFunctionMode
from torch.utils._pytree import tree_flatten, tree_unflatten

from .rules import (explicit_attention, group_norm_fixed_scale, layer_norm_fixed_scale, passing,
                    rms_norm_fixed_scale, softmax_rule, split_evenly, z_rule)

__all__ = ["RelevanceMode"]

ACTIVATIONS = {
    "relu", "relu_", "relu6", "gelu", "silu", "sigmoid", "sigmoid_", "tanh", "tanh_", "hardswish", "hardsigmoid",
    "elu", "elu_", "leaky_relu", "leaky_relu_", "softplus", "mish", "hardtanh", "hardtanh_", "selu", "celu",
    "prelu", "threshold", "threshold_",
}
_OUT_OF_PLACE: Dict[str, Callable] = {
    "relu_": torch.relu, "sigmoid_": torch.sigmoid, "tanh_": torch.tanh, "elu_": F.elu,
    "leaky_relu_": F.leaky_relu, "hardtanh_": F.hardtanh, "threshold_": F.threshold,
    "add_": torch.Tensor.add, "sub_": torch.Tensor.sub, "mul_": torch.Tensor.mul, "div_": torch.Tensor.div,
    "__itruediv__": torch.Tensor.div,
}
#: linear in their input-dependent operands; weights use epsilon, the rest the stabilizer
WEIGHTED = {"linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d"}
LINEAR = {
    "add", "add_", "__radd__", "sub", "sub_", "__rsub__", "rsub", "neg", "__neg__", "negative", "sum", "mean",
    "avg_pool1d", "avg_pool2d", "avg_pool3d", "adaptive_avg_pool1d", "adaptive_avg_pool2d", "adaptive_avg_pool3d",
    "batch_norm", "interpolate", "cumsum",
}
PRODUCTS = {"matmul", "__matmul__", "__rmatmul__", "mm", "bmm", "mv", "einsum", "outer", "addmm", "baddbmm"}
ELEMENTWISE_PRODUCTS = {"mul", "mul_", "__rmul__", "multiply"}
DIVISIONS = {"div", "div_", "divide", "true_divide", "__truediv__", "__itruediv__"}
NORMS: Dict[str, Callable[..., torch.Tensor]] = {"layer_norm": layer_norm_fixed_scale, "group_norm": group_norm_fixed_scale, "rms_norm": rms_norm_fixed_scale}
#: move or copy values without changing them: the gradient routes relevance correctly
ROUTING = {
    "view", "view_as", "reshape", "reshape_as", "permute", "transpose", "t", "flatten", "unflatten", "squeeze",
    "unsqueeze", "expand", "expand_as", "contiguous", "clone", "cat", "concat", "concatenate", "stack", "hstack",
    "vstack", "split", "split_with_sizes", "chunk", "unbind", "narrow", "select", "__getitem__", "__setitem__",
    "index_select", "gather", "roll", "flip", "pad", "max_pool1d", "max_pool2d", "max_pool3d",
    "max_pool1d_with_indices", "max_pool2d_with_indices", "max_pool3d_with_indices", "adaptive_max_pool1d",
    "adaptive_max_pool2d", "adaptive_max_pool3d", "adaptive_max_pool2d_with_indices", "max", "amax", "min", "amin",
    "dropout", "dropout1d", "dropout2d", "dropout3d", "alpha_dropout", "feature_alpha_dropout", "to", "type", "float",
    "double", "half", "bfloat16", "cpu", "cuda", "movedim", "moveaxis", "swapaxes", "swapdims", "repeat", "tile",
    "repeat_interleave", "masked_fill", "where", "channel_shuffle", "native_channel_shuffle", "pixel_shuffle",
    "pixel_unshuffle", "unfold", "__get__", "detach", "requires_grad_", "as_strided", "split_tensor",
}


def _depends(value) -> bool:
    return isinstance(value, torch.Tensor) and value.requires_grad and value.is_floating_point()


def _any_depends(args, kwargs) -> bool:
    """Whether an argument (or an item of a list argument) depends on the input; cheaper than a tree walk."""
    for value in (*args, *kwargs.values()):
        if _depends(value) or isinstance(value, (list, tuple)) and any(_depends(v) for v in value):
            return True
    return False


class RelevanceMode(TorchFunctionMode):
    """Inside the block, functional operations on input-dependent tensors get relevance rules.

    ``epsilon`` stabilises weighted layers and products (the composite's
    epsilon), ``stabilizer`` sums, pools and normalisations (zennit's 1e-6).
    """

    def __init__(self, epsilon: float = 1e-6, stabilizer: float = 1e-6):
        super().__init__()
        self.epsilon, self.stabilizer = float(epsilon), float(stabilizer)
        self.depth = 0  # > 0 while a module with its own layer rule runs
        self.unruled: Counter = Counter()

    def enter(self, *_):
        self.depth += 1

    def leave(self, *_):
        self.depth -= 1

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        name = getattr(func, "__name__", "")
        if self.depth or name in ROUTING or not _any_depends(args, kwargs):
            return func(*args, **kwargs)
        if name in ACTIVATIONS:
            return self._activation(func, name, args, kwargs)
        if name == "softmax":
            dim = args[1] if len(args) > 1 else kwargs["dim"]
            return softmax_rule(lambda t: func(t, *args[1:], **kwargs), args[0], dim)
        if name == "scaled_dot_product_attention":
            return explicit_attention(*args, **kwargs, epsilon=self.epsilon)
        if name in NORMS and _depends(args[0]):
            return self._norm(func, name, args, kwargs)
        leaves, spec = tree_flatten((args, kwargs))
        carried = [i for i, v in enumerate(leaves) if _depends(v)]
        if name in DIVISIONS and _depends(args[0]):
            carried = [0]  # the divisor is held fixed (AttnLRP's identity rule on a normaliser)
            leaves[1:] = [v.detach() if isinstance(v, torch.Tensor) else v for v in leaves[1:]]
        elif name not in WEIGHTED | LINEAR | PRODUCTS | ELEMENTWISE_PRODUCTS:
            out = func(*args, **kwargs)
            if isinstance(out, torch.Tensor) and out.requires_grad:
                self.unruled[name] += 1
            return out
        func = _OUT_OF_PLACE.get(name, func)  # add_ -> add: the caller uses the result, as ``x += y`` does
        share = len(carried) if name in PRODUCTS else 1
        epsilon = self.epsilon if name in WEIGHTED | PRODUCTS else self.stabilizer

        def fn(*values):
            filled = list(leaves)
            for i, v in zip(carried, values):
                filled[i] = v
            a, kw = tree_unflatten(filled, spec)
            return func(*a, **kw)

        if name in ELEMENTWISE_PRODUCTS | DIVISIONS:
            return split_evenly(fn, [leaves[i] for i in carried])
        return z_rule(fn, [leaves[i] for i in carried], epsilon, share)

    def _activation(self, func, name, args, kwargs):
        if "inplace" in kwargs:
            kwargs = {**kwargs, "inplace": False}
        func = _OUT_OF_PLACE.get(name, func)
        if not _depends(args[0]):
            return func(*args, **kwargs)
        return passing(lambda t: func(t, *args[1:], **kwargs), args[0])

    def _norm(self, func, name, args, kwargs):
        rest = args[1:]
        fixed = NORMS[name]
        return z_rule(lambda t: func(t, *rest, **kwargs), [args[0]], self.stabilizer,
                      linearised=lambda t: fixed(t, *rest, **kwargs))

"""A model's dataflow, as far as incremental occlusion needs to know it.

``recorder.record`` writes one run of a private twin of the model into a
graph of calls (touching nothing another thread can see). Each call becomes
a ``Step`` of one kind:

- ``window``: a sliding-window op on an ``(N, C, H, W)`` map (``Conv2d``,
  ``MaxPool2d``, ``AvgPool2d``): each output pixel reads one ``k x k`` input
  window, so a change in a box of the input changes a box of the output;
- ``elementwise``: each output pixel depends only on the same pixel of the
  inputs (activations, BatchNorm and dropout in eval mode, residual
  additions, gating products, channel concatenation);
- ``shape``: a question about a tensor's size (``x.size(0)``);
- ``generic``: anything else (global pooling, flatten, linear layers): run on
  whole maps.

``trace`` returns None (and why) for models that cannot be run this way:
what the recording cannot see (``recorder``), forward hooks (they would see
crops), in-place tensor methods, steps that do not give the model's own
output for a batch of one and of two inputs. ``specialise``
then checks each step against the shapes seen on the clean input and demotes
to ``generic`` whatever does not fit the kind's assumptions, so a step is
only ever run on crops when that is exact.
"""
from __future__ import annotations

import copy
import inspect
import operator
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Tuple, TypeGuard, cast

import torch
import torch.nn.functional as F
from torch import fx, nn

from .recorder import NotRecordable, record

__all__ = ["Geometry", "Step", "trace", "specialise", "run_steps", "close_enough", "has_hooks"]

# Recorded graphs (or why a model has none), per model structure and input shape.
_GRAPHS: "OrderedDict[tuple, Tuple[Optional[fx.Graph], str]]" = OrderedDict()
_GRAPHS_KEPT = 32
_GRAPHS_LOCK = threading.Lock()


def _key(twin: nn.Module, xb: torch.Tensor) -> tuple:
    """What a recorded graph depends on: the classes and names of the modules, the tensors
    (shared with the user's model, so stable for as long as that model is alive) and the
    input's shape apart from the batch."""
    return (type(twin), tuple((n, type(m)) for n, m in twin.named_modules()),
            tuple(id(p) for p in twin.parameters()), tuple(id(b) for b in twin.buffers()),
            tuple(xb.shape[1:]), xb.dtype, xb.device.type)


def _graph(twin: nn.Module, xb: torch.Tensor) -> Tuple[Optional[fx.Graph], str]:
    key = _key(twin, xb)
    with _GRAPHS_LOCK:
        if key in _GRAPHS:
            _GRAPHS.move_to_end(key)
            return _GRAPHS[key]
    got = _recorded(twin, xb)
    with _GRAPHS_LOCK:
        _GRAPHS[key] = got
        while len(_GRAPHS) > _GRAPHS_KEPT:
            _GRAPHS.popitem(last=False)
    return got


def _recorded(twin: nn.Module, xb: torch.Tensor) -> Tuple[Optional[fx.Graph], str]:
    """A recorded graph whose steps give the twin's output for one input and for two."""
    try:
        graph, _ = record(twin, xb[:1])
    except NotRecordable as e:
        return None, f"the model cannot be traced: {e}"
    steps = _steps_of(graph, twin)
    if steps is None:
        return None, "the traced model has in-place tensor operations or inputs beyond the first"
    pair = torch.cat([xb[:1], xb[:1]])
    with torch.inference_mode():
        try:
            expected = [twin(x) for x in (xb[:1], pair)]
        except Exception as e:  # noqa: BLE001 - patches run in batches: the model must take them
            return None, f"the model does not run on a batch of two inputs ({type(e).__name__}: {e})"
        try:
            same = [close_enough(run_steps(steps, x)[steps[-1].node], y) for x, y in zip((xb[:1], pair), expected)]
        except Exception as e:  # noqa: BLE001 - a step that fails on its own runs densely
            return None, f"the traced steps do not run on their own ({type(e).__name__}: {e})"
    if not all(same):
        return None, ("the traced steps do not reproduce the model's output" if not same[0] else
                      "the traced steps do not reproduce the model's output for a batch (the forward "
                      "depends on the batch size in a way the trace cannot follow)")
    return graph, ""


def run_steps(steps: List["Step"], xb: torch.Tensor) -> Dict[fx.Node, Any]:
    """Every step's value for the input ``xb``, run one step after another."""
    values: Dict[fx.Node, Any] = {}
    for s in steps:
        values[s.node] = xb if s.kind == "input" else s.value if s.kind == "constant" else s.call(
            *fx.node.map_arg(s.node.args, values.__getitem__),
            **fx.node.map_arg(s.node.kwargs, values.__getitem__))
    return values


def close_enough(a, b, rtol: float = 1e-4) -> bool:
    """Equal up to float rounding (tensors, and tuples, lists and dicts of them)."""
    if isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor):
        if a.shape != b.shape or a.dtype != b.dtype:
            return False
        if not a.is_floating_point():
            return bool(torch.equal(a, b))
        scale = float(b.abs().max()) if b.numel() else 0.0
        return bool(((a - b).abs() <= rtol * max(scale, 1e-6)).all())
    if isinstance(a, (tuple, list)) and isinstance(b, (tuple, list)) and len(a) == len(b):
        return all(close_enough(x, y, rtol) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict) and a.keys() == b.keys():
        return all(close_enough(a[k], b[k], rtol) for k in a)
    return type(a) is type(b) and a == b

_POINTWISE_MODULES = (
    nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.ELU, nn.SELU, nn.CELU, nn.GELU, nn.SiLU, nn.Mish, nn.Sigmoid,
    nn.Tanh, nn.Hardswish, nn.Hardsigmoid, nn.Hardtanh, nn.Softplus, nn.PReLU, nn.Identity,
    nn.Dropout, nn.Dropout2d,
)
_POINTWISE_FUNCTIONS = {
    F.relu, torch.relu, F.relu6, F.leaky_relu, F.elu, F.selu, F.gelu, F.silu, F.mish, F.hardswish,
    F.hardsigmoid, F.hardtanh, F.softplus, torch.sigmoid, torch.tanh, F.sigmoid, F.tanh, F.dropout,
    torch.clamp, operator.add, operator.sub, operator.mul, operator.truediv, operator.neg,
    torch.add, torch.sub, torch.mul, torch.div, torch.maximum, torch.minimum,
}
_INPLACE_FUNCTIONS: Dict[Callable[..., Any], Callable[..., Any]] = {
    operator.iadd: operator.add, operator.isub: operator.sub, operator.imul: operator.mul,
    operator.itruediv: operator.truediv, torch.relu_: torch.relu,
}
_POINTWISE_METHODS = {"relu", "sigmoid", "tanh", "clamp", "add", "sub", "mul", "div", "neg", "contiguous"}
_SHAPE_METHODS = {"size", "dim"}


@dataclass(frozen=True)
class Geometry:
    """A sliding-window op: per spatial axis the window's extent, stride and padding."""

    kernel: Tuple[int, int]  # dilated extent: dilation * (k - 1) + 1
    stride: Tuple[int, int]
    padding: Tuple[int, int]
    pad_value: float  # what the op's own padding stands for (0, or -inf for max pooling)
    apply: Callable[[torch.Tensor], torch.Tensor]  # the op on windows already padded
    macs_per_pixel: int  # multiply-adds per output pixel (cost estimates)


@dataclass
class Step:
    """One call of the traced model."""

    node: fx.Node
    kind: str  # "input", "constant", "window", "elementwise", "shape", "generic", "output"
    fn: Optional[Callable[..., Any]] = None  # called with the node's resolved args and kwargs
    geometry: Optional[Geometry] = None
    from_input: bool = False  # depends on the model's input
    value: Any = None  # for "constant": the value
    macs: int = 0  # multiply-adds of a generic step on one input (cost estimates)
    refs: List[fx.Node] = field(default_factory=list)  # the nodes among its arguments

    def call(self, *args: Any, **kwargs: Any) -> Any:
        """``fn(*args, **kwargs)``; every kind but "input" and "constant" has a ``fn``."""
        assert self.fn is not None, f"a {self.kind!r} step has no function to call"
        return self.fn(*args, **kwargs)

    @property
    def window(self) -> Geometry:
        """The geometry of a "window" step (every one has it)."""
        assert self.geometry is not None, f"a {self.kind!r} step has no window geometry"
        return self.geometry


def _pair(v) -> Tuple[int, int]:
    return (int(v), int(v)) if isinstance(v, int) else (int(v[0]), int(v[1]))


def _window_geometry(m: nn.Module) -> Optional[Geometry]:
    """Geometry of a plain conv / pooling module; None when crops could not reproduce it."""
    # ``type(m) is`` (not isinstance): subclasses may change what forward does
    if type(m) is nn.Conv2d:
        if m.padding_mode != "zeros" or m.padding == "same":
            return None
        k, s, d = _pair(m.kernel_size), _pair(m.stride), _pair(m.dilation)
        p = (0, 0) if m.padding == "valid" else _pair(m.padding)
        weight, bias, groups = m.weight, m.bias, m.groups
        return Geometry(
            (d[0] * (k[0] - 1) + 1, d[1] * (k[1] - 1) + 1), s, p, 0.0,
            lambda t: F.conv2d(t, weight, bias, s, 0, d, groups),
            m.out_channels * (m.in_channels // groups) * k[0] * k[1])
    if type(m) is nn.MaxPool2d:
        if m.ceil_mode or m.return_indices:
            return None
        k, p, d = _pair(m.kernel_size), _pair(m.padding), _pair(m.dilation)
        s = _pair(m.stride if m.stride is not None else m.kernel_size)
        return Geometry((d[0] * (k[0] - 1) + 1, d[1] * (k[1] - 1) + 1), s, p, float("-inf"),
                        lambda t: F.max_pool2d(t, k, s, 0, d), k[0] * k[1])
    if type(m) is nn.AvgPool2d:
        p = _pair(m.padding)
        if m.ceil_mode or (p != (0, 0) and not m.count_include_pad):
            return None  # divisors that depend on where the window sits
        k = _pair(m.kernel_size)
        s = _pair(m.stride if m.stride is not None else m.kernel_size)
        divisor = m.divisor_override
        return Geometry(k, s, p, 0.0, lambda t: F.avg_pool2d(t, k, s, 0, False, True, divisor), k[0] * k[1])
    return None


def _without_inplace(m: nn.Module) -> nn.Module:
    """The module itself, or a shallow copy computing out of place (a crop or a cached
    clean map must never be overwritten)."""
    if getattr(m, "inplace", False) is True:
        m = copy.copy(m)
        setattr(m, "inplace", False)  # noqa: B010 - Module.__setattr__ is typed for tensors and modules only
    return m


def _module_step(node: fx.Node, m: nn.Module) -> Step:
    geometry = _window_geometry(m)
    if geometry is not None:
        return Step(node, "window", m, geometry)
    bn_ok = type(m) is nn.BatchNorm2d and not m.training and m.running_mean is not None
    if type(m) in _POINTWISE_MODULES or bn_ok:
        return Step(node, "elementwise", _without_inplace(m))
    macs = m.in_features * m.out_features if type(m) is nn.Linear else 0
    return Step(node, "generic", _without_inplace(m), macs=macs)


def _out_of_place(node: fx.Node, fn) -> None:
    """Rewrite a call's ``inplace=True`` (by keyword or position) to False."""
    if node.kwargs.get("inplace") is True:
        node.kwargs = {**node.kwargs, "inplace": False}
    try:
        names = list(inspect.signature(fn).parameters)
    except (TypeError, ValueError):  # builtins without a signature take no inplace flag
        return
    if "inplace" in names and len(node.args) > names.index("inplace") and node.args[names.index("inplace")] is True:
        args = list(node.args)
        args[names.index("inplace")] = False
        node.args = tuple(args)


def _function_step(node: fx.Node) -> Optional[Step]:
    target = cast(Callable[..., Any], node.target)  # a call_function node's target is the function
    fn = _INPLACE_FUNCTIONS.get(target, target)
    _out_of_place(node, fn)
    if getattr(fn, "__name__", "").endswith("_") and fn not in _INPLACE_FUNCTIONS.values():
        return None  # an in-place torch function we do not know how to undo
    if fn is F.dropout and (node.kwargs.get("training") or (len(node.args) > 2 and node.args[2])):
        return None  # random in every call: no exact answer to reproduce
    if fn is torch.cat:
        return Step(node, "elementwise" if _cat_dim(node) == 1 else "generic", fn)
    if fn is getattr and len(node.args) == 2 and node.args[1] in ("shape", "ndim"):
        return Step(node, "shape", fn)
    return Step(node, "elementwise" if fn in _POINTWISE_FUNCTIONS else "generic", fn)


def _cat_dim(node: fx.Node) -> int:
    dim = node.kwargs.get("dim", node.args[1] if len(node.args) > 1 else 0)
    return 1 if dim in (1, -3) else int(dim) if isinstance(dim, int) else 0


def _method_step(node: fx.Node) -> Optional[Step]:
    name = cast(str, node.target)  # a call_method node's target is the method's name
    if name.endswith("_") and not name.endswith("__"):
        if name[:-1] not in _POINTWISE_METHODS:
            return None
        name = name[:-1]
    kind = "shape" if name in _SHAPE_METHODS else "elementwise" if name in _POINTWISE_METHODS else "generic"
    return Step(node, kind, lambda self, *a, _name=name, **k: getattr(self, _name)(*a, **k))


def _fetch(root: nn.Module, target: str):
    obj = root
    for part in target.split("."):
        obj = getattr(obj, part)
    return obj


def has_hooks(model: nn.Module) -> bool:
    from torch.nn.modules import module as module_globals

    if any(getattr(module_globals, name, None) for name in ("_global_forward_hooks", "_global_forward_pre_hooks")):
        return True
    return any(m._forward_hooks or m._forward_pre_hooks for m in model.modules())


def trace(twin: nn.Module, xb: torch.Tensor) -> Tuple[Optional[List[Step]], str]:
    """``(steps, "")`` of ``twin``'s forward pass on inputs shaped like ``xb``, or ``(None, why not)``.

    ``twin`` must be a private look (``looking_at``): it is run once on ``xb``
    the first time a model of its structure is seen (on any thread; nothing
    global changes), and the graph is kept per structure and input shape.
    """
    if has_hooks(twin):
        return None, "the model has forward hooks"
    graph, why = _graph(twin, xb)
    if graph is None:
        return None, why
    steps = _steps_of(graph, twin)
    return (steps, "") if steps is not None else (None, "the model has in-place tensor operations")


def _steps_of(graph: fx.Graph, twin: nn.Module) -> Optional[List[Step]]:
    """The graph's nodes as steps (None when one cannot be run as a step)."""
    steps: List[Step] = []
    inputs = 0
    step: Optional[Step]
    for node in graph.nodes:
        if node.op == "placeholder":
            if inputs:
                return None
            step = Step(node, "input")
            inputs += 1
        elif node.op == "get_attr":
            step = Step(node, "constant", value=_fetch(twin, node.target))
        elif node.op == "call_module":
            step = _module_step(node, twin.get_submodule(node.target))
        elif node.op == "call_function":
            step = _function_step(node)
        elif node.op == "call_method":
            step = _method_step(node)
        elif node.op == "output":
            step = Step(node, "output", lambda v: v)
        else:
            return None
        if step is None:
            return None
        step.refs = list(node.all_input_nodes)
        steps.append(step)
    if inputs == 0:
        return None
    by_node = {s.node: s for s in steps}
    for s in steps:
        s.from_input = s.kind == "input" or any(by_node[r].from_input for r in s.refs)
    return steps


def _tensor_args(step: Step, values: Dict[fx.Node, Any]) -> List[Tuple[fx.Node, torch.Tensor]]:
    """(node, value) for each tensor among a step's arguments."""
    out = []
    for ref in step.refs:
        v = values[ref]
        if isinstance(v, torch.Tensor):
            out.append((ref, v))
    return out


def specialise(steps: List[Step], values: Dict[fx.Node, Any]) -> None:
    """Demote to ``generic`` each step whose clean-input shapes break its kind's assumptions.

    ``values``: every node's value on the clean input (batch of one).
    """
    by_node = {s.node: s for s in steps}
    for s in steps:
        out = values[s.node]
        if s.kind == "window":
            src = values[s.refs[0]] if s.refs else None
            if not (_is_map(out) and _is_map(src) and _window_fits(s.window, src.shape[-2:], out.shape[-2:])):
                s.kind = "generic"
        elif s.kind == "elementwise":
            if not _is_map(out) or not all(
                _fits_elementwise(v, out, by_node[r].from_input, s.fn is torch.cat)
                for r, v in _tensor_args(s, values)
            ):
                s.kind = "generic"


def _is_map(v: Any) -> TypeGuard[torch.Tensor]:
    return isinstance(v, torch.Tensor) and v.ndim == 4 and v.shape[0] == 1


def _window_fits(g: Geometry, src, out) -> bool:
    return all(o == (i + 2 * p - k) // s + 1 and i + 2 * p >= k
               for i, o, k, s, p in zip(src, out, g.kernel, g.stride, g.padding))


def _fits_elementwise(v: torch.Tensor, out: torch.Tensor, from_input: bool, channels_may_differ: bool) -> bool:
    """A map of the output's size (read pixel by pixel), or something the same at every pixel."""
    if v.ndim == 4 and v.shape[-2:] == out.shape[-2:]:
        return v.shape[0] == 1 and (channels_may_differ or v.shape[1] in (1, out.shape[1]))
    if channels_may_differ:
        return False
    if v.numel() == 1 and not from_input:
        return True
    return v.ndim == 4 and v.shape[0] == 1 and v.shape[-2:] == (1, 1)

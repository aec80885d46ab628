"""A model's dataflow, recorded from one run of its private twin, touching nothing global.

``record(twin, xb)`` runs the twin once on ``xb`` and writes what happened
into a ``torch.fx.Graph`` (used only as a data structure: nothing is traced
symbolically, nothing is patched):

- the twin's leaf modules (those defined in ``torch.nn``, as ``torch.fx``
  counts them) are seen by forward hooks on the twin's own module objects,
  which no other look or thread shares, and become ``call_module`` nodes;
- the torch functions and tensor methods called between them (``F.relu``,
  additions, ``flatten``, ``cat``, ``view``, ``x.size(0)`` ...) are seen by a
  ``TorchFunctionMode``, whose mode stack is per thread: another thread's
  tensors and models never enter it;
- values are connected by tensor identity; sizes read from the input
  (``x.size(0)``, ``x.shape``) come back as ints that remember their node,
  so code such as ``x.view(x.size(0), -1)`` records the batch size as a
  value of the graph, not as the number 1.

Whatever the recording cannot see exactly refuses the model (it then runs
densely) with a reason: Python reading the input's values (``if x.sum() >
0``, ``.item()``), writes by index, ``out=`` arguments, in-place changes to
a tensor that shares memory with another, and tensors that appear from
nowhere (kept outside the modules' parameters, buffers and tensor
attributes, or made by code that torch functions do not see).
"""
from __future__ import annotations

import functools
import inspect
import operator
from typing import Any, Callable, Dict, List, Optional, Set, Tuple

import torch
from torch import fx, nn
from torch.overrides import TorchFunctionMode

__all__ = ["record", "NotRecordable", "is_leaf"]


class NotRecordable(Exception):
    """The model does something the recording cannot reproduce exactly."""


# tensor methods that read values into Python: control flow on the data when the input feeds them
_VALUE_READS = {"__bool__", "item", "tolist", "__int__", "__float__", "__index__", "__complex__", "numpy",
                "__array__", "equal", "allclose", "is_nonzero", "__format__", "__reduce_ex__"}
# tensor methods whose answers do not depend on the values or the batch size
_METADATA = {"dim", "ndimension", "is_floating_point", "is_complex", "is_contiguous", "stride", "element_size",
             "get_device", "is_signed", "__len__", "data_ptr", "untyped_storage", "__hash__"}
_SIZES = {"size", "numel", "nelement"}
# methods that may return their own tensor without changing its values
_SAME_VALUES = {"contiguous", "to", "float", "double", "half", "bfloat16", "type", "type_as", "cpu", "cuda",
                "requires_grad_", "detach_"}
# reflected operators: the tensor is the right-hand operand
_REFLECTED = {"__radd__": operator.add, "__rsub__": operator.sub, "__rmul__": operator.mul,
              "__rdiv__": operator.truediv, "__rtruediv__": operator.truediv, "__rpow__": operator.pow,
              "__rmatmul__": operator.matmul, "__rfloordiv__": operator.floordiv, "__rmod__": operator.mod}
_ITEMS = {"__getitem__": operator.getitem}


def is_leaf(module: nn.Module) -> bool:
    """A module recorded as one call (``torch.fx``'s default rule): defined in ``torch.nn``."""
    where = type(module).__module__
    return (where.startswith("torch.nn") or where.startswith("torch.ao.nn")) and not isinstance(
        module, nn.Sequential)


class _TracedInt(int):
    """An int read from a tensor's size: remembers the node that computes it."""

    _recorder: "_Recorder"
    _make: Callable[[], fx.Node]
    _node: Optional[fx.Node]

    def __new__(cls, value: int, recorder: "_Recorder", node: Callable[[], fx.Node]):
        self = super().__new__(cls, value)
        self._recorder, self._make, self._node = recorder, node, None
        return self

    def node(self) -> fx.Node:
        if self._node is None:
            self._node = self._make()
        return self._node

    def _op(self, fn, other, reflected: bool = False):
        if not isinstance(other, int) or isinstance(other, bool):
            return NotImplemented
        a, b = (other, self) if reflected else (self, other)
        rec = self._recorder
        return _TracedInt(fn(int(a), int(b)), rec, lambda: rec.graph.call_function(fn, rec.arg((a, b))))

    def __add__(self, o): return self._op(operator.add, o)
    def __radd__(self, o): return self._op(operator.add, o, True)
    def __sub__(self, o): return self._op(operator.sub, o)
    def __rsub__(self, o): return self._op(operator.sub, o, True)
    def __mul__(self, o): return self._op(operator.mul, o)
    def __rmul__(self, o): return self._op(operator.mul, o, True)
    def __floordiv__(self, o): return self._op(operator.floordiv, o)
    def __rfloordiv__(self, o): return self._op(operator.floordiv, o, True)
    def __neg__(self): return self._op(operator.mul, -1)


class _Recorder(TorchFunctionMode):
    def __init__(self, twin: nn.Module):
        super().__init__()
        self.graph = fx.Graph()
        self.nodes: Dict[int, fx.Node] = {}  # id(value) -> the node computing it
        self.kept: List[Any] = []  # every value seen stays alive, so ids are never reused
        self.from_input: Set[fx.Node] = set()
        self.storages: Dict[int, Set[int]] = {}  # storage address -> ids of the tensors on it
        self.depth = 0  # > 0 while a leaf module runs: its insides are not recorded
        self.names = {id(t): n for n, t in list(twin.named_parameters(remove_duplicate=False))
                      + list(twin.named_buffers(remove_duplicate=False))}
        self.attributes = _tensor_attributes(twin)
        self.constants: Dict[int, fx.Node] = {}

    # -- values -> graph arguments ---------------------------------------------------------
    def arg(self, value):
        if isinstance(value, _TracedInt):
            return value.node()
        if isinstance(value, torch.Tensor):
            return self._tensor_node(value)
        if isinstance(value, (tuple, list)):
            mapped = [self.arg(v) for v in value]
            return mapped if isinstance(value, list) else tuple(mapped)
        if isinstance(value, dict):
            return {k: self.arg(v) for k, v in value.items()}
        if isinstance(value, slice):
            return slice(self.arg(value.start), self.arg(value.stop), self.arg(value.step))
        return value

    def _tensor_node(self, t: torch.Tensor) -> fx.Node:
        node = self.nodes.get(id(t))
        if node is not None:
            return node
        node = self.constants.get(id(t))
        if node is None:
            name = self.names.get(id(t)) or self.attributes.get(id(t))
            if name is None:
                raise NotRecordable("a tensor appears that no recorded operation made (kept outside the "
                                    "model's parameters, buffers and tensor attributes, or made by code that "
                                    "torch functions do not see)")
            node = self.graph.get_attr(name)
            self.constants[id(t)] = node
        return node

    def _depends(self, args) -> bool:
        """Whether any node among the (mapped) arguments depends on the model's input."""
        if isinstance(args, fx.Node):
            return args in self.from_input
        if isinstance(args, (tuple, list)):
            return any(self._depends(a) for a in args)
        if isinstance(args, dict):
            return any(self._depends(a) for a in args.values())
        if isinstance(args, slice):
            return self._depends((args.start, args.stop, args.step))
        return False

    def bind(self, value, node: fx.Node, depends: bool) -> None:
        """Remember that ``value`` (a tensor, or tensors in a tuple/list) is computed by ``node``."""
        if depends:
            self.from_input.add(node)
        if isinstance(value, torch.Tensor):
            self.nodes[id(value)] = node
            self.kept.append(value)
            address = value.untyped_storage().data_ptr() if value.layout == torch.strided else 0
            if address:
                self.storages.setdefault(address, set()).add(id(value))
        elif isinstance(value, (tuple, list)):
            for i, v in enumerate(value):
                if isinstance(v, (torch.Tensor, tuple, list)):
                    item = self.graph.call_function(operator.getitem, (node, i))
                    self.bind(v, item, depends)

    def check_alias(self, t: torch.Tensor, what: str) -> None:
        """Refuse an in-place change to a tensor whose memory another recorded tensor shares."""
        address = t.untyped_storage().data_ptr() if t.layout == torch.strided else 0
        if address and self.storages.get(address, set()) - {id(t)}:
            raise NotRecordable(f"{what} changes in place a tensor that shares memory with another (a view)")

    # -- calls -----------------------------------------------------------------------------
    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if self.depth:
            return func(*args, **kwargs)  # inside a leaf module
        name = getattr(func, "__name__", "")
        owner = getattr(func, "__self__", None)
        if name == "__get__" and owner is not None and hasattr(owner, "__name__"):
            return self._property(func, owner.__name__, args)
        method = getattr(func, "__qualname__", "").startswith(("TensorBase.", "Tensor."))
        mapped = (self.arg(args), self.arg(kwargs))
        depends = self._depends(mapped)
        if "out" in kwargs:
            raise NotRecordable(f"{name} writes into an out= tensor")
        if method and name == "__setitem__":
            raise NotRecordable("the forward writes into a tensor by index (x[...] = v)")
        if method and name in _VALUE_READS and depends:
            raise NotRecordable(f"the forward reads the input's values in Python (Tensor.{name}): "
                                "control flow on the data")
        out = func(*args, **kwargs)
        if _changes_in_place(func, name, method, args, kwargs) and isinstance(args[0], torch.Tensor):
            self.check_alias(args[0], name)
        if method and name in _SIZES:
            return self._sizes(name, mapped, out, depends)
        if not isinstance(out, (torch.Tensor, tuple, list)) or (method and name in _METADATA):
            if depends and not (method and name in _METADATA) and not isinstance(out, (torch.dtype, torch.device)):
                raise NotRecordable(f"the forward turns the input into a Python value ({name})")
            return out
        node = self._call_node(func, name, method, mapped)
        self.bind(out, node, depends)
        return out

    def _call_node(self, func, name: str, method: bool, mapped) -> fx.Node:
        args, kwargs = mapped
        if method and name in _REFLECTED:
            return self.graph.call_function(_REFLECTED[name], (args[1], args[0]), kwargs)
        if method and name in _ITEMS:
            return self.graph.call_function(_ITEMS[name], args, kwargs)
        if method:
            return self.graph.call_method(name, args, kwargs)
        return self.graph.call_function(func, args, kwargs)

    def _property(self, getter, name: str, args):
        out = getter(*args)
        mapped = self.arg(args)
        depends = self._depends(mapped)
        if name == "shape" and depends:
            node = self.graph.call_function(getattr, (mapped[0], "shape"))
            self.from_input.add(node)
            return self._traced_size(out, node)
        if isinstance(out, torch.Tensor):  # .T, .mT, .data, .real ...
            node = self.graph.call_function(getattr, (mapped[0], name))
            self.bind(out, node, depends)
        return out  # dtype, device, ndim, requires_grad ...: the same for every input of this shape

    def _sizes(self, name: str, mapped, out, depends: bool):
        if not depends:
            return out
        node = self.graph.call_method(name, *mapped)
        self.from_input.add(node)
        if isinstance(out, torch.Size):
            return self._traced_size(out, node)
        return _TracedInt(int(out), self, lambda: node)

    def _traced_size(self, size: torch.Size, node: fx.Node) -> torch.Size:
        graph = self.graph

        def item(i: int) -> Callable[[], fx.Node]:
            return lambda: graph.call_function(operator.getitem, (node, i))

        return torch.Size([_TracedInt(int(v), self, item(i)) for i, v in enumerate(size)])

    # -- leaf modules (forward hooks on the twin's own modules) ---------------------------
    def before_module(self, _module, _args, _kwargs):
        self.depth += 1

    def after_module(self, name: str):
        def hook(module, args, kwargs, out):
            self.depth -= 1
            if self.depth:
                return None
            mapped = (self.arg(args), self.arg(kwargs))
            if getattr(module, "inplace", False) is True and args and isinstance(args[0], torch.Tensor):
                self.check_alias(args[0], name)
            node = self.graph.call_module(name, *mapped)
            self.bind(out, node, self._depends(mapped))
            return None

        return hook


@functools.lru_cache(maxsize=None)
def _inplace_position(func) -> Optional[int]:
    """Where ``func`` takes an ``inplace`` flag by position (None if it takes none)."""
    try:
        names = list(inspect.signature(func).parameters)
    except (TypeError, ValueError):  # builtins without a signature take no inplace flag
        return None
    return names.index("inplace") if "inplace" in names else None


def _changes_in_place(func, name: str, method: bool, args, kwargs) -> bool:
    """Whether a call writes into its first argument (``x.add_(y)``, ``F.relu(x, True)``)."""
    if not args:
        return False
    if name.endswith("_") and not name.endswith("__"):
        return name not in _SAME_VALUES
    if method:
        return False
    if kwargs.get("inplace") is True:
        return True
    where = _inplace_position(func)
    return where is not None and len(args) > where and args[where] is True


def _tensor_attributes(twin: nn.Module) -> Dict[int, str]:
    """id -> dotted name of every plain tensor attribute of the twin's modules (constants)."""
    found: Dict[int, str] = {}
    for prefix, module in twin.named_modules(remove_duplicate=False):
        for key, value in vars(module).items():
            if isinstance(value, torch.Tensor) and not key.startswith("_"):
                found.setdefault(id(value), f"{prefix}.{key}" if prefix else key)
    return found


def record(twin: nn.Module, xb: torch.Tensor) -> Tuple[fx.Graph, Any]:
    """``(graph, output)`` of one run of ``twin`` on ``xb``; ``NotRecordable`` says why not.

    ``twin`` must be a private look (``looking_at``) without hooks: the
    recording adds forward hooks to its modules for the run and removes them.
    """
    recorder = _Recorder(twin)
    x = xb.detach().clone()
    recorder.bind(x, recorder.graph.placeholder("x"), True)
    handles = []
    try:
        for name, module in twin.named_modules():
            if module is not twin and is_leaf(module):
                handles.append(module.register_forward_pre_hook(recorder.before_module, with_kwargs=True))
                handles.append(module.register_forward_hook(recorder.after_module(name), with_kwargs=True))
        with torch.no_grad(), recorder:
            out = twin(x)
        recorder.graph.output(recorder.arg(out))
    except NotRecordable:
        raise
    except Exception as e:  # noqa: BLE001 - the model itself failed on the input
        raise NotRecordable(f"the model raised while it was recorded ({type(e).__name__}: {e})") from None
    finally:
        for h in handles:
            h.remove()
    return recorder.graph, out

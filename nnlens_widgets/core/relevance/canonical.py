"""The private copy of a model that LRP runs on, in the canonical form the rules need.

zennit's canonizers change the module they are given: merging a BatchNorm
into the convolution before it rewrites both modules' weights
(``weight.data = ...``), and the ResNet canonizer replaces block methods.
So LRP never hands them the user's model. ``canonical_twin``

1. builds the usual private twin (``guard.twin_of``: own module objects and
   hook tables, eval mode, the user's tensors shared);
2. runs it once without gradients, which gives the model's plain output (for
   the predicted class and, later, to compare the canonical form with) and
   traces which BatchNorm is the only reader of what one linear layer wrote
   (a BatchNorm after a concatenation, a ReLU or a pool, or after a layer
   whose output also feeds a skip connection, is not merged; it keeps an
   affine z-rule instead of zennit's pass-through);
3. gives every module of the twin its own ``Parameter`` objects that do not
   require gradients (so "requires grad" means "depends on the input"),
   sharing the user's storage, except the layers and BatchNorms to be merged,
   whose parameters and buffers are copied: what a canonizer writes lands
   only in those copies;
4. writes ``nn.MultiheadAttention`` out as explicit operations (its fused
   kernel hides the softmax and the products from the relevance rules);
5. notes the modules that run more than once per pass (zennit's rules keep
   one input per module, so such a module gets the operation rules instead).

The user's model is never merged, hooked or changed, not even for a moment.
"""
from __future__ import annotations

import types
from typing import Dict, List, NamedTuple, Set, Tuple

import torch
from torch import nn
from torch.overrides import TorchFunctionMode
from zennit.canonizers import NamedMergeBatchNorm
from zennit.torchvision import ResNetBasicBlockCanonizer, ResNetBottleneckCanonizer
from zennit.types import BatchNorm as BatchNormTypes
from zennit.types import Linear as LinearTypes

from ..attention_layers import AttentionCall, output_from, probabilities
from ..guard import hooked, twin_of

__all__ = ["Canonical", "ExactMergeBatchNorm", "canonical_twin", "NO_RULE_TYPES"]

#: layers LRP has no rule for: their inputs are not pixels' relevance carriers
NO_RULE_TYPES = (nn.RNNBase, nn.RNNCellBase, nn.Embedding, nn.EmbeddingBag, nn.Transformer)


class Canonical(NamedTuple):
    """A twin ready for LRP, the model's plain output, and what was done to it."""

    twin: nn.Module
    output: torch.Tensor  # the model's output for the batch, before any canonizer
    merged: Tuple[Tuple[str, str], ...]  # (linear layer, BatchNorm merged into it)
    unmerged: Tuple[str, ...]  # BatchNorms kept as affine layers
    canonizers: list  # zennit canonizers to apply (inside the composite's context)
    resnet_blocks: int  # torchvision ResNet blocks whose residual sum gets a rule
    reused: Tuple[str, ...] = ()  # modules that ran more than once: no module rule (see ``composites``)

    def description(self) -> str:
        parts = []
        if self.merged:
            parts.append(f"BatchNorm merged into {len(self.merged)} layer{'s' * (len(self.merged) != 1)}")
        if self.unmerged:
            parts.append(f"{len(self.unmerged)} BatchNorm{'s' * (len(self.unmerged) != 1)} as affine layers")
        if self.resnet_blocks:
            parts.append(f"{self.resnet_blocks} ResNet block sums canonized")
        return ", ".join(parts)


class ExactMergeBatchNorm(NamedMergeBatchNorm):
    """zennit's merge, then the emptied BatchNorm's ``eps`` set to 0.

    zennit leaves ``eps`` in place after setting the statistics to the
    identity, so each merged BatchNorm still scales by ``1 / sqrt(1 + eps)``
    (0.5 ppm per layer for the usual 1e-5), and a deep net's canonical output
    drifts from the model's. With ``eps = 0`` the merged twin computes the
    model's output to rounding.
    """

    def register(self, linears, batch_norm):
        self.eps = batch_norm.eps
        super().register(linears, batch_norm)
        batch_norm.eps = 0.0  # the twin's own module

    def remove(self):
        super().remove()
        self.batch_norm.eps = self.eps


def _refuse_unruled_layers(model: nn.Module) -> None:
    for name, module in model.named_modules():
        if isinstance(module, NO_RULE_TYPES):
            raise ValueError(
                f"LRP has no rule for {type(module).__name__} layers (layer {name!r}): relevance is defined "
                "here for convolutional, linear, normalisation, pooling and attention layers"
            )


class _Readers(TorchFunctionMode):
    """Counts the operations that read each watched tensor (and return a tensor: ``x.dim()`` or
    ``x.shape`` are not reads), so a layer whose output feeds anything besides its BatchNorm
    (a skip connection, a hook) is not merged."""

    def __init__(self):
        super().__init__()
        self.counts: Dict[int, int] = {}

    def __torch_function__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        if isinstance(out, torch.Tensor):
            for value in (*args, *(kwargs or {}).values()):
                if isinstance(value, torch.Tensor) and id(value) in self.counts:
                    self.counts[id(value)] += 1
        return out


def _trace(twin: nn.Module, xb: torch.Tensor):
    """Run the twin once; which BatchNorm reads what which linear layer wrote, and how often each ran."""
    written: Dict[int, Tuple[str, torch.Tensor]] = {}
    read: Dict[str, torch.Tensor] = {}
    calls: Dict[str, int] = {}
    readers = _Readers()

    def count(name):
        def hook(*_):
            calls[name] = calls.get(name, 0) + 1
        return hook

    def wrote(name):
        def hook(_m, _i, out):
            if isinstance(out, torch.Tensor):
                written[id(out)] = (name, out)  # the tensor is kept alive, so its id stays unique
                readers.counts[id(out)] = 0
        return hook

    def reads(name):
        def hook(_m, inputs):
            if inputs and isinstance(inputs[0], torch.Tensor):
                read[name] = inputs[0]
        return hook

    modules = dict(twin.named_modules())
    linears = {n: wrote(n) for n, m in modules.items() if n and isinstance(m, LinearTypes)}
    norms = {n: reads(n) for n, m in modules.items() if n and isinstance(m, BatchNormTypes)}
    counted = {n: count(n) for n in modules if n}
    with hooked(twin, counted, pre=True), hooked(twin, linears), hooked(twin, norms, pre=True), torch.no_grad(), \
            readers:
        output = twin(xb)
    pairs, unmerged = [], []
    for bn_name, tensor in read.items():
        bn = modules[bn_name]
        linear, written_tensor = written.get(id(tensor), ("", None))
        mergeable = (
            written_tensor is tensor and calls[linear] == 1 and calls[bn_name] == 1 and readers.counts[id(tensor)] == 1
            and bn.running_mean is not None and bn.running_var is not None and bn.affine
        )
        if mergeable:
            pairs.append((linear, bn_name))
        else:
            unmerged.append(bn_name)
    reused = tuple(n for n, k in calls.items() if k > 1)
    return output, pairs, unmerged, reused


def _private_parameters(twin: nn.Module, copied: Set[str]) -> None:
    for name, module in twin.named_modules():
        own = name in copied
        for key, p in module._parameters.items():
            if p is not None:
                module._parameters[key] = nn.Parameter(p.detach().clone() if own else p.detach(), requires_grad=False)
        if own:
            for key, b in module._buffers.items():
                if b is not None:
                    module._buffers[key] = b.clone()


def _explicit_attention(self: nn.MultiheadAttention, *args, **kwargs):
    call = AttentionCall.of(self, args, kwargs)
    return output_from(self, call, probabilities(self, call))


def canonical_twin(model: nn.Module, xb: torch.Tensor) -> Canonical:
    """A private twin of ``model`` for LRP on the batch ``xb`` (see the module docstring)."""
    _refuse_unruled_layers(model)
    twin = twin_of(model)
    output, pairs, unmerged, reused = _trace(twin, xb)
    _private_parameters(twin, {n for pair in pairs for n in pair})
    for module in twin.modules():
        if isinstance(module, nn.MultiheadAttention):
            module.forward = types.MethodType(_explicit_attention, module)  # type: ignore[method-assign]  # the twin's own
    canonizers: List = []
    if pairs:
        canonizers.append(ExactMergeBatchNorm([((linear,), bn) for linear, bn in pairs]))
    blocks = [m for m in twin.modules() if type(m).__name__ in ("BasicBlock", "Bottleneck")
              and type(m).__module__ == "torchvision.models.resnet"]
    if blocks:
        canonizers += [ResNetBasicBlockCanonizer(), ResNetBottleneckCanonizer()]
    return Canonical(twin, output, tuple(pairs), tuple(unmerged), canonizers, len(blocks), reused)

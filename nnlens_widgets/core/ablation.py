"""Switch channels of a layer off (or pin them to a value) and measure what changes.

``ablate`` is a context manager: a forward hook replaces the chosen channels
of one layer's output during forward passes inside the block and is removed
in ``finally``, so the model is exactly as before afterwards even when a
forward pass raises. ``ablation_effects`` measures, for every channel alone,
how much the target score changes; it runs many channels per forward pass by
repeating the input along the batch axis and giving each batch element its
own channel mask. ``Ablated`` is a model with channels replaced, as a module
of its own, so any look at a model (``class_probabilities``, a probe) can
look at the ablated one too.
"""
from __future__ import annotations

import contextlib
import numbers
from dataclasses import dataclass
from typing import Callable, Dict, Iterable, Iterator, List, Mapping, Optional, Union

import torch
from torch import nn

from .batching import batch_size_for, check_batch_size
from .guard import hooked, looking_at
from .inputs import to_batch
from .probe import forward_capture, get_module

__all__ = ["ablate", "ablation_effects", "channel_means", "AblationEffects", "Ablated", "SCORES"]

Mode = Union[str, float]
SCORES = ("logit", "prob", "logprob")


def _channel_list(channels, what: str = "channels") -> List[int]:
    if isinstance(channels, (numbers.Integral, torch.Tensor)) and torch.as_tensor(channels).ndim == 0:
        channels = [int(channels)]
    try:
        out = [int(c) for c in channels]
    except (TypeError, ValueError):
        raise ValueError(f"{what} must be an int or a sequence of ints, got {channels!r}") from None
    if any(c < 0 for c in out):
        raise ValueError(f"{what} must be non-negative channel indices, got {out}")
    return out


def _check_output(output, layer: str, channel_dim: int, needed: int) -> torch.Tensor:
    if channel_dim < 1:
        raise ValueError(f"channel_dim must be >= 1 (axis 0 is the batch), got {channel_dim}")
    if not isinstance(output, torch.Tensor):
        raise ValueError(
            f"layer {layer!r} outputs {type(output).__name__}, not a tensor; ablation needs "
            "a layer whose output is one tensor"
        )
    if output.ndim <= channel_dim:
        raise ValueError(
            f"layer {layer!r} output has shape {tuple(output.shape)}: no channel axis {channel_dim}"
        )
    count = output.shape[channel_dim]
    if needed >= count:
        raise ValueError(
            f"channel {needed} is out of range for layer {layer!r}, which has {count} "
            f"channels (0..{count - 1}) along axis {channel_dim}"
        )
    return output


def _broadcast(per_sample_channel: torch.Tensor, output: torch.Tensor, channel_dim: int) -> torch.Tensor:
    """(N, C) -> shape broadcastable against ``output`` with C on ``channel_dim``."""
    shape = [1] * output.ndim
    shape[0], shape[channel_dim] = per_sample_channel.shape
    return per_sample_channel.reshape(shape)


def _replacing(model: nn.Module, layer: str, replace: Callable[[torch.Tensor], torch.Tensor]):
    """Hook that swaps ``layer``'s output for ``replace(output)`` inside the block only."""
    return hooked(model, {layer: lambda _m, _i, out: replace(out)})


def channel_means(model: nn.Module, layer: str, reference, channel_dim: int = 1) -> torch.Tensor:
    """Mean of each channel of ``layer`` over a reference batch (and all other axes).

    ``reference`` is an input batch ``(N, ...)`` (or one input) for the model;
    the pass runs in eval mode without gradients.
    """
    x = reference if isinstance(reference, torch.Tensor) and reference.ndim >= 2 else to_batch(reference, model)
    acts, _ = forward_capture(model, x, [layer])
    out = _check_output(acts[layer], layer, channel_dim, 0)
    dims = [d for d in range(out.ndim) if d != channel_dim]
    return out.float().mean(dim=dims)


def _values_for(
    model: nn.Module, layer: str, channels, mode: Mode, reference, channel_dim: int
) -> Dict[int, float]:
    """channel -> replacement value."""
    if isinstance(channels, Mapping):
        values = {c: float(v) for c, v in zip(_channel_list(list(channels)), channels.values())}
        if not all(torch.isfinite(torch.tensor(list(values.values()) or [0.0]))):
            raise ValueError(f"replacement values must be finite, got {channels!r}")
        return values
    chans = _channel_list(channels)
    if isinstance(mode, str):
        if mode == "zero":
            return {c: 0.0 for c in chans}
        if mode == "mean":
            if reference is None:
                raise ValueError('mode="mean" needs a reference batch: ablate(..., reference=x_batch)')
            means = channel_means(model, layer, reference, channel_dim)
            if chans and max(chans) >= len(means):
                raise ValueError(
                    f"channel {max(chans)} is out of range for layer {layer!r}, which has "
                    f"{len(means)} channels"
                )
            return {c: float(means[c]) for c in chans}
        raise ValueError(f'mode must be "zero", "mean" or a number, got {mode!r}')
    if isinstance(mode, numbers.Real) and not isinstance(mode, bool):
        if not torch.isfinite(torch.tensor(float(mode))):
            raise ValueError(f"the replacement value must be finite, got {mode}")
        return {c: float(mode) for c in chans}
    raise ValueError(f'mode must be "zero", "mean" or a number, got {mode!r}')


@contextlib.contextmanager
def ablate(
    model: nn.Module,
    layer: str,
    channels,
    mode: Mode = "zero",
    reference=None,
    channel_dim: int = 1,
) -> Iterator[Dict[int, float]]:
    """Replace ``channels`` of ``layer``'s output in every forward pass inside the block.

    >>> with ablate(model, "conv3", [4, 17]):            # switch two channels off
    ...     probs = model(x).softmax(1)
    >>> with ablate(model, "conv3", 5, mode=3.0): ...     # pin a channel to 3 (amplify)
    >>> with ablate(model, "conv3", [4], "mean", reference=batch): ...

    ``channels`` is an int, a sequence of ints, or a mapping channel -> value
    (then ``mode`` is ignored). ``mode`` is ``"zero"``, ``"mean"`` (each
    channel's mean over ``reference``, a batch of inputs) or a number. The
    whole channel (every position) takes the value. The block yields the
    channel -> value mapping in use. The hook is removed on exit, also when a
    forward pass raises; parameters, flags and ``requires_grad`` are never touched.
    """
    values = _values_for(model, layer, channels, mode, reference, channel_dim)
    chans = list(values)
    needed = max(chans) if chans else -1

    def replace(output):
        output = _check_output(output, layer, channel_dim, needed)
        if not chans:
            return output
        mask = torch.zeros(output.shape[channel_dim], dtype=torch.bool, device=output.device)
        fill = torch.zeros(output.shape[channel_dim], dtype=output.dtype, device=output.device)
        mask[chans] = True
        fill[chans] = torch.tensor([values[c] for c in chans], dtype=output.dtype, device=output.device)
        row = lambda t: _broadcast(t.unsqueeze(0), output, channel_dim)  # noqa: E731
        return torch.where(row(mask), row(fill), output)

    with _replacing(model, layer, replace):
        yield values


class Ablated(nn.Module):
    """``model`` with channels of ``layer`` set to fixed values, as a module of its own.

    >>> probs = class_probabilities(Ablated(model, "conv3", {4: 0.0, 17: 0.0}), x)

    Its forward runs ``model`` inside ``ablate(model, layer, values)``. Look at
    it through ``looking_at`` (as ``class_probabilities`` does): the look's
    private twin holds a twin of ``model``, so the hook sits on that twin and
    never on ``model``. ``values`` maps channel -> value (finite); an empty
    mapping is the model unchanged. Switching its mode (``train``/``eval``)
    would switch the wrapped model's, so it is refused.
    """

    def __init__(self, model: nn.Module, layer: str, values: Mapping[int, float], channel_dim: int = 1):
        super().__init__()
        get_module(model, layer)  # KeyError with the closest names
        if not isinstance(values, Mapping):
            raise ValueError(f"expected values as a mapping channel -> value, got {type(values).__name__}")
        self.model = model
        self.layer = layer
        self.values = _values_for(model, layer, values, "zero", None, channel_dim)
        self.channel_dim = channel_dim

    def forward(self, *args, **kwargs):
        with ablate(self.model, self.layer, self.values, channel_dim=self.channel_dim):
            return self.model(*args, **kwargs)

    def train(self, mode: bool = True):
        raise TypeError("an Ablated view shares the wrapped model's modules: look at it with "
                        "looking_at(...) (always eval mode) instead of switching its mode")


@dataclass(frozen=True)
class AblationEffects:
    """Score of the target with each channel ablated alone, next to the unablated score."""

    channels: torch.Tensor  # (K,) channel indices that were ablated
    scores: torch.Tensor  # (K,) target score with that channel ablated
    base_score: float  # target score with nothing ablated
    score: str

    @property
    def change(self) -> torch.Tensor:
        """Ablated minus unablated score: negative where the channel supported the target."""
        return self.scores - self.base_score

    def ranking(self, n: Optional[int] = None) -> List[int]:
        """Channels ordered by how much switching them off lowers the score (biggest drop first)."""
        order = torch.argsort(self.change, stable=True)
        return [int(self.channels[i]) for i in order[:n]]


def _scorer(score: Union[str, Callable], target: int) -> Callable[[torch.Tensor], torch.Tensor]:
    if callable(score):
        return lambda out: torch.as_tensor(score(out)).reshape(-1)
    if score not in SCORES:
        raise ValueError(f"score must be one of {SCORES} or a callable, got {score!r}")

    def pick(out):
        if not isinstance(out, torch.Tensor) or out.ndim != 2:
            raise ValueError(
                "expected the model to output logits shaped (N, classes), got "
                + (f"shape {tuple(out.shape)}" if isinstance(out, torch.Tensor) else type(out).__name__)
                + "; pass score=callable(output) -> (N,) scores"
            )
        if not 0 <= target < out.shape[1]:
            raise ValueError(f"expected a class index in 0..{out.shape[1] - 1} as target, got {target}")
        if score == "prob":
            out = out.softmax(1)
        elif score == "logprob":
            out = out.log_softmax(1)
        return out[:, target]

    return pick


def ablation_effects(
    model: nn.Module,
    x,
    layer: str,
    target: int,
    channels: Optional[Iterable[int]] = None,
    mode: Mode = "zero",
    reference=None,
    score: Union[str, Callable] = "logit",
    batch_size: Optional[int] = None,
    channel_dim: int = 1,
    on_progress: Optional[Callable[[int, int], None]] = None,
    preprocess=None,
    expand: str = "input",
) -> AblationEffects:
    """Target score when each channel of ``layer`` is ablated alone, ``batch_size`` channels per pass.

    ``x`` is one input (anything ``to_batch`` accepts). ``channels`` defaults
    to every channel of the layer. ``mode`` as in :func:`ablate` (``"mean"``
    uses ``reference``, or ``x`` itself when no reference is given). ``score``
    is ``"logit"``, ``"prob"``, ``"logprob"`` of class ``target``, or a
    callable mapping the model output ``(N, ...)`` to ``(N,)`` scores. Each
    pass repeats ``x`` along the batch axis and element ``i`` replaces its own
    channel only, so the result equals one forward pass per channel (up to
    floating-point differences between batch sizes). ``on_progress(done,
    total)`` is called after each pass; an exception raised there stops the
    scan (the hook is removed either way). Runs in eval mode without gradients.

    ``expand="layer"`` runs the part of the model before ``layer`` once per
    pass and repeats only the layer's output along the batch (much faster
    for late layers). It needs a forward in which everything after the
    layer treats batch elements independently (skip connections from
    earlier layers broadcast); a model whose output then does not have one
    row per channel is refused with a ``ValueError``.
    """
    if expand not in ("input", "layer"):
        raise ValueError(f'expand must be "input" or "layer", got {expand!r}')
    batch_size = check_batch_size(batch_size)
    batch = to_batch(x, model, preprocess)
    if batch.shape[0] != 1:
        raise ValueError(f"expected one input (batch size 1), got a batch of {batch.shape[0]}")
    pick = _scorer(score, int(target))
    batch_size = batch_size_for(model, batch, batch_size, grad=False, cap=32)
    acts, out = forward_capture(model, batch, [layer])
    reference_out = _check_output(acts[layer], layer, channel_dim, 0)
    count = reference_out.shape[channel_dim]
    chans = list(range(count)) if channels is None else _channel_list(channels)
    if chans and max(chans) >= count:
        raise ValueError(
            f"channel {max(chans)} is out of range for layer {layer!r}, which has {count} channels"
        )
    if mode == "mean":
        fill = channel_means(model, layer, batch if reference is None else reference, channel_dim)
    else:
        value = _values_for(model, layer, [0], mode, None, channel_dim)[0]
        fill = torch.full((count,), value)
    fill = fill.to(reference_out.device, reference_out.dtype)
    base = float(pick(out)[0])
    scores = torch.empty(len(chans))
    state: Dict[str, Optional[torch.Tensor]] = {"mask": None}

    def replace(output):
        mask = state["mask"]
        assert mask is not None, "the mask is set before every pass"
        output = _check_output(output, layer, channel_dim, 0)
        if expand == "layer" and output.shape[0] == 1:
            output = output.expand(mask.shape[0], *output.shape[1:])
        if output.shape[0] != mask.shape[0]:
            raise ValueError(
                f"layer {layer!r} output has batch size {output.shape[0]}, expected "
                f"{mask.shape[0]}: ablation_effects needs the batch on axis 0"
            )
        return torch.where(_broadcast(mask, output, channel_dim), _broadcast(fill[None], output, channel_dim), output)

    with looking_at(model) as twin, _replacing(twin, layer, replace), torch.inference_mode():
        for start in range(0, len(chans), batch_size):
            part = chans[start : start + batch_size]
            mask = torch.zeros(len(part), count, dtype=torch.bool, device=batch.device)
            mask[torch.arange(len(part)), torch.tensor(part)] = True
            state["mask"] = mask
            if expand == "layer":
                try:
                    outputs = twin(batch)
                except RuntimeError as e:  # e.g. torch.cat of a batch-1 and a batch-k tensor
                    raise ValueError(
                        f'the model failed with expand="layer" ({e}); something after {layer!r} mixes in '
                        'tensors computed before it: use expand="input"'
                    ) from e
            else:
                outputs = twin(batch.expand(len(part), *batch.shape[1:]).contiguous())
            if isinstance(outputs, torch.Tensor) and outputs.shape[0] != len(part):
                raise ValueError(
                    f"the model output has batch size {outputs.shape[0]} for {len(part)} ablated channels; "
                    'with expand="layer" everything after the layer must keep the batch: use expand="input"'
                )
            scores[start : start + len(part)] = pick(outputs).float().cpu()
            if on_progress is not None:
                on_progress(start + len(part), len(chans))
    return AblationEffects(torch.tensor(chans, dtype=torch.int64), scores, base, score if isinstance(score, str) else "custom")

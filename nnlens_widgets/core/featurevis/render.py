"""The optimisation loop: gradient ascent on the image, streamed as it forms.

``feature_vis`` is a generator: it yields a :class:`VisStep` (the current
images) every ``every`` steps and at the end, so a notebook or widget can
show the picture forming and stop whenever it likes (``break``, or
``should_stop``). Whatever happens, the model is left as it was:

- gradients are taken with ``torch.autograd.grad`` with respect to the image
  parameters only, so no parameter of the model ever gets a ``.grad`` (and
  autograd skips the weight-gradient work entirely);
- the passes run on a private eval-mode twin of the model (``looking_at``),
  with forward hooks only on the layers the objective reads.

When the objective reads only inner layers, each forward pass stops right
after the last of them has run (the rest of the network cannot change the
score), which makes early-layer visualisation several times cheaper.
"""
from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Callable, Dict, Iterator, List, Optional, Sequence, Tuple, Union

import torch
from torch import nn

from ..relu_rules import relu_rule
from ..guard import hooked, twin_of
from ..inputs import expected_in_channels, model_device
from ..probe import get_module
from .objectives import INPUT, OUTPUT, Objective, as_objective, blur_penalty, l2, total_variation
from .param import ImageParam, image_param
from .transforms import (
    IMAGENET_MEAN, IMAGENET_STD, Compose, Normalize, ResizeTo, new_rng, standard_transforms,
)

__all__ = ["VisStep", "VisSettings", "feature_vis", "optimize_image", "default_input_size", "model_input"]


@dataclass(frozen=True)
class VisStep:
    """One streamed state of the optimisation."""

    step: int  # optimiser steps done so far
    steps: int  # steps asked for
    images: torch.Tensor  # (B, C, H, W) in [0, 1], detached, on the CPU
    score: float  # objective value at this step (before the step was taken)
    stopped: bool = False  # ended early by should_stop
    never_fired: bool = False  # so far the objective has kept its starting value: the unit has not responded
    warnings: Tuple[str, ...] = ()  # plain sentences on what the picture cannot show

    @property
    def done(self) -> bool:
        return self.stopped or self.step >= self.steps

    def numpy_images(self):
        """``(B, H, W, C)`` float32 numpy images."""
        return self.images.permute(0, 2, 3, 1).numpy()


@dataclass(frozen=True)
class VisSettings:
    """The resolved settings of one run (what ``feature_vis`` actually used)."""

    size: Tuple[int, int]
    channels: int
    normalize: Optional[Tuple[Tuple[float, ...], Tuple[float, ...]]]
    resize_to: Optional[Tuple[int, int]]
    transforms: str


class _StopForward(Exception):
    """Raised by a hook once every layer the objective reads has run."""


def _is_torchvision(model: nn.Module) -> bool:
    return type(model).__module__.startswith("torchvision.")


def default_input_size(model: nn.Module) -> Tuple[int, int]:
    """``model.input_size`` if the model declares one, else lucent's 128 px."""
    size = getattr(model, "input_size", None)
    if size is None:
        return (128, 128)
    return _pair(size, "model.input_size")


def _pair(size, what: str) -> Tuple[int, int]:
    if isinstance(size, int):
        size = (size, size)
    try:
        h, w = (int(v) for v in size)
    except (TypeError, ValueError):
        raise ValueError(f"expected {what} as an int or (H, W), got {size!r}") from None
    if h < 4 or w < 4:
        raise ValueError(f"expected {what} of at least 4x4 pixels, got {size!r}")
    return h, w


def resolve_settings(model: nn.Module, input_size=None, channels=None, normalize="auto",
                     resize_to="auto", transforms="standard") -> VisSettings:
    size = default_input_size(model) if input_size is None else _pair(input_size, "input_size")
    ch = channels or expected_in_channels(model) or 3
    tv = _is_torchvision(model)
    norm: Optional[Tuple[Tuple[float, ...], Tuple[float, ...]]]
    if isinstance(normalize, str):
        if normalize != "auto":
            raise ValueError(f"expected normalize='auto', None or (mean, std), got {normalize!r}")
        norm = (IMAGENET_MEAN, IMAGENET_STD) if tv and ch == 3 else None
    elif normalize is None or normalize is False:
        norm = None
    else:
        mean, std = normalize
        norm = (tuple(map(float, mean)), tuple(map(float, std)))
    if isinstance(resize_to, str):
        if resize_to != "auto":
            raise ValueError(f"expected resize_to='auto', None or (H, W), got {resize_to!r}")
        resize = (224, 224) if tv and min(size) < 224 else None
    else:
        resize = None if resize_to is None else _pair(resize_to, "resize_to")
    label = transforms if isinstance(transforms, str) else ("none" if not transforms else "custom")
    return VisSettings(size, int(ch), norm, resize, label)


def _two_arg(t: Callable) -> Callable:
    """Accept plain ``t(x)`` callables (e.g. torchvision transforms) beside ``t(x, rng)``."""
    try:
        params = inspect.signature(t).parameters.values()
        positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
        if len(positional) >= 2 or any(p.kind == p.VAR_POSITIONAL for p in params):
            return t
    except (TypeError, ValueError):
        pass
    return lambda x, rng: t(x)


def _transform_pipeline(settings: VisSettings, transforms) -> Compose:
    if isinstance(transforms, str):
        if transforms not in ("standard", "none"):
            raise ValueError(f"expected transforms='standard', 'none' or a list, got {transforms!r}")
        pad = "constant" if settings.normalize == (IMAGENET_MEAN, IMAGENET_STD) else "reflect"
        steps = standard_transforms(min(settings.size), pad) if transforms == "standard" else []
    else:
        steps = [_two_arg(t) for t in (transforms or [])]
    if settings.normalize is not None:
        steps.append(Normalize(*settings.normalize))
    if settings.resize_to is not None:
        steps.append(ResizeTo(settings.resize_to))
    return Compose(steps)


def model_input(images: torch.Tensor, settings: VisSettings) -> torch.Tensor:
    """What the model sees of optimised ``images`` (in [0, 1]) without the random transforms.

    Parameters
    ----------
    images
        ``(B, C, H, W)`` pictures as ``feature_vis`` yields them.
    settings
        The run's ``VisSettings`` (normalisation and enlargement are applied).

    Returns
    -------
    torch.Tensor
        The batch to feed the model, e.g. to measure a picture's activation
        the same way as a data set image's.
    """
    return _transform_pipeline(settings, "none")(images, new_rng(0))


def _recorders(layers: Sequence[str], acts: Dict[str, torch.Tensor], calls: Dict[str, int],
               stop_early: List[bool]) -> Dict[str, Callable]:
    """Forward hooks storing (not detaching) the outputs of ``layers``.

    ``stop_early[0]`` turns on raising ``_StopForward`` once all have run.
    """

    def recorder(name):
        def hook(_m, _i, out):
            acts[name] = out
            calls[name] = calls.get(name, 0) + 1
            if stop_early[0] and len(acts) == len(layers):
                raise _StopForward()

        return hook

    return {name: recorder(name) for name in layers}


def feature_vis(
    model: nn.Module,
    objective: Union[Objective, str],
    *,
    steps: int = 512,
    lr: float = 0.05,
    every: int = 16,
    param: Union[str, ImageParam] = "fourier",
    batch: int = 1,
    input_size=None,
    channels: Optional[int] = None,
    decorrelate: bool = True,
    transforms="standard",
    normalize="auto",
    resize_to="auto",
    tv: float = 0.0,
    l2_decay: float = 0.0,
    blur: float = 0.0,
    seed: Optional[int] = 0,
    should_stop: Optional[Callable[[], bool]] = None,
    redirect_relu: bool = True,
) -> Iterator[VisStep]:
    """Maximise ``objective`` by gradient ascent on an image; yield it every ``every`` steps.

    Defaults follow lucent: a 128 px image (or ``model.input_size`` /
    ``input_size``) in a Fourier basis with 1/f scaling and decorrelated
    colour, Adam with lr 0.05, 512 steps, lucent's robustness transforms
    (scaled to the image size; the pad is mid grey for ImageNet-normalised
    models as in lucent, a mirror image for others). The number of channels comes from the model's
    first conv layer. torchvision models get ImageNet normalisation and, below
    224 px, are fed an enlarged copy (as lucent does); other models get the
    [0, 1] image as is. ``tv``, ``l2_decay`` and ``blur`` add weighted
    penalties (total variation, distance from grey, distance from the
    blurred image). ``param`` is ``"fourier"``, ``"pixel"`` or a ready
    :class:`ImageParam`. The first yield comes after step 1, then every
    ``every`` steps and at the last step; ``should_stop()`` is checked before
    each step and ends the run with a final yield marked ``stopped``.
    ``redirect_relu``: while the score is exactly 0 (nothing responds, as
    for a grey start on a BatchNorm + ReLU layer), every ReLU passes gradient
    through dead units where an image gets no gradient at all (the
    "redirect" rule of ``relu_rule``), so a run cannot stay stuck (values
    are unchanged).
    """
    if not isinstance(model, nn.Module):
        raise ValueError(f"expected a torch.nn.Module, got {type(model).__name__}")
    objective = as_objective(objective)
    steps, every, batch = int(steps), int(every), int(batch)
    if steps < 1 or every < 1 or batch < 1:
        raise ValueError(f"expected steps, every and batch >= 1, got {steps}, {every}, {batch}")
    if not lr > 0:
        raise ValueError(f"expected a learning rate > 0, got {lr}")
    for name in objective.layers - {INPUT, OUTPUT}:
        get_module(model, name)  # KeyError with the closest names, before any work
    for weight, penalty in ((tv, total_variation()), (l2_decay, l2()), (blur, blur_penalty())):
        if weight:
            objective = objective - float(weight) * penalty

    settings = resolve_settings(model, input_size, channels, normalize, resize_to, transforms)
    device = model_device(model)
    if isinstance(param, ImageParam):
        image = param
    else:
        image = image_param(param, settings.size, settings.channels, batch, decorrelate, seed=seed,
                            device=device)
    pipeline = _transform_pipeline(settings, transforms)
    rng = new_rng(seed)
    optimizer = torch.optim.Adam(image.params, lr=lr)
    layers = sorted(objective.layers - {INPUT, OUTPUT})
    stop_early = [False]

    start = _start_description(param, seed)
    first: List[float] = []  # the objective's value at the first step
    moved = [False]  # the objective has left its starting value
    pushed = [False]  # some step had a non-zero gradient

    def snapshot(step, score, stopped=False):
        with torch.no_grad():
            imgs = image().detach().to("cpu", torch.float32)
        silent = bool(first) and not moved[0]
        notes = (_never_fired(objective.name, first[0], step, pushed[0], start),) if silent else ()
        return VisStep(step, steps, imgs, score, stopped, silent, notes)

    score = float("nan")
    acts: Dict[str, torch.Tensor] = {}
    calls: Dict[str, int] = {}
    m = twin_of(model)  # one private eval-mode view for the whole run
    for step in range(1, steps + 1):
        if should_stop is not None and should_stop():
            yield snapshot(step - 1, score, stopped=True)
            return
        # Redirect only while nothing is active (score 0, or before the first
        # step): once the unit responds, plain gradients flow and cost less.
        stuck = redirect_relu and (score == 0.0 or score != score)
        acts.clear()
        calls.clear()
        with hooked(m, _recorders(layers, acts, calls, stop_early)), \
                relu_rule("redirect" if stuck else None):
            x = image()
            try:
                out = m(pipeline(x, rng))
            except _StopForward:
                out = None
            if step == 1:  # later passes may stop early unless a layer runs twice per pass
                stop_early[0] = OUTPUT not in objective.layers and bool(layers) and all(
                    calls.get(n) == 1 for n in layers)
                missing = [n for n in layers if n not in acts]
                if missing:
                    raise ValueError(f"layer(s) {missing} did not run in the model's forward pass")
            acts[INPUT] = x
            if out is not None:
                acts[OUTPUT] = out
            value = objective(acts)
            if value.ndim != 0 or not torch.isfinite(value):
                raise ValueError(f"the objective {objective.name} gave {value.detach()}; expected a finite scalar")
            if not value.requires_grad:
                raise ValueError(f"the objective {objective.name} does not depend on the image")
            grads = torch.autograd.grad(-value, image.params, allow_unused=True)
        for p, g in zip(image.params, grads):
            p.grad = torch.zeros_like(p) if g is None else g
            pushed[0] = pushed[0] or bool(p.grad.any())
        optimizer.step()
        score = float(value.detach())
        if not first:
            first.append(score)
        moved[0] = moved[0] or score != first[0]
        if step == 1 or step % every == 0 or step == steps:
            yield snapshot(step, score)


def _start_description(param, seed) -> str:
    if isinstance(param, ImageParam):
        return f"the {type(param).__name__} it was given"
    return f"random {param}-basis noise (sd 0.01 around mid grey, seed {seed})"


def _never_fired(name: str, value: float, step: int, pushed: bool, start: str) -> str:
    if pushed:
        return (f"the unit never fired: {name} stayed {value:.4g} for all {step} steps; the picture moved away "
                f"from where it started ({start}) but nothing it became made the unit respond")
    return (f"the unit never fired: {name} stayed {value:.4g} for all {step} steps and its gradient was zero "
            f"throughout, so the picture is still where it started: {start}")


def optimize_image(model: nn.Module, objective, **kwargs) -> VisStep:
    """Run :func:`feature_vis` to the end and return its last state."""
    last = None
    for last in feature_vis(model, objective, **kwargs):
        pass
    assert last is not None  # feature_vis yields at least once, after its first step
    return last

"""A vision transformer's token sequence seen as an image.

A transformer layer outputs ``(N, T, D)``: ``T = prefix + h * w`` tokens of
``D`` features, where the ``prefix`` tokens (a class token, register tokens)
come first and the patch tokens follow in row-major order over an ``h x w``
grid. ``TokenGrid`` says where the tokens sit; ``TokenGrid.split`` turns such
an output into ``D`` feature maps ``(N, D, h, w)`` plus the prefix tokens'
values, which is what an activation grid, a CAM or an attention map needs.

``token_grid`` finds the grid from the model, in this order:

1. ``grid=(h, w)`` (and ``prefix=k``) given by the caller;
2. torchvision's ``VisionTransformer`` (``patch_size``, ``image_size``, one
   class token);
3. a timm-style model (``patch_embed.patch_size`` / ``grid_size``,
   ``num_prefix_tokens``);
4. a patch embedding convolution (the first ``Conv2d`` whose stride equals
   its kernel) applied to the input's size, the remaining tokens (at most 8)
   a prefix;
5. a model with attention layers and a square input: ``T - k`` a perfect
   square for exactly one prefix count ``k`` in 0..8.

Anything else is a ``ValueError`` saying how to pass ``grid`` and ``prefix``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple, Optional, Sequence, Tuple, Union

import torch
from torch import nn

from .attention_layers import attention_layers

__all__ = ["TokenGrid", "TokenMaps", "token_grid", "token_maps", "check_image_size"]

MAX_INFERRED_PREFIX = 8  # class + distillation + register tokens seen in practice stay below this

SizeLike = Union[torch.Tensor, Sequence[int], None]


class TokenMaps(NamedTuple):
    """A token sequence split into its patch grid and its prefix tokens."""

    maps: torch.Tensor  # (N, D, h, w): one h x w map per feature
    prefix: torch.Tensor  # (N, k, D): the class / register tokens' features


@dataclass(frozen=True)
class TokenGrid:
    """``prefix`` tokens, then ``height x width`` patch tokens in row-major order."""

    height: int
    width: int
    prefix: int = 0

    def __post_init__(self):
        for name in ("height", "width"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"expected the grid's {name} as an integer >= 1, got {v!r}")
        if isinstance(self.prefix, bool) or not isinstance(self.prefix, int) or self.prefix < 0:
            raise ValueError(f"expected prefix as an integer >= 0 (tokens before the patches), got {self.prefix!r}")

    @property
    def tokens(self) -> int:
        """Sequence length ``T = prefix + height * width``."""
        return self.prefix + self.height * self.width

    def matches(self, shape: Sequence[int]) -> bool:
        """Whether a layer output of ``shape`` is a batch-first ``(N, T, D)`` sequence on this grid."""
        return len(shape) == 3 and shape[1] == self.tokens

    def label(self) -> str:
        grid = f"{self.height}x{self.width}"
        return f"{self.prefix} + {grid} tokens" if self.prefix else f"{grid} tokens"

    def split(self, a: torch.Tensor) -> TokenMaps:
        """``(N, T, D)`` (or one sample's ``(T, D)``) -> ``TokenMaps``.

        ``maps`` is ``(N, D, h, w)`` (``(D, h, w)`` for one sample) and
        ``prefix`` is ``(N, k, D)`` (``(k, D)``). Views and a transpose only:
        gradients flow through, values are not copied.
        """
        single = a.ndim == 2
        if single:
            a = a.unsqueeze(0)
        if a.ndim != 3 or a.shape[1] != self.tokens:
            raise ValueError(
                f"expected a token sequence (N, {self.tokens}, D) or ({self.tokens}, D) for {self.label()}, "
                f"got shape {tuple(a.shape)}"
            )
        n, _, d = a.shape
        maps = a[:, self.prefix:].transpose(1, 2).reshape(n, d, self.height, self.width)
        prefix = a[:, :self.prefix]
        return TokenMaps(maps[0], prefix[0]) if single else TokenMaps(maps, prefix)


def _image_size(model_name: str, x: SizeLike) -> Optional[Tuple[int, int]]:
    if x is None:
        return None
    if isinstance(x, torch.Tensor):
        if x.ndim < 3:
            raise ValueError(f"expected an image input (C, H, W) or (N, C, H, W) for {model_name}, got {tuple(x.shape)}")
        return int(x.shape[-2]), int(x.shape[-1])
    h, w = (int(v) for v in x)
    return h, w


def _pair(v) -> Tuple[int, int]:
    return (int(v[0]), int(v[1])) if isinstance(v, (tuple, list)) else (int(v), int(v))


def _torchvision_vit(model: nn.Module):
    try:
        from torchvision.models import VisionTransformer
    except ImportError:  # pragma: no cover - torchvision is a dependency
        return None
    return next((m for m in model.modules() if isinstance(m, VisionTransformer)), None)


def _timm_like(model: nn.Module):
    """The (sub)module with ``num_prefix_tokens`` and a ``patch_embed`` that knows its patch size."""
    for m in model.modules():
        embed = getattr(m, "patch_embed", None)
        if hasattr(m, "num_prefix_tokens") and embed is not None and hasattr(embed, "patch_size"):
            return m
    return None


def _patch_conv(model: nn.Module) -> Optional[nn.Conv2d]:
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            if m.kernel_size == m.stride and m.stride != (1, 1) and m.padding == (0, 0) and m.dilation == (1, 1):
                return m
            return None  # the first conv is not a patch embedding
    return None


def _check_multiple(model_name: str, size: Tuple[int, int], patch: Tuple[int, int]) -> None:
    if size[0] % patch[0] or size[1] % patch[1]:
        raise ValueError(
            f"expected an image whose height and width are multiples of {model_name}'s patch size "
            f"{patch[0]}x{patch[1]}, got {size[0]}x{size[1]}"
        )


def _structural_grid(model: nn.Module, size: Optional[Tuple[int, int]], tokens: Optional[int]) -> Optional[TokenGrid]:
    name = type(model).__name__
    vit = _torchvision_vit(model)
    if vit is not None:
        s = vit.image_size
        if size is not None and size != (s, s):
            raise ValueError(
                f"expected {s}x{s} images for this VisionTransformer (image_size={s}), got {size[0]}x{size[1]}"
            )
        return TokenGrid(s // vit.patch_size, s // vit.patch_size, 1)
    timm = _timm_like(model)
    if timm is not None:
        embed = timm.patch_embed
        patch = _pair(embed.patch_size)
        prefix = int(timm.num_prefix_tokens)
        if size is None:
            return TokenGrid(*_pair(embed.grid_size), prefix)
        if getattr(embed, "strict_img_size", False) and size != _pair(embed.img_size):
            h, w = _pair(embed.img_size)
            raise ValueError(f"expected {h}x{w} images for this {name} (its patch_embed.img_size), got {size[0]}x{size[1]}")
        if getattr(embed, "dynamic_img_pad", False):
            return TokenGrid(-(-size[0] // patch[0]), -(-size[1] // patch[1]), prefix)
        _check_multiple(name, size, patch)
        return TokenGrid(size[0] // patch[0], size[1] // patch[1], prefix)
    conv = _patch_conv(model)
    if conv is not None and size is not None and tokens is not None:
        _check_multiple(name, size, _pair(conv.stride))
        h, w = size[0] // conv.stride[0], size[1] // conv.stride[1]
        if 0 <= tokens - h * w <= MAX_INFERRED_PREFIX:
            return TokenGrid(h, w, tokens - h * w)
    return None


def _square_grid(model: nn.Module, size: Optional[Tuple[int, int]], tokens: Optional[int]) -> Optional[TokenGrid]:
    if tokens is None or (size is not None and size[0] != size[1]) or not attention_layers(model):
        return None
    found = [
        TokenGrid(math.isqrt(tokens - k), math.isqrt(tokens - k), k)
        for k in range(min(MAX_INFERRED_PREFIX, tokens - 1) + 1)
        if math.isqrt(tokens - k) ** 2 == tokens - k and tokens - k > 1
    ]
    return found[0] if len(found) == 1 else None


def check_image_size(model: nn.Module, x: SizeLike) -> None:
    """A ``ValueError`` when ``x``'s size does not fit the model's patch embedding (see ``token_grid``)."""
    _structural_grid(model, _image_size(type(model).__name__, x), None)


def token_grid(
    model: nn.Module,
    x: SizeLike = None,
    tokens: Optional[int] = None,
    grid: Optional[Sequence[int]] = None,
    prefix: Optional[int] = None,
) -> TokenGrid:
    """The patch grid of ``model``'s token sequences for an input ``x``.

    Parameters
    ----------
    model : the transformer (or any model whose layers output ``(N, T, D)``).
    x : the input batch ``(N, C, H, W)``, one image ``(C, H, W)``, or its
        ``(H, W)``; checked against the patch size (a wrong size is a
        ``ValueError``). Optional for models that know their image size.
    tokens : the sequence length ``T`` of the layer in question, when known;
        the grid found must give exactly that many tokens.
    grid, prefix : ``(h, w)`` patches and the number of tokens before them,
        for models whose grid cannot be inferred (see the module docstring).
        ``prefix`` defaults to ``tokens - h * w`` (0 without ``tokens``).

    Returns
    -------
    TokenGrid(height, width, prefix)
    """
    size = _image_size(type(model).__name__, x)
    if tokens is not None and (isinstance(tokens, bool) or int(tokens) < 1):
        raise ValueError(f"expected tokens as a sequence length >= 1, got {tokens!r}")
    tokens = None if tokens is None else int(tokens)
    found: Optional[TokenGrid]
    if grid is not None:
        if not isinstance(grid, (tuple, list)) or len(grid) != 2:
            raise ValueError(f"expected grid=(h, w), the rows and columns of patch tokens, got {grid!r}")
        h, w = (int(v) for v in grid)
        k = prefix if prefix is not None else (tokens - h * w if tokens is not None else 0)
        found = TokenGrid(h, w, k)
    elif prefix is not None and tokens is not None:
        side = math.isqrt(max(tokens - prefix, 0))
        if side * side != tokens - prefix or side < 1:
            raise ValueError(
                f"{tokens} tokens minus prefix={prefix} is not a square grid; pass grid=(h, w) as well"
            )
        found = TokenGrid(side, side, prefix)
    else:
        found = _structural_grid(model, size, tokens) or _square_grid(model, size, tokens)
        if found is None:
            what = f"its {tokens}-token sequences" if tokens is not None else "its token sequences"
            raise ValueError(
                f"cannot infer the patch grid of {type(model).__name__} ({what}): pass grid=(h, w), the rows "
                "and columns of patch tokens, and prefix=k for the k class/register tokens before them"
            )
        if prefix is not None and prefix != found.prefix:
            found = TokenGrid(found.height, found.width, prefix)
    if tokens is not None and found.tokens != tokens:
        raise ValueError(
            f"a sequence of {tokens} tokens does not fit {type(model).__name__}'s grid of {found.label()} "
            f"({found.tokens} tokens); pass grid=(h, w) and prefix=k if the layer uses another grid"
        )
    return found


def token_maps(
    model: nn.Module,
    activation: torch.Tensor,
    x: SizeLike = None,
    grid: Optional[Sequence[int]] = None,
    prefix: Optional[int] = None,
) -> TokenMaps:
    """A token-sequence activation as feature maps and prefix tokens.

    Parameters
    ----------
    model : the model the activation comes from (its grid is inferred).
    activation : ``(N, T, D)`` or one sample's ``(T, D)``.
    x, grid, prefix : as in ``token_grid``.

    Returns
    -------
    TokenMaps(maps (N, D, h, w), prefix (N, k, D)): one ``h x w`` map per
    feature and the class / register tokens; without the batch axis for a
    ``(T, D)`` activation.
    """
    if not isinstance(activation, torch.Tensor) or activation.ndim not in (2, 3):
        shape = tuple(activation.shape) if isinstance(activation, torch.Tensor) else type(activation).__name__
        raise ValueError(f"expected a token sequence shaped (N, T, D) or (T, D), got {shape}")
    return token_grid(model, x, activation.shape[-2], grid, prefix).split(activation)

"""Where a layer's positions are: its output seen as one row of ``D`` numbers per position.

A sparse autoencoder reads a layer one position at a time. ``LayerPositions``
says how an output of the layer is cut into rows and put back:

- ``"maps"``: a conv layer's ``(N, C, H, W)``; position ``p = y * W + x``;
- ``"tokens"``: a vision transformer's ``(N, T, D)`` with ``prefix`` class /
  register tokens before an ``h x w`` grid of patch tokens (``core.tokens``);
  the positions are the patch tokens in row-major order, preceded by the
  prefix tokens when ``class_token`` is set (then ``p`` is the token index);
- ``"sequence"``: ``(N, C, L)`` with channels first; position ``p`` is along L;
- ``"vector"``: ``(N, C)``, one position.

``rows`` gives ``(N, P, D)``; ``minus`` subtracts per-position vectors and
leaves positions the autoencoder does not read (a skipped class token) as
they were. ``box`` is the input-pixel rectangle of a position, for
outlining the patch where a feature fires.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Optional, Sequence, Tuple

import torch
from torch import nn

from ..tokens import token_grid

__all__ = ["LayerPositions", "positions_of"]

KINDS = ("maps", "tokens", "sequence", "vector")


@dataclass(frozen=True)
class LayerPositions:
    """How one layer's output is cut into position rows (see the module docstring)."""

    kind: str
    shape: Tuple[int, ...]  # one sample's output shape
    height: int  # rows of the position grid (1 for sequences and vectors)
    width: int
    prefix: int = 0  # tokens before the patch grid ("tokens" only)
    class_token: bool = False  # prefix tokens are positions too

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"expected a layout kind among {KINDS}, got {self.kind!r}")

    @property
    def dim(self) -> int:
        """Numbers per position (channels, or a token's features)."""
        return int(self.shape[-1] if self.kind == "tokens" else self.shape[0])

    @property
    def count(self) -> int:
        """Positions per image."""
        return self.height * self.width + (self.prefix if self.class_token else 0)

    @property
    def skipped(self) -> int:
        """Leading tokens the autoencoder leaves alone (the prefix when ``class_token`` is off)."""
        return self.prefix if self.kind == "tokens" and not self.class_token else 0

    def _check(self, acts: torch.Tensor) -> None:
        if not isinstance(acts, torch.Tensor) or tuple(acts.shape[1:]) != self.shape:
            got = tuple(acts.shape) if isinstance(acts, torch.Tensor) else type(acts).__name__
            raise ValueError(f"expected the layer's output shaped (N, {', '.join(map(str, self.shape))}), got {got}")

    def rows(self, acts: torch.Tensor) -> torch.Tensor:
        """``(N, P, D)``: the layer output's positions as rows (a view where the layout allows)."""
        self._check(acts)
        n = acts.shape[0]
        if self.kind == "tokens":
            return acts[:, self.skipped:]
        if self.kind == "vector":
            return acts[:, None, :]
        return acts.reshape(n, self.dim, -1).transpose(1, 2)

    def minus(self, acts: torch.Tensor, delta: torch.Tensor) -> torch.Tensor:
        """``acts`` with ``delta`` ``(N, P, D)`` (or ``(P, D)``) subtracted position by position (a new tensor)."""
        self._check(acts)
        n = acts.shape[0]
        delta = delta.to(acts.dtype).expand(n, self.count, self.dim)
        if self.kind == "tokens":
            s = self.skipped
            return torch.cat([acts[:, :s], acts[:, s:] - delta], dim=1)
        if self.kind == "vector":
            return acts - delta[:, 0]
        return acts - delta.transpose(1, 2).reshape(acts.shape)

    def grid_position(self, position: int) -> Tuple[int, int]:
        """``(y, x)`` of a position in the grid; ``(-1, -1)`` for a prefix token."""
        p = int(position)
        if not 0 <= p < self.count:
            raise ValueError(f"position {p} is out of range: the layer has {self.count} positions per image")
        if self.kind == "tokens" and self.class_token:
            if p < self.prefix:
                return (-1, -1)
            p -= self.prefix
        return (p // self.width, p % self.width)

    def box(self, position: int, image_size: Sequence[int]) -> Tuple[int, int, int, int]:
        """``(x0, y0, x1, y1)`` in input pixels (end exclusive) of a position's cell.

        The cell is the position's share of the image on the layer's grid
        (a patch token: its patch); a prefix token, a vector layer and a
        sequence's whole length cover the whole image.
        """
        h_img, w_img = int(image_size[0]), int(image_size[1])
        y, x = self.grid_position(position)
        if y < 0 or self.kind == "vector":
            return (0, 0, w_img, h_img)
        if self.kind == "sequence":
            return (math.floor(x * w_img / self.width), 0, math.ceil((x + 1) * w_img / self.width), h_img)
        return (math.floor(x * w_img / self.width), math.floor(y * h_img / self.height),
                math.ceil((x + 1) * w_img / self.width), math.ceil((y + 1) * h_img / self.height))

    def state(self) -> dict:
        """Plain values (what a saved autoencoder stores)."""
        out = asdict(self)
        out["shape"] = list(self.shape)
        return out

    @classmethod
    def from_state(cls, state: dict) -> "LayerPositions":
        return cls(kind=str(state["kind"]), shape=tuple(int(v) for v in state["shape"]),
                   height=int(state["height"]), width=int(state["width"]), prefix=int(state["prefix"]),
                   class_token=bool(state["class_token"]))


def positions_of(model: nn.Module, layer: str, output, x: Optional[torch.Tensor] = None,
                 class_token: bool = False) -> LayerPositions:
    """The layout of ``layer``'s ``output`` (a batch) for ``model`` on input ``x``.

    A 3-D output is a transformer's token sequence when ``core.tokens`` finds
    the model's patch grid for it, and a channels-first sequence otherwise.
    ``class_token`` (tokens only) makes the prefix tokens positions too.
    """
    if not isinstance(output, torch.Tensor):
        raise ValueError(f"layer {layer!r} outputs {type(output).__name__}, not one tensor; "
                         "a sparse autoencoder needs a layer whose output is one tensor")
    shape = tuple(int(s) for s in output.shape[1:])
    if output.ndim == 4:
        found = LayerPositions("maps", shape, shape[1], shape[2])
    elif output.ndim == 3:
        try:
            grid = token_grid(model, x, tokens=shape[0])
            found = LayerPositions("tokens", shape, grid.height, grid.width, grid.prefix, bool(class_token))
        except ValueError:
            found = LayerPositions("sequence", shape, 1, shape[1])
    elif output.ndim == 2:
        found = LayerPositions("vector", shape, 1, 1)
    else:
        raise ValueError(f"layer {layer!r} outputs shape {tuple(output.shape)}; expected (N, C), (N, C, L), "
                         "(N, C, H, W) or a transformer's (N, T, D)")
    if class_token and found.kind != "tokens":
        raise ValueError(f"class_token=True needs a transformer's token layer; {layer!r} outputs "
                         f"{tuple(output.shape)} ({found.kind})")
    return found

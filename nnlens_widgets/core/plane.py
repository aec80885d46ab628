"""Models over the (x, y) plane: the grid of points, and what a model draws on it.

A model that maps ``(N, 2)`` points to ``(N, k)`` outputs draws ``k``
pictures when it runs on every point of a grid over the plane.

Plane convention: pixel (row ``i``, column ``j``) of an ``H x W`` picture is
the point ``x = linspace(x0, x1, W)[j]``, ``y = linspace(y0, y1, H)[i]``
(``y`` grows downwards, like the rows of an image); the default extent is
[-1, 1] on both axes.
"""
from __future__ import annotations

import math
from typing import Optional, Sequence, Tuple

import numpy as np
import torch
from torch import nn

from .guard import looking_at

__all__ = ["DEFAULT_EXTENT", "check_extent", "check_plane_model", "model_place", "plane_outputs", "plane_points"]

DEFAULT_EXTENT = (-1.0, 1.0, -1.0, 1.0)


def check_extent(extent: Sequence[float]) -> Tuple[float, float, float, float]:
    """``extent`` as ``(x0, x1, y0, y1)`` floats; a ValueError unless ``x1 > x0`` and ``y1 > y0``.

    Parameters
    ----------
    extent : sequence of 4 numbers
        The plane's left, right, top and bottom coordinates.

    Returns
    -------
    tuple of 4 floats
    """
    try:
        values = tuple(float(v) for v in extent)
    except (TypeError, ValueError):
        raise ValueError(f"expected extent as 4 numbers (x0, x1, y0, y1), got {extent!r}") from None
    if len(values) != 4 or not all(math.isfinite(v) for v in values) \
            or not (values[1] > values[0] and values[3] > values[2]):
        raise ValueError(f"expected extent (x0, x1, y0, y1) of finite numbers with x1 > x0 and y1 > y0, "
                         f"got {tuple(extent)}")
    return values  # type: ignore[return-value]


def plane_points(height: int, width: Optional[int] = None, extent: Sequence[float] = DEFAULT_EXTENT,
                 dtype: torch.dtype = torch.float32, device=None) -> torch.Tensor:
    """The grid's points, row by row (see the module's plane convention).

    Parameters
    ----------
    height, width : int
        Rows and columns of the grid (``width`` defaults to ``height``).
    extent : (x0, x1, y0, y1)
        The plane's corners.

    Returns
    -------
    torch.Tensor
        ``(height * width, 2)`` points ``(x, y)``.
    """
    width = height if width is None else width
    if int(height) < 1 or int(width) < 1:
        raise ValueError(f"expected a plane grid of at least 1x1 points, got {height}x{width}")
    x0, x1, y0, y1 = (float(v) for v in extent)
    ys = torch.linspace(y0, y1, int(height), dtype=dtype, device=device)
    xs = torch.linspace(x0, x1, int(width), dtype=dtype, device=device)
    yy, xx = torch.meshgrid(ys, xs, indexing="ij")
    return torch.stack([xx.reshape(-1), yy.reshape(-1)], dim=1)


def model_place(model: nn.Module) -> Tuple[torch.device, torch.dtype]:
    """The device and floating dtype of the model's first parameter (CPU, float32 without one)."""
    for p in model.parameters():
        return p.device, (p.dtype if p.is_floating_point() else torch.float32)
    return torch.device("cpu"), torch.float32


def check_plane_model(model: nn.Module) -> int:
    """The number of outputs ``k`` of a model mapping ``(N, 2)`` points to ``(N, k)``.

    Raises ``ValueError`` naming what was expected if the model does not take
    two inputs or does not return one row of outputs per point.
    """
    if not isinstance(model, nn.Module):
        raise ValueError(f"expected a torch.nn.Module, got {type(model).__name__}")
    device, dtype = model_place(model)
    try:
        with looking_at(model) as m, torch.no_grad():
            out = m(torch.zeros(2, 2, device=device, dtype=dtype))
    except Exception as exc:  # noqa: BLE001 - any failure means the model is not a plane model
        raise ValueError(
            f"expected a model mapping 2 inputs (x, y) to k outputs, i.e. (N, 2) -> (N, k); "
            f"calling {type(model).__name__} on a (2, 2) batch failed: {type(exc).__name__}: {exc}"
        ) from None
    if not isinstance(out, torch.Tensor) or out.ndim != 2 or out.shape[0] != 2:
        shape = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        raise ValueError(
            f"expected a model mapping (N, 2) points to (N, k) outputs; a (2, 2) batch gave {shape}"
        )
    return int(out.shape[1])


def plane_outputs(model: nn.Module, height: int, width: Optional[int] = None,
                  extent: Sequence[float] = DEFAULT_EXTENT, chunk: int = 65536) -> np.ndarray:
    """Run any 2-input model over the plane.

    The model runs on a private eval-mode twin (``looking_at``), without
    gradients, on its own device; the model is not changed.

    Parameters
    ----------
    model : nn.Module
        Maps ``(N, 2)`` points to ``(N, k)`` outputs.
    height, width : int
        The grid (``width`` defaults to ``height``).
    extent : (x0, x1, y0, y1)
        The plane's corners.
    chunk : int
        Points per forward pass (bounds memory).

    Returns
    -------
    numpy.ndarray
        ``(height, width, k)`` float32 outputs.
    """
    width = height if width is None else width
    check_plane_model(model)
    device, dtype = model_place(model)
    points = plane_points(height, width, extent, dtype=dtype, device=device)
    with looking_at(model) as m, torch.no_grad():
        out = torch.cat([m(points[i:i + chunk]) for i in range(0, len(points), chunk)])
    return out.float().cpu().numpy().reshape(int(height), int(width), -1)

"""Interactive explorers for the lessons, drawn in the browser from states Python computes.

Six explorers, each an :class:`Explorer` (an ``anywidget``) built from one
:class:`~cnnbook.explorers.catalog.ExplorerKind` (controls + compute + frame):

==========================  =============================  ==========================================
explorer                    view (settings -> state)       shows
==========================  =============================  ==========================================
:func:`conv_explorer`       :func:`conv_view`              stride, padding, filter size, dilation
:func:`matrix_explorer`     :func:`matrix_view`            a row of ``M_F^filter`` or ``M_X``
:func:`pool_explorer`       :func:`pool_view`              max pooling, winners, ``A_MaxPool``
:func:`stack_explorer`      :func:`stack_view`             receptive field through three layers
:func:`routing_explorer`    :func:`routing_view`           a cell of ``G`` -> ``dX`` and ``dF``
:func:`transpose_explorer`  :func:`transpose_view`         transposed convolution: size, painting
==========================  =============================  ==========================================

Layers: :mod:`~cnnbook.explorers.views` (pure states, computed by the package's functions),
:mod:`~cnnbook.explorers.frames` (state -> JSON the browser draws), ``explorer.js`` (the drawing),
:mod:`~cnnbook.explorers.static` (the same frame as a PNG), :mod:`~cnnbook.explorers.widget`.

Every control has a label that starts with its parameter ("stride s", "padding p", ...; an HTML
``<label for>``: the accessible name), moves with the arrow keys, and is settable from Python:
``explorer.controls["stride"].value = 2`` recomputes ``explorer.state`` synchronously.  Position
controls count from 1 like the lectures' ``S_11``; the views store 0-based indices.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from . import catalog
from .catalog import ControlSpec, ExplorerKind
from .static import draw_conv_view, draw_frame, draw_matrix_view, draw_pool_view, figure_png
from .views import (
    MATRIX_KINDS,
    ConvView,
    MatrixView,
    PoolView,
    RoutingView,
    StackView,
    TransposeView,
    conv_view,
    example_filter,
    example_gradient,
    example_input,
    matrix_view,
    pool_view,
    routing_view,
    size_formula,
    stack_view,
    transpose_view,
)
from .widget import Control, Explorer

__all__ = [
    "Control",
    "ControlSpec",
    "ConvView",
    "Explorer",
    "ExplorerKind",
    "MatrixView",
    "PoolView",
    "RoutingView",
    "StackView",
    "TransposeView",
    "conv_explorer",
    "conv_view",
    "draw_conv_view",
    "draw_frame",
    "draw_matrix_view",
    "draw_pool_view",
    "example_filter",
    "example_gradient",
    "example_input",
    "figure_png",
    "matrix_explorer",
    "matrix_view",
    "pool_explorer",
    "pool_view",
    "routing_explorer",
    "routing_view",
    "size_formula",
    "stack_explorer",
    "stack_view",
    "transpose_explorer",
    "transpose_view",
]


def _make(kind: ExplorerKind, **values: Any) -> Explorer:
    return Explorer(kind.with_defaults(**values))


def conv_explorer(
    H: int = 7, W: int = 7, kernel_size: int = 3, stride: int = 1, padding: int = 0, dilation: int = 1
) -> Explorer:
    """Explore stride, padding, filter size and dilation on an ``H x W`` input (the lecture's 7x7).

    Shows the padded input (padding pale blue) with the chosen output's receptive field outlined,
    the filter, the output (click or hover a cell to choose it), the readout
    ``output: H' x W' = ...`` with the rule filled in, and the rows/columns a stride leaves unread
    (hatched grey, and named in the readout).
    """
    return _make(catalog.CONV, H=H, W=W, kernel_size=kernel_size, stride=stride, padding=padding,
                 dilation=dilation)  # fmt: skip


def matrix_explorer(
    H: int = 4,
    W: int = 4,
    kernel_size: int = 3,
    stride: int = 1,
    padding: int = 0,
    dilation: int = 1,
    kind: str = "M_F",
) -> Explorer:
    """``M_F^filter`` or ``M_X`` for the same settings as :func:`conv_explorer`.

    The chosen output's row is boxed and its non-zeros are laid back onto the input grid.
    """
    if kind not in MATRIX_KINDS:
        raise ValueError(f"kind must be one of {MATRIX_KINDS}, got {kind!r}")
    return _make(catalog.MATRIX, H=H, W=W, kernel_size=kernel_size, stride=stride, padding=padding,
                 dilation=dilation, matrix=kind)  # fmt: skip


def pool_explorer(
    X: np.ndarray | None = None,
    kernel_size: int = 2,
    stride: int = 2,
    H: int = 4,
    W: int = 4,
    seed: int = 0,
) -> Explorer:
    """Max pooling of ``X`` ``(H, W)`` (default: a seeded random map with H, W, seed controls).

    Shows the pooled map, the winners (the ``indices`` of :func:`cnnbook.maxpool2d`) outlined on
    the input and ``A_MaxPool``.
    """
    if X is None:
        return _make(catalog.POOL, kernel_size=kernel_size, stride=stride, H=H, W=W, seed=seed)
    X = np.asarray(X, dtype=np.float64)
    kind = ExplorerKind(
        "PoolExplorer",
        catalog.POOL.controls[:2],
        lambda s: pool_view(X, s["kernel_size"], s["stride"]),
        None,
        catalog.POOL.frame,
    )
    return _make(kind, kernel_size=kernel_size, stride=stride)


def stack_explorer(n: int = 12, layers: Any = None) -> Explorer:
    """The receptive field of one output cell of three stacked layers, in every earlier map.

    ``layers``: three ``(kernel_size, stride, padding, dilation)`` (default ``(3,1,1,1)``,
    ``(3,2,1,1)``, ``(3,1,1,2)``); the rule ``r = 1 + Σ d_l(f_l−1)·s_1⋯s_(l−1)`` is filled in.
    """
    values: dict[str, Any] = {"n": n}
    if layers is not None:
        layers = list(layers)
        if len(layers) != 3:
            raise ValueError(f"stack_explorer takes three layers, got {len(layers)}")
        for k, layer in enumerate(layers, start=1):
            for name, v in zip(("kernel_size", "stride", "padding", "dilation"), layer):
                values[f"{name}{k}"] = int(v)
    return _make(catalog.STACK, **values)


def routing_explorer(
    H: int = 5, W: int = 5, kernel_size: int = 3, stride: int = 1, padding: int = 0, dilation: int = 1
) -> Explorer:
    """Backward routing: pick a cell of ``G`` and see where it lands in ``dX`` (a column of
    ``M_F^T``: the filter's taps) and which entries of ``dF`` it feeds (a row of ``M_X``)."""
    return _make(catalog.ROUTING, H=H, W=W, kernel_size=kernel_size, stride=stride, padding=padding,
                 dilation=dilation)  # fmt: skip


def transpose_explorer(
    m: int = 3,
    kernel_size: int = 3,
    stride: int = 2,
    padding: int = 0,
    output_padding: int = 0,
    dilation: int = 1,
) -> Explorer:
    """Transposed convolution of an ``m x m`` input: the output-size rule filled in and the output
    cells each input cell paints (:func:`cnnbook.conv_transpose2d`)."""
    return _make(catalog.TRANSPOSE, m=m, kernel_size=kernel_size, stride=stride, padding=padding,
                 output_padding=output_padding, dilation=dilation)  # fmt: skip

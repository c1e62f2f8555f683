"""Max and average pooling, forward and backward, built on the im2col windows.

Each channel plane is pooled on its own: ``(N, C, H, W) -> (N, C, H', W')`` with
``H' = floor((H + 2p - r_h)/s_h) + 1`` for an ``r_h x r_w`` window (``kernel_size`` is ``r`` or
``(r_h, r_w)``) and stride ``s`` (default ``stride=None``: ``s = r``, non-overlapping windows).
Pooling has no parameters.  The planes are treated as a batch of ``N*C`` one-channel images, so
that ``im2col`` puts the ``r_h r_w`` cells of every window in one column::

    cols = im2col(planes, kernel_size, stride)       # (r_h r_w, N*C*H'*W')

* **Max pooling** pads with ``-inf`` (padding never wins): ``out = cols.max(axis=0)``.  The
  winner of a window is ``cols.argmax(axis=0)``: the first maximal cell in row-major order inside
  the window (ties go to the top-left-most one).  A NaN counts as its window's maximum: ``max``
  propagates it and ``argmax`` picks the first NaN.  ``indices`` holds, for every output, the flat
  index ``row*W + col`` of its winner in the input plane; the backward pass adds each ``G`` entry
  to that one pixel.  Where windows overlap (``s < r``) an input can win several windows and
  collects the sum of their gradients.  A window holding only ``-inf`` (its padding included)
  routes to its first real pixel, never into the padding.
* **Average pooling** pads with zeros that *count* in the average (``count_include_pad=True`` in
  PyTorch's terms): every output is ``sum(window)/(r_h r_w)``, i.e. ``cols.mean(axis=0)``.  The
  backward pass spreads ``G/(r_h r_w)`` over each window: ``col2im`` of the shares.

``padding`` must be smaller than the window so that every window contains a real input pixel.
(:mod:`cnnbook.fast` has the speed-tuned variants the layers use.)
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ._checks import IntPair, as_batch, as_flag, as_indices, as_pair, as_shape, as_upstream
from .im2col import Geometry, col2im, im2col

__all__ = [
    "avgpool2d",
    "avgpool2d_backward",
    "avgpool2d_naive",
    "maxpool2d",
    "maxpool2d_backward",
    "maxpool2d_naive",
    "pool_geometry",
]


def _show(pair: tuple[int, int]) -> str:
    return str(pair[0]) if pair[0] == pair[1] else str(pair)


def pool_geometry(
    X_shape: tuple[int, ...], kernel_size: IntPair, stride: IntPair | None = None, padding: IntPair = 0
) -> Geometry:
    """Validate pooling arguments for an ``(N, C, H, W)`` input; the :class:`Geometry` of its planes.

    The geometry describes ``N*C`` one-channel images ``(N*C, 1, H, W)`` pooled with a
    ``kernel_size`` window (``stride=None``: the window size).  ``padding`` must be smaller than
    the window.  ``X_shape`` may also be one image's ``(C, H, W)`` (then ``N = 1``).
    """
    (N, C, H, W), _ = as_shape(X_shape, "X_shape")
    r = as_pair(kernel_size, "kernel_size", 1)
    s = r if stride is None else as_pair(stride, "stride", 1)
    p = as_pair(padding, "padding", 0)
    if p[0] >= r[0] or p[1] >= r[1]:
        raise ValueError(f"padding {_show(p)} must be smaller than the pool window {_show(r)}")
    if r[0] > H + 2 * p[0] or r[1] > W + 2 * p[1]:
        raise ValueError(
            f"pool window {r[0]}x{r[1]} is larger than the (padded) input {H + 2 * p[0]}x{W + 2 * p[1]}"
        )
    return Geometry.of((N * C, 1, H, W), r, s, p, 1)


def _windows(X4: np.ndarray, g: Geometry, pad_value: float) -> np.ndarray:
    """``(r_h r_w, N*C*H'*W')``: im2col of the planes padded with ``pad_value``, one window per column."""
    planes = X4.reshape(g.N, 1, g.H, g.W)
    padded = g.pad(planes, pad_value)
    return im2col(padded, (g.fh, g.fw), (g.sh, g.sw))


def _unbatched(A: np.ndarray, single: bool) -> np.ndarray:
    return A[0] if single else A


def maxpool2d(
    X: np.ndarray,
    kernel_size: IntPair,
    stride: IntPair | None = None,
    padding: IntPair = 0,
    *,
    return_indices: bool = False,
) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """Max pooling.  ``X (N, C, H, W)`` or ``(C, H, W)`` -> ``out (N, C, H', W')``.

    ``out[n, c, y, x] = max`` of the ``r_h x r_w`` window at ``(y*s_h, x*s_w)`` of the padded plane.
    ``return_indices=True`` returns ``(out, indices)``: for every output the flat index
    ``row*W + col`` in its input plane of the window's winner (see the module docstring for ties).
    """
    return_indices = as_flag(return_indices, "return_indices")
    X4, single = as_batch(X)
    g = pool_geometry(X4.shape, kernel_size, stride, padding)
    cols = _windows(X4, g, -np.inf)
    shape = (X4.shape[0], X4.shape[1], g.Ho, g.Wo)
    out = _unbatched(cols.max(axis=0).reshape(shape), single)
    if not return_indices:
        return out
    winner = cols.argmax(axis=0).reshape(g.N, g.Ho, g.Wo)  # cell k of the window: (k // r_w, k % r_w)
    top = np.arange(g.Ho)[:, None] * g.sh - g.ph  # first row and column of window (y, x) in the input
    left = np.arange(g.Wo) * g.sw - g.pw
    row = top + winner // g.fw
    col = left + winner % g.fw
    # Only a window of -inf throughout can pick a padding cell, and then it is its first cell (ties
    # go first), above or left of the image: move it onto the window's first real pixel.
    row, col = np.maximum(row, 0), np.maximum(col, 0)
    indices = (row * g.W + col).reshape(shape)
    return out, _unbatched(indices, single)


def maxpool2d_backward(
    G: np.ndarray,
    X: np.ndarray,
    kernel_size: IntPair,
    stride: IntPair | None = None,
    padding: IntPair = 0,
    *,
    indices: np.ndarray | None = None,
) -> np.ndarray:
    """Route each ``G`` entry to its window's winner; overlapping windows add up.

    ``G = dL/d(out)``; the other arguments are the forward's.  ``indices`` from
    ``maxpool2d(..., return_indices=True)`` skips finding the winners again.  Equals
    ``A_MaxPool^T vec(G)`` plane by plane; returns ``dX`` shaped like ``X`` (dtype of ``G``).
    """
    X4, single = as_batch(X)
    g = pool_geometry(X4.shape, kernel_size, stride, padding)
    shape = (X4.shape[0], X4.shape[1], g.Ho, g.Wo)
    G4 = as_upstream(G, shape, single, "the pooled output")
    if indices is None:
        winners = maxpool2d(X4, (g.fh, g.fw), (g.sh, g.sw), (g.ph, g.pw), return_indices=True)[1]
    else:
        winners = as_indices(indices, shape, single, g.H * g.W)
    dX = np.zeros((g.N, g.H * g.W), dtype=G4.dtype)
    plane = np.arange(g.N)[:, None]
    np.add.at(dX, (plane, winners.reshape(g.N, -1)), G4.reshape(g.N, -1))
    return _unbatched(dX.reshape(X4.shape), single)


def avgpool2d(
    X: np.ndarray, kernel_size: IntPair, stride: IntPair | None = None, padding: IntPair = 0
) -> np.ndarray:
    """Average pooling.  ``X (N, C, H, W)`` or ``(C, H, W)`` -> ``out (N, C, H', W')``.

    ``out[n, c, y, x] = (1/(r_h r_w)) * sum`` of the window at ``(y*s_h, x*s_w)`` (padding counts as 0).
    """
    X4, single = as_batch(X)
    g = pool_geometry(X4.shape, kernel_size, stride, padding)
    cols = _windows(X4, g, 0.0)
    out = cols.sum(axis=0) / (g.fh * g.fw)
    return _unbatched(out.reshape(X4.shape[0], X4.shape[1], g.Ho, g.Wo), single)


def avgpool2d_backward(
    G: np.ndarray, X: np.ndarray, kernel_size: IntPair, stride: IntPair | None = None, padding: IntPair = 0
) -> np.ndarray:
    """Spread ``G/(r_h r_w)`` over every window (``A_AvgPool^T vec(G)``); returns ``dX`` shaped like ``X``."""
    X4, single = as_batch(X)
    g = pool_geometry(X4.shape, kernel_size, stride, padding)
    G4 = as_upstream(G, (X4.shape[0], X4.shape[1], g.Ho, g.Wo), single, "the pooled output")
    shares = np.broadcast_to(G4.reshape(1, -1) / (g.fh * g.fw), g.cols_shape)
    dX = col2im(shares, g.X_shape, (g.fh, g.fw), (g.sh, g.sw), (g.ph, g.pw))
    return _unbatched(dX.reshape(X4.shape), single)


# --------------------------------------------------------------------------------------------
# Looped references.
# --------------------------------------------------------------------------------------------


def _pool_naive(
    X: np.ndarray,
    kernel_size: IntPair,
    stride: IntPair | None,
    padding: IntPair,
    reduce: Callable[[np.ndarray], float],
    pad_value: float,
) -> np.ndarray:
    X4, single = as_batch(X)
    g = pool_geometry(X4.shape, kernel_size, stride, padding)
    Xp = g.pad(X4, pad_value)
    N, C = X4.shape[:2]
    out = np.zeros((N, C, g.Ho, g.Wo), dtype=X4.dtype)
    for n in range(N):
        for c in range(C):
            for y in range(g.Ho):
                for x in range(g.Wo):
                    window = Xp[n, c, y * g.sh : y * g.sh + g.fh, x * g.sw : x * g.sw + g.fw]
                    out[n, c, y, x] = reduce(window)
    return _unbatched(out, single)


def maxpool2d_naive(
    X: np.ndarray, kernel_size: IntPair, stride: IntPair | None = None, padding: IntPair = 0
) -> np.ndarray:
    """Looped reference for the output of :func:`maxpool2d`."""
    return _pool_naive(X, kernel_size, stride, padding, np.max, -np.inf)


def avgpool2d_naive(
    X: np.ndarray, kernel_size: IntPair, stride: IntPair | None = None, padding: IntPair = 0
) -> np.ndarray:
    """Looped reference for the output of :func:`avgpool2d`."""
    return _pool_naive(X, kernel_size, stride, padding, np.mean, 0.0)

"""Max and average pooling, forward and backward, built on the im2col windows.

Each channel plane is pooled on its own: ``(N, C, H, W) -> (N, C, H', W')`` with
``H' = floor((H + 2p - r)/s) + 1`` for an ``r x r`` window (``size`` may be an ``(h, w)`` pair)
and stride ``s`` (default: ``s = r``, non-overlapping).  Pooling has no parameters.

* **Max pooling** pads with ``-inf`` (padding never wins).  The winner of a window is the first
  maximal element in row-major order inside the window (ties go to the top-left-most one); the
  backward pass routes ``G`` to that one element.  Where windows overlap (``s < r``) an input can
  win several windows and collects the sum of their gradients.  A NaN in a window is treated as its
  maximum and propagates.
* **Average pooling** pads with zeros that *count* in the average (``count_include_pad=True`` in
  PyTorch's terms): every output is ``sum(window)/(r_h r_w)``.  The backward pass spreads
  ``G/(r_h r_w)`` over each window.

``padding`` must be smaller than the window so that every window contains a real input pixel.
"""

from __future__ import annotations

from typing import Any, Dict, Optional, Tuple

import numpy as np

from .im2col import Geometry, _as_batch, _col2im, _im2col, _pad
from .shapes import IntPair, as_float_array, as_pair

__all__ = [
    "maxpool2d",
    "maxpool2d_backward",
    "avgpool2d",
    "avgpool2d_backward",
    "maxpool2d_naive",
    "avgpool2d_naive",
]

PoolCache = Dict[str, Any]


def _pool_geometry(X, size, stride, padding) -> Tuple[np.ndarray, bool, Geometry]:
    X4, single = _as_batch(X, "X")
    r = as_pair(size, "size", 1)
    s = r if stride is None else as_pair(stride, "stride", 1)
    p = as_pair(padding, "padding", 0)
    N, C, H, W = X4.shape
    if p[0] >= r[0] or p[1] >= r[1]:
        raise ValueError(f"padding {padding} must be smaller than the pool window {size}")
    if r[0] > H + 2 * p[0] or r[1] > W + 2 * p[1]:
        raise ValueError(
            f"pool window {r[0]}x{r[1]} is larger than the (padded) input {H + 2 * p[0]}x{W + 2 * p[1]}"
        )
    # Pool each plane on its own: a batch of N*C one-channel images.
    g = Geometry((N * C, 1, H, W), r[0], r[1], s, p, 1)
    return X4, single, g


def _planes_out(flat: np.ndarray, X4: np.ndarray, g: Geometry, single: bool) -> np.ndarray:
    out = flat.reshape(X4.shape[0], X4.shape[1], g.Ho, g.Wo)
    return out[0] if single else out


def _check_upstream(G: object, cache: PoolCache) -> np.ndarray:
    G = as_float_array(G, "G", (3, 4))
    if G.shape != cache["out_shape"]:
        raise ValueError(f"G has shape {G.shape} but the pooled output is {cache['out_shape']}")
    return G


def maxpool2d(
    X: np.ndarray, size: IntPair, stride: Optional[IntPair] = None, padding: IntPair = 0
) -> Tuple[np.ndarray, PoolCache]:
    """Max pooling.  ``X (N, C, H, W)`` or ``(C, H, W)`` -> ``(out, cache)``.

    ``out[n, c, y, x] = max`` of the ``r x r`` window at ``(y*s, x*s)`` of the padded plane.
    ``cache["argmax"]`` holds, for every output, the flat index ``row*W + col`` into its input
    plane of the window's winner (see the module docstring for ties).
    """
    X4, single, g = _pool_geometry(X, size, stride, padding)
    cols = _im2col(X4.reshape(g.N, 1, g.H, g.W), g, pad_value=-np.inf)  # (r*r, N*C*H'*W')
    out = cols.max(axis=0)
    # The winner: the first window cell (row-major) holding the maximum.  Comparing each row of
    # ``cols`` with the maximum, last row first, is several times faster than argmax over axis 0.
    winner = np.zeros(cols.shape[1], dtype=np.intp)
    has_nan = bool(np.isnan(out).any())
    for r in range(cols.shape[0] - 1, -1, -1):
        hit = cols[r] == out
        if has_nan:  # a NaN is its window's maximum: route to the first NaN
            hit |= np.isnan(cols[r])
        np.copyto(winner, r, where=hit)
    # Where each window cell lies in its plane: im2col of an image of flat indices (-1: padding).
    # Only an all -inf window can pick padding; send it to a real pixel (its gradient is moot).
    plane_index = np.arange(g.H * g.W, dtype=np.float64).reshape(1, 1, g.H, g.W)
    where = _im2col(plane_index, Geometry((1, 1, g.H, g.W), g.fh, g.fw, (g.sh, g.sw), (g.ph, g.pw), 1), -1.0)
    where = np.maximum(where, 0).astype(np.intp)  # (r*r, H'*W'), the same for every plane
    winner = winner.reshape(-1, g.Ho * g.Wo)
    argmax = where[winner, np.arange(g.Ho * g.Wo)]
    out = _planes_out(out, X4, g, single)
    cache = {
        "kind": "max",
        "x_shape": X4.shape[1:] if single else X4.shape,
        "out_shape": out.shape,
        "argmax": argmax.reshape(out.shape),
        "geometry": g,
    }
    return out, cache


def maxpool2d_backward(G: np.ndarray, cache: PoolCache) -> np.ndarray:
    """Route each ``G`` entry to its window's winner; overlapping windows add up.

    Equals ``A_MaxPool^T vec(G)`` plane by plane.  Returns ``dX`` shaped like the forward input.
    """
    G = _check_upstream(G, cache)
    g: Geometry = cache["geometry"]
    plane = g.H * g.W
    # Flat index into the whole (N*C, H, W) stack; bincount adds where winners repeat.
    offset = (np.arange(g.N) * plane).reshape(cache["out_shape"][:-2] + (1, 1))
    index = (cache["argmax"] + offset).ravel()
    dX = np.bincount(index, weights=G.ravel(), minlength=g.N * plane)
    return dX.astype(G.dtype, copy=False).reshape(cache["x_shape"])


def avgpool2d(
    X: np.ndarray, size: IntPair, stride: Optional[IntPair] = None, padding: IntPair = 0
) -> Tuple[np.ndarray, PoolCache]:
    """Average pooling.  ``X (N, C, H, W)`` or ``(C, H, W)`` -> ``(out, cache)``.

    ``out[n, c, y, x] = (1/(r_h r_w)) * sum`` of the window at ``(y*s, x*s)`` (padding counts as 0).
    """
    X4, single, g = _pool_geometry(X, size, stride, padding)
    cols = _im2col(X4.reshape(g.N, 1, g.H, g.W), g)
    out = _planes_out(cols.mean(axis=0), X4, g, single)
    cache = {
        "kind": "avg",
        "x_shape": X4.shape[1:] if single else X4.shape,
        "out_shape": out.shape,
        "geometry": g,
    }
    return out, cache


def avgpool2d_backward(G: np.ndarray, cache: PoolCache) -> np.ndarray:
    """Spread ``G/(r_h r_w)`` over every window (``A_AvgPool^T vec(G)``); returns ``dX``."""
    G = _check_upstream(G, cache)
    g: Geometry = cache["geometry"]
    share = G.reshape(1, -1) / (g.fh * g.fw)
    dcols = np.broadcast_to(share, g.cols_shape)
    return _col2im(dcols, g).reshape(cache["x_shape"])


# --------------------------------------------------------------------------------------------
# Looped references.
# --------------------------------------------------------------------------------------------


def _pool_naive(X, size, stride, padding, reduce, pad_value) -> np.ndarray:
    X4, single, g = _pool_geometry(X, size, stride, padding)
    Xp = _pad(X4, g.ph, g.pw, pad_value)
    N, C = X4.shape[:2]
    out = np.zeros((N, C, g.Ho, g.Wo), dtype=X4.dtype)
    for n in range(N):
        for c in range(C):
            for y in range(g.Ho):
                for x in range(g.Wo):
                    window = Xp[n, c, y * g.sh : y * g.sh + g.fh, x * g.sw : x * g.sw + g.fw]
                    out[n, c, y, x] = reduce(window)
    return out[0] if single else out


def maxpool2d_naive(X, size, stride=None, padding=0) -> np.ndarray:
    """Looped reference for the output of :func:`maxpool2d`."""
    return _pool_naive(X, size, stride, padding, np.max, -np.inf)


def avgpool2d_naive(X, size, stride=None, padding=0) -> np.ndarray:
    """Looped reference for the output of :func:`avgpool2d`."""
    return _pool_naive(X, size, stride, padding, np.mean, 0.0)

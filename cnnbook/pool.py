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

from functools import cache
from typing import Any

import numpy as np

from .im2col import Geometry, _as_batch, _col2im, _im2col, _pad, geometry
from .shapes import IntPair, as_float_array, as_pair

__all__ = [
    "avgpool2d",
    "avgpool2d_backward",
    "avgpool2d_naive",
    "maxpool2d",
    "maxpool2d_backward",
    "maxpool2d_naive",
]

PoolCache = dict[str, Any]


def _pool_geometry(X, size, stride, padding) -> tuple[np.ndarray, bool, Geometry]:
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
    g = geometry((N * C, 1, H, W), r[0], r[1], s, p, 1)
    return X4, single, g


def _window_cells(X4: np.ndarray, g: Geometry, pad_value: float) -> list:
    """The ``r_h r_w`` window cells: array ``k`` holds, for every output, pixel ``k`` (row-major) of its window.

    Each is ``(N*C, H', W')``.  Non-overlapping unpadded windows (stride = size, no padding: the
    common case) are strided *views* of ``X`` -- nothing is copied; otherwise the rows of the
    planes' im2col (padding filled with ``pad_value``).
    """
    planes = X4.reshape(g.N, g.H, g.W)
    if (g.sh, g.sw) == (g.fh, g.fw) and g.ph == g.pw == 0:
        return [
            planes[:, i : i + g.fh * (g.Ho - 1) + 1 : g.fh, j : j + g.fw * (g.Wo - 1) + 1 : g.fw]
            for i in range(g.fh)
            for j in range(g.fw)
        ]
    cols = _im2col(planes[:, None], g, pad_value=pad_value)
    return [row.reshape(g.N, g.Ho, g.Wo) for row in cols]


def _winner_positions(winner: np.ndarray, g: Geometry) -> np.ndarray:
    """Flat index ``row*W + col`` in its plane of each window's winning cell; ``winner (N*C, H', W')``."""
    if g.ph == g.pw == 0:  # window (y, x) starts at (y s_h, x s_w); cell k sits (k // r_w, k % r_w) further
        start = (np.arange(g.Ho) * g.sh)[:, None] * g.W + np.arange(g.Wo) * g.sw
        offset = (np.arange(g.fh)[:, None] * g.W + np.arange(g.fw)).ravel()
        return start + offset[winner]
    # With padding: im2col of an image of flat indices (-1 in the padding) says where each cell is.
    # Only an all -inf window can pick a padding cell; it gets its window's first real pixel instead.
    plane_index = np.arange(g.H * g.W, dtype=np.float64).reshape(1, 1, g.H, g.W)
    where = _im2col(plane_index, geometry((1, 1, g.H, g.W), g.fh, g.fw, (g.sh, g.sw), (g.ph, g.pw), 1), -1.0)
    where = where.astype(np.intp)  # (r*r, H'*W'), the same for every plane
    positions = np.arange(g.Ho * g.Wo)
    first_real = where[np.argmax(where >= 0, axis=0), positions]
    found = where[winner.reshape(-1, g.Ho * g.Wo), positions]
    return np.where(found >= 0, found, first_real).reshape(winner.shape)


@cache
def _first_bit_table(bits: int) -> np.ndarray:
    """``table[code]`` = the smallest ``k`` whose bit ``bits-1-k`` is set in ``code`` (code 0: unused)."""
    code = np.arange(1, 2**bits)
    first = bits - 1 - np.floor(np.log2(code)).astype(np.intp)
    table = np.concatenate([[0], first]).astype(np.intp)
    table.setflags(write=False)  # shared through the cache
    return table


def _first_winner(cells: list, out: np.ndarray) -> np.ndarray:
    """Index of the first window cell (row-major) equal to the window's maximum ``out``.

    Ties go to the first; a NaN counts as the maximum of its window.  Each cell's "is it the max"
    mask becomes one bit of a small integer code, and a lookup table turns the code into the
    first set bit: several times faster than an argmax over the cells.
    """
    has_nan = bool(np.isnan(out).any())

    def hits(cell):
        hit = cell == out
        return hit | np.isnan(cell) if has_nan else hit

    R = len(cells)
    if R > 16:  # large windows: scan from the last cell back, keeping the earliest hit
        winner = np.full(out.shape, R - 1, dtype=np.intp)
        for k in range(R - 2, -1, -1):
            winner = np.where(hits(cells[k]), k, winner)
        return winner
    code_type = np.uint8 if R <= 8 else np.uint16
    code = np.zeros(out.shape, dtype=code_type)
    for k, cell in enumerate(cells):
        code |= hits(cell).astype(code_type) << code_type(R - 1 - k)
    return _first_bit_table(R)[code]


def _planes_out(flat: np.ndarray, X4: np.ndarray, g: Geometry, single: bool) -> np.ndarray:
    out = flat.reshape(X4.shape[0], X4.shape[1], g.Ho, g.Wo)
    return out[0] if single else out


def _check_upstream(G: object, cache: PoolCache, kind: str) -> np.ndarray:
    if not isinstance(cache, dict) or cache.get("kind") != kind:
        got = cache.get("kind") if isinstance(cache, dict) else type(cache).__name__
        raise ValueError(
            f"{kind}pool2d_backward needs the cache of {kind}pool2d, got a cache of kind {got!r}"
        )
    G = as_float_array(G, "G", (3, 4))
    if G.shape != cache["out_shape"]:
        raise ValueError(f"G has shape {G.shape} but the pooled output is {cache['out_shape']}")
    return G


def maxpool2d(
    X: np.ndarray, size: IntPair, stride: IntPair | None = None, padding: IntPair = 0
) -> tuple[np.ndarray, PoolCache]:
    """Max pooling.  ``X (N, C, H, W)`` or ``(C, H, W)`` -> ``(out, cache)``.

    ``out[n, c, y, x] = max`` of the ``r x r`` window at ``(y*s, x*s)`` of the padded plane.
    ``cache["argmax"]`` holds, for every output, the flat index ``row*W + col`` into its input
    plane of the window's winner (see the module docstring for ties).
    """
    X4, single, g = _pool_geometry(X, size, stride, padding)
    cells = _window_cells(X4, g, pad_value=-np.inf)
    out = cells[0].copy()
    for cell in cells[1:]:
        np.maximum(out, cell, out=out)  # propagates NaN
    winner = _first_winner(cells, out)
    argmax = _winner_positions(winner, g)
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
    G = _check_upstream(G, cache, "max")
    g: Geometry = cache["geometry"]
    plane = g.H * g.W
    # Flat index into the whole (N*C, H, W) stack; bincount adds where winners repeat.
    offset = (np.arange(g.N) * plane).reshape(cache["out_shape"][:-2] + (1, 1))
    index = (cache["argmax"] + offset).ravel()
    if g.sh >= g.fh and g.sw >= g.fw:  # windows do not overlap: every winner is distinct
        dX = np.zeros(g.N * plane, dtype=G.dtype)
        dX[index] = G.ravel()
        return dX.reshape(cache["x_shape"])
    # overlapping windows: bincount adds up the gradients of an input that wins several windows
    dX = np.bincount(index, weights=G.ravel(), minlength=g.N * plane)
    return dX.astype(G.dtype, copy=False).reshape(cache["x_shape"])


def avgpool2d(
    X: np.ndarray, size: IntPair, stride: IntPair | None = None, padding: IntPair = 0
) -> tuple[np.ndarray, PoolCache]:
    """Average pooling.  ``X (N, C, H, W)`` or ``(C, H, W)`` -> ``(out, cache)``.

    ``out[n, c, y, x] = (1/(r_h r_w)) * sum`` of the window at ``(y*s, x*s)`` (padding counts as 0).
    """
    X4, single, g = _pool_geometry(X, size, stride, padding)
    cells = _window_cells(X4, g, pad_value=0.0)
    total = cells[0].copy()
    for cell in cells[1:]:
        total += cell
    out = _planes_out(total / len(cells), X4, g, single)
    cache = {
        "kind": "avg",
        "x_shape": X4.shape[1:] if single else X4.shape,
        "out_shape": out.shape,
        "geometry": g,
    }
    return out, cache


def avgpool2d_backward(G: np.ndarray, cache: PoolCache) -> np.ndarray:
    """Spread ``G/(r_h r_w)`` over every window (``A_AvgPool^T vec(G)``); returns ``dX``."""
    G = _check_upstream(G, cache, "avg")
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

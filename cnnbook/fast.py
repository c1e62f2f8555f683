"""The fast path: convolution and pooling with the measured speed tricks, for layers and benchmarks.

Every function here takes the same arguments and returns the same results as its namesake in the
textbook core (:mod:`cnnbook.conv`, :mod:`cnnbook.pool`), with two exceptions: :func:`conv2d_backward`
has one extra argument, ``input_grad`` (trick 5), and the ``cols`` that :func:`conv2d` returns with
``return_cols=True`` may be in a wider layout (trick 1) that only :func:`conv2d_backward` of this
module accepts.  ``tests/test_fast.py`` and ``tests/test_fast_branches.py`` hold the two equal on random
geometries (strides, padding, dilation, sizes the stride does not divide, ties, NaN, float32 and
float64).  Read the core to learn the algorithms; read this module to see what it took to make
them fast on a CPU.  The tricks, and what each bought when it was measured (2 cores, float32;
figures from the commit messages that introduced them; tricks 2, 3, 5 and 6 came with the
training-speed work and were measured together, by ``benchmarks/train_speed.py``, not one by one;
tricks 8 to 10 and 12 are measured one by one by ``benchmarks/conv_speed.py --ablation``):

1. **Full-row layout for dX** (column stride 1).  Every output row is computed at all
   ``W + 2p_w`` columns of the padded row; the last ``d_w(f_w - 1)`` of them are garbage, dropped.
   Each filter tap's block is then *one contiguous run* per (channel, image) instead of ``H'``
   runs of ``W'`` pixels, so the col2im additions run faster, for ``(W + 2p_w)/W'`` times the
   GEMM work and a second copy of ``G``.  Measured on the benchmark shapes (one thread), it pays
   for dX when ``W' <= 20`` (``W'`` = 14 and 16: 5-15% off forward+backward) and not for
   ``W' = 28`` or 32, and it never paid for the columns: exact ``im2col`` columns won the forward
   on every shape (widening 1.06 to 1.29), so the columns use full rows only where nothing is
   wasted (``W + 2p_w = W'``).  The ``layout_choice`` switch off gives the previous rule, full
   rows for both whenever ``s_w = 1``; then the columns' garbage is zeroed when X holds NaN or
   inf, and such ``cols`` are *not* ``im2col(X)``: only :func:`conv2d_backward` here accepts
   them (it also accepts plain ``im2col(X)`` columns).
2. **Padding and channel-major reorder in one pass**: the input is written once into a
   ``(C, N, H + 2p, W + 2p)`` buffer, the order of the columns' rows (a workspace, trick 9: its
   zero border is written once).
3. **Bias on the GEMM output**: ``+ b`` on the contiguous rows of ``(K, N*H'*Wq)``, then one
   reorder to ``(N, K, H', W')``; 1.2-1.6x faster on the benchmark shapes than adding it during the
   reorder (a broadcast over a transposed view), which was the trick before.
4. **dF in the faster GEMM orientation**: ``dF = (cols @ G_mat.T).T``; BLAS runs the long inner
   dimension ``N*H'*W'`` in this orientation up to twice as fast.  ``db`` sums the contiguous
   rows of ``G_mat``.
5. **``input_grad=False``** skips ``dX`` (a network's first layer needs no gradient for its data).
6. **Remembered geometries**: a training loop asks for the same few geometries thousands of
   times.  Arguments are validated first (as in the core), *then* the normalized int tuples key a
   cache of :class:`~cnnbook.im2col.Geometry` objects, skipping the output-size checks.
7. **Max pooling** (forward with winners 3.2 -> 1.4 ms, backward 0.8 -> 0.4 ms on
   ``(64, 8, 28, 28)`` ReLU outputs, 2x2, one thread): window cells are strided *views* of ``X``
   when windows tile the input (nothing copied); the first winner is the number of leading cells
   that are not the maximum, ``m_0 (1 + m_1 (1 + ...))``, counted in ``uint8`` from the inside out
   (1.0 -> 0.4 ms against the bitmask and lookup table of first set bits it replaced, which was
   itself several times faster than ``argmax`` over the cells); winner positions by arithmetic;
   the backward *assigns* ``G`` directly when windows do not overlap (every winner is distinct)
   instead of adding with ``bincount``.  Without ``return_indices`` the winners are not looked
   for at all.  (Before these: first maximum by row comparison and winner positions by one
   gather, 5.7 -> 3.2 ms.)
8. **One strided copy**: every tap's block is a slice of one 6-D strided view of the padded
   buffer, ``(C, fh, fw, N, H', Wq)``, copied into the columns by a single ``np.copyto`` instead
   of ``fh fw`` copies.
9. **Workspaces**: the scratch arrays of a call (padded input, GEMM output, ``G`` in the working
   layout, dX's columns and accumulator) are kept per shape and reused by the next call, which
   skips the allocation, the page faults and the zero fills.  Nothing a call returns is a
   workspace (the columns are fresh: a layer keeps them until its backward).  Not thread-safe.
10. **dX a block of images at a time**: dX's columns are made and added up at most 8 MB at a
    time, which bounds that workspace whatever the batch.
11. Tried and dropped: splitting the copies over a thread pool measured no gain on 2 cores (the
    copies are memory-bound and BLAS already uses both cores) and cost 5-10% on small layers;
    dX blocks small enough for the L2 cache (256 KB - 1 MB) were slower than 8 MB ones.
12. **dX's horizontal taps inside the GEMM** (full-row dX, ``s_h = 1``, ``C > 1``): on full rows
    tap ``(i, j)`` adds ``F_ij^T G`` at a flat offset, so shifting ``G`` by ``j d_w`` instead of
    shifting the product turns the ``f_w`` additions of one filter row into one GEMM over ``f_w``
    stacked shifted copies of ``G``; ``f_h`` additions remain instead of ``f_h f_w``, and the GEMM's
    output is ``f_w`` times smaller.  On ``(64, 8, 14, 14)x(16, 8, 5, 5) p2`` it takes 18 % off
    forward+backward (dX 6.9 -> 4.1 ms, one thread; ``conv_speed.py --cpu`` then puts forward+backward
    at 1.52-1.54x the GEMM floor, against 1.94x before); 3x3 filters gain little (3 %) and a single
    input channel loses (hence ``C > 1``).  Folding the vertical taps in as well -- dX as the
    convolution of padded ``G`` with the flipped, transposed filters, one im2col and one GEMM --
    was slower than the additions on the four stride-1 benchmark shapes (copying its ``K f_h f_w x
    N H W`` columns costs more than the additions save): dX 7.2 vs 5.6 ms on the shape above, 25.7
    vs 17.5 ms on ``(64, 32, 16, 16)x(64, 32, 3, 3) p1``.

``benchmarks/conv_speed.py --ablation`` times the layer shapes with each of tricks 1 (the choice
of layout), 8, 9, 10 and 12 turned off (:func:`tricks_off`); ``tests/test_fast_branches.py`` runs
every switch.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from typing import Literal, overload

import numpy as np
from numpy.lib.stride_tricks import as_strided

from ._checks import (
    IntPair,
    as_batch,
    as_bias,
    as_filters,
    as_flag,
    as_float_array,
    as_indices,
    as_pair,
    as_upstream,
)
from .im2col import Geometry
from .pool import pool_geometry

__all__ = [
    "avgpool2d",
    "avgpool2d_backward",
    "conv2d",
    "conv2d_backward",
    "layouts",
    "maxpool2d",
    "maxpool2d_backward",
    "tricks_off",
]


# --------------------------------------------------------------------------------------------
# Remembered geometries (trick 6): validate, then look up by normalized ints.
# --------------------------------------------------------------------------------------------


@lru_cache(maxsize=512)
def _conv_geometry_of(
    X_shape: tuple[int, ...],
    kernel_size: tuple[int, int],
    stride: tuple[int, int],
    padding: tuple[int, int],
    dilation: tuple[int, int],
) -> Geometry:
    return Geometry.of(X_shape, kernel_size, stride, padding, dilation)


def _conv_geometry(
    X_shape: tuple[int, ...], kernel_size: IntPair, stride: IntPair, padding: IntPair, dilation: IntPair
) -> Geometry:
    """:meth:`Geometry.of`, remembered.  Only validated ``(h, w)`` int pairs reach the cache key."""
    return _conv_geometry_of(
        tuple(X_shape),
        as_pair(kernel_size, "kernel_size", 1),
        as_pair(stride, "stride", 1),
        as_pair(padding, "padding", 0),
        as_pair(dilation, "dilation", 1),
    )


@lru_cache(maxsize=512)
def _pool_geometry_of(
    X_shape: tuple[int, ...], kernel_size: tuple[int, int], stride: tuple[int, int], padding: tuple[int, int]
) -> Geometry:
    return pool_geometry(X_shape, kernel_size, stride, padding)


def _pool_geometry(
    X_shape: tuple[int, ...], kernel_size: IntPair, stride: IntPair | None, padding: IntPair
) -> Geometry:
    """:func:`cnnbook.pool.pool_geometry`, remembered (validated int pairs as the key)."""
    size = as_pair(kernel_size, "kernel_size", 1)
    steps = size if stride is None else as_pair(stride, "stride", 1)
    return _pool_geometry_of(tuple(X_shape), size, steps, as_pair(padding, "padding", 0))


# --------------------------------------------------------------------------------------------
# Column layouts: the exact im2col layout (with any padding value) and the full-row layout.
# --------------------------------------------------------------------------------------------


def _channel_major_padded(X: np.ndarray, g: Geometry, pad_value: float) -> np.ndarray:
    """``X (N, C, H, W)`` padded and reordered to ``(C, N, H + 2p_h, W + 2p_w)`` in one pass."""
    Xt = np.empty((g.C, g.N, g.H + 2 * g.ph, g.W + 2 * g.pw), dtype=X.dtype)
    if g.ph or g.pw:
        Xt.fill(pad_value)
    Xt[:, :, g.ph : g.ph + g.H, g.pw : g.pw + g.W] = X.transpose(1, 0, 2, 3)
    return Xt


def _im2col(X: np.ndarray, g: Geometry, pad_value: float = 0.0) -> np.ndarray:
    """``im2col`` of a validated ``(N, C, H, W)`` array, padding filled with ``pad_value``."""
    Xt = _channel_major_padded(X, g, pad_value)
    cols = np.empty((g.C, g.fh, g.fw, g.N, g.Ho, g.Wo), dtype=X.dtype)
    for i in range(g.fh):
        for j in range(g.fw):
            rows, columns = g.tap_slices(i, j)
            cols[:, i, j] = Xt[:, :, rows, columns]
    return cols.reshape(g.cols_shape)


def _col2im(cols: np.ndarray, g: Geometry) -> np.ndarray:
    """Adjoint of :func:`_im2col` (``cols`` of the exact layout) as an ``(N, C, H, W)`` array."""
    acc = np.zeros((g.C, g.N, g.H + 2 * g.ph, g.W + 2 * g.pw), dtype=cols.dtype)
    blocks = cols.reshape(g.C, g.fh, g.fw, g.N, g.Ho, g.Wo)
    for i in range(g.fh):
        for j in range(g.fw):
            rows, columns = g.tap_slices(i, j)
            acc[:, :, rows, columns] += blocks[:, i, j]
    inner = acc[:, :, g.ph : g.ph + g.H, g.pw : g.pw + g.W]
    return np.ascontiguousarray(inner.transpose(1, 0, 2, 3))


# --------------------------------------------------------------------------------------------
# Switches for the ablation benchmark and the tests: every trick on is what the layers use.
# --------------------------------------------------------------------------------------------

_TRICKS: dict[str, bool] = {
    "one_copy": True,  # columns by one copy of a 6-D strided view (off: fh*fw tap copies)
    "layout_choice": True,  # exact columns, full-row dX for short rows (off: full rows whenever s_w = 1)
    "workspaces": True,  # scratch arrays reused per shape (off: fresh each call)
    "blocked_dx": True,  # dX a block of images at a time (off: all images at once)
    "dx_row_gemm": True,  # dX's horizontal taps inside the GEMM (off: fh*fw tap additions)
}
_MAX_WORKSPACES = 32
_WORKSPACES: OrderedDict[tuple[str, tuple[int, ...], str], np.ndarray] = OrderedDict()
_FULL_ROW_MAX_WIDENING = 1.0  # full-row columns only when (W + 2p_w)/W' is at most this (trick 1)
_DX_FULL_ROW_MAX_WIDTH = 20  # dX on full rows when W' is at most this (trick 1)
_DX_BLOCK_BYTES = 8 << 20  # target size of one block of dX's columns (measured, see trick 10)


def _workspace(name: str, shape: tuple[int, ...], dtype: np.dtype, fill: float | None = None) -> np.ndarray:
    """A scratch array shared by every call that asks for the same ``(name, shape, dtype)`` (trick 9).

    ``fill`` is written once, when the array is made: callers that never write some cells (the
    padding of the padded input, the extra columns of G) find them still filled on later calls,
    provided ``name`` tells apart every geometry that writes a different set of cells.  A
    workspace is dead when its call returns: nothing returned to a caller may alias one.
    """
    if not _TRICKS["workspaces"]:
        fresh = np.empty(shape, dtype=dtype)
        if fill is not None:
            fresh.fill(fill)
        return fresh
    key = (name, shape, np.dtype(dtype).str)
    array = _WORKSPACES.pop(key, None)
    if array is None:
        array = np.empty(shape, dtype=dtype)
        if fill is not None:
            array.fill(fill)
        while len(_WORKSPACES) >= _MAX_WORKSPACES:
            _WORKSPACES.popitem(last=False)
    _WORKSPACES[key] = array  # most recently used last
    return array


def _full_rows(g: Geometry) -> bool:
    """Whether the columns use the full-row layout (trick 1): ``s_w = 1`` and no wasted column."""
    if g.sw != 1:
        return False
    return not _TRICKS["layout_choice"] or g.W + 2 * g.pw <= _FULL_ROW_MAX_WIDENING * g.Wo


def _dx_full_rows(g: Geometry, cols_full: bool) -> bool:
    """Whether dX uses full rows (trick 1): ``s_w = 1`` and short output rows, or full-row columns
    (whose ``G`` matrix it then shares)."""
    if g.sw != 1:
        return False
    return cols_full or not _TRICKS["layout_choice"] or g.Wo <= _DX_FULL_ROW_MAX_WIDTH


def _width(g: Geometry, full: bool) -> int:
    """Columns per output row: ``W + 2p_w`` (full rows) or ``W'`` (the exact im2col layout)."""
    return g.W + 2 * g.pw if full else g.Wo


def _tap_view(buffer: np.ndarray, g: Geometry, full: bool) -> np.ndarray:
    """All taps' blocks of a padded ``(C', N', H + 2p_h (+1), W + 2p_w)`` array: ``(C', fh, fw, N', H', Wq)``.

    Element ``[c, i, j, n, y, x]`` is padded pixel ``(y s_h + i d_h, x s + j d_w)`` of plane
    ``(c, n)``, with ``s = s_w`` (exact layout) or ``s = 1`` and ``x`` running over the whole padded
    row (full rows: ``x >= W'`` spills into the next row, hence the one extra row of the buffer).
    """
    sC, sN, sH, sE = buffer.strides
    step = 1 if full else g.sw
    return as_strided(
        buffer,
        shape=(buffer.shape[0], g.fh, g.fw, buffer.shape[1], g.Ho, _width(g, full)),
        strides=(sC, g.dh * sH, g.dw * sE, sN, g.sh * sH, step * sE),
        writeable=True,
    )


def _padded_shape(g: Geometry, full: bool, n: int) -> tuple[int, int, int, int]:
    """``(C, n, H + 2p_h (+1), W + 2p_w)``: one extra row for full rows (their last run reaches past it)."""
    return (g.C, n, g.H + 2 * g.ph + int(full), g.W + 2 * g.pw)


def _columns(X: np.ndarray, g: Geometry, full: bool, dtype: np.dtype) -> np.ndarray:
    """im2col in the working layout, ``(C fh fw, N H' Wq)``: a fresh array (the caller may keep it).

    The input is padded and reordered channel-major in one pass (trick 2) into a workspace whose
    padding stays zero from call to call, then every tap's block is copied by one strided copy
    (trick 8) or, with that trick off, one copy per tap.
    """
    # The name records where the image sits: another geometry with the same padded shape may not
    # share the buffer (it would write over this one's zero border).
    padded = _workspace(f"padded {g.ph} {g.pw} {full}", _padded_shape(g, full, g.N), dtype, fill=0.0)
    padded[:, :, g.ph : g.ph + g.H, g.pw : g.pw + g.W] = X.transpose(1, 0, 2, 3)
    taps = _tap_view(padded, g, full)
    cols = np.empty(taps.shape, dtype=dtype)
    if _TRICKS["one_copy"]:
        np.copyto(cols, taps)
    else:
        for i in range(g.fh):
            for j in range(g.fw):
                cols[:, i, j] = taps[:, i, j]
    # The extra columns of full rows hold pixels no window reads.  They meet zeros of G in
    # dF = cols @ G^T, which adds nothing unless a pixel is NaN or inf (0 * NaN = NaN): zero them
    # then.  The sum is NaN or inf whenever X holds one (and, harmlessly, when it overflows).
    if full and g.Wo < cols.shape[-1]:
        with np.errstate(over="ignore", invalid="ignore"):
            finite = np.isfinite(X.sum())
        if not finite:
            cols[..., g.Wo :] = 0
    return cols.reshape(g.C * g.fh * g.fw, -1)


def _upstream_matrix(G4: np.ndarray, g: Geometry, full: bool) -> np.ndarray:
    """``(N, K, H', W')`` -> ``(K, N H' Wq)`` in a workspace: one row per filter, extra columns zero."""
    N, K = G4.shape[:2]
    Wq = _width(g, full)
    # extra columns stay zero; W' in the name: a geometry whose W' is this Wq may not share the buffer
    G_mat = _workspace(f"upstream {g.Wo}", (K, N, g.Ho, Wq), G4.dtype, fill=0.0)
    G_mat[..., : g.Wo] = G4.transpose(1, 0, 2, 3)
    return G_mat.reshape(K, -1)


def _input_gradient(A: np.ndarray, G_mat: np.ndarray, g: Geometry, full: bool) -> np.ndarray:
    """``dX (N, C, H, W)`` = col2im(``A^T G_mat``), a block of images at a time (trick 10).

    ``A (K, C fh fw)`` the filters, ``G_mat (K, N H' Wq)`` from :func:`_upstream_matrix`.  Each
    block's columns are made by one GEMM and added, tap by tap, into a padded accumulator; then
    the block's inner pixels are copied out to ``dX``.
    """
    K, rows = A.shape
    L = g.Ho * _width(g, full)
    dtype = G_mat.dtype
    block = g.N
    if _TRICKS["blocked_dx"]:
        block = max(1, min(g.N, _DX_BLOCK_BYTES // (rows * L * dtype.itemsize)))
    dcols_space = _workspace("dcols", (rows * block * L,), dtype)
    padded_shape = _padded_shape(g, full, block)
    acc_space = _workspace("accumulator", (int(np.prod(padded_shape)),), dtype)
    G3 = G_mat.reshape(K, g.N, L)
    dX = np.empty((g.N, g.C, g.H, g.W), dtype=dtype)
    for n0 in range(0, g.N, block):
        n = min(block, g.N - n0)
        dcols = dcols_space[: rows * n * L].reshape(rows, n * L)
        np.matmul(A.T, G3[:, n0 : n0 + n].reshape(K, n * L), out=dcols)
        acc = acc_space[: g.C * n * padded_shape[2] * padded_shape[3]].reshape(g.C, n, *padded_shape[2:])
        acc.fill(0)
        taps = _tap_view(acc, g, full)
        blocks = dcols.reshape(taps.shape)
        for i in range(g.fh):
            for j in range(g.fw):
                taps[:, i, j] += blocks[:, i, j]
        dX[n0 : n0 + n] = acc[:, :, g.ph : g.ph + g.H, g.pw : g.pw + g.W].transpose(1, 0, 2, 3)
    return dX


def _dx_row_gemm(g: Geometry, full: bool) -> bool:
    """Whether dX folds its horizontal taps into the GEMM (trick 12): full rows, ``s_h = 1``, ``C > 1``."""
    return _TRICKS["dx_row_gemm"] and full and g.sh == 1 and g.C > 1


def _input_gradient_rows(F: np.ndarray, G4: np.ndarray, g: Geometry) -> np.ndarray:
    """``dX (N, C, H, W)`` with the horizontal taps summed by the GEMM (trick 12); ``s_h = 1``, full rows.

    On full rows (run length ``L = H' (W + 2p_w)`` per image) tap ``(i, j)`` of the col2im adds
    ``F_ij^T G`` at flat offset ``i d_h (W + 2p_w) + j d_w``.  Shifting ``G`` instead of the
    product, ``sum_j shift_j(F_ij^T G) = [F_i,fw-1^T ... F_i0^T] @ [G shifted by 0, d_w, ...]``:
    the ``f_w`` shifted copies of ``G`` (zero-padded by ``e = d_w(f_w - 1)`` at both ends) are
    stacked into ``(f_w K, N (L + e))``, one GEMM gives ``(f_h C, N (L + e))``, and only ``f_h``
    additions remain.  ``F (K, C, fh, fw)``, ``G4 (N, K, H', W')``.  A block of images at a time
    (trick 10).
    """
    K, C, fh, fw = F.shape
    row = g.W + 2 * g.pw
    L, e = g.Ho * row, g.dw * (fw - 1)
    dtype = G4.dtype
    block = g.N
    if _TRICKS["blocked_dx"]:
        block = max(1, min(g.N, _DX_BLOCK_BYTES // (fw * K * (L + e) * dtype.itemsize)))
    # G (N, K, H', W') straight into full rows between zero margins; the margins and extra columns
    # are zeroed once, so the name holds what fixes the written cells for a given shape
    padded = _workspace(f"dx rows G {e} {row} {g.Wo}", (K, g.N, L + 2 * e), dtype, fill=0.0)
    padded[:, :, e : e + L].reshape(K, g.N, g.Ho, row)[..., : g.Wo] = G4.transpose(1, 0, 2, 3)
    sK, sN, sE = padded.strides
    M = F[:, :, :, ::-1].transpose(2, 1, 3, 0).reshape(fh * C, fw * K)  # [(i, c), (fw-1-j, k)]
    plane = (g.H + 2 * g.ph + 1) * row
    stack_space = _workspace("dx rows stack", (fw * K * block * (L + e),), dtype)
    out_space = _workspace("dx rows out", (fh * C * block * (L + e),), dtype)
    acc_space = _workspace("accumulator", (C * block * plane,), dtype)
    dX = np.empty((g.N, g.C, g.H, g.W), dtype=dtype)
    for n0 in range(0, g.N, block):
        n = min(block, g.N - n0)
        stack = stack_space[: fw * K * n * (L + e)].reshape(fw, K, n, L + e)
        shifted = as_strided(padded[:, n0:], (fw, K, n, L + e), (g.dw * sE, sK, sN, sE), writeable=False)
        np.copyto(stack, shifted)
        out = out_space[: fh * C * n * (L + e)].reshape(fh * C, n * (L + e))
        np.matmul(M, stack.reshape(fw * K, -1), out=out)
        rows = out.reshape(fh, C, n, L + e)
        acc = acc_space[: C * n * plane].reshape(C, n, plane)
        acc[:, :, : L + e] = rows[0]  # the first filter row assigns, the others add
        acc[:, :, L + e :] = 0
        for i in range(1, fh):
            start = i * g.dh * row
            acc[:, :, start : start + L + e] += rows[i]
        inner = acc.reshape(C, n, -1, row)[:, :, g.ph : g.ph + g.H, g.pw : g.pw + g.W]
        dX[n0 : n0 + n] = inner.transpose(1, 0, 2, 3)
    return dX


# --------------------------------------------------------------------------------------------
# Convolution
# --------------------------------------------------------------------------------------------


@overload
def conv2d(
    X: np.ndarray,
    F: np.ndarray,
    b: np.ndarray | None = ...,
    stride: IntPair = ...,
    padding: IntPair = ...,
    dilation: IntPair = ...,
    *,
    return_cols: Literal[False] = ...,
) -> np.ndarray: ...
@overload
def conv2d(
    X: np.ndarray,
    F: np.ndarray,
    b: np.ndarray | None = ...,
    stride: IntPair = ...,
    padding: IntPair = ...,
    dilation: IntPair = ...,
    *,
    return_cols: Literal[True],
) -> tuple[np.ndarray, np.ndarray]: ...
@overload
def conv2d(
    X: np.ndarray,
    F: np.ndarray,
    b: np.ndarray | None = ...,
    stride: IntPair = ...,
    padding: IntPair = ...,
    dilation: IntPair = ...,
    *,
    return_cols: bool,
) -> np.ndarray | tuple[np.ndarray, np.ndarray]: ...


def conv2d(
    X: np.ndarray,
    F: np.ndarray,
    b: np.ndarray | None = None,
    stride: IntPair = 1,
    padding: IntPair = 0,
    dilation: IntPair = 1,
    *,
    return_cols: bool = False,
) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """:func:`cnnbook.conv2d`, fast: ``S`` or, with ``return_cols=True``, ``(S, cols)``.

    ``cols`` is in the working layout (trick 1 of the module docstring): pass it unchanged to
    :func:`conv2d_backward` of this module.
    """
    return_cols = as_flag(return_cols, "return_cols")
    X4, single = as_batch(X)
    F = as_filters(F, X4.shape[1])
    b = as_bias(b, F.shape[0])
    g = _conv_geometry(X4.shape, F.shape[2:], stride, padding, dilation)
    dtype = np.result_type(X4.dtype, F.dtype)
    full = _full_rows(g)
    cols = _columns(X4, g, full, dtype)
    K = F.shape[0]
    out = _workspace("output", (K, cols.shape[1]), dtype)
    np.matmul(F.reshape(K, -1).astype(dtype, copy=False), cols, out=out)  # the one GEMM
    S = np.empty((g.N, K, g.Ho, g.Wo), dtype=dtype)
    view = out.reshape(K, g.N, g.Ho, _width(g, full))[..., : g.Wo].transpose(1, 0, 2, 3)
    if b is not None:  # on the GEMM output's contiguous rows, before the reorder (trick 3)
        out += b.astype(dtype, copy=False)[:, None]
    np.copyto(S, view)
    result = S[0] if single else S
    return (result, cols) if return_cols else result


def conv2d_backward(
    G: np.ndarray,
    X: np.ndarray,
    F: np.ndarray,
    stride: IntPair = 1,
    padding: IntPair = 0,
    dilation: IntPair = 1,
    *,
    cols: np.ndarray | None = None,
    input_grad: bool = True,
) -> tuple[np.ndarray | None, np.ndarray, np.ndarray]:
    """:func:`cnnbook.conv2d_backward`, fast: ``(dX, dF, db)``.

    ``cols``: the ``cols`` that :func:`conv2d` of this module returned, or plain
    ``cnnbook.im2col(X, ...)``.  ``input_grad=False`` skips ``dX`` (returned as ``None``).
    """
    input_grad = as_flag(input_grad, "input_grad")
    X4, single = as_batch(X)
    F = as_filters(F, X4.shape[1])
    g = _conv_geometry(X4.shape, F.shape[2:], stride, padding, dilation)
    K = F.shape[0]
    G4 = as_upstream(G, (g.N, K, g.Ho, g.Wo), single)
    full = _full_rows(g)
    work_shape = (g.cols_shape[0], g.N * g.Ho * _width(g, full))
    if cols is not None:
        cols = as_float_array(cols, "cols", (2,))
        if cols.shape not in (work_shape, g.cols_shape):
            raise ValueError(
                f"cols has shape {cols.shape}; pass im2col(X) {g.cols_shape} "
                f"or the cols that fast.conv2d(..., return_cols=True) returned {work_shape}"
            )
    dtype = np.result_type(G4.dtype, X4.dtype, F.dtype)
    G4 = G4.astype(dtype, copy=False)
    if cols is None:
        cols = _columns(X4, g, full, dtype)
    # pair the columns with G in their layout (plain im2col(X) columns: the exact one)
    cols_full = full and cols.shape == work_shape
    G_cols = _upstream_matrix(G4, g, cols_full)  # (K, N*H'*Wq)
    # dF = G_mat @ cols.T, computed as (cols @ G_mat.T).T (trick 4)
    dF = (cols.astype(dtype, copy=False) @ G_cols.T).T.reshape(F.shape)
    db = G_cols.sum(axis=1)  # extra columns hold zeros; contiguous rows sum fastest
    if not input_grad:
        return None, dF, db
    dx_full = _dx_full_rows(g, cols_full)
    if _dx_row_gemm(g, dx_full):
        dX = _input_gradient_rows(F.astype(dtype, copy=False), G4, g)
    else:
        G_dx = G_cols if dx_full == cols_full else _upstream_matrix(G4, g, dx_full)
        dX = _input_gradient(F.reshape(K, -1).astype(dtype, copy=False), G_dx, g, dx_full)
    return (dX[0] if single else dX), dF, db


# --------------------------------------------------------------------------------------------
# Pooling (trick 7)
# --------------------------------------------------------------------------------------------


def _window_cells(X4: np.ndarray, g: Geometry, pad_value: float) -> list[np.ndarray]:
    """The ``r_h r_w`` window cells: array ``k`` holds, for each output, cell ``k`` (row-major) of its window.

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


@lru_cache(maxsize=64)
def _cell_positions(g: Geometry) -> np.ndarray:
    """``(r_h r_w, H'*W')``: flat index ``row*W + col`` in its plane of each window cell (-1: padding)."""
    plane_index = np.arange(g.H * g.W, dtype=np.float64).reshape(1, 1, g.H, g.W)
    one = Geometry.of((1, 1, g.H, g.W), (g.fh, g.fw), (g.sh, g.sw), (g.ph, g.pw), 1)
    where = _im2col(plane_index, one, -1.0).astype(np.intp)
    where.setflags(write=False)  # shared through the cache
    return where


def _winner_positions(winner: np.ndarray, g: Geometry) -> np.ndarray:
    """Flat index ``row*W + col`` in its plane of each window's winning cell; ``winner (N*C, H', W')``."""
    if g.ph == g.pw == 0:  # window (y, x) starts at (y s_h, x s_w); cell k sits (k // r_w, k % r_w) further
        start = (np.arange(g.Ho) * g.sh)[:, None] * g.W + np.arange(g.Wo) * g.sw
        offset = (np.arange(g.fh)[:, None] * g.W + np.arange(g.fw)).ravel()
        return start + offset[winner]
    # With padding: only an all -inf window can pick a padding cell (its first); it gets its
    # window's first real pixel instead.
    where = _cell_positions(g)
    positions = np.arange(g.Ho * g.Wo)
    first_real = where[np.argmax(where >= 0, axis=0), positions]
    found = where[winner.reshape(-1, g.Ho * g.Wo), positions]
    return np.where(found >= 0, found, first_real).reshape(winner.shape)


def _first_winner(cells: list[np.ndarray], out: np.ndarray) -> np.ndarray:
    """Index of the first window cell (row-major) equal to the window's maximum ``out``.

    Ties go to the first; a NaN counts as the maximum of its window (the first NaN wins, as with
    ``np.argmax``).  With ``m_k`` = 1 if cell ``k`` is *not* the maximum, else 0, the first winner
    is the number of leading misses, ``m_0 (1 + m_1 (1 + ... (1 + m_{R-2})))``: evaluated from the
    inside out, one comparison and two small-integer passes per cell, no lookup (trick 7).
    """
    has_nan = bool(np.isnan(out).any())

    def misses(cell: np.ndarray) -> np.ndarray:
        miss = np.not_equal(cell, out)
        if has_nan:
            miss &= ~np.isnan(cell)
        return miss

    R = len(cells)
    if R == 1:
        return np.zeros(out.shape, dtype=np.intp)
    count: np.ndarray = misses(cells[R - 2]).astype(np.uint8 if R <= 256 else np.intp)
    for k in range(R - 3, -1, -1):
        np.add(count, 1, out=count)
        np.multiply(count, misses(cells[k]), out=count)
    return count


@overload
def maxpool2d(
    X: np.ndarray,
    kernel_size: IntPair,
    stride: IntPair | None = ...,
    padding: IntPair = ...,
    *,
    return_indices: Literal[False] = ...,
) -> np.ndarray: ...
@overload
def maxpool2d(
    X: np.ndarray,
    kernel_size: IntPair,
    stride: IntPair | None = ...,
    padding: IntPair = ...,
    *,
    return_indices: Literal[True],
) -> tuple[np.ndarray, np.ndarray]: ...
@overload
def maxpool2d(
    X: np.ndarray,
    kernel_size: IntPair,
    stride: IntPair | None = ...,
    padding: IntPair = ...,
    *,
    return_indices: bool,
) -> np.ndarray | tuple[np.ndarray, np.ndarray]: ...


def maxpool2d(
    X: np.ndarray,
    kernel_size: IntPair,
    stride: IntPair | None = None,
    padding: IntPair = 0,
    *,
    return_indices: bool = False,
) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """:func:`cnnbook.maxpool2d`, fast: ``out`` or ``(out, indices)``."""
    return_indices = as_flag(return_indices, "return_indices")
    X4, single = as_batch(X)
    g = _pool_geometry(X4.shape, kernel_size, stride, padding)
    cells = _window_cells(X4, g, pad_value=-np.inf)
    out = cells[0].copy()
    for cell in cells[1:]:
        np.maximum(out, cell, out=out)  # propagates NaN
    shape = (X4.shape[0], X4.shape[1], g.Ho, g.Wo)
    result = out.reshape(shape)
    if single:
        result = result[0]
    if not return_indices:
        return result
    indices = _winner_positions(_first_winner(cells, out), g).reshape(result.shape)
    return result, indices


def maxpool2d_backward(
    G: np.ndarray,
    X: np.ndarray,
    kernel_size: IntPair,
    stride: IntPair | None = None,
    padding: IntPair = 0,
    *,
    indices: np.ndarray | None = None,
) -> np.ndarray:
    """:func:`cnnbook.maxpool2d_backward`, fast: route each ``G`` entry to its window's winner."""
    X4, single = as_batch(X)
    g = _pool_geometry(X4.shape, kernel_size, stride, padding)
    N, C = X4.shape[:2]
    G4 = as_upstream(G, (N, C, g.Ho, g.Wo), single, "the pooled output")
    if indices is None:
        indices = maxpool2d(X4, (g.fh, g.fw), (g.sh, g.sw), (g.ph, g.pw), return_indices=True)[1]
    else:
        indices = as_indices(indices, (N, C, g.Ho, g.Wo), single, g.H * g.W)
    plane = g.H * g.W
    # Flat index into the whole (N*C, H, W) stack.
    index = (indices.reshape(g.N, -1) + (np.arange(g.N) * plane)[:, None]).ravel()
    if g.sh >= g.fh and g.sw >= g.fw:  # windows do not overlap: every winner is distinct
        dX = np.zeros(g.N * plane, dtype=G4.dtype)
        dX[index] = G4.ravel()
    else:  # overlapping windows: bincount adds up the gradients of an input that wins several
        dX = np.bincount(index, weights=G4.ravel(), minlength=g.N * plane).astype(G4.dtype, copy=False)
    dX = dX.reshape(X4.shape)
    return dX[0] if single else dX


def avgpool2d(
    X: np.ndarray, kernel_size: IntPair, stride: IntPair | None = None, padding: IntPair = 0
) -> np.ndarray:
    """:func:`cnnbook.avgpool2d`, fast: window cells as views where windows tile the input."""
    X4, single = as_batch(X)
    g = _pool_geometry(X4.shape, kernel_size, stride, padding)
    cells = _window_cells(X4, g, pad_value=0.0)
    total = cells[0].copy()
    for cell in cells[1:]:
        total += cell
    out = (total / len(cells)).reshape(X4.shape[0], X4.shape[1], g.Ho, g.Wo)
    return out[0] if single else out


def avgpool2d_backward(
    G: np.ndarray, X: np.ndarray, kernel_size: IntPair, stride: IntPair | None = None, padding: IntPair = 0
) -> np.ndarray:
    """:func:`cnnbook.avgpool2d_backward`, fast: spread ``G/(r_h r_w)`` over every window."""
    X4, single = as_batch(X)
    g = _pool_geometry(X4.shape, kernel_size, stride, padding)
    G4 = as_upstream(G, (X4.shape[0], X4.shape[1], g.Ho, g.Wo), single, "the pooled output")
    share = G4.reshape(1, -1) / (g.fh * g.fw)
    dX = _col2im(np.broadcast_to(share, g.cols_shape), g).reshape(X4.shape)
    return dX[0] if single else dX


# --------------------------------------------------------------------------------------------
# Measuring what each trick buys (lesson 08, benchmarks/conv_speed.py --ablation).
# --------------------------------------------------------------------------------------------


@contextmanager
def tricks_off(*names: str) -> Iterator[None]:
    """Turn the named speed tricks off inside a ``with`` block, to measure what each one buys.

    ``names``: any of ``"one_copy"`` (trick 8), ``"layout_choice"`` (trick 1), ``"workspaces"``
    (trick 9), ``"blocked_dx"`` (trick 10), ``"dx_row_gemm"`` (trick 12).  Results are the same with
    any trick off (``tests/test_fast_branches.py``); only the time and the memory change.  The
    previous switches are restored on leaving the block, also after an exception.  Not thread-safe.
    """
    unknown = [name for name in names if name not in _TRICKS]
    if unknown:
        raise ValueError(f"names: unknown trick(s) {unknown}; the switchable ones are {sorted(_TRICKS)}")
    saved = dict(_TRICKS)
    _TRICKS.update(dict.fromkeys(names, False))
    try:
        yield
    finally:
        _TRICKS.update(saved)


def layouts(
    input_shape: tuple[int, ...],
    kernel_size: IntPair,
    stride: IntPair = 1,
    padding: IntPair = 0,
    dilation: IntPair = 1,
) -> tuple[bool, bool, bool]:
    """Which branches the fast path takes for this geometry: ``(columns, dX, row_gemm)``.

    ``columns`` and ``dX``: ``True`` for full padded rows, ``False`` for the exact im2col layout
    (trick 1); ``row_gemm``: whether dX's horizontal taps go inside the GEMM (trick 12).  Depends on
    the switches of :func:`tricks_off`.  ``input_shape``: ``(N, C, H, W)``.  For lesson 08 and the tests.
    """
    if len(input_shape) != 4:
        raise ValueError(f"input_shape must be (N, C, H, W), got {input_shape}")
    g = _conv_geometry(tuple(int(n) for n in input_shape), kernel_size, stride, padding, dilation)
    full = _full_rows(g)
    dx_full = _dx_full_rows(g, full)
    return full, dx_full, _dx_row_gemm(g, dx_full)

"""The lectures' explicit matrices: every layer of a ConvNet as a matrix acting on ``vec``.

``vec`` is row-major with channel planes stacked: for a ``(C, H, W)`` array
``vec(X) = (X_1 rows concatenated, X_2 rows concatenated, ...) == X.reshape(-1)``, which matches the
lectures' ``vec(F) = (F11, F12, F13, F21, ...)``.  Indices in docstrings are 0-based (Python);
the lectures' ``X_11`` is ``X[0, 0]``.

* ``make_MX``: ``vec(S) = M_X vec(F)``       -- the response as a linear function of the *filter*
  (``(H'W', C fh fw)``; 16x9 for the 6x6 / 3x3 example, 16x36 with four planes).
* ``make_MF``: ``vec(S) = M_F^filter vec(X)`` -- the response as a linear function of the *input*
  (``(H'W', C H W)``; 16x36 and 16x144 in the lectures).  ``dL/dvec(X) = g M_F``.
* ``maxpool_matrix``: ``vec(MaxPool(X)) = A_MaxPool vec(X)`` (depends on ``X``: a 0/1 selection).
* ``avgpool_matrix``: ``vec(AvgPool(X)) = A_AvgPool vec(X)`` (does not depend on ``X``).
* ``relu_jacobian``: ``diag(Ind(vec(S) > 0))``.
* ``stack_jacobian``: ``d vec(S) / d vec(S_i)``: ``I_t`` in block ``i`` of ``n``.

These matrices are for *understanding*: they are mostly zeros and grow with the square of the
image.  Every builder computes the size of its result from the shapes *first*, before it allocates
anything: the dense builders refuse more than :data:`MAX_DENSE_ENTRIES` entries with a
:class:`ValueError` naming the size (pointing to ``sparse=True``, a ``scipy.sparse.csr_matrix``,
where the builder has it), and the symbolic ones (object arrays of strings, much heavier per entry)
refuse more than :data:`MAX_SYMBOLIC_ENTRIES`.  The routines in :mod:`cnnbook.conv` and
:mod:`cnnbook.fast` never build them.

Shapes are validated strictly: ``input_shape`` must be a tuple of ints ``(H, W)`` or
``(C, H, W)`` (``None``, floats such as ``8.7`` and other lengths raise, naming the argument).
The pooling matrices come back in the input's float dtype (float32 in, float32 out).

Sizes follow the package's names: ``kernel_size`` is ``f`` or ``(fh, fw)``; the number of
channels always comes from the input (``X`` or ``input_shape``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from ._checks import IntPair, as_flag, as_float_array, as_int, as_plane_shape, positive_int
from .im2col import Geometry, im2col
from .pool import maxpool2d, pool_geometry

__all__ = [
    "MAX_DENSE_ENTRIES",
    "MAX_SPARSE_ENTRIES",
    "MAX_SYMBOLIC_ENTRIES",
    "avgpool_matrix",
    "make_MF",
    "make_MX",
    "maxpool_matrix",
    "relu_jacobian",
    "stack_jacobian",
    "storage_bytes",
    "symbolic_MF",
    "symbolic_MX",
    "unvec",
    "vec",
]

#: Largest dense matrix the builders agree to make: 2**25 entries (256 MiB of float64).
MAX_DENSE_ENTRIES = 2**25

#: Largest symbolic (string) matrix :func:`symbolic_MX` / :func:`symbolic_MF` agree to make: 2**20
#: entries (meant for printing; an object array costs far more per entry than a float).
MAX_SYMBOLIC_ENTRIES = 2**20

#: Most stored entries ``make_MF(..., sparse=True)`` agrees to build: 2**25 (about 400 MB of CSR data).
MAX_SPARSE_ENTRIES = 2**25


def vec(A: np.ndarray) -> np.ndarray:
    """Row-major vectorisation with channel planes stacked: ``A.reshape(-1)``."""
    return np.asarray(A).reshape(-1)


def unvec(v: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Inverse of :func:`vec`: reshape a vector of ``prod(shape)`` entries to ``shape``.

    ``shape`` is a tuple of ints ``>= 0``: :class:`TypeError` for None, a string or float/bool
    entries, :class:`ValueError` for a negative entry or a size that does not match ``v``.
    """
    if isinstance(shape, str | bytes) or not isinstance(shape, Sequence | np.ndarray):
        raise TypeError(f"shape must be a tuple of ints, got {shape!r}")
    sizes = tuple(as_int(n, "shape entry") for n in shape)
    if any(n < 0 for n in sizes):
        raise ValueError(f"shape entries must be >= 0, got {sizes}")
    v = np.asarray(v)
    if v.size != math.prod(sizes):
        raise ValueError(f"cannot unvec {v.size} entries into shape {sizes}")
    return v.reshape(sizes)


def _as_chw(shape: object, name: str) -> tuple[int, int, int]:
    """``(C, H, W)`` (or one plane ``(H, W)``, ``C = 1``) as ints ``>= 1``."""
    return as_plane_shape(shape, name)


def _check_dense(rows: int, cols: int, what: str, *, itemsize: int = 8, has_sparse: bool = True) -> None:
    """Refuse a dense ``rows x cols`` result over :data:`MAX_DENSE_ENTRIES` (sizes are Python ints)."""
    entries = int(rows) * int(cols)
    if entries > MAX_DENSE_ENTRIES:
        hint = "use sparse=True" if has_sparse else "use a smaller input"
        raise ValueError(
            f"dense {what} would be {rows}x{cols} = {entries:,} entries "
            f"({entries * itemsize / 2**20:,.0f} MiB), over MAX_DENSE_ENTRIES = {MAX_DENSE_ENTRIES:,}; {hint}"
        )


def _check_symbolic(rows: int, cols: int, what: str) -> None:
    """Refuse a symbolic ``rows x cols`` result over :data:`MAX_SYMBOLIC_ENTRIES`."""
    entries = int(rows) * int(cols)
    if entries > MAX_SYMBOLIC_ENTRIES:
        raise ValueError(
            f"symbolic {what} would be {rows}x{cols} = {entries:,} entries, over "
            f"MAX_SYMBOLIC_ENTRIES = {MAX_SYMBOLIC_ENTRIES:,}; the symbolic matrices are for printing "
            f"small examples (use make_MX / make_MF for numbers)"
        )


def _as_name(value: object) -> str:
    if not isinstance(value, str):
        raise TypeError(f"name must be a str, got {value!r}")
    return value


def _tap_index(
    input_shape: tuple[int, int, int],
    kernel_size: IntPair,
    stride: IntPair,
    padding: IntPair,
    dilation: IntPair,
) -> tuple[np.ndarray, Geometry]:
    """For one image: ``idx[r, p]`` = 1 + flat input index met by tap ``r`` at output ``p`` (0: padding).

    im2col applied to an image whose pixels hold their own (1-based) index: the one place where
    the geometry of every matrix below is decided.
    """
    C, H, W = input_shape
    g = Geometry.of((1, C, H, W), kernel_size, stride, padding, dilation)
    labels = np.arange(1, C * H * W + 1, dtype=np.float64).reshape(1, C, H, W)
    return im2col(labels, kernel_size, stride, padding, dilation).astype(np.int64), g


def _assemble(
    rows: np.ndarray, cols: np.ndarray, data: np.ndarray, shape: tuple[int, int], sparse: bool, what: str
) -> Any:
    if sparse:
        from scipy.sparse import csr_matrix

        return csr_matrix((data, (rows, cols)), shape=shape)
    _check_dense(shape[0], shape[1], what, itemsize=data.dtype.itemsize)
    M = np.zeros(shape, dtype=data.dtype)
    np.add.at(M, (rows, cols), data)
    return M


def make_MX(
    X: np.ndarray,
    kernel_size: IntPair,
    stride: IntPair = 1,
    padding: IntPair = 0,
    dilation: IntPair = 1,
) -> np.ndarray:
    """``M_X`` with ``vec(X * F) == M_X @ vec(F)`` for any filter ``F`` ``(C, fh, fw)`` of this size.

    ``X``: one image ``(C, H, W)`` (or one plane ``(H, W)``); ``kernel_size``: ``f`` or
    ``(fh, fw)``, the filter's depth is ``X``'s ``C``.  Shape ``(H'W', C fh fw)``: row ``p`` holds
    the receptive field of output ``p`` in ``vec(F)`` order -- it is ``im2col(X).T``.
    """
    X = as_float_array(X, "X", (2, 3))
    X3 = X[None] if X.ndim == 2 else X
    g = Geometry.of((1, *X3.shape), kernel_size, stride, padding, dilation)
    _check_dense(g.Ho * g.Wo, g.C * g.fh * g.fw, "M_X", itemsize=X.dtype.itemsize, has_sparse=False)
    return np.ascontiguousarray(im2col(X3, kernel_size, stride, padding, dilation).T)


def make_MF(
    F: np.ndarray,
    input_shape: tuple[int, ...],
    stride: IntPair = 1,
    padding: IntPair = 0,
    dilation: IntPair = 1,
    *,
    sparse: bool = False,
) -> Any:
    """``M_F^filter`` with ``vec(X * F) == M_F @ vec(X)`` for any input ``X`` of ``input_shape``.

    ``F``: one filter ``(C, fh, fw)`` (or ``(fh, fw)``) gives ``(H'W', C H W)``; a bank
    ``(K, C, fh, fw)`` stacks the ``K`` blocks into ``(K H'W', C H W)``, matching
    ``vec(S) = (vec(S_1); ...; vec(S_K))``.  Row ``p`` is the filter laid onto a zero image at
    output ``p``'s window (taps that land in the padding are dropped).
    ``sparse=True`` returns a ``scipy.sparse.csr_matrix``; the dense build refuses more than
    :data:`MAX_DENSE_ENTRIES` entries, the sparse one more than :data:`MAX_SPARSE_ENTRIES` *stored*
    entries (``K C fh fw H'W'`` at most), both decided from the shapes before anything is built.
    """
    F = as_float_array(F, "F", (2, 3, 4))
    bank = F.reshape((1,) * (4 - F.ndim) + F.shape)
    K, C, fh, fw = bank.shape
    in_shape = _as_chw(input_shape, "input_shape")
    if in_shape[0] != C:
        raise ValueError(f"channel mismatch: F {F.shape} has {C} planes, input_shape {input_shape}")
    sparse = as_flag(sparse, "sparse")
    g = Geometry.of((1, *in_shape), (fh, fw), stride, padding, dilation)
    P = g.Ho * g.Wo
    if not sparse:  # the size from the shapes, before the index below is built
        _check_dense(K * P, C * in_shape[1] * in_shape[2], "M_F", itemsize=F.dtype.itemsize)
    elif K * C * fh * fw * P > MAX_SPARSE_ENTRIES:  # stored entries (at most one per tap and output)
        raise ValueError(
            f"sparse M_F would store up to {K * C * fh * fw * P:,} entries, over MAX_SPARSE_ENTRIES = "
            f"{MAX_SPARSE_ENTRIES:,}; use cnnbook.conv2d, which never builds M_F"
        )
    idx, g = _tap_index(in_shape, (fh, fw), stride, padding, dilation)  # (C fh fw, H'W')
    taps, positions = np.nonzero(idx)
    rows = (np.arange(K)[:, None] * P + positions[None]).ravel()
    cols = np.tile(idx[taps, positions] - 1, K)
    data = bank.reshape(K, -1)[:, taps].ravel()
    return _assemble(rows, cols, data, (K * P, C * in_shape[1] * in_shape[2]), sparse, "M_F")


def maxpool_matrix(
    X: np.ndarray,
    kernel_size: IntPair,
    stride: IntPair | None = None,
    padding: IntPair = 0,
    *,
    sparse: bool = False,
) -> Any:
    """``A_MaxPool`` for this ``X``: ``vec(maxpool(X)) == A @ vec(X)``; shape ``(C H'W', C H W)``.

    ``X``: ``(H, W)`` or ``(C, H, W)``.  Each row has a single 1, at the window's winner (ties:
    first in row-major window order).  ``A`` depends on the data; it is also the Jacobian, so the
    backward pass is ``A.T @ vec(G)``.  ``sparse=True``: a ``scipy.sparse.csr_matrix``.
    """
    X = as_float_array(X, "X", (2, 3))
    X3 = X[None] if X.ndim == 2 else X
    C, H, W = X3.shape
    sparse = as_flag(sparse, "sparse")
    pool = pool_geometry((1, C, H, W), kernel_size, stride, padding)
    if not sparse:
        _check_dense(C * pool.Ho * pool.Wo, X3.size, "A_MaxPool", itemsize=X3.dtype.itemsize)
    out, indices = maxpool2d(X3, kernel_size, stride, padding, return_indices=True)
    rows = np.arange(out.size)
    cols = (indices + (np.arange(C) * H * W)[:, None, None]).ravel()
    data = np.ones(out.size, dtype=X3.dtype)
    return _assemble(rows, cols, data, (out.size, X3.size), sparse, "A_MaxPool")


def avgpool_matrix(
    input_shape: tuple[int, ...],
    kernel_size: IntPair,
    stride: IntPair | None = None,
    padding: IntPair = 0,
    *,
    sparse: bool = False,
    dtype: Any = np.float64,
) -> Any:
    """``A_AvgPool``: ``vec(avgpool(X)) == A @ vec(X)`` for every ``X`` of ``input_shape``.

    ``input_shape``: ``(H, W)`` or ``(C, H, W)``; ``dtype``: float64 (default) or float32, the
    dtype of the ``X`` it is meant for.

    Row ``p`` holds ``1/(r_h r_w)`` on the pixels of window ``p`` of its plane (zero padding
    counts in the average, so border rows may sum to less than 1).  Block diagonal over planes.
    ``sparse=True``: a ``scipy.sparse.csr_matrix``.
    """
    C, H, W = _as_chw(input_shape, "input_shape")
    sparse = as_flag(sparse, "sparse")
    try:
        float_type = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"dtype must be float32 or float64, got {dtype!r}") from None
    if float_type not in (np.dtype(np.float32), np.dtype(np.float64)):
        raise TypeError(f"dtype must be float32 or float64, got {float_type}")
    # The pooling module's own checks and defaults (stride = window, padding < window), one plane.
    pool = pool_geometry((1, 1, H, W), kernel_size, stride, padding)
    r = (pool.fh, pool.fw)
    P = pool.Ho * pool.Wo
    if not sparse:  # the size from the shapes, before the index below is built
        _check_dense(C * P, C * H * W, "A_AvgPool", itemsize=float_type.itemsize)
    idx, _ = _tap_index((1, H, W), r, (pool.sh, pool.sw), (pool.ph, pool.pw), 1)  # (r r, H'W')
    taps, positions = np.nonzero(idx)
    rows = (np.arange(C)[:, None] * P + positions[None]).ravel()
    cols = ((np.arange(C) * H * W)[:, None] + (idx[taps, positions] - 1)[None]).ravel()
    data = np.full(rows.size, 1.0 / (r[0] * r[1]), dtype=float_type)
    return _assemble(rows, cols, data, (C * P, C * H * W), sparse, "A_AvgPool")


def relu_jacobian(S: np.ndarray, *, sparse: bool = False) -> Any:
    """``d vec(ReLU(S)) / d vec(S) = diag(Ind(vec(S) > 0))`` -- square, diagonal, mostly zeros.

    ``sparse=True`` returns a ``scipy.sparse.csr_matrix`` (only the diagonal is stored).
    """
    s = vec(as_float_array(S, "S", (1, 2, 3, 4)))
    if not as_flag(sparse, "sparse"):
        _check_dense(s.size, s.size, "ReLU Jacobian", itemsize=s.dtype.itemsize)
    rows = np.arange(s.size)
    return _assemble(rows, rows, (s > 0).astype(s.dtype), (s.size, s.size), sparse, "ReLU Jacobian")


def stack_jacobian(i: int, n: int, t: int) -> np.ndarray:
    """``d vec(S) / d vec(S_i)`` where ``vec(S) = (vec(S_0); ...; vec(S_{n-1}))``, each of length ``t``.

    An ``(n t, t)`` matrix: ``I_t`` in block ``i`` (0-based; the lectures' ``S_1`` is ``i = 0``),
    zeros elsewhere.  Refuses more than :data:`MAX_DENSE_ENTRIES` entries before allocating.
    """
    i, n, t = (as_int(value, name) for name, value in (("i", i), ("n", n), ("t", t)))
    if n < 1 or t < 1 or not 0 <= i < n:
        raise ValueError(f"need n >= 1, t >= 1 and 0 <= i < n; got i={i}, n={n}, t={t}")
    _check_dense(n * t, t, "stack Jacobian", has_sparse=False)
    J = np.zeros((n * t, t))
    J[i * t : (i + 1) * t] = np.eye(t)
    return J


def _inside_per_tap(n: int, f: int, s: int, p: int, d: int, n_out: int) -> np.ndarray:
    """For each tap ``i``: how many of the ``n_out`` windows put it on a real (not padding) pixel."""
    y = np.arange(n_out)[None, :]
    pos = y * s + np.arange(f)[:, None] * d - p
    return ((pos >= 0) & (pos < n)).sum(axis=1)


def storage_bytes(
    input_shape: tuple[int, ...],
    out_channels: int,
    kernel_size: IntPair,
    stride: IntPair = 1,
    padding: IntPair = 0,
    dilation: IntPair = 1,
    *,
    itemsize: int = 8,
) -> dict[str, int]:
    """Bytes each route to one image's convolution stores, computed from the shapes alone.

    ``input_shape``: ``(C, H, W)`` (or ``(H, W)``); ``out_channels``: the number ``K`` of filters,
    each ``(C, fh, fw)`` with ``kernel_size = (fh, fw)``.
    Keys: ``"input X"`` (CHW), ``"output S"`` (K H'W'), ``"im2col = M_X"`` (H'W' x C fh fw, the
    same for any K), ``"M_F dense"`` (K H'W' x CHW), ``"M_F sparse (CSR)"`` (its non-zeros with
    4-byte column indices, plus ``K H'W' + 1`` 4-byte row pointers, as scipy stores it).
    ``itemsize``: 8 for float64, 4 for float32.  Equal to the ``nbytes`` of the arrays that
    :func:`make_MX`, :func:`make_MF` and :func:`cnnbook.conv2d` build.
    """
    C, H, W = _as_chw(input_shape, "input_shape")
    K = as_int(out_channels, "out_channels")
    if K < 1:
        raise ValueError(f"out_channels must be >= 1, got {out_channels!r}")
    itemsize = positive_int(itemsize, "itemsize")
    g = Geometry.of((1, C, H, W), kernel_size, stride, padding, dilation)
    P = g.Ho * g.Wo
    rows_in = _inside_per_tap(H, g.fh, g.sh, g.ph, g.dh, g.Ho)
    cols_in = _inside_per_tap(W, g.fw, g.sw, g.pw, g.dw, g.Wo)
    nnz = K * C * int(rows_in.sum()) * int(cols_in.sum())
    return {
        "input X": C * H * W * itemsize,
        "output S": K * P * itemsize,
        "im2col = M_X": P * C * g.fh * g.fw * itemsize,
        "M_F dense": K * P * C * H * W * itemsize,
        "M_F sparse (CSR)": nnz * (itemsize + 4) + (K * P + 1) * 4,
    }


# --------------------------------------------------------------------------------------------
# Symbolic versions: the matrices as the lectures print them, entries named X_ij / F_ij.
# --------------------------------------------------------------------------------------------


def _label(name: str, c: int, i: int, j: int, planes: int) -> str:
    sep = "," if max(i, j) >= 9 else ""
    core = f"{i + 1}{sep}{j + 1}"
    return f"{name}{core}" if planes == 1 else f"{name}{c + 1}:{core}"


def _labels(name: str, shape: tuple[int, int, int]) -> np.ndarray:
    C, H, W = shape
    return np.array(
        [_label(name, c, i, j, C) for c in range(C) for i in range(H) for j in range(W)], dtype=object
    )


def symbolic_MX(
    input_shape: tuple[int, ...],
    kernel_size: IntPair,
    stride: IntPair = 1,
    padding: IntPair = 0,
    dilation: IntPair = 1,
    name: str = "X",
) -> np.ndarray:
    """``M_X`` with entries as strings: ``"X11"`` for ``X_11`` (``"X2:11"`` on plane 2), ``"0"`` for padding.

    ``input_shape``: ``(H, W)`` or ``(C, H, W)``; the filter spans all ``C`` planes.  Refuses more
    than :data:`MAX_SYMBOLIC_ENTRIES` entries before building anything.
    """
    in_shape = _as_chw(input_shape, "input_shape")
    name = _as_name(name)
    g = Geometry.of((1, *in_shape), kernel_size, stride, padding, dilation)
    _check_symbolic(g.Ho * g.Wo, g.C * g.fh * g.fw, "M_X")
    idx, _ = _tap_index(in_shape, kernel_size, stride, padding, dilation)
    labels = np.concatenate([np.array(["0"], dtype=object), _labels(name, in_shape)])
    return labels[idx].T


def symbolic_MF(
    kernel_size: IntPair,
    input_shape: tuple[int, ...],
    stride: IntPair = 1,
    padding: IntPair = 0,
    dilation: IntPair = 1,
    name: str = "F",
) -> np.ndarray:
    """``M_F^filter`` with entries as strings (``"F11"``, ...) and ``"0"`` elsewhere (one filter).

    The filter is ``(C, fh, fw)``: ``kernel_size = (fh, fw)`` and ``C`` from ``input_shape``.
    Refuses more than :data:`MAX_SYMBOLIC_ENTRIES` entries before building anything.
    """
    in_shape = _as_chw(input_shape, "input_shape")
    name = _as_name(name)
    g = Geometry.of((1, *in_shape), kernel_size, stride, padding, dilation)
    _check_symbolic(g.Ho * g.Wo, g.C * g.H * g.W, "M_F")
    idx, g = _tap_index(in_shape, kernel_size, stride, padding, dilation)
    out = np.full((g.Ho * g.Wo, int(np.prod(in_shape))), "0", dtype=object)
    taps, positions = np.nonzero(idx)
    out[positions, idx[taps, positions] - 1] = _labels(name, (in_shape[0], g.fh, g.fw))[taps]
    return out

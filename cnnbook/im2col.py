"""im2col and col2im: every receptive field as one column, and the adjoint that scatters columns back.

Column layout
-------------
For ``X`` of shape ``(N, C, H, W)`` and an ``fh x fw`` filter, ``cols = im2col(X, fh, fw, ...)`` has
shape ``(C*fh*fw, N*H'*W')`` with

    cols[(c*fh + i)*fw + j, (n*H' + y)*W' + x] = Xpad[n, c, y*s_h + i*d_h, x*s_w + j*d_w]

Rows run over filter taps in exactly the order of ``vec(F)`` for one filter ``(C, fh, fw)``
(channel planes stacked, rows of each plane concatenated); columns run over images and output
positions in the order of ``vec(S)``.  For a single image ``cols.T`` *is* the lectures' ``M_X``,
and a whole bank of ``K`` filters is applied with one GEMM: ``F.reshape(K, -1) @ cols``.

This is the transpose of the textbook ``(N*H'*W', C*f*f)`` layout.  It is chosen for speed: the
copy that builds it moves runs of ``W'`` consecutive pixels (one output row) at a time, where the
textbook layout moves runs of ``fw`` (often 3).  ``benchmarks/conv_speed.py`` measures the two
layouts side by side.  (Splitting the copies over threads was tried and measured: on 2 cores the
copies are limited by memory bandwidth, not by the core, so it gained nothing and was removed.)

``col2im`` is the adjoint (transpose) of ``im2col``: ``<im2col(x), y> == <x, col2im(y)>``.  Where
windows overlap it *adds* the contributions, which is exactly what a gradient needs.

``im2col_naive`` / ``col2im_naive`` are plain loops over the same formula, kept as references.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from numpy.lib.stride_tricks import as_strided

from .shapes import IntPair, _as_int, as_float_array, as_pair, conv_output_shape

__all__ = ["Geometry", "col2im", "col2im_naive", "im2col", "im2col_naive"]


class Geometry:
    """Resolved hyper-parameters of one convolution/pooling: everything derived from the shapes.

    Attributes: ``N, C, H, W`` (input), ``fh, fw`` (filter), ``sh, sw`` (stride), ``ph, pw``
    (padding per side), ``dh, dw`` (dilation), ``Ho, Wo`` (output size).
    """

    __slots__ = ("C", "H", "Ho", "N", "W", "Wo", "_frozen", "dh", "dw", "fh", "fw", "ph", "pw", "sh", "sw")

    def __init__(
        self,
        x_shape: tuple[int, int, int, int],
        fh: int,
        fw: int,
        stride: IntPair = 1,
        padding: IntPair = 0,
        dilation: IntPair = 1,
    ) -> None:
        self.N, self.C, self.H, self.W = x_shape
        self.fh, self.fw = as_pair((fh, fw), "filter size", 1)
        self.sh, self.sw = as_pair(stride, "stride", 1)
        self.ph, self.pw = as_pair(padding, "padding", 0)
        self.dh, self.dw = as_pair(dilation, "dilation", 1)
        self.Ho, self.Wo = conv_output_shape((self.H, self.W), (self.fh, self.fw), stride, padding, dilation)
        self._frozen = True  # shared through the cache of geometry(): never changed after this

    def __setattr__(self, name: str, value: object) -> None:
        if getattr(self, "_frozen", False):
            raise AttributeError(f"Geometry is immutable (tried to set {name})")
        object.__setattr__(self, name, value)

    @property
    def out_shape(self) -> tuple[int, int, int, int]:
        """``(N, C, H', W')`` (one output plane per input plane: pooling's output shape)."""
        return (self.N, self.C, self.Ho, self.Wo)

    @property
    def cols_shape(self) -> tuple[int, int]:
        """``(C*fh*fw, N*H'*W')``."""
        return (self.C * self.fh * self.fw, self.N * self.Ho * self.Wo)

    def tap_slices(self, i: int, j: int) -> tuple[slice, slice]:
        """Rows and columns of the padded input that filter tap ``(i, j)`` meets, one per output."""
        r0, c0 = i * self.dh, j * self.dw
        return (
            slice(r0, r0 + self.sh * (self.Ho - 1) + 1, self.sh),
            slice(c0, c0 + self.sw * (self.Wo - 1) + 1, self.sw),
        )


@lru_cache(maxsize=512, typed=True)
def _cached_geometry(x_shape, fh, fw, stride, padding, dilation) -> Geometry:
    return Geometry(x_shape, fh, fw, stride, padding, dilation)


def geometry(
    x_shape: tuple[int, int, int, int],
    fh: int,
    fw: int,
    stride: IntPair = 1,
    padding: IntPair = 0,
    dilation: IntPair = 1,
) -> Geometry:
    """:class:`Geometry` for these arguments, remembered: a training loop asks for the same few
    thousands of times, and validating the hyper-parameters each time is measurable.  Errors are
    raised as by :class:`Geometry` (failures are not cached); unhashable arguments (lists) skip the cache.
    """
    try:
        return _cached_geometry(tuple(x_shape), fh, fw, stride, padding, dilation)
    except TypeError as err:
        if "unhashable" not in str(err):
            raise
        return Geometry(x_shape, fh, fw, stride, padding, dilation)


def _as_batch(X: object, name: str = "X") -> tuple[np.ndarray, bool]:
    """``X`` as ``(N, C, H, W)``; a single ``(C, H, W)`` image becomes ``N = 1`` (flag True)."""
    arr = as_float_array(X, name, (3, 4))
    return (arr[None], True) if arr.ndim == 3 else (arr, False)


def _pad(X: np.ndarray, ph: int, pw: int, value: float = 0.0) -> np.ndarray:
    if ph == 0 and pw == 0:
        return X
    return np.pad(X, ((0, 0), (0, 0), (ph, ph), (pw, pw)), mode="constant", constant_values=value)


def _channel_major_padded(X: np.ndarray, g: Geometry, pad_value: float, extra_rows: int = 0) -> np.ndarray:
    """``X (N, C, H, W)`` padded and reordered to ``(C, N, H + 2p_h + extra_rows, W + 2p_w)`` in one pass.

    ``extra_rows`` rows of ``pad_value`` go below the bottom padding (the full-row layout needs one).
    """
    Xt = np.empty((g.C, g.N, g.H + 2 * g.ph + extra_rows, g.W + 2 * g.pw), dtype=X.dtype)
    if g.ph or g.pw or extra_rows:
        Xt.fill(pad_value)
    Xt[:, :, g.ph : g.ph + g.H, g.pw : g.pw + g.W] = X.transpose(1, 0, 2, 3)
    return Xt


def _im2col(X: np.ndarray, g: Geometry, pad_value: float = 0.0) -> np.ndarray:
    """im2col of a validated ``(N, C, H, W)`` array (padding filled with ``pad_value``).

    The input is first put in channel-major order ``(C, N, ...)``, the order of the columns'
    rows; then each filter tap ``(i, j)`` copies one strided slice -- an ``(C, N, H', W')`` block
    whose innermost runs are output rows -- into its rows of ``cols``.
    """
    Xt = _channel_major_padded(X, g, pad_value)
    cols = np.empty((g.C, g.fh, g.fw, g.N, g.Ho, g.Wo), dtype=X.dtype)
    for i in range(g.fh):
        for j in range(g.fw):
            rows, columns = g.tap_slices(i, j)
            cols[:, i, j] = Xt[:, :, rows, columns]
    return cols.reshape(g.cols_shape)


def _col2im(cols: np.ndarray, g: Geometry) -> np.ndarray:
    """Adjoint of :func:`_im2col`: add every column entry back where it came from, crop padding.

    Accumulates in channel-major order (the order of ``cols``' rows), one vectorized add per
    filter tap (``fh*fw`` of them, never one per image or output position).
    """
    acc = np.zeros((g.C, g.N, g.H + 2 * g.ph, g.W + 2 * g.pw), dtype=cols.dtype)
    blocks = cols.reshape(g.C, g.fh, g.fw, g.N, g.Ho, g.Wo)
    for i in range(g.fh):
        for j in range(g.fw):
            rows, columns = g.tap_slices(i, j)
            acc[:, :, rows, columns] += blocks[:, i, j]
    inner = acc[:, :, g.ph : g.ph + g.H, g.pw : g.pw + g.W]
    return np.ascontiguousarray(inner.transpose(1, 0, 2, 3))


# --------------------------------------------------------------------------------------------
# The layout conv2d works in.  With a column stride of 1 it computes every output row at all
# W + 2p_w columns of the padded row -- the last d(fw-1) of them are garbage, dropped afterwards --
# because then each filter tap's block is ONE contiguous run per (channel, image): copies and
# additions run several times faster than over W'-long pieces, for W + 2p_w over W' (about 1.1 to
# 1.3) times the GEMM work.  Other strides use the exact layout above.
# --------------------------------------------------------------------------------------------


def _work_width(g: Geometry) -> int:
    """Columns per output row in conv2d's working layout: ``W + 2p_w`` (full rows) or ``W'``."""
    return g.W + 2 * g.pw if g.sw == 1 else g.Wo


def _full_row_view(flat: np.ndarray, g: Geometry, i: int, j: int) -> np.ndarray:
    """Tap ``(i, j)``'s ``(C', N', H', W + 2p_w)`` block of a flattened padded ``(C', N', (Hp+1)*Wp)`` array.

    Output row ``y`` of the block starts ``(y s_h + i d_h)`` padded rows and ``j d_w`` pixels in
    and runs for a whole padded row; with ``s_h = 1`` the rows follow each other in memory.
    """
    Wp = g.W + 2 * g.pw
    start = i * g.dh * Wp + j * g.dw
    sC, sN, sE = flat.strides
    return as_strided(
        flat[:, :, start:],
        shape=flat.shape[:2] + (g.Ho, Wp),
        strides=(sC, sN, g.sh * Wp * sE, sE),
        writeable=True,
    )


def _conv_im2col(X: np.ndarray, g: Geometry) -> np.ndarray:
    """im2col in conv2d's working layout: ``(C*fh*fw, N*H'*_work_width(g))``."""
    if g.sw != 1:
        return _im2col(X, g)
    Wp = g.W + 2 * g.pw
    # One extra zero row: the last run of the last tap reaches d(fw-1) pixels past the image.
    flat = _channel_major_padded(X, g, 0.0, extra_rows=1).reshape(g.C, g.N, -1)
    cols = np.empty((g.C, g.fh, g.fw, g.N, g.Ho, Wp), dtype=X.dtype)
    for i in range(g.fh):
        for j in range(g.fw):
            cols[:, i, j] = _full_row_view(flat, g, i, j)
    # The garbage columns hold pixels no window reads: zero them, so that dF = cols @ G^T cannot
    # pick up 0 * NaN (or 0 * inf) from a pixel that is not in any receptive field.
    cols[..., g.Wo :] = 0
    return cols.reshape(g.C * g.fh * g.fw, -1)


def _conv_col2im(cols: np.ndarray, g: Geometry) -> np.ndarray:
    """Adjoint of :func:`_conv_im2col` (garbage columns of ``cols`` must hold zeros)."""
    if g.sw != 1:
        return _col2im(cols, g)
    Hp, Wp = g.H + 2 * g.ph, g.W + 2 * g.pw
    acc = np.zeros((g.C, g.N, (Hp + 1) * Wp), dtype=cols.dtype)
    blocks = cols.reshape(g.C, g.fh, g.fw, g.N, g.Ho, Wp)
    for i in range(g.fh):
        for j in range(g.fw):
            view = _full_row_view(acc, g, i, j)
            view += blocks[:, i, j]
    inner = acc.reshape(g.C, g.N, Hp + 1, Wp)[:, :, g.ph : g.ph + g.H, g.pw : g.pw + g.W]
    return np.ascontiguousarray(inner.transpose(1, 0, 2, 3))


def _check_cols(cols: object, g: Geometry) -> np.ndarray:
    arr = as_float_array(cols, "cols", (2,))
    if arr.shape != g.cols_shape:
        raise ValueError(
            f"cols has shape {arr.shape} but X_shape {(g.N, g.C, g.H, g.W)} with a "
            f"{g.fh}x{g.fw} filter needs (C*fh*fw, N*H'*W') = {g.cols_shape}"
        )
    return arr


def _geometry_for_shape(X_shape: tuple[int, ...], fh, fw, stride, padding, dilation):
    shape = tuple(_as_int(s, "X_shape entry") for s in X_shape)
    if len(shape) not in (3, 4) or min(shape) < 1:
        raise ValueError(f"X_shape must be (N, C, H, W) or (C, H, W) with sizes >= 1, got {X_shape}")
    full = shape if len(shape) == 4 else (1,) + shape
    return geometry(full, fh, fw, stride, padding, dilation), len(shape) == 3


def im2col(
    X: np.ndarray, fh: int, fw: int, stride: IntPair = 1, padding: IntPair = 0, dilation: IntPair = 1
) -> np.ndarray:
    """Unfold every ``fh x fw`` receptive field of ``X`` into a column.

    ``X``: ``(N, C, H, W)`` or one image ``(C, H, W)``.  Returns ``(C*fh*fw, N*H'*W')`` with
    ``H' = floor((H + 2p_h - d_h(fh-1) - 1)/s_h) + 1`` (likewise ``W'``); see the module docstring
    for the exact layout.  Zero padding is applied on every side.
    """
    X4, _ = _as_batch(X)
    return _im2col(X4, geometry(X4.shape, fh, fw, stride, padding, dilation))


def col2im(
    cols: np.ndarray,
    X_shape: tuple[int, ...],
    fh: int,
    fw: int,
    stride: IntPair = 1,
    padding: IntPair = 0,
    dilation: IntPair = 1,
) -> np.ndarray:
    """Adjoint of :func:`im2col`: ``cols (C*fh*fw, N*H'*W')`` to an array of shape ``X_shape``.

    Entries belonging to the same input pixel (overlapping windows) are summed; entries that fall
    into the zero padding are dropped.  ``<im2col(x), y> == <x, col2im(y, x.shape, ...)>``.
    """
    g, single = _geometry_for_shape(X_shape, fh, fw, stride, padding, dilation)
    out = _col2im(_check_cols(cols, g), g)
    return out[0] if single else out


def _entries(g: Geometry):
    """Every ``(r, q, n, c, row, col)``: column entry ``cols[r, q]`` is padded pixel ``(n, c, row, col)``."""
    for n in range(g.N):
        for y in range(g.Ho):
            for x in range(g.Wo):
                q = (n * g.Ho + y) * g.Wo + x
                for c in range(g.C):
                    for i in range(g.fh):
                        for j in range(g.fw):
                            r = (c * g.fh + i) * g.fw + j
                            yield r, q, n, c, y * g.sh + i * g.dh, x * g.sw + j * g.dw


def im2col_naive(X, fh, fw, stride=1, padding=0, dilation=1) -> np.ndarray:
    """Looped reference for :func:`im2col` (same signature, same layout)."""
    X4, _ = _as_batch(X)
    g = Geometry(X4.shape, fh, fw, stride, padding, dilation)
    Xp = _pad(X4, g.ph, g.pw)
    cols = np.zeros(g.cols_shape, dtype=X4.dtype)
    for r, q, n, c, row, col in _entries(g):
        cols[r, q] = Xp[n, c, row, col]
    return cols


def col2im_naive(cols, X_shape, fh, fw, stride=1, padding=0, dilation=1) -> np.ndarray:
    """Looped reference for :func:`col2im`: each column entry is added back to its pixel."""
    g, single = _geometry_for_shape(X_shape, fh, fw, stride, padding, dilation)
    cols = _check_cols(cols, g)
    Xp = np.zeros((g.N, g.C, g.H + 2 * g.ph, g.W + 2 * g.pw), dtype=cols.dtype)
    for r, q, n, c, row, col in _entries(g):
        Xp[n, c, row, col] += cols[r, q]
    out = Xp[:, :, g.ph : g.ph + g.H, g.pw : g.pw + g.W]
    return out[0] if single else out

"""im2col and col2im: every receptive field as one column, and the adjoint that scatters columns back.

Column layout
-------------
For ``X`` of shape ``(N, C, H, W)`` and an ``fh x fw`` filter (``kernel_size = (fh, fw)``),
``cols = im2col(X, kernel_size, stride, padding, dilation)`` has shape ``(C*fh*fw, N*H'*W')`` with

    cols[(c*fh + i)*fw + j, (n*H' + y)*W' + x] = Xpad[n, c, y*s_h + i*d_h, x*s_w + j*d_w]

Rows run over filter taps in exactly the order of ``vec(F)`` for one filter ``(C, fh, fw)``
(channel planes stacked, rows of each plane concatenated); columns run over images and output
positions in the order of ``vec(S)``.  For a single image ``cols.T`` *is* the lectures' ``M_X``,
and a whole bank of ``K`` filters is applied with one GEMM: ``F.reshape(K, -1) @ cols``.

This is the transpose of the textbook ``(N*H'*W', C*f*f)`` layout.  It is built one filter tap at
a time: tap ``(i, j)`` meets the padded input at rows ``i*d_h, i*d_h + s_h, ...`` and columns
``j*d_w, j*d_w + s_w, ...`` -- one strided slice of the input, copied whole into the tap's rows of
``cols``.  That is ``fh*fw`` vectorized copies, never one per image or output position, and each
copy moves runs of ``W'`` consecutive outputs (``benchmarks/conv_speed.py`` compares the two
layouts).

``col2im`` is the adjoint (transpose) of ``im2col``: ``<im2col(x), y> == <x, col2im(y)>``.  Where
windows overlap it *adds* the contributions, which is exactly what a gradient needs.

``im2col_naive`` / ``col2im_naive`` are plain loops over the same formula, kept as references.
(:mod:`cnnbook.fast` has the speed-tuned variants the layers use.)
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from ._checks import IntPair, as_batch, as_float_array, as_pair, as_shape
from .shapes import conv_output_shape

__all__ = ["Geometry", "col2im", "col2im_naive", "im2col", "im2col_naive"]


@dataclass(frozen=True)
class Geometry:
    """Resolved hyper-parameters of one convolution or pooling: everything derived from the shapes.

    ``N, C, H, W`` (input), ``fh, fw`` (filter), ``sh, sw`` (stride), ``ph, pw`` (padding per
    side), ``dh, dw`` (dilation), ``Ho, Wo`` (output size).  Build it with :meth:`Geometry.of`,
    which validates the arguments.
    """

    N: int
    C: int
    H: int
    W: int
    fh: int
    fw: int
    sh: int
    sw: int
    ph: int
    pw: int
    dh: int
    dw: int
    Ho: int
    Wo: int

    @classmethod
    def of(
        cls,
        X_shape: tuple[int, ...],
        kernel_size: IntPair,
        stride: IntPair = 1,
        padding: IntPair = 0,
        dilation: IntPair = 1,
    ) -> Geometry:
        """Validate the arguments and resolve them; ``X_shape`` is ``(N, C, H, W)`` or ``(C, H, W)``."""
        (N, C, H, W), _ = as_shape(X_shape)
        fh, fw = as_pair(kernel_size, "kernel_size", 1)
        sh, sw = as_pair(stride, "stride", 1)
        ph, pw = as_pair(padding, "padding", 0)
        dh, dw = as_pair(dilation, "dilation", 1)
        Ho, Wo = conv_output_shape((H, W), (fh, fw), (sh, sw), (ph, pw), (dh, dw))
        return cls(N, C, H, W, fh, fw, sh, sw, ph, pw, dh, dw, Ho, Wo)

    @property
    def X_shape(self) -> tuple[int, int, int, int]:
        """``(N, C, H, W)``."""
        return (self.N, self.C, self.H, self.W)

    @property
    def cols_shape(self) -> tuple[int, int]:
        """``(C*fh*fw, N*H'*W')``."""
        return (self.C * self.fh * self.fw, self.N * self.Ho * self.Wo)

    def pad(self, X4: np.ndarray, value: float = 0.0) -> np.ndarray:
        """``X4 (N, C, H, W)`` with ``p_h`` rows and ``p_w`` columns of ``value`` added on every side."""
        return np.pad(X4, ((0, 0), (0, 0), (self.ph, self.ph), (self.pw, self.pw)), constant_values=value)

    def tap_slices(self, i: int, j: int) -> tuple[slice, slice]:
        """Rows and columns of the padded input that filter tap ``(i, j)`` meets, one per output."""
        r0, c0 = i * self.dh, j * self.dw
        return (
            slice(r0, r0 + self.sh * (self.Ho - 1) + 1, self.sh),
            slice(c0, c0 + self.sw * (self.Wo - 1) + 1, self.sw),
        )


def im2col(
    X: np.ndarray,
    kernel_size: IntPair,
    stride: IntPair = 1,
    padding: IntPair = 0,
    dilation: IntPair = 1,
) -> np.ndarray:
    """Unfold every ``fh x fw`` receptive field of ``X`` into a column.

    ``X``: ``(N, C, H, W)`` or one image ``(C, H, W)``; ``kernel_size``: ``f`` or ``(fh, fw)``.
    Returns ``cols`` of shape ``(C*fh*fw, N*H'*W')`` with
    ``H' = floor((H + 2p_h - d_h(fh-1) - 1)/s_h) + 1`` (likewise ``W'``); see the module docstring
    for the exact layout.  Zero padding is applied on every side.
    """
    X4, _ = as_batch(X)
    g = Geometry.of(X4.shape, kernel_size, stride, padding, dilation)
    Xp = g.pad(X4)
    # cols viewed as (C, fh, fw, N, H', W'): the rows of tap (i, j) of every channel are one block
    cols = np.empty((g.C, g.fh, g.fw, g.N, g.Ho, g.Wo), dtype=X4.dtype)
    channel_major = Xp.transpose(1, 0, 2, 3)  # (C, N, H + 2p_h, W + 2p_w): the order of cols' rows
    for i in range(g.fh):
        for j in range(g.fw):
            rows, columns = g.tap_slices(i, j)
            cols[:, i, j] = channel_major[:, :, rows, columns]
    return cols.reshape(g.cols_shape)


def _check_cols(cols: object, g: Geometry) -> np.ndarray:
    arr = as_float_array(cols, "cols", (2,))
    if arr.shape != g.cols_shape:
        raise ValueError(
            f"cols has shape {arr.shape} but X_shape {g.X_shape} with a "
            f"{g.fh}x{g.fw} filter needs (C*fh*fw, N*H'*W') = {g.cols_shape}"
        )
    return arr


def col2im(
    cols: np.ndarray,
    X_shape: tuple[int, ...],
    kernel_size: IntPair,
    stride: IntPair = 1,
    padding: IntPair = 0,
    dilation: IntPair = 1,
) -> np.ndarray:
    """Adjoint of :func:`im2col`: ``cols (C*fh*fw, N*H'*W')`` to an array of shape ``X_shape``.

    Entries belonging to the same input pixel (overlapping windows) are summed; entries that fall
    into the zero padding are dropped.  ``<im2col(x), y> == <x, col2im(y, x.shape, ...)>``.
    One vectorized addition per filter tap, the mirror image of :func:`im2col`'s copies.
    """
    _, single = as_shape(X_shape)
    g = Geometry.of(X_shape, kernel_size, stride, padding, dilation)
    cols = _check_cols(cols, g)
    Xp = np.zeros((g.C, g.N, g.H + 2 * g.ph, g.W + 2 * g.pw), dtype=cols.dtype)  # channel-major
    blocks = cols.reshape(g.C, g.fh, g.fw, g.N, g.Ho, g.Wo)
    for i in range(g.fh):
        for j in range(g.fw):
            rows, columns = g.tap_slices(i, j)
            Xp[:, :, rows, columns] += blocks[:, i, j]
    X = np.ascontiguousarray(Xp[:, :, g.ph : g.ph + g.H, g.pw : g.pw + g.W].transpose(1, 0, 2, 3))
    return X[0] if single else X


# --------------------------------------------------------------------------------------------
# Looped references: the layout formula, one entry at a time.
# --------------------------------------------------------------------------------------------


def _entries(g: Geometry) -> Iterator[tuple[int, int, int, int, int, int]]:
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


def im2col_naive(
    X: np.ndarray,
    kernel_size: IntPair,
    stride: IntPair = 1,
    padding: IntPair = 0,
    dilation: IntPair = 1,
) -> np.ndarray:
    """Looped reference for :func:`im2col` (same signature, same layout)."""
    X4, _ = as_batch(X)
    g = Geometry.of(X4.shape, kernel_size, stride, padding, dilation)
    Xp = g.pad(X4)
    cols = np.zeros(g.cols_shape, dtype=X4.dtype)
    for r, q, n, c, row, col in _entries(g):
        cols[r, q] = Xp[n, c, row, col]
    return cols


def col2im_naive(
    cols: np.ndarray,
    X_shape: tuple[int, ...],
    kernel_size: IntPair,
    stride: IntPair = 1,
    padding: IntPair = 0,
    dilation: IntPair = 1,
) -> np.ndarray:
    """Looped reference for :func:`col2im`: each column entry is added back to its pixel."""
    _, single = as_shape(X_shape)
    g = Geometry.of(X_shape, kernel_size, stride, padding, dilation)
    cols = _check_cols(cols, g)
    Xp = np.zeros((g.N, g.C, g.H + 2 * g.ph, g.W + 2 * g.pw), dtype=cols.dtype)
    for r, q, n, c, row, col in _entries(g):
        Xp[n, c, row, col] += cols[r, q]
    X = Xp[:, :, g.ph : g.ph + g.H, g.pw : g.pw + g.W]
    return X[0] if single else X

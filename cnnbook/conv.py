"""The convolution layer: forward, backward and transposed convolution, vectorized with im2col + GEMM.

Notation (the lectures'): input ``X (N, C, H, W)``, filter bank ``F (K, C, fh, fw)``, bias
``b (K,)``, response ``S (N, K, H', W')``, upstream gradient ``G = dL/dS`` shaped like ``S``.

``*`` is **cross-correlation**, as in the lectures and in every deep-learning library:

    S[n, k, y, x] = b[k] + sum_{c, i, j} F[k, c, i, j] * Xpad[n, c, y*s + i*d, x*s + j*d]

The filter is *not* flipped.  The true convolution (flipped filter, ``F^rot180``) appears in the
backward pass: ``dL/dX = G_zero-pad * F^rot180`` (for stride 1), i.e. a full *convolution* of
``G`` with ``F``.

Vectorized route (lesson 08): ``cols = im2col(X)`` ``(C*fh*fw, N*H'*W')`` and one GEMM
``S_mat = F.reshape(K, -1) @ cols`` ``(K, N*H'*W')``, reordered to ``(N, K, H', W')``.
Backward, with ``G_mat`` the ``(K, N*H'*W')`` matrix of ``G``: ``dF = G_mat @ cols.T`` (one GEMM),
``db = sum of G``, and ``dX = col2im(F_mat.T @ G_mat)`` (one GEMM, then col2im), which is the
multiplication by ``M_F^T`` -- the transposed convolution.
(:mod:`cnnbook.fast` has the speed-tuned variants the layers use.)

Non-finite values are not checked for: they propagate (a NaN in a receptive field gives NaN).
"""

from __future__ import annotations

import numpy as np

from ._checks import IntPair, as_batch, as_bias, as_filters, as_flag, as_float_array, as_pair, as_upstream
from .im2col import Geometry, col2im, im2col

__all__ = [
    "conv2d",
    "conv2d_backward",
    "conv2d_backward_naive",
    "conv2d_naive",
    "conv_transpose2d",
]


def _setup(
    X: object, F: object, stride: IntPair, padding: IntPair, dilation: IntPair
) -> tuple[np.ndarray, bool, np.ndarray, Geometry]:
    X4, single = as_batch(X)
    F4 = as_filters(F, X4.shape[1])
    g = Geometry.of(X4.shape, F4.shape[2:], stride, padding, dilation)
    return X4, single, F4, g


def _as_matrix(A: np.ndarray) -> np.ndarray:
    """``(N, K, H', W')`` -> ``(K, N*H'*W')``: one row per filter, columns in ``cols``' order."""
    return A.transpose(1, 0, 2, 3).reshape(A.shape[1], -1)


def _from_matrix(A_mat: np.ndarray, g: Geometry) -> np.ndarray:
    """``(K, N*H'*W')`` -> ``(N, K, H', W')``, the inverse of :func:`_as_matrix`."""
    return A_mat.reshape(-1, g.N, g.Ho, g.Wo).transpose(1, 0, 2, 3)


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
    """Cross-correlate ``X`` with a bank of filters: ``S = X * F + b``.

    Parameters
    ----------
    X : ``(N, C, H, W)``, or one image ``(C, H, W)``.
    F : ``(K, C, fh, fw)``: ``K`` filters, each spanning all ``C`` input channels.
    b : optional ``(K,)`` bias, one per filter.
    stride, padding, dilation : int or ``(h, w)`` pair; padding is zeros added on *each* side.
    return_cols : also return ``cols = im2col(X, ...)``, for :func:`conv2d_backward` to reuse.

    Returns
    -------
    S : ``(N, K, H', W')`` (or ``(K, H', W')``) with
        ``H' = floor((H + 2p - d(fh-1) - 1)/s) + 1`` and likewise ``W'``.
        dtype: ``result_type(X, F)`` (float32 in, float32 out; integers become float64).
        With ``return_cols=True``: ``(S, cols)``.
    """
    return_cols = as_flag(return_cols, "return_cols")
    X4, single, F, g = _setup(X, F, stride, padding, dilation)
    b = as_bias(b, F.shape[0])
    dtype = np.result_type(X4.dtype, F.dtype)
    cols = im2col(X4.astype(dtype, copy=False), F.shape[2:], stride, padding, dilation)
    S_mat = F.reshape(F.shape[0], -1).astype(dtype, copy=False) @ cols  # (K, N*H'*W'): the one GEMM
    S = _from_matrix(S_mat, g)
    if b is not None:
        S = S + b.astype(dtype, copy=False)[:, None, None]
    S = np.ascontiguousarray(S[0] if single else S)
    return (S, cols) if return_cols else S


def conv2d_backward(
    G: np.ndarray,
    X: np.ndarray,
    F: np.ndarray,
    stride: IntPair = 1,
    padding: IntPair = 0,
    dilation: IntPair = 1,
    *,
    cols: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gradients of a loss ``L`` through ``S = conv2d(X, F, b, ...)``.

    ``G = dL/dS`` with the forward output's shape.  Returns ``(dX, dF, db)`` shaped like
    ``X``, ``F`` and ``(K,)``:

    * ``dF = X * G`` -- cross-correlate the input with the upstream gradient:
      ``dF = G_mat @ cols.T`` (``g M_X`` of the lectures, for every image at once);
    * ``db = sum of G`` over images and positions;
    * ``dX = G_zero-pad * F^rot180`` (stride 1) -- in general ``M_F^T vec(G)``, the transposed
      convolution :func:`conv_transpose2d`: ``dX = col2im(F_mat.T @ G_mat)``.

    ``cols``: optionally ``im2col(X, ...)`` (what ``conv2d(..., return_cols=True)`` returned), to
    avoid rebuilding it.
    """
    X4, single, F, g = _setup(X, F, stride, padding, dilation)
    K = F.shape[0]
    G4 = as_upstream(G, (g.N, K, g.Ho, g.Wo), single)
    if cols is not None:
        cols = as_float_array(cols, "cols", (2,))
        if cols.shape != g.cols_shape:
            raise ValueError(f"cols has shape {cols.shape}; pass im2col(X) of shape {g.cols_shape}")
    dtype = np.result_type(G4.dtype, X4.dtype, F.dtype)
    if cols is None:
        cols = im2col(X4.astype(dtype, copy=False), F.shape[2:], stride, padding, dilation)
    G_mat = _as_matrix(G4.astype(dtype, copy=False))  # (K, N*H'*W')
    F_mat = F.reshape(K, -1).astype(dtype, copy=False)  # (K, C*fh*fw)
    dF = (G_mat @ cols.astype(dtype, copy=False).T).reshape(F.shape)
    db = G_mat.sum(axis=1)
    dX = col2im(F_mat.T @ G_mat, X4.shape, F.shape[2:], stride, padding, dilation)
    return (dX[0] if single else dX), dF, db


def conv_transpose2d(
    Y: np.ndarray,
    F: np.ndarray,
    stride: IntPair = 1,
    padding: IntPair = 0,
    dilation: IntPair = 1,
    output_padding: IntPair = 0,
) -> np.ndarray:
    """Transposed convolution: multiply every ``vec(Y_n)`` by ``M_F^T``.

    ``Y``: ``(N, K, H', W')`` (or ``(K, H', W')``); ``F``: ``(K, C, fh, fw)``, the *forward*
    filter bank.  Returns ``(N, C, H, W)`` with

        H = (H' - 1)*s - 2p + d(fh - 1) + 1 + output_padding

    (likewise ``W``).  ``output_padding`` (``0 <= op < max(s, d)`` per axis, as in PyTorch) picks
    which of the ``s`` input sizes that give the same ``H'`` is meant (with ``op >= s`` the extra rows
    receive nothing and stay zero).  With ``Y = G`` this *is* ``dX`` of :func:`conv2d_backward`.
    """
    Y4, single = as_batch(Y, "Y")
    F = as_float_array(F, "F", (4,))
    if Y4.shape[1] != F.shape[0]:
        raise ValueError(
            f"channel mismatch: Y has {Y4.shape[1]} channels but F {F.shape} has K={F.shape[0]} filters"
        )
    s, p, d = as_pair(stride, "stride", 1), as_pair(padding, "padding", 0), as_pair(dilation, "dilation", 1)
    op = as_pair(output_padding, "output_padding", 0)
    if any(op[a] >= max(s[a], d[a]) for a in range(2)):
        raise ValueError(
            f"output_padding {output_padding} must be smaller than the stride {stride} or the "
            f"dilation {dilation} (per axis)"
        )
    size = [
        (Y4.shape[2 + a] - 1) * s[a] - 2 * p[a] + d[a] * (F.shape[2 + a] - 1) + 1 + op[a] for a in range(2)
    ]
    if min(size) < 1:
        raise ValueError(f"Y {Y4.shape} with padding {padding} gives an empty output {tuple(size)}")
    X_shape = (Y4.shape[0], F.shape[1], size[0], size[1])
    dtype = np.result_type(Y4.dtype, F.dtype)
    Y_mat = _as_matrix(Y4.astype(dtype, copy=False))  # (K, N*H'*W')
    F_mat = F.reshape(F.shape[0], -1).astype(dtype, copy=False)  # (K, C*fh*fw)
    if op[0] < s[0] and op[1] < s[1]:
        X = col2im(F_mat.T @ Y_mat, X_shape, F.shape[2:], s, p, d)
    else:  # op >= s on an axis (allowed when op < d): scatter into the unpadded frame, then crop
        full = [(Y4.shape[2 + a] - 1) * s[a] + d[a] * (F.shape[2 + a] - 1) + 1 for a in range(2)]
        X = col2im(F_mat.T @ Y_mat, (X_shape[0], X_shape[1], full[0], full[1]), F.shape[2:], s, 0, d)
        extra = [max(0, op[a] - p[a]) for a in range(2)]  # rows past every window: they stay zero
        X = np.pad(X, ((0, 0), (0, 0), (0, extra[0]), (0, extra[1])))
        X = np.ascontiguousarray(X[:, :, p[0] : p[0] + size[0], p[1] : p[1] + size[1]])
    return X[0] if single else X


# --------------------------------------------------------------------------------------------
# Looped references: the formula above, one output entry at a time.  Slow, obviously correct.
# --------------------------------------------------------------------------------------------


def _window(g: Geometry, y: int, x: int) -> tuple[slice, slice]:
    """Rows/columns of the padded input seen by output ``(y, x)``: a dilated ``fh x fw`` window."""
    r0, c0 = y * g.sh, x * g.sw
    return slice(r0, r0 + g.dh * (g.fh - 1) + 1, g.dh), slice(c0, c0 + g.dw * (g.fw - 1) + 1, g.dw)


def conv2d_naive(
    X: np.ndarray,
    F: np.ndarray,
    b: np.ndarray | None = None,
    stride: IntPair = 1,
    padding: IntPair = 0,
    dilation: IntPair = 1,
) -> np.ndarray:
    """Looped reference for :func:`conv2d` (same signature and result)."""
    X4, single, F, g = _setup(X, F, stride, padding, dilation)
    b = as_bias(b, F.shape[0])
    K = F.shape[0]
    Xp = g.pad(X4)
    S = np.zeros((g.N, K, g.Ho, g.Wo), dtype=np.result_type(X4.dtype, F.dtype))
    for n in range(g.N):
        for k in range(K):
            for y in range(g.Ho):
                for x in range(g.Wo):
                    rows, columns = _window(g, y, x)
                    S[n, k, y, x] = np.sum(Xp[n, :, rows, columns] * F[k])
                    if b is not None:
                        S[n, k, y, x] += b[k]
    return S[0] if single else S


def conv2d_backward_naive(
    G: np.ndarray,
    X: np.ndarray,
    F: np.ndarray,
    stride: IntPair = 1,
    padding: IntPair = 0,
    dilation: IntPair = 1,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Looped reference for :func:`conv2d_backward`: each ``G[n,k,y,x]`` sends its share back."""
    X4, single, F, g = _setup(X, F, stride, padding, dilation)
    K = F.shape[0]
    G4 = as_upstream(G, (g.N, K, g.Ho, g.Wo), single)
    dtype = np.result_type(G4.dtype, X4.dtype, F.dtype)
    Xp = g.pad(X4)
    dXp = np.zeros(Xp.shape, dtype=dtype)
    dF = np.zeros(F.shape, dtype=dtype)
    db = np.zeros(K, dtype=dtype)
    for n in range(g.N):
        for k in range(K):
            for y in range(g.Ho):
                for x in range(g.Wo):
                    rows, columns = _window(g, y, x)
                    dF[k] += G4[n, k, y, x] * Xp[n, :, rows, columns]
                    dXp[n, :, rows, columns] += G4[n, k, y, x] * F[k]
                    db[k] += G4[n, k, y, x]
    dX = dXp[:, :, g.ph : g.ph + g.H, g.pw : g.pw + g.W]
    return (dX[0] if single else dX), dF, db

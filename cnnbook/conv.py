"""The convolution layer: forward, backward and transposed convolution, vectorized with im2col + GEMM.

Notation (the lectures'): input ``X (N, C, H, W)``, filter bank ``F (K, C, fh, fw)``, bias
``b (K,)``, response ``S (N, K, H', W')``, upstream gradient ``G = dL/dS`` shaped like ``S``.

``*`` is **cross-correlation**, as in the lectures and in every deep-learning library:

    S[n, k, y, x] = b[k] + sum_{c, i, j} F[k, c, i, j] * Xpad[n, c, y*s + i*d, x*s + j*d]

The filter is *not* flipped.  The true convolution (flipped filter, ``F^rot180``) appears in the
backward pass: ``dL/dX = G_zero-pad * F^rot180`` (for stride 1), i.e. a full *convolution* of
``G`` with ``F``.

Vectorized route: ``cols = im2col(X)`` ``(C*fh*fw, N*H'*W')`` and one GEMM ``F.reshape(K, -1) @ cols``
(with a column stride of 1, in the full-row working layout described in :mod:`cnnbook.im2col`).
Backward: ``dF = G_mat @ cols.T`` (one GEMM), ``db = sum of G``, and ``dX = col2im(F_mat.T @ G_mat)``
which is the multiplication by ``M_F^T`` -- the transposed convolution.

Non-finite values are not checked for: they propagate (a NaN in a receptive field gives NaN).
"""

from __future__ import annotations

import numpy as np

from .im2col import Geometry, _as_batch, _conv_col2im, _conv_im2col, _pad, _work_width, geometry
from .shapes import IntPair, as_float_array, as_pair

__all__ = [
    "conv2d",
    "conv2d_backward",
    "conv2d_backward_naive",
    "conv2d_forward_cols",
    "conv2d_naive",
    "conv_transpose2d",
]


def _check_filters(F: object, C: int) -> np.ndarray:
    F = as_float_array(F, "F", (4,))
    if F.shape[1] != C:
        raise ValueError(
            f"channel mismatch: X has C={C} channels but F {F.shape} expects {F.shape[1]} "
            f"(filters are (K, C, fh, fw) and span the input's whole depth)"
        )
    return F


def _check_bias(b: object | None, K: int) -> np.ndarray | None:
    if b is None:
        return None
    b = as_float_array(b, "b", (1,))
    if b.shape != (K,):
        raise ValueError(f"b must have shape (K,) = ({K},), got {b.shape}")
    return b


def _setup(X, F, stride, padding, dilation) -> tuple[np.ndarray, bool, np.ndarray, Geometry]:
    X4, single = _as_batch(X)
    F = _check_filters(F, X4.shape[1])
    g = geometry(X4.shape, F.shape[2], F.shape[3], stride, padding, dilation)
    return X4, single, F, g


def _check_upstream(G: object, g: Geometry, K: int, single: bool) -> np.ndarray:
    G = as_float_array(G, "G", (3, 4))
    expected = (g.N, K, g.Ho, g.Wo)
    if G.shape != (expected[1:] if single else expected):
        raise ValueError(
            f"G has shape {G.shape} but the forward output is {expected[1:] if single else expected}"
        )
    return G.reshape(expected)


def conv2d_forward_cols(
    X: np.ndarray,
    F: np.ndarray,
    b: np.ndarray | None = None,
    stride: IntPair = 1,
    padding: IntPair = 0,
    dilation: IntPair = 1,
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`conv2d` that also returns its column matrix, for reuse in the backward pass.

    Returns ``(S, cols)``; pass ``cols`` unchanged to :func:`conv2d_backward` to skip rebuilding
    it.  ``cols`` is ``im2col(X)`` except that, for a column stride of 1, each output row has
    ``W + 2p`` columns instead of ``W'`` (the working layout of :mod:`cnnbook.im2col`).
    """
    X4, single, F, g = _setup(X, F, stride, padding, dilation)
    b = _check_bias(b, F.shape[0])
    dtype = np.result_type(X4.dtype, F.dtype)
    cols = _conv_im2col(X4.astype(dtype, copy=False), g)
    K = F.shape[0]
    out = F.reshape(K, -1).astype(dtype, copy=False) @ cols  # (K, N*H'*Wq): the one GEMM
    S = np.empty((g.N, K, g.Ho, g.Wo), dtype=dtype)
    view = out.reshape(K, g.N, g.Ho, _work_width(g))[..., : g.Wo].transpose(1, 0, 2, 3)
    if b is None:
        S[...] = view
    else:  # reorder and add the bias in one pass
        np.add(view, b.astype(dtype, copy=False)[:, None, None], out=S)
    return (S[0] if single else S), cols


def conv2d(
    X: np.ndarray,
    F: np.ndarray,
    b: np.ndarray | None = None,
    stride: IntPair = 1,
    padding: IntPair = 0,
    dilation: IntPair = 1,
) -> np.ndarray:
    """Cross-correlate ``X`` with a bank of filters: ``S = X * F + b``.

    Parameters
    ----------
    X : ``(N, C, H, W)``, or one image ``(C, H, W)``.
    F : ``(K, C, fh, fw)``: ``K`` filters, each spanning all ``C`` input channels.
    b : optional ``(K,)`` bias, one per filter.
    stride, padding, dilation : int or ``(h, w)`` pair; padding is zeros added on *each* side.

    Returns
    -------
    S : ``(N, K, H', W')`` (or ``(K, H', W')``) with
        ``H' = floor((H + 2p - d(fh-1) - 1)/s) + 1`` and likewise ``W'``.
        dtype: ``result_type(X, F)`` (float32 in, float32 out; integers become float64).
    """
    return conv2d_forward_cols(X, F, b, stride, padding, dilation)[0]


def _as_matrix(G4: np.ndarray, g: Geometry) -> np.ndarray:
    """``(N, K, H', W')`` -> ``(K, N*H'*Wq)``: one row per filter, columns as in the working layout.

    The working layout's extra (garbage) columns get zeros, so that they add nothing to dF or dX.
    """
    N, K = G4.shape[:2]
    Wq = _work_width(g)
    if Wq == g.Wo:
        return G4.transpose(1, 0, 2, 3).reshape(K, -1)
    G_mat = np.empty((K, N, g.Ho, Wq), dtype=G4.dtype)
    G_mat[..., : g.Wo] = G4.transpose(1, 0, 2, 3)
    G_mat[..., g.Wo :] = 0
    return G_mat.reshape(K, -1)


def _input_gradient(G_mat: np.ndarray, F: np.ndarray, g: Geometry) -> np.ndarray:
    """``dL/dX = M_F^T vec(G)`` for every image: one GEMM then col2im.  ``G_mat`` from :func:`_as_matrix`."""
    dcols = F.reshape(F.shape[0], -1).T @ G_mat  # (C*fh*fw, N*H'*Wq)
    return _conv_col2im(dcols, g)


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
    """Gradients of a loss ``L`` through ``S = conv2d(X, F, b, ...)``.

    ``G = dL/dS`` with the forward output's shape.  Returns ``(dX, dF, db)`` shaped like
    ``X``, ``F`` and ``(K,)``:

    * ``dF = X * G`` -- cross-correlate the input with the upstream gradient
      (``dF_k = sum_n G[n, k] @ cols_n.T``, i.e. ``g M_X`` of the lectures);
    * ``db = sum of G`` over images and positions;
    * ``dX = G_zero-pad * F^rot180`` (stride 1) -- in general ``M_F^T vec(G)``, the transposed
      convolution :func:`conv_transpose2d`.

    ``cols``: optionally ``im2col(X, ...)``, or the ``cols`` that :func:`conv2d_forward_cols`
    returned, to avoid rebuilding it.
    ``input_grad=False`` skips ``dX`` (returned as ``None``): a network's first layer needs no
    gradient with respect to the data.
    """
    X4, single, F, g = _setup(X, F, stride, padding, dilation)
    K = F.shape[0]
    G4 = _check_upstream(G, g, K, single)
    dtype = np.result_type(G4.dtype, X4.dtype, F.dtype)
    G4 = G4.astype(dtype, copy=False)
    G_work = _as_matrix(G4, g)  # (K, N*H'*Wq), the working layout
    work_shape = (g.cols_shape[0], G_work.shape[1])
    cols = (
        _conv_im2col(X4.astype(dtype, copy=False), g) if cols is None else as_float_array(cols, "cols", (2,))
    )
    if cols.shape == work_shape:  # from conv2d_forward_cols (or built just now)
        G_cols = G_work
    elif cols.shape == g.cols_shape:  # plain im2col(X): pair it with G in the same exact layout
        G_cols = G4.transpose(1, 0, 2, 3).reshape(K, -1)
    else:
        raise ValueError(
            f"cols has shape {cols.shape}; pass im2col(X) {g.cols_shape} or the cols conv2d_forward_cols returned"
        )
    # dF = G_mat @ cols.T, computed as (cols @ G_mat.T).T: BLAS runs this orientation of the
    # long inner dimension (N*H'*W') up to twice as fast.
    dF = (cols.astype(dtype, copy=False) @ G_cols.T).T.reshape(F.shape)
    db = G_work.sum(axis=1)  # garbage columns hold zeros; contiguous rows sum fastest
    if not input_grad:
        return None, dF, db
    dX = _input_gradient(G_work, F.astype(dtype, copy=False), g)
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

    (likewise ``W``).  ``output_padding`` (``0 <= op < s``) picks which of the ``s`` input sizes that
    give the same ``H'`` is meant.  With ``Y = G`` this *is* ``dX`` of :func:`conv2d_backward`.
    """
    Y4, single = _as_batch(Y, "Y")
    F = as_float_array(F, "F", (4,))
    if Y4.shape[1] != F.shape[0]:
        raise ValueError(
            f"channel mismatch: Y has {Y4.shape[1]} channels but F {F.shape} has K={F.shape[0]} filters"
        )
    s, p, d = as_pair(stride, "stride", 1), as_pair(padding, "padding", 0), as_pair(dilation, "dilation", 1)
    op = as_pair(output_padding, "output_padding", 0)
    if op[0] >= s[0] or op[1] >= s[1]:
        raise ValueError(f"output_padding {output_padding} must be smaller than the stride {stride}")
    size = [
        (Y4.shape[2 + a] - 1) * s[a] - 2 * p[a] + d[a] * (F.shape[2 + a] - 1) + 1 + op[a] for a in range(2)
    ]
    if min(size) < 1:
        raise ValueError(f"Y {Y4.shape} with padding {padding} gives an empty output {tuple(size)}")
    g = Geometry((Y4.shape[0], F.shape[1], size[0], size[1]), F.shape[2], F.shape[3], s, p, d)
    dtype = np.result_type(Y4.dtype, F.dtype)
    X = _input_gradient(_as_matrix(Y4.astype(dtype, copy=False), g), F.astype(dtype, copy=False), g)
    return X[0] if single else X


# --------------------------------------------------------------------------------------------
# Looped references: the formula above, one output entry at a time.  Slow, obviously correct.
# --------------------------------------------------------------------------------------------


def _window(g: Geometry, y: int, x: int) -> tuple[slice, slice]:
    """Rows/columns of the padded input seen by output ``(y, x)``: a dilated ``fh x fw`` window."""
    r0, c0 = y * g.sh, x * g.sw
    return slice(r0, r0 + g.dh * (g.fh - 1) + 1, g.dh), slice(c0, c0 + g.dw * (g.fw - 1) + 1, g.dw)


def conv2d_naive(X, F, b=None, stride=1, padding=0, dilation=1) -> np.ndarray:
    """Looped reference for :func:`conv2d` (same signature and result)."""
    X4, single, F, g = _setup(X, F, stride, padding, dilation)
    b = _check_bias(b, F.shape[0])
    K = F.shape[0]
    Xp = _pad(X4, g.ph, g.pw)
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


def conv2d_backward_naive(G, X, F, stride=1, padding=0, dilation=1):
    """Looped reference for :func:`conv2d_backward`: each ``G[n,k,y,x]`` sends its share back."""
    X4, single, F, g = _setup(X, F, stride, padding, dilation)
    K = F.shape[0]
    G4 = _check_upstream(G, g, K, single)
    dtype = np.result_type(G4.dtype, X4.dtype, F.dtype)
    Xp = _pad(X4, g.ph, g.pw)
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

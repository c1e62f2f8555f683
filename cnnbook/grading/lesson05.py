"""Lesson 05's graded exercise: the filter and bias gradients of a convolution layer.

Oracle: the explicit matrix ``M_X`` of each image (:func:`cnnbook.matrices.make_MX`, with the
layer's stride and padding): ``vec(S[n, k]) = M_X(n) vec(F[k]) + b[k]``, so
``dL/dvec(F[k]) = sum_n vec(G[n, k]) M_X(n)`` and ``dL/db[k] = sum_n vec(G[n, k]) . 1`` — the
lesson's option 1, which shares no code with the student's loops over windows.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..conv import conv2d_backward
from ..matrices import make_MX
from .cases import CONV_SETTINGS, conv_arrays, conv_upstream
from .framework import Case, Exercise, Mistake, labelled, register, sized

__all__ = ["CONV2D_FILTER_GRAD"]


def _cases() -> list[Case]:
    cases = []
    for seed, s in enumerate(CONV_SETTINGS):
        X, _, _ = conv_arrays(s, seed)
        G = conv_upstream(s, 100 + seed)
        label = labelled(G=G, X=X, kernel_size=(s.fh, s.fw), stride=s.stride, padding=s.padding)
        cases.append(Case(label, (G, X, (s.fh, s.fw), s.stride, s.padding), size=sized((G, X))))
    return cases


def _oracle(case: Case) -> Any:
    """``dF[k] = sum_n g[n, k] M_X(n)`` reshaped, ``db[k] = sum of G[:, k]``."""
    G, X, (fh, fw), stride, padding = case.args
    N, K = G.shape[:2]
    C = X.shape[1]
    g = G.reshape(N, K, -1)
    dF = sum(g[n] @ make_MX(X[n], (fh, fw), stride, padding) for n in range(N))
    db = g @ np.ones(g.shape[-1])
    return np.asarray(dF).reshape(K, C, fh, fw), db.sum(axis=0)


def _windows(
    G: np.ndarray,
    X: np.ndarray,
    kernel_size: tuple[int, int],
    stride: tuple[int, int],
    padding: tuple[int, int],
    *,
    strided: bool = True,
    images: int | None = None,
) -> np.ndarray:
    """``dF[k, c, i, j] = sum_{n, y, x} G[n, k, y, x] Xp[n, c, y sh + i, x sw + j]``, or its slips.

    ``strided=False``: the block of ``Xp`` at offset ``(i, j)`` taken contiguous (the stride
    ignored); ``images=1``: only the first image summed.
    """
    (fh, fw), (sh, sw), (ph, pw) = kernel_size, stride, padding
    Xp = np.pad(X, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    N, K, Ho, Wo = G.shape
    if not strided:
        sh = sw = 1
    used = N if images is None else images
    dF = np.zeros((K, X.shape[1], fh, fw))
    for i in range(fh):
        for j in range(fw):
            block = Xp[:used, :, i : i + sh * (Ho - 1) + 1 : sh, j : j + sw * (Wo - 1) + 1 : sw]
            dF[:, :, i, j] = np.einsum("nkyx,ncyx->kc", G[:used], block)
    return dF


def _mistaken(
    case: Case,
    *,
    flip: bool = False,
    swap: bool = False,
    db_mean: bool = False,
    db_axes: bool = False,
    **slip: Any,
) -> Any:
    """The correct gradients with one slip: ``_windows``' slips, a flip, swapped axes, db's slips."""
    G, X, kernel_size, stride, padding = case.args
    dF = _windows(G, X, kernel_size, stride, padding, **slip)
    if flip:
        dF = dF[:, :, ::-1, ::-1]
    if swap:
        dF = dF.transpose(1, 0, 2, 3)
    used = G[: slip.get("images") or G.shape[0]]
    db = used.mean(axis=(0, 2, 3)) if db_mean else used.sum(axis=(1, 2, 3) if db_axes else (0, 2, 3))
    return dF, db


def conv2d_filter_grad_reference(
    G: np.ndarray,
    X: np.ndarray,
    kernel_size: tuple[int, int],
    stride: tuple[int, int],
    padding: tuple[int, int],
) -> tuple[np.ndarray, np.ndarray]:
    """The instructor's answer: the package's backward pass (its filter and bias parts)."""
    K, C = G.shape[1], X.shape[1]
    _, dF, db = conv2d_backward(G, X, np.zeros((K, C, *kernel_size)), stride=stride, padding=padding)
    return dF, db


CONV2D_FILTER_GRAD = register(
    Exercise(
        name="conv2d_filter_grad",
        lesson="05",
        signature=(
            "conv2d_filter_grad(G, X, kernel_size, stride, padding) -> (dF, db)\n"
            "    G = dL/dS (N, K, H', W'), X (N, C, H, W), kernel_size (fh, fw), stride (sh, sw),\n"
            "    padding (ph, pw) per side; dF (K, C, fh, fw), db (K,):\n"
            "    dF[k,c,i,j] = sum_{n,y,x} G[n,k,y,x] Xp[n, c, y*sh + i, x*sw + j],\n"
            "    db[k] = sum_{n,y,x} G[n,k,y,x]"
        ),
        reference=conv2d_filter_grad_reference,
        cases=_cases,
        oracle=_oracle,
        outputs=("dF", "db"),
        mistakes=(
            Mistake(
                "X * G with G's entries taken next to each other: the stride is ignored (with stride s "
                "the entries of G meet pixels of X that are s apart)",
                lambda c: _mistaken(c, strided=False),
            ),
            Mistake(
                "X * G rotated by 180°: a spurious flip (the filter gradient is a cross-correlation of X "
                "with G, no rotation; the flip belongs to the input gradient)",
                lambda c: _mistaken(c, flip=True),
            ),
            Mistake(
                "the gradient with its filter and channel axes swapped: dF[k, c] must pair G's map k with "
                "X's plane c (dF has F's shape (K, C, fh, fw))",
                lambda c: _mistaken(c, swap=True),
            ),
            Mistake(
                "the gradient of the first image only: the loss sums over the batch, so do the gradients",
                lambda c: _mistaken(c, images=1),
            ),
            Mistake(
                "db averaged instead of summed: b[k] is added at every position of every image, so db[k] "
                "collects the sum of G[:, k]",
                lambda c: _mistaken(c, db_mean=True),
            ),
            Mistake(
                "db summed over the wrong axis: over the filters (axis 1) instead of the images (axis 0); "
                "db[k] = G[:, k].sum()",
                lambda c: _mistaken(c, db_axes=True),
            ),
        ),
    )
)

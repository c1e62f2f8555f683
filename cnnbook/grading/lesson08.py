"""Lesson 08's graded exercise: ``im2col`` in the book's column layout.

``im2col(X, kernel_size, stride, padding)`` returns ``cols`` of shape ``(C*fh*fw, N*H'*W')`` with

    cols[(c*fh + i)*fw + j, (n*H' + y)*W' + x] = Xpad[n, c, y*sh + i, x*sw + j]

(rows in the order of ``vec`` of one filter ``(C, fh, fw)``, columns in the order of ``vec(S)``), so
that ``F.reshape(K, -1) @ cols`` is the convolution, one GEMM for the whole batch.

Oracle: the definition, entry by entry, written here with its own zero padding -- no code shared
with :mod:`cnnbook.im2col`.  The tests also check the oracle against the identity
``F.reshape(K, -1) @ cols == scipy.signal.correlate2d`` (summed over channels, sampled at the stride).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..im2col import im2col as im2col_package
from .cases import CONV_SETTINGS, conv_arrays
from .framework import Case, Exercise, Mistake, labelled, register, sized

__all__ = ["IM2COL"]


def _cases() -> list[Case]:
    cases = []
    for seed, s in enumerate(CONV_SETTINGS):
        X, _, _ = conv_arrays(s, 800 + seed)
        label = labelled(X=X, kernel_size=(s.fh, s.fw), stride=s.stride, padding=s.padding)
        cases.append(Case(label, (X, (s.fh, s.fw), s.stride, s.padding), size=sized((X,))))
    return cases


def _unfold(
    X: np.ndarray,
    kernel_size: tuple[int, int],
    stride: tuple[int, int],
    padding: tuple[int, int],
    *,
    layout: str = "book",
) -> np.ndarray:
    """The columns by the definition; ``layout`` "book", "transposed", "channel_last" or "position_major"."""
    N, C, H, W = X.shape
    (fh, fw), (sh, sw), (ph, pw) = kernel_size, stride, padding
    Xp = np.zeros((N, C, H + 2 * ph, W + 2 * pw))
    Xp[:, :, ph : ph + H, pw : pw + W] = X
    Ho, Wo = (H + 2 * ph - fh) // sh + 1, (W + 2 * pw - fw) // sw + 1
    cols = np.zeros((C * fh * fw, N * Ho * Wo))
    for n in range(N):
        for y in range(Ho):
            for x in range(Wo):
                for c in range(C):
                    for i in range(fh):
                        for j in range(fw):
                            row = (i * fw + j) * C + c if layout == "channel_last" else (c * fh + i) * fw + j
                            col = (
                                (y * Wo + x) * N + n if layout == "position_major" else (n * Ho + y) * Wo + x
                            )
                            cols[row, col] = Xp[n, c, y * sh + i, x * sw + j]
    return cols.T if layout == "transposed" else cols


def _oracle(case: Case) -> Any:
    return _unfold(*case.args)


def _without(case: Case, *, stride: bool = False, padding: bool = False) -> np.ndarray:
    X, k, s, p = case.args
    return _unfold(X, k, (1, 1) if stride else s, (0, 0) if padding else p)


def im2col_reference(
    X: np.ndarray, kernel_size: tuple[int, int], stride: tuple[int, int], padding: tuple[int, int]
) -> np.ndarray:
    """The instructor's answer: the package's im2col (one strided copy per filter tap)."""
    return im2col_package(X, kernel_size, stride, padding)


IM2COL = register(
    Exercise(
        name="im2col",
        lesson="08",
        signature=(
            "im2col(X, kernel_size, stride, padding) -> cols\n"
            "    X (N, C, H, W), kernel_size (fh, fw), stride (sh, sw), padding (ph, pw) zeros per side;\n"
            "    cols (C*fh*fw, N*H'*W'),\n"
            "    cols[(c*fh + i)*fw + j, (n*H' + y)*W' + x] = Xpad[n, c, y*sh + i, x*sw + j]"
        ),
        reference=im2col_reference,
        cases=_cases,
        oracle=_oracle,
        outputs=("cols",),
        rtol=0.0,
        atol=0.0,
        mistakes=(
            Mistake(
                "the transposed layout (N*H'*W', C*fh*fw): one receptive field per ROW, the lectures' M_X; "
                "the book's im2col puts one per column",
                lambda c: _unfold(*c.args, layout="transposed"),
            ),
            Mistake(
                "the channel innermost inside a column, row (i*fw + j)*C + c: the book's rows follow vec of "
                "one filter (C, fh, fw), row (c*fh + i)*fw + j",
                lambda c: _unfold(*c.args, layout="channel_last"),
            ),
            Mistake(
                "the images innermost along the columns, column (y*W' + x)*N + n: the book's columns follow "
                "vec(S), column (n*H' + y)*W' + x",
                lambda c: _unfold(*c.args, layout="position_major"),
            ),
            Mistake(
                "receptive fields at every position, stride 1 (the stride is ignored)",
                lambda c: _without(c, stride=True),
            ),
            Mistake("receptive fields without the zero padding", lambda c: _without(c, padding=True)),
        ),
    )
)

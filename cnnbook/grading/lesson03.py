"""Lesson 03's graded exercises: build ``M_X`` and ``M_F^filter`` for one image and one filter.

``vec(S) = M_X vec(F) = M_F^filter vec(X)`` with ``vec`` row-major, planes stacked (lesson 00).
Both oracles use linearity instead of the builders of :mod:`cnnbook.matrices`: column ``t`` of
``M_X`` is ``vec(X * E_t)`` for the unit filter ``E_t`` (a one at tap ``t``), column ``k`` of
``M_F^filter`` is ``vec(E_k * F)`` for the unit image ``E_k`` (a one at pixel ``k``), each response
computed with ``scipy.signal.correlate2d`` on the zero-padded planes and sampled every ``stride``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.signal import correlate2d

from ..matrices import make_MF, make_MX
from .framework import Case, Exercise, Mistake, labelled, register, sized

__all__ = ["BUILD_MF", "BUILD_MX"]

# (C, H, W, fh, fw, stride, padding): H != W, fh != fw, stride > 1 (one that does not divide), padding > 0.
_SETTINGS = (
    (1, 4, 4, 2, 2, (1, 1), (0, 0)),
    (1, 5, 4, 3, 2, (1, 1), (0, 0)),
    (1, 5, 6, 2, 3, (2, 2), (0, 0)),
    (1, 4, 5, 3, 2, (1, 1), (1, 1)),
    (2, 5, 6, 3, 3, (1, 1), (0, 0)),
    (2, 6, 5, 2, 3, (2, 1), (1, 0)),
    (3, 5, 7, 3, 2, (1, 2), (1, 2)),
    (2, 7, 6, 3, 3, (3, 2), (2, 1)),
)


def _response(X: np.ndarray, F: np.ndarray, stride: tuple[int, int], padding: tuple[int, int]) -> np.ndarray:
    """``vec(X * F)`` for one image ``(C, H, W)`` and one filter ``(C, fh, fw)``, via SciPy."""
    (sh, sw), (ph, pw) = stride, padding
    Xp = np.pad(X, ((0, 0), (ph, ph), (pw, pw)))
    S = sum(correlate2d(Xp[c], F[c], mode="valid") for c in range(X.shape[0]))
    return np.asarray(S)[::sh, ::sw].reshape(-1)


def _units(shape: tuple[int, ...]) -> list[np.ndarray]:
    """The unit arrays of ``shape``, a one at flat position ``t`` (row-major) for ``t = 0, 1, ...``."""
    return [np.eye(1, int(np.prod(shape)), t).reshape(shape) for t in range(int(np.prod(shape)))]


def _MX(
    X: np.ndarray, kernel_size: tuple[int, int], stride: tuple[int, int], padding: tuple[int, int]
) -> np.ndarray:
    """``M_X`` column by column: column ``t`` is ``vec(X * E_t)``."""
    C = X.shape[0]
    return np.stack([_response(X, E, stride, padding) for E in _units((C, *kernel_size))], axis=1)


def _MF(
    F: np.ndarray, input_shape: tuple[int, int], stride: tuple[int, int], padding: tuple[int, int]
) -> np.ndarray:
    """``M_F^filter`` column by column: column ``k`` is ``vec(E_k * F)``."""
    C = F.shape[0]
    return np.stack([_response(E, F, stride, padding) for E in _units((C, *input_shape))], axis=1)


def _mx_cases() -> list[Case]:
    cases = []
    for seed, (C, H, W, fh, fw, s, p) in enumerate(_SETTINGS):
        X = np.random.default_rng(300 + seed).standard_normal((C, H, W))
        label = labelled(X=X, kernel_size=(fh, fw), stride=s, padding=p)
        cases.append(Case(label, (X, (fh, fw), s, p), size=sized((X,)) * fh * fw))
    return cases


def _mf_cases() -> list[Case]:
    cases = []
    for seed, (C, H, W, fh, fw, s, p) in enumerate(_SETTINGS):
        F = np.random.default_rng(400 + seed).standard_normal((C, fh, fw))
        label = labelled(F=F, input_shape=(H, W), stride=s, padding=p)
        cases.append(Case(label, (F, (H, W), s, p), size=C * H * W * fh * fw))
    return cases


def _rows_column_major(M: np.ndarray, rows: int, cols: int) -> np.ndarray:
    """``M`` with its rows (outputs ``(y, x)``) enumerated column by column instead of row by row."""
    return M.reshape(rows, cols, -1).transpose(1, 0, 2).reshape(rows * cols, -1)


def _columns_swapped(M: np.ndarray, C: int, a: int, b: int) -> np.ndarray:
    """``M`` with each plane's ``a x b`` block of columns enumerated column by column."""
    return M.reshape(-1, C, a, b).transpose(0, 1, 3, 2).reshape(M.shape[0], -1)


def _out(n: int, f: int, s: int, p: int) -> int:
    return len(range(0, n + 2 * p - f + 1, s))


def _mx_mistakes() -> tuple[Mistake, ...]:
    def rows_cm(c: Case) -> np.ndarray:
        X, (fh, fw), s, p = c.args
        M = _MX(X, (fh, fw), s, p)
        return _rows_column_major(M, _out(X.shape[1], fh, s[0], p[0]), _out(X.shape[2], fw, s[1], p[1]))

    def cols_cm(c: Case) -> np.ndarray:
        X, k = c.args[:2]
        return _columns_swapped(_MX(*c.args), X.shape[0], *k)

    def channels_last(c: Case) -> np.ndarray:
        X, (fh, fw) = c.args[:2]
        M = _MX(*c.args)
        return M.reshape(-1, X.shape[0], fh, fw).transpose(0, 2, 3, 1).reshape(M.shape[0], -1)

    return (
        Mistake(
            "the transpose of M_X: (C fh fw, H'W'), im2col's layout, not M_X's", lambda c: _MX(*c.args).T
        ),
        Mistake("M_X with its rows (outputs) in column-major order: vec(S) is row-major", rows_cm),
        Mistake(
            "M_X with each plane's taps in column-major order: vec(F) = (F11, F12, F13, F21, ...)", cols_cm
        ),
        Mistake(
            "M_X with the channel as the fastest index of a row: vec(F) stacks whole planes", channels_last
        ),
        Mistake(
            "M_X without the zero padding (rows for the outputs near the border are missing)",
            lambda c: _MX(c.args[0], c.args[1], c.args[2], (0, 0)),
        ),
        Mistake(
            "M_X with stride 1 (the stride is ignored)",
            lambda c: _MX(c.args[0], c.args[1], (1, 1), c.args[3]),
        ),
    )


def _mf_mistakes() -> tuple[Mistake, ...]:
    def rows_cm(c: Case) -> np.ndarray:
        F, (H, W), s, p = c.args
        M = _MF(*c.args)
        return _rows_column_major(M, _out(H, F.shape[1], s[0], p[0]), _out(W, F.shape[2], s[1], p[1]))

    def cols_cm(c: Case) -> np.ndarray:
        F, (H, W) = c.args[:2]
        return _columns_swapped(_MF(*c.args), F.shape[0], H, W)

    def padded_columns(c: Case) -> np.ndarray:
        F, (H, W), s, p = c.args
        return _MF(F, (H + 2 * p[0], W + 2 * p[1]), s, (0, 0))

    return (
        Mistake(
            "the transpose of M_F^filter: (C H W, H'W') instead of (H'W', C H W)", lambda c: _MF(*c.args).T
        ),
        Mistake("M_F^filter with its rows (outputs) in column-major order: vec(S) is row-major", rows_cm),
        Mistake("M_F^filter with each plane's pixels in column-major order: vec(X) is row-major", cols_cm),
        Mistake(
            "M_F^filter of the zero-padded image: delete the padding's columns (it has C H W columns)",
            padded_columns,
        ),
        Mistake(
            "M_F^filter without the zero padding (rows for the outputs near the border are missing)",
            lambda c: _MF(c.args[0], c.args[1], c.args[2], (0, 0)),
        ),
        Mistake(
            "M_F^filter with the filter rotated by 180° (that is the transposed convolution's pattern)",
            lambda c: _MF(c.args[0][:, ::-1, ::-1], *c.args[1:]),
        ),
        Mistake(
            "M_F^filter with stride 1 (the stride is ignored)",
            lambda c: _MF(c.args[0], c.args[1], (1, 1), c.args[3]),
        ),
    )


def build_MX_reference(
    X: np.ndarray, kernel_size: tuple[int, int], stride: tuple[int, int], padding: tuple[int, int]
) -> np.ndarray:
    """The instructor's answer: :func:`cnnbook.matrices.make_MX`."""
    return make_MX(X, kernel_size, stride=stride, padding=padding)


def build_MF_reference(
    F: np.ndarray, input_shape: tuple[int, int], stride: tuple[int, int], padding: tuple[int, int]
) -> np.ndarray:
    """The instructor's answer: :func:`cnnbook.matrices.make_MF` (dense)."""
    return np.asarray(make_MF(F, (F.shape[0], *input_shape), stride=stride, padding=padding))


def _mx_oracle(case: Case) -> Any:
    return _MX(*case.args)


def _mf_oracle(case: Case) -> Any:
    return _MF(*case.args)


BUILD_MX = register(
    Exercise(
        name="build_MX",
        lesson="03",
        signature=(
            "build_MX(X, kernel_size, stride, padding) -> M_X\n"
            "    X (C, H, W) one image, kernel_size (fh, fw), stride (sh, sw), padding (ph, pw) per side;\n"
            "    M_X (H'W', C fh fw) with vec(X * F) = M_X @ vec(F) for every filter F (C, fh, fw):\n"
            "    row y W' + x is vec(Xp[:, y sh : y sh + fh, x sw : x sw + fw]), Xp the zero-padded X"
        ),
        reference=build_MX_reference,
        cases=_mx_cases,
        oracle=_mx_oracle,
        outputs=("M_X",),
        mistakes=_mx_mistakes(),
    )
)

BUILD_MF = register(
    Exercise(
        name="build_MF",
        lesson="03",
        signature=(
            "build_MF(F, input_shape, stride, padding) -> M_F\n"
            "    F (C, fh, fw) one filter, input_shape (H, W), stride (sh, sw), padding (ph, pw) per side;\n"
            "    M_F (H'W', C H W) with vec(X * F) = M_F @ vec(X) for every image X (C, H, W):\n"
            "    row y W' + x is F laid on a zero-padded image at rows y sh.., columns x sw.., padding cut"
        ),
        reference=build_MF_reference,
        cases=_mf_cases,
        oracle=_mf_oracle,
        outputs=("M_F",),
        mistakes=_mf_mistakes(),
    )
)

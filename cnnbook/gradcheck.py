"""Numerical derivatives: the independent oracle every analytic gradient in the book is checked against.

Central differences, ``(f(x + h e_i) - f(x - h e_i)) / 2h``, have error ``O(h^2)``; with float64 and
``h = 1e-5`` a correct analytic gradient typically agrees to a relative error of ``1e-8`` or
better, a wrong one is off by ``1e-2`` or more.  Use float64 for checks: in float32 the rounding
error of ``f`` itself (about ``1e-7 |f| / h``) swamps the comparison.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

__all__ = ["agrees_to", "numerical_gradient", "numerical_jacobian", "rel_error"]


def _check_x(x: np.ndarray) -> np.ndarray:
    if not isinstance(x, np.ndarray) or not np.issubdtype(x.dtype, np.floating):
        raise TypeError(
            f"x must be a floating-point ndarray (it is perturbed in place), got {type(x).__name__}"
            + (f" of dtype {x.dtype}" if isinstance(x, np.ndarray) else "")
        )
    return x


def _differences(f: Callable[[np.ndarray], object], x: np.ndarray, h: float) -> np.ndarray:
    """Rows ``i``: ``vec(f(x + h e_i) - f(x - h e_i)) / 2h`` for every entry ``i`` of ``x``.

    ``x`` is perturbed *in place* (so a closure over it, e.g. a layer's weights, sees the change)
    and restored exactly afterwards, even if ``f`` raises.
    """
    _check_x(x)
    flat = x.reshape(-1)  # a view: writing to it writes to x
    if not np.shares_memory(flat, x):
        raise ValueError("x must be contiguous so that it can be perturbed in place")
    rows = []
    for i in range(flat.size):
        old = flat[i]
        try:
            flat[i] = old + h
            plus = np.array(f(x), dtype=np.float64, copy=True).reshape(-1)
            flat[i] = old - h
            minus = np.array(f(x), dtype=np.float64, copy=True).reshape(-1)
        finally:
            flat[i] = old
        rows.append((plus - minus) / (2 * h))
    return np.array(rows)


def numerical_gradient(f: Callable[[np.ndarray], float], x: np.ndarray, h: float = 1e-5) -> np.ndarray:
    """Gradient of a scalar function ``f`` at ``x`` by central differences; shaped like ``x``.

    ``x`` is left unchanged on return.
    """
    diffs = _differences(f, x, h)
    if diffs.shape[1] != 1:
        raise ValueError(f"f must return a scalar, got {diffs.shape[1]} values")
    return diffs[:, 0].reshape(x.shape)


def numerical_jacobian(f: Callable[[np.ndarray], np.ndarray], x: np.ndarray, h: float = 1e-5) -> np.ndarray:
    """Jacobian ``d vec(f(x)) / d vec(x)`` by central differences: shape ``(f(x).size, x.size)``.

    Row ``p`` is output ``vec(f(x))[p]``; column ``i`` is input ``vec(x)[i]`` (row-major ``vec``).
    """
    return _differences(f, x, h).T


def rel_error(a: np.ndarray, b: np.ndarray) -> float:
    """Relative error ``||a - b|| / max(||a|| + ||b||, 1e-300)`` (Frobenius norms).

    0 for identical arrays, 1 for ``b = -a``; scale-free, and not fooled by tiny entries the way
    an elementwise ratio is.  Shapes must match.
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"rel_error needs equal shapes, got {a.shape} and {b.shape}")
    scale = max(float(np.linalg.norm(a) + np.linalg.norm(b)), 1e-300)
    return float(np.linalg.norm(a - b)) / scale


def agrees_to(err: float, bounds: tuple = (1e-13, 1e-8, 1e-6)) -> str:
    """A printable bound for a relative error, e.g. ``"< 1e-08"``.

    The exact digits of a rounding-level error differ between machines and BLAS builds; the bound
    does not, so lessons print this and their committed outputs stay reproducible.  An error above
    every bound is printed in full and flagged.
    """
    for bound in bounds:
        if err < bound:
            return f"< {bound:.0e}"
    return f"{err:.1e} (too large!)"

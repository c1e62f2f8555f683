"""Numerical derivatives: the independent oracle every analytic gradient in the book is checked against.

Central differences, ``(f(x + h e_i) - f(x - h e_i)) / 2h``, have error ``O(h^2)``; with float64 and
``h = 1e-5`` a correct analytic gradient typically agrees to a relative error of ``1e-8`` or
better, a wrong one is off by ``1e-2`` or more.  The checkers take float64 only and *refuse*
float32/float16 ``x`` with a :class:`TypeError`: in float32 the rounding error of ``f`` itself
(about ``1e-7 |f| / h``) swamps the comparison and ``x + h`` may round back to ``x``.  They divide
by the step actually taken, ``(x + h) - (x - h)`` in floating point, and refuse ``h <= 0`` or a
non-finite ``h``.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ._checks import as_flat_positions, positive_finite_float

__all__ = ["agrees_to", "numerical_gradient", "numerical_jacobian", "rel_error"]


def _check_x(x: object) -> np.ndarray:
    """``x`` must be a float64 ndarray (it is perturbed in place, so no copy or cast is possible)."""
    if not isinstance(x, np.ndarray) or not np.issubdtype(x.dtype, np.floating):
        raise TypeError(
            f"x must be a floating-point ndarray (it is perturbed in place), got {type(x).__name__}"
            + (f" of dtype {x.dtype}" if isinstance(x, np.ndarray) else "")
        )
    if x.dtype.itemsize < 8:
        raise TypeError(
            f"x must be float64 for a finite-difference check, got {x.dtype}: with "
            f"{np.finfo(x.dtype).eps:.1e} relative precision, x + h rounds back to x (or to a different "
            f"step) and f's own rounding swamps the difference, so the 'gradient' is wrong; pass "
            f"x.astype(np.float64) (and compute f in float64)"
        )
    if x.size == 0:
        raise ValueError(f"x is empty (shape {x.shape})")
    if not x.flags.writeable:
        raise ValueError("x must be writeable: it is perturbed in place")
    return x


def _differences(
    f: Callable[[np.ndarray], object], x: np.ndarray, h: float, indices: np.ndarray | None = None
) -> np.ndarray:
    """Rows ``i``: ``vec(f(x + h e_i) - f(x - h e_i)) / (x_i^+ - x_i^-)`` for every entry ``i`` of ``x``
    (or, given ``indices``, for those positions of ``vec(x)`` only, in that order).

    ``x`` is perturbed *in place* (so a closure over it, e.g. a layer's weights, sees the change)
    and restored exactly afterwards, even if ``f`` raises.  Entries are visited in row-major
    (``vec``) order through ``x``'s own strides, so Fortran-order and strided views work too.  The
    divisor is the step actually taken in floating point, ``(x_i + h) - (x_i - h)``, not ``2h``.
    """
    _check_x(x)
    step = positive_finite_float(h, "h")
    rows = []
    positions = np.ndindex(x.shape) if indices is None else zip(*np.unravel_index(indices, x.shape))
    for index in positions:
        old = x[index]
        up, down = old + step, old - step
        taken = float(up) - float(down)
        if not taken > 0 or not np.isfinite(taken):
            raise ValueError(f"h={h} is too small for x{list(index)} = {old!r}: x + h - (x - h) is {taken}")
        try:
            x[index] = up
            plus = np.array(f(x), dtype=np.float64, copy=True).reshape(-1)
            x[index] = down
            minus = np.array(f(x), dtype=np.float64, copy=True).reshape(-1)
        finally:
            x[index] = old
        rows.append((plus - minus) / taken)
    return np.array(rows)


def numerical_gradient(
    f: Callable[[np.ndarray], float], x: np.ndarray, h: float = 1e-5, *, indices: object = None
) -> np.ndarray:
    """Gradient of a scalar function ``f`` at ``x`` by central differences; shaped like ``x``.

    ``x`` must be a float64 ndarray (float32/float16 raise :class:`TypeError`: their rounding makes
    the differences meaningless); any memory layout works (C, Fortran, strided views).  ``h`` must
    be finite and ``> 0``.  ``x`` is left unchanged on return.

    A sampled check: ``indices`` (integers, positions in ``vec(x) == x.reshape(-1)``, e.g. a random
    choice of 150 of a layer's weights) differentiates only those entries and returns a 1-D array
    ``g[j] = dL/dvec(x)[indices[j]]`` — two evaluations of ``f`` per entry instead of ``2 x.size``.
    ``x`` may then be a network's own parameter array: it is perturbed in place and restored.
    """
    chosen = None if indices is None else as_flat_positions(indices, "indices", _check_x(x).size)
    diffs = _differences(f, x, h, chosen)
    if diffs.shape[1] != 1:
        raise ValueError(f"f must return a scalar, got {diffs.shape[1]} values")
    return diffs[:, 0] if chosen is not None else diffs[:, 0].reshape(x.shape)


def numerical_jacobian(f: Callable[[np.ndarray], np.ndarray], x: np.ndarray, h: float = 1e-5) -> np.ndarray:
    """Jacobian ``d vec(f(x)) / d vec(x)`` by central differences: shape ``(f(x).size, x.size)``.

    Row ``p`` is output ``vec(f(x))[p]``; column ``i`` is input ``vec(x)[i]`` (row-major ``vec``,
    whatever ``x``'s memory layout).  Same requirements on ``x`` and ``h`` as
    :func:`numerical_gradient`.
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

"""Argument checks shared by every entry point of the package (internal module).

Every public routine validates its arguments with these functions *before* doing any work or
looking anything up in a cache, so that bad input always gets the same :class:`TypeError` /
:class:`ValueError` naming the offending argument.  Other modules import the public names below;
nothing here is part of the documented API of :mod:`cnnbook`.
"""

from __future__ import annotations

from collections.abc import Sequence
from numbers import Integral
from typing import TypeAlias

import numpy as np

IntPair: TypeAlias = int | tuple[int, int]
"""An int (the same for both axes) or an ``(h, w)`` pair of ints."""

__all__ = [
    "IntPair",
    "as_batch",
    "as_bias",
    "as_filters",
    "as_flag",
    "as_float_array",
    "as_indices",
    "as_int",
    "as_pair",
    "as_shape",
    "as_upstream",
    "positive_int",
]


def as_flag(value: object, name: str) -> bool:
    """``value`` as a bool: only ``True``/``False`` (NumPy's too); :class:`TypeError` for anything else,
    so that a string such as ``"no"`` is never taken as true."""
    if not isinstance(value, bool | np.bool_):
        raise TypeError(f"{name} must be True or False, got {value!r}")
    return bool(value)


def as_int(value: object, name: str) -> int:
    """``value`` as an int; :class:`TypeError` for bools, floats and anything else non-integral."""
    if type(value) is int:  # the common case, without the slower checks below (bool is not int here)
        return value
    # bool is an Integral in Python; a stride of True is a bug, not a 1.
    if isinstance(value, bool | np.bool_) or not isinstance(value, Integral):
        raise TypeError(f"{name} must be an int, got {value!r} of type {type(value).__name__}")
    return int(value)


def positive_int(value: object, name: str) -> int:
    """``value`` as an int ``>= 1``.

    :class:`TypeError` for non-integers (bools too), :class:`ValueError` below 1.
    """
    number = as_int(value, name)
    if number < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")
    return number


def as_pair(value: object, name: str, minimum: int) -> tuple[int, int]:
    """Return ``value`` as an ``(h, w)`` pair of ints, each ``>= minimum``.

    ``value`` is an int (used for both axes) or a pair of ints.  Raises :class:`TypeError` for
    bools, floats and other non-integers and :class:`ValueError` for values below ``minimum``.
    """
    if isinstance(value, tuple | list):
        if len(value) != 2:
            raise ValueError(f"{name} must be an int or an (h, w) pair, got {value!r}")
        pair = (as_int(value[0], name), as_int(value[1], name))
    else:
        pair = (as_int(value, name),) * 2
    if min(pair) < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value!r}")
    return pair


_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


def as_float_array(x: object, name: str, ndims: tuple[int, ...] | None) -> np.ndarray:
    """``x`` as a floating-point ndarray whose ndim is one of ``ndims`` (None: any ndim).

    Floating input keeps its dtype (float32 stays float32); integer input becomes float64.
    Bool, complex and object arrays raise :class:`TypeError`; empty arrays and a wrong number of
    dimensions raise :class:`ValueError`.  Non-finite values are *not* rejected: they propagate
    through every routine as IEEE arithmetic says (a NaN in a receptive field gives a NaN output).
    """
    if (
        type(x) is np.ndarray and x.dtype in _FLOATS and (ndims is None or x.ndim in ndims) and x.size
    ):  # the common case, checked cheaply (training calls this thousands of times)
        return x
    arr = np.asarray(x)
    if arr.dtype == np.bool_ or not (
        np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)
    ):
        raise TypeError(f"{name} must hold real numbers, got dtype {arr.dtype}")
    if ndims is not None and arr.ndim not in ndims:
        expected = " or ".join(f"{k}-D" for k in ndims)
        raise ValueError(f"{name} must be {expected}, got shape {arr.shape}")
    if arr.size == 0:
        raise ValueError(f"{name} is empty (shape {arr.shape})")
    if not np.issubdtype(arr.dtype, np.floating):
        arr = arr.astype(np.float64)
    return arr


def as_batch(X: object, name: str = "X") -> tuple[np.ndarray, bool]:
    """``X`` as a float ``(N, C, H, W)`` array; one image ``(C, H, W)`` becomes ``N = 1``.

    Returns ``(X4, single)``: ``single`` is True when ``X`` was one image, so that the caller can
    return its result unbatched.
    """
    arr = as_float_array(X, name, (3, 4))
    return (arr[None], True) if arr.ndim == 3 else (arr, False)


def as_shape(shape: object, name: str = "X_shape") -> tuple[tuple[int, int, int, int], bool]:
    """An array shape ``(N, C, H, W)`` or ``(C, H, W)`` as ints ``>= 1``: returns ``(shape4, single)``."""
    if not isinstance(shape, Sequence | np.ndarray):
        raise TypeError(f"{name} must be a tuple of ints, got {shape!r}")
    sizes = tuple(as_int(s, f"{name} entry") for s in shape)
    if len(sizes) not in (3, 4) or min(sizes) < 1:
        raise ValueError(f"{name} must be (N, C, H, W) or (C, H, W) with sizes >= 1, got {tuple(shape)}")
    full = sizes if len(sizes) == 4 else (1, *sizes)
    return full, len(sizes) == 3  # type: ignore[return-value]


def as_filters(F: object, C: int) -> np.ndarray:
    """``F`` as a float filter bank ``(K, C, fh, fw)`` whose depth matches the input's ``C`` channels."""
    arr = as_float_array(F, "F", (4,))
    if arr.shape[1] != C:
        raise ValueError(
            f"channel mismatch: X has C={C} channels but F {arr.shape} expects {arr.shape[1]} "
            f"(filters are (K, C, fh, fw) and span the input's whole depth)"
        )
    return arr


def as_bias(b: object | None, K: int) -> np.ndarray | None:
    """``b`` as a float ``(K,)`` bias, or None."""
    if b is None:
        return None
    arr = as_float_array(b, "b", (1,))
    if arr.shape != (K,):
        raise ValueError(f"b must have shape (K,) = ({K},), got {arr.shape}")
    return arr


def as_upstream(
    G: object, out_shape: tuple[int, ...], single: bool, what: str = "the forward output"
) -> np.ndarray:
    """The upstream gradient ``G``, which must have the forward output's shape, as ``out_shape`` (4-D).

    ``single``: the forward was called on one image, so ``G`` has ``out_shape[1:]``.
    """
    arr = as_float_array(G, "G", (3, 4))
    expected = tuple(out_shape[1:]) if single else tuple(out_shape)
    if arr.shape != expected:
        raise ValueError(f"G has shape {arr.shape} but {what} is {expected}")
    return arr.reshape(out_shape)


def as_indices(indices: object, out_shape: tuple[int, int, int, int], single: bool, plane: int) -> np.ndarray:
    """Max-pool ``indices`` as an integer array of shape ``out_shape`` with entries in ``[0, plane)``.

    ``indices`` holds the flat index ``row*W + col`` of each window's winner in its plane
    (``plane = H*W``); ``single``: the forward was called on one image.
    """
    expected = out_shape[1:] if single else out_shape
    arr = np.asarray(indices)
    if not np.issubdtype(arr.dtype, np.integer):
        raise TypeError(f"indices must hold integers, got dtype {arr.dtype}")
    if arr.shape != expected:
        raise ValueError(f"indices has shape {arr.shape} but the pooled output is {expected}")
    # one pass: seen as unsigned, a negative index is huge, so max() < plane checks both bounds
    unsigned = arr.view(f"u{arr.dtype.itemsize}") if arr.dtype.kind == "i" else arr
    if unsigned.max() >= plane:
        raise ValueError(f"indices must lie in [0, H*W) = [0, {plane}), got {arr.min()}..{arr.max()}")
    return arr.astype(np.intp, copy=False).reshape(out_shape)


__all__ += ["as_axis", "as_plane_shape", "positive_finite_float"]


def as_axis(axis: object, name: str = "axis") -> int:
    """An array axis as an int (negative counts from the end); :class:`TypeError` for floats and bools.

    ``axis=1.9`` is refused rather than truncated to 1.  The range is checked by the caller, who
    knows the array.
    """
    return as_int(axis, name)


def as_plane_shape(shape: object, name: str = "input_shape") -> tuple[int, int, int]:
    """One image's shape ``(C, H, W)``, or one plane ``(H, W)`` (then ``C = 1``), as ints ``>= 1``.

    :class:`TypeError` for None, a scalar, a string, or float/bool entries (``8.7`` is refused, not
    truncated); :class:`ValueError` for a wrong number of entries or sizes below 1.
    """
    if isinstance(shape, str | bytes) or not isinstance(shape, Sequence | np.ndarray):
        raise TypeError(f"{name} must be a tuple of ints (H, W) or (C, H, W), got {shape!r}")
    sizes = tuple(as_int(s, f"{name} entry") for s in shape)
    if len(sizes) not in (2, 3):
        raise ValueError(f"{name} must be (H, W) or (C, H, W), got {len(sizes)} entries: {tuple(shape)}")
    if min(sizes) < 1:
        raise ValueError(f"{name} must have sizes >= 1, got {tuple(shape)}")
    return (1, *sizes) if len(sizes) == 2 else sizes  # type: ignore[return-value]


def positive_finite_float(value: object, name: str) -> float:
    """``value`` as a finite float ``> 0``: :class:`TypeError` for bools and non-numbers,
    :class:`ValueError` for zero, negative, NaN or infinite values."""
    if isinstance(value, bool | np.bool_) or not isinstance(value, Integral | float | np.floating):
        raise TypeError(f"{name} must be a real number, got {value!r} of type {type(value).__name__}")
    number = float(value)
    if not np.isfinite(number) or number <= 0:
        raise ValueError(f"{name} must be finite and > 0, got {value!r}")
    return number


__all__ += ["as_float_dtype", "as_labels", "as_real", "as_real_finite_array", "as_rng"]


def as_real(
    value: object,
    name: str,
    low: float = -np.inf,
    high: float = np.inf,
    *,
    low_open: bool = False,
    high_open: bool = False,
) -> float:
    """``value`` as a finite float in ``[low, high]`` (``low_open``/``high_open`` exclude the end).

    :class:`TypeError` for bools, strings, None, arrays, complex and other non-real values;
    :class:`ValueError` for NaN, infinities and values outside the range.
    """
    if isinstance(value, bool | np.bool_) or not isinstance(value, Integral | float | np.floating):
        raise TypeError(f"{name} must be a real number, got {value!r} of type {type(value).__name__}")
    number = float(value)
    if not np.isfinite(number):
        raise ValueError(f"{name} must be finite, got {value!r}")
    if number < low or number > high or (low_open and number == low) or (high_open and number == high):
        left, right = "(" if low_open else "[", ")" if high_open else "]"
        raise ValueError(f"{name} must lie in {left}{low}, {high}{right}, got {value!r}")
    return number


def as_float_dtype(dtype: object, name: str = "dtype") -> np.dtype:
    """``dtype`` as ``np.dtype(float32)`` or ``np.dtype(float64)``; :class:`TypeError` for anything else.

    Integer dtypes are refused (He initialisation would truncate the weights to {-1, 0}), as are
    float16 (too coarse to train in) and complex.
    """
    try:
        dt = np.dtype(dtype)  # type: ignore[call-overload]
    except TypeError:
        raise TypeError(f"{name} must be np.float32 or np.float64, got {dtype!r}") from None
    if dt not in _FLOATS:
        raise TypeError(f"{name} must be np.float32 or np.float64, got {dtype!r} ({dt})")
    return dt


def as_rng(value: object, name: str = "rng") -> np.random.Generator | int | None:
    """A random source for :func:`numpy.random.default_rng`: a Generator, an int ``>= 0`` or None.

    None means fresh entropy from the operating system (independent draws every time).
    """
    if value is None or isinstance(value, np.random.Generator):
        return value
    number = as_int(value, name)  # TypeError for bools, floats, strings
    if number < 0:
        raise ValueError(f"{name} must be a non-negative int seed, a numpy Generator or None, got {value!r}")
    return number


def as_labels(y: object, classes: int, name: str = "y") -> np.ndarray:
    """Class labels as a 1-D integer array with every entry in ``[0, classes)``.

    :class:`TypeError` for non-integer dtypes (bool, float, object), :class:`ValueError` for a
    wrong number of dimensions or a label out of range.
    """
    arr = np.asarray(y)
    if arr.dtype == np.bool_ or not np.issubdtype(arr.dtype, np.integer):
        raise TypeError(f"{name} must be a 1-D integer array of labels, got dtype {arr.dtype}")
    if arr.ndim != 1:
        raise ValueError(f"{name} must be a 1-D integer array of labels, got shape {arr.shape}")
    if arr.size and (arr.min() < 0 or arr.max() >= classes):
        raise ValueError(
            f"{name} must lie in [0, {classes}) (the model's classes), got {arr.min()}..{arr.max()}"
        )
    return arr


def as_real_finite_array(x: object, name: str) -> np.ndarray:
    """``x`` as an array of real numbers with no NaN or infinity (empty arrays allowed).

    :class:`TypeError` for bool, complex, string and object arrays (a complex value is not cast
    with its imaginary part dropped); :class:`ValueError` for NaN or infinite entries.
    """
    arr = np.asarray(x)
    if arr.dtype == np.bool_ or not (
        np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)
    ):
        raise TypeError(f"{name} must hold real numbers, got dtype {arr.dtype}")
    if np.issubdtype(arr.dtype, np.floating) and not np.isfinite(arr).all():
        raise ValueError(f"{name} holds NaN or infinite values")
    return arr


__all__ += ["as_flat_positions"]


def as_flat_positions(positions: object, name: str, size: int) -> np.ndarray:
    """A non-empty 1-D array of positions in ``vec`` of an array of ``size`` entries, as ``intp``.

    :class:`TypeError` for non-integers (``1.5`` is not a position), :class:`ValueError` for an
    empty or multi-dimensional array or a position outside ``[0, size)``.
    """
    arr = np.asarray(positions)
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"{name} must be a non-empty 1-D array of positions, got shape {arr.shape}")
    if arr.dtype == bool or not np.issubdtype(arr.dtype, np.integer):
        raise TypeError(f"{name} must hold integer positions in vec(x), got dtype {arr.dtype}")
    if arr.min() < 0 or arr.max() >= size:
        raise ValueError(f"{name} must lie in [0, {size}), got {arr.min()}..{arr.max()}")
    return arr.astype(np.intp, copy=False)

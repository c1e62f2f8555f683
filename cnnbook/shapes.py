"""Hyper-parameters and shapes: the output-size rule and what it implies.

The output-size rule of a convolution (or pooling) along one axis is

    n' = floor((n + 2p - d(f - 1) - 1) / s) + 1

with input size ``n``, filter size ``f``, stride ``s``, padding ``p`` *per side* and dilation ``d``
(``d = 1``: no holes).  ``d(f - 1) + 1`` is the *effective* filter size: the span a dilated filter
covers.  When ``s`` does not divide ``n + 2p - d(f-1) - 1`` the last
``(n + 2p - d(f-1) - 1) mod s`` rows (or columns) of the padded input are never touched by the
filter; :func:`unused_size` reports that number.  A stride larger than what the (dilated) taps
cover also skips rows *between* windows (a 1x1 filter at stride 2 reads every other row; f=3, d=2,
s=2 reads only even rows): :func:`unread_rows` lists every row no tap reads, and
``conv_output_size(..., strict=True)`` refuses any configuration that leaves an *input* row unread.

The argument checks every routine shares (ints, pairs, float arrays) live in
:mod:`cnnbook._checks`.
"""

from __future__ import annotations

import numpy as np

from ._checks import IntPair, as_flag, as_int, as_pair

__all__ = [
    "conv_output_shape",
    "conv_output_size",
    "effective_size",
    "unread_rows",
    "unused_size",
]


def effective_size(kernel_size: int, dilation: int = 1) -> int:
    """Span of a dilated filter of ``f = kernel_size`` taps: ``d(f - 1) + 1`` (``f`` when ``d = 1``).

    Both must be ints ``>= 1``: :class:`TypeError` for floats and bools, :class:`ValueError` below 1.
    """
    f, d = as_int(kernel_size, "kernel_size"), as_int(dilation, "dilation")
    if f < 1:
        raise ValueError(f"kernel_size must be >= 1, got {kernel_size!r}")
    if d < 1:
        raise ValueError(f"dilation must be >= 1, got {dilation!r}")
    return d * (f - 1) + 1


def _check_scalars(n: int, f: int, stride: int, padding: int, dilation: int) -> tuple[int, ...]:
    n = as_int(n, "input size n")
    f = as_int(f, "kernel_size")
    stride = as_int(stride, "stride")
    padding = as_int(padding, "padding")
    dilation = as_int(dilation, "dilation")
    if n < 1:
        raise ValueError(f"input size n must be >= 1, got {n}")
    if f < 1:
        raise ValueError(f"kernel_size must be >= 1, got {f}")
    if stride < 1:
        raise ValueError(f"stride must be >= 1, got {stride}")
    if padding < 0:
        raise ValueError(f"padding must be >= 0, got {padding}")
    if dilation < 1:
        raise ValueError(f"dilation must be >= 1, got {dilation}")
    span = effective_size(f, dilation)
    if span > n + 2 * padding:
        what = f"filter size {f}" if dilation == 1 else f"dilated filter span {span} (f={f}, d={dilation})"
        raise ValueError(f"{what} is larger than the padded input {n + 2 * padding} (n={n}, p={padding})")
    return n, f, stride, padding, dilation


def unused_size(n: int, kernel_size: int, stride: int = 1, padding: int = 0, dilation: int = 1) -> int:
    """How many *trailing* rows/columns of the padded input lie beyond the last window.

    ``(n + 2p - d(f-1) - 1) mod s``; zero when the stride fits.  The lecture's 7x7 input with a
    3x3 filter at stride 3 leaves 1 row and 1 column unused.  This is also the ``output_padding``
    that :func:`cnnbook.conv_transpose2d` needs to give back an ``n``-sized input.  Rows skipped
    *between* windows are not counted here: see :func:`unread_rows`.
    """
    n, f, stride, padding, dilation = _check_scalars(n, kernel_size, stride, padding, dilation)
    return (n + 2 * padding - effective_size(f, dilation)) % stride


def unread_rows(
    n: int, kernel_size: int, stride: int = 1, padding: int = 0, dilation: int = 1
) -> tuple[int, ...]:
    """Every row (or column) of the padded input that no filter tap reads, 0-based.

    Indices run over the ``n + 2p`` padded rows (``padding`` of them above the input).  They are
    the :func:`unused_size` trailing rows plus, when ``s`` exceeds the gaps the taps cover, the rows
    skipped between windows: ``n=9, f=3, s=2, d=2`` reads rows 0, 2, 4, 6, 8 only.
    """
    n, f, stride, padding, dilation = _check_scalars(n, kernel_size, stride, padding, dilation)
    n_out = (n + 2 * padding - effective_size(f, dilation)) // stride + 1
    read = np.zeros(n + 2 * padding, dtype=bool)
    for i in range(f):  # tap i meets rows i*d, i*d + s, ..., i*d + s(n'-1)
        read[i * dilation : i * dilation + stride * (n_out - 1) + 1 : stride] = True
    return tuple(int(r) for r in np.flatnonzero(~read))


def conv_output_size(
    n: int, kernel_size: int, stride: int = 1, padding: int = 0, dilation: int = 1, *, strict: bool = False
) -> int:
    """Output size along one axis: ``floor((n + 2p - d(f-1) - 1)/s) + 1``.

    Parameters
    ----------
    n, kernel_size : input size and filter size (the lectures' f) along the axis.
    stride, padding, dilation : ``s >= 1``, ``p >= 0`` (zeros added on *each* side), ``d >= 1``.
    strict : if True, raise :class:`ValueError` when some rows/columns of the *input* are never
        read -- at the end (the stride does not fit) or between windows (the stride skips them) --
        stating how many and which (instead of silently dropping them).  Unread zero padding is
        allowed: it loses nothing (ResNet's f=3, s=2, p=1 on an even size leaves a padding row).

    Examples
    --------
    >>> conv_output_size(7, 3, stride=2)
    3
    >>> conv_output_size(32, 5, padding=2)
    32
    """
    strict = as_flag(strict, "strict")
    n, f, stride, padding, dilation = _check_scalars(n, kernel_size, stride, padding, dilation)
    room = n + 2 * padding - effective_size(f, dilation)
    if strict:
        # Only input rows count: a window that skips a row of zero padding loses nothing.
        lost = [
            r - padding for r in unread_rows(n, f, stride, padding, dilation) if padding <= r < padding + n
        ]
        if lost:
            last_read = n + 2 * padding - 1 - room % stride  # the last padded row any tap reaches
            at_end = sum(1 for r in lost if r + padding > last_read)
            between = len(lost) - at_end
            problem = f"stride {stride} does not fit" if at_end else "the windows skip input rows"
            where = f"{at_end} at the end" + (f", {between} between windows" if between else "")
            raise ValueError(
                f"{problem}: input {n} with padding {padding} and filter {f}"
                f"{'' if dilation == 1 else f' (dilation {dilation})'} leaves {len(lost)} input "
                f"row(s)/column(s) unread ({where}; input indices {lost}, 0-based)"
            )
    return room // stride + 1


def conv_output_shape(
    input_hw: tuple[int, int],
    kernel_size: IntPair,
    stride: IntPair = 1,
    padding: IntPair = 0,
    dilation: IntPair = 1,
) -> tuple[int, int]:
    """``(H', W')`` for an ``(H, W)`` input and a ``kernel_size`` filter (ints or ``(h, w)`` pairs)."""
    if not isinstance(input_hw, tuple | list) or len(input_hw) != 2:
        raise ValueError(f"input_hw must be an (H, W) pair, got {input_hw!r}")
    f = as_pair(kernel_size, "kernel_size", 1)
    s = as_pair(stride, "stride", 1)
    p = as_pair(padding, "padding", 0)
    d = as_pair(dilation, "dilation", 1)
    Ho = conv_output_size(input_hw[0], f[0], s[0], p[0], d[0])
    Wo = conv_output_size(input_hw[1], f[1], s[1], p[1], d[1])
    return Ho, Wo

"""The output-size rule and the rows a configuration leaves unread, against counting windows."""

import numpy as np
import pytest
from hypothesis import given

import cnnbook as cb

from .conftest import conv_cases


def coverage(n: int, f: int, s: int, p: int, d: int) -> np.ndarray:
    """How often each padded row is read: dL/dXpad of sum(S), all-ones filter, via the looped reference."""
    Xp = np.zeros((1, 1, n + 2 * p, 1))
    S = cb.conv2d_naive(Xp, np.ones((1, 1, f, 1)), stride=(s, 1), dilation=(d, 1))
    return cb.conv2d_backward_naive(
        np.ones_like(S), Xp, np.ones((1, 1, f, 1)), stride=(s, 1), dilation=(d, 1)
    )[0][0, 0, :, 0]


@given(conv_cases())
def test_output_size_counts_the_window_positions(case):
    n, f, s, p, d = case.H, case.fh, case.stride[0], case.padding[0], case.dilation[0]
    span = d * (f - 1) + 1
    assert cb.conv_output_size(n, f, s, p, d) == len(range(0, n + 2 * p - span + 1, s))


@given(conv_cases())
def test_unread_rows_are_exactly_the_rows_no_tap_reads(case):
    n, f, s, p, d = case.H, case.fh, case.stride[0], case.padding[0], case.dilation[0]
    unread = cb.unread_rows(n, f, s, p, d)
    assert unread == tuple(np.flatnonzero(coverage(n, f, s, p, d) == 0))
    trailing = cb.unused_size(n, f, s, p, d)
    assert unread[len(unread) - trailing :] == tuple(range(n + 2 * p - trailing, n + 2 * p))
    lost = [r for r in unread if p <= r < p + n]  # unread *input* rows; unread padding loses nothing
    if lost:
        with pytest.raises(ValueError, match=rf"leaves {len(lost)} input row"):
            cb.conv_output_size(n, f, s, p, d, strict=True)
    else:
        assert cb.conv_output_size(n, f, s, p, d, strict=True) == cb.conv_output_size(n, f, s, p, d)


def test_a_stride_larger_than_the_taps_skips_rows_between_windows():
    # f=3, d=2 reads rows i*2 + 2y: only even rows; the trailing remainder is 0 all the same
    assert cb.unused_size(9, 3, stride=2, dilation=2) == 0
    assert cb.unread_rows(9, 3, stride=2, dilation=2) == (1, 3, 5, 7)
    with pytest.raises(
        ValueError,
        match=r"skip input rows.*leaves 4 input row\(s\)/column\(s\) unread "
        r"\(0 at the end, 4 between windows; input indices \[1, 3, 5, 7\]",
    ):
        cb.conv_output_size(9, 3, stride=2, dilation=2, strict=True)
    assert cb.unread_rows(7, 1, stride=2) == (1, 3, 5)  # a 1x1 filter at stride 2
    assert cb.unread_rows(7, 3, stride=3) == (6,)  # the lectures' "does not fit": the last row


def test_strict_allows_a_stride_that_only_skips_padding():
    """ResNet's downsampling conv (f=3, s=2, p=1 on 32): the one unread row is zero padding."""
    assert cb.unread_rows(32, 3, stride=2, padding=1) == (33,)
    assert cb.conv_output_size(32, 3, stride=2, padding=1, strict=True) == 16


def test_shapes_exports_the_output_size_rule_only():
    from cnnbook import _checks, shapes

    assert sorted(shapes.__all__) == [
        "conv_output_shape",
        "conv_output_size",
        "effective_size",
        "unread_rows",
        "unused_size",
    ]
    assert not hasattr(shapes, "as_float_array") and not hasattr(shapes, "positive_int")
    assert {"IntPair", "as_int", "positive_int", "as_pair", "as_float_array", "as_batch"} <= set(
        _checks.__all__
    )


def test_conv_output_shape_takes_a_kernel_size():
    assert cb.conv_output_shape((7, 9), 3) == (5, 7)
    assert cb.conv_output_shape((7, 9), (3, 1), stride=(2, 3), padding=(1, 0), dilation=(1, 2)) == (4, 3)
    with pytest.raises(TypeError, match=r"kernel_size must be an int, got 3\.0"):
        cb.conv_output_shape((7, 9), 3.0)


def test_the_checks_name_the_argument():
    from cnnbook._checks import as_batch, as_int, as_pair, positive_int

    X4, single = as_batch(np.zeros((3, 4, 5)))
    assert X4.shape == (1, 3, 4, 5) and single
    assert as_batch(np.zeros((2, 3, 4, 5)))[1] is False
    assert as_pair(3, "stride", 1) == (3, 3) and as_pair([1, 2], "padding", 0) == (1, 2)
    assert as_int(np.int64(4), "n") == 4 and positive_int(2, "epochs") == 2
    with pytest.raises(TypeError, match="epochs must be an int, got True"):
        positive_int(True, "epochs")
    with pytest.raises(ValueError, match="epochs must be a positive int, got 0"):
        positive_int(0, "epochs")


def test_effective_size_takes_integer_types():
    from cnnbook.shapes import effective_size

    assert effective_size(3) == 3
    assert effective_size(np.int64(3), np.int32(2)) == 5


def test_counting_windows_by_a_loop_equals_the_backward_pass_of_an_all_ones_filter():
    """Lesson 02 counts the windows reading each pixel with a loop; dL/dX of sum(S) is the same count."""
    settings = [(7, 3, 3, 0, 1), (7, 3, 4, 0, 1), (9, 3, 2, 0, 2), (6, 3, 2, 1, 1), (7, 3, 1, 1, 1)]
    for n, f, s, p, d in settings:
        count = np.zeros((n + 2 * p, n + 2 * p), dtype=int)
        span = d * (f - 1) + 1
        for r in range(0, n + 2 * p - span + 1, s):
            for c in range(0, n + 2 * p - span + 1, s):
                count[r : r + span : d, c : c + span : d] += 1
        X0, ones = np.zeros((1, n, n)), np.ones((1, 1, f, f))
        G = np.ones_like(cb.conv2d(X0, ones, stride=s, padding=p, dilation=d))
        dX = cb.conv2d_backward(G, X0, ones, stride=s, padding=p, dilation=d)[0][0]
        np.testing.assert_array_equal(dX, count[p : p + n, p : p + n])
        assert cb.unread_rows(n, f, s, p, d) == tuple(np.flatnonzero(count.sum(axis=1) == 0))


def test_a_5x5_filter_at_stride_2_on_32_leaves_one_row_which_padding_makes_harmless():
    """Lesson 02's "P = whatever fits": 32 + 2P - 5 is odd, the unread row is the last padded one."""
    for P in range(4):
        assert cb.unread_rows(32, 5, stride=2, padding=P) == (32 + 2 * P - 1,)
        if P == 0:
            with pytest.raises(ValueError, match="leaves 1 input row"):
                cb.conv_output_size(32, 5, stride=2, padding=P, strict=True)
        else:
            assert cb.conv_output_size(32, 5, stride=2, padding=P, strict=True) == 14 + P


def test_strict_accepts_the_7x7_settings_that_leave_only_padding_unread():
    """Lesson 02's table: at s=3, P=2 and P=3 the unread rows are padding; s=4 always loses input."""
    for P, unread in [(2, (9, 10)), (3, (12,))]:
        assert cb.unread_rows(7, 3, stride=3, padding=P) == unread
        assert cb.conv_output_size(7, 3, stride=3, padding=P, strict=True) == 3 + (P == 3)
    for P in range(4):
        with pytest.raises(ValueError):
            cb.conv_output_size(7, 3, stride=4, padding=P, strict=True)

"""im2col / col2im: layout, adjointness, and the link to the lectures' M_X."""

import numpy as np
from hypothesis import given

import cnnbook as cb
from cnnbook.matrices import make_MX

from .conftest import conv_cases


@given(conv_cases(max_size=7))
def test_im2col_matches_looped_reference(case):
    X, _, _ = case.arrays()
    cols = cb.im2col(X, case.fh, case.fw, **case.kwargs)
    Ho, Wo = case.out_hw()
    assert cols.shape == (case.C * case.fh * case.fw, case.N * Ho * Wo)
    np.testing.assert_array_equal(cols, cb.im2col_naive(X, case.fh, case.fw, **case.kwargs))


@given(conv_cases(max_size=7))
def test_col2im_is_the_adjoint_of_im2col(case):
    """<im2col(x), y> == <x, col2im(y)> for random x, y."""
    X, _, _ = case.arrays()
    args = (case.fh, case.fw)
    cols = cb.im2col(X, *args, **case.kwargs)
    Y = np.random.default_rng(case.seed + 3).standard_normal(cols.shape)
    back = cb.col2im(Y, X.shape, *args, **case.kwargs)
    assert back.shape == X.shape
    assert np.isclose(np.vdot(cols, Y), np.vdot(X, back), rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(back, cb.col2im_naive(Y, X.shape, *args, **case.kwargs), atol=1e-12)


def test_one_image_columns_are_M_X_transposed(rng):
    X = rng.standard_normal((2, 6, 6))
    np.testing.assert_array_equal(cb.im2col(X, 3, 3).T, make_MX(X, (2, 3, 3)))


def test_rows_follow_vec_F_order_and_columns_vec_S_order():
    X = np.arange(2 * 4 * 5, dtype=float).reshape(1, 2, 4, 5)
    cols = cb.im2col(X, 2, 3)
    # row (c, i, j) = (1, 0, 2) is row 1*6 + 0*3 + 2 = 8; column (y, x) = (1, 2) is 1*3 + 2 = 5
    assert cols[8, 5] == X[0, 1, 1 + 0, 2 + 2]


def test_single_image_and_batch_agree(rng):
    X = rng.standard_normal((3, 5, 6))
    np.testing.assert_array_equal(cb.im2col(X, 2, 2, stride=2), cb.im2col(X[None], 2, 2, stride=2))
    cols = cb.im2col(X, 2, 2, stride=2)
    assert cb.col2im(cols, X.shape, 2, 2, stride=2).shape == X.shape


@given(conv_cases(max_size=7))
def test_convs_working_layout_is_im2col_plus_garbage_columns(case):
    """conv2d's full-row layout: every output row at W + 2p columns; the first W' are im2col's."""
    from cnnbook.im2col import Geometry, _conv_col2im, _conv_im2col, _work_width

    X, _, _ = case.arrays()
    g = Geometry(X.shape, case.fh, case.fw, **case.kwargs)
    Wq = _work_width(g)
    work = _conv_im2col(X, g).reshape(-1, case.N, g.Ho, Wq)
    exact = cb.im2col(X, case.fh, case.fw, **case.kwargs).reshape(-1, case.N, g.Ho, g.Wo)
    np.testing.assert_array_equal(work[..., : g.Wo], exact)
    # its col2im is the adjoint of its im2col on inputs whose garbage columns are zero
    Y = np.zeros_like(work)
    Y[..., : g.Wo] = np.random.default_rng(case.seed).standard_normal(exact.shape)
    back = _conv_col2im(Y.reshape(work.shape[0], -1), g)
    assert np.isclose(np.vdot(work, Y), np.vdot(X, back), rtol=1e-10, atol=1e-10)


def test_geometry_is_immutable_because_it_is_shared():
    import pytest

    from cnnbook.im2col import geometry

    g = geometry((1, 1, 6, 6), 3, 3)
    with pytest.raises(AttributeError, match="Geometry is immutable"):
        g.Ho = 1
    assert geometry((1, 1, 6, 6), 3, 3).Ho == 4


def test_col2im_refuses_a_non_integer_shape():
    import pytest

    with pytest.raises(TypeError, match="X_shape entry must be an int, got 4.9"):
        cb.col2im(np.zeros((9, 4)), (1, 1, 4.9, 4), 3, 3)

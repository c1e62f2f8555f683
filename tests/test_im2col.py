"""im2col / col2im: layout, adjointness, and the link to the lectures' M_X."""

import dataclasses
import types

import numpy as np
import pytest
from hypothesis import given

import cnnbook as cb
from cnnbook.im2col import Geometry
from cnnbook.matrices import make_MX

from .conftest import conv_cases


@given(conv_cases(max_size=7))
def test_im2col_matches_looped_reference(case):
    X, _, _ = case.arrays()
    cols = cb.im2col(X, (case.fh, case.fw), **case.kwargs)
    Ho, Wo = case.out_hw()
    assert cols.shape == (case.C * case.fh * case.fw, case.N * Ho * Wo)
    np.testing.assert_array_equal(cols, cb.im2col_naive(X, (case.fh, case.fw), **case.kwargs))


@given(conv_cases(max_size=7))
def test_col2im_is_the_adjoint_of_im2col(case):
    """<im2col(x), y> == <x, col2im(y)> for random x, y."""
    X, _, _ = case.arrays()
    kernel_size = (case.fh, case.fw)
    cols = cb.im2col(X, kernel_size, **case.kwargs)
    Y = np.random.default_rng(case.seed + 3).standard_normal(cols.shape)
    back = cb.col2im(Y, X.shape, kernel_size, **case.kwargs)
    assert back.shape == X.shape
    assert np.isclose(np.vdot(cols, Y), np.vdot(X, back), rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(back, cb.col2im_naive(Y, X.shape, kernel_size, **case.kwargs), atol=1e-12)


def test_one_image_columns_are_M_X_transposed(rng):
    X = rng.standard_normal((2, 6, 6))
    np.testing.assert_array_equal(cb.im2col(X, 3).T, make_MX(X, 3))
    np.testing.assert_array_equal(cb.im2col(X, (3, 3)).T, make_MX(X, (3, 3)))


def test_rows_follow_vec_F_order_and_columns_vec_S_order():
    X = np.arange(2 * 4 * 5, dtype=float).reshape(1, 2, 4, 5)
    cols = cb.im2col(X, (2, 3))
    # row (c, i, j) = (1, 0, 2) is row 1*6 + 0*3 + 2 = 8; column (y, x) = (1, 2) is 1*3 + 2 = 5
    assert cols[8, 5] == X[0, 1, 1 + 0, 2 + 2]


def test_single_image_and_batch_agree(rng):
    X = rng.standard_normal((3, 5, 6))
    np.testing.assert_array_equal(cb.im2col(X, 2, stride=2), cb.im2col(X[None], 2, stride=2))
    cols = cb.im2col(X, 2, stride=2)
    assert cb.col2im(cols, X.shape, 2, stride=2).shape == X.shape
    np.testing.assert_array_equal(
        cb.col2im(cols, X.shape, 2, stride=2), cb.col2im(cols, (1, *X.shape), 2, 2)[0]
    )


def test_geometry_is_a_frozen_dataclass_built_by_of():
    g = Geometry.of((1, 1, 6, 7), (3, 2), stride=(1, 2), padding=1)
    assert dataclasses.is_dataclass(g)
    assert (g.Ho, g.Wo) == (6, 4) and (g.fh, g.fw, g.sh, g.sw, g.ph, g.pw) == (3, 2, 1, 2, 1, 1)
    assert g.cols_shape == (6, 24) and g.X_shape == (1, 1, 6, 7)
    with pytest.raises(dataclasses.FrozenInstanceError):
        g.Ho = 1  # type: ignore[misc]
    assert Geometry.of((1, 6, 7), (3, 2), (1, 2), 1) == g  # one image: N = 1
    with pytest.raises(TypeError, match=r"kernel_size must be an int, got 2\.0"):
        Geometry.of((1, 1, 6, 7), (3, 2.0))


def test_cnnbook_im2col_is_the_module_and_calls_the_function(rng):
    """`import cnnbook.im2col as m` is the module; `cnnbook.im2col(X, 3)` still unfolds X."""
    import cnnbook.im2col as m

    assert isinstance(m, types.ModuleType) and m is cb.im2col
    assert callable(m.col2im) and m.col2im is cb.col2im and m.Geometry is Geometry
    X = rng.standard_normal((2, 3, 5, 6))
    np.testing.assert_array_equal(cb.im2col(X, 3), m.im2col(X, 3))
    np.testing.assert_array_equal(cb.im2col(X, (2, 3), stride=2, padding=1), m.im2col(X, (2, 3), 2, 1))
    from cnnbook import im2col

    np.testing.assert_array_equal(im2col(X, 3), m.im2col(X, 3))


def test_col2im_refuses_a_non_integer_shape():
    with pytest.raises(TypeError, match=r"X_shape entry must be an int, got 4\.9"):
        cb.col2im(np.zeros((9, 4)), (1, 1, 4.9, 4), 3)

"""Max and average pooling against the looped reference, finite differences and A_MaxPool."""

import numpy as np
import pytest
from hypothesis import given

import cnnbook as cb
from cnnbook.gradcheck import numerical_gradient, rel_error

from .conftest import pool_cases


@given(pool_cases())
def test_forward_matches_looped_reference(case):
    X = case.array()
    out = cb.maxpool2d(X, **case.kwargs)
    np.testing.assert_array_equal(out, cb.maxpool2d_naive(X, **case.kwargs))
    np.testing.assert_array_equal(cb.maxpool2d(X, **case.kwargs, return_indices=True)[0], out)
    avg = cb.avgpool2d(X, **case.kwargs)
    np.testing.assert_allclose(avg, cb.avgpool2d_naive(X, **case.kwargs), rtol=1e-12, atol=1e-12)


@given(pool_cases())
def test_indices_point_at_the_maximum_and_ties_go_to_the_first(case):
    X = case.array(ties=True)
    out, indices = cb.maxpool2d(X, **case.kwargs, return_indices=True)
    assert indices.shape == out.shape and np.issubdtype(indices.dtype, np.integer)
    flat = X.reshape(case.N, case.C, -1)
    winners = np.take_along_axis(flat, indices.reshape(case.N, case.C, -1), axis=2)
    np.testing.assert_array_equal(winners.reshape(out.shape), out)
    # first maximum in row-major order inside the window: no earlier window cell equals the max
    (sh, sw), (ph, pw), (rh, rw) = case.stride, case.padding, case.kernel_size
    n, c, y, x = 0, 0, 0, 0
    r, col = divmod(int(indices[n, c, y, x]), case.W)
    for i in range(rh):
        for j in range(rw):
            rr, cc = y * sh + i - ph, x * sw + j - pw
            if (rr, cc) == (r, col):
                return
            if 0 <= rr < case.H and 0 <= cc < case.W:
                assert X[n, c, rr, cc] < out[n, c, y, x]


@given(pool_cases())
def test_backward_is_the_transpose_of_the_forward(case):
    """<pool(X), G> is linear in X for a fixed winner pattern: check <A x, g> == <x, A^T g>."""
    X = case.array()
    G = np.random.default_rng(case.seed + 1).standard_normal(cb.maxpool2d(X, **case.kwargs).shape)
    for pool, back in ((cb.maxpool2d, cb.maxpool2d_backward), (cb.avgpool2d, cb.avgpool2d_backward)):
        out = pool(X, **case.kwargs)
        dX = back(G, X, **case.kwargs)
        assert dX.shape == X.shape
        assert np.vdot(out, G) == pytest.approx(np.vdot(X, dX), rel=1e-10, abs=1e-10)
    # the winners from the forward or found again: the same gradient
    _, indices = cb.maxpool2d(X, **case.kwargs, return_indices=True)
    np.testing.assert_array_equal(
        cb.maxpool2d_backward(G, X, **case.kwargs, indices=indices),
        cb.maxpool2d_backward(G, X, **case.kwargs),
    )


@pytest.mark.parametrize(
    "kernel_size,stride,padding", [(2, None, 0), (3, 2, 1), (3, 1, 0), ((2, 3), (1, 2), (1, 0))]
)
def test_backward_matches_finite_differences(rng, kernel_size, stride, padding):
    # distinct values far apart: no ties, so max pooling is differentiable at X
    X = rng.permutation(2 * 3 * 7 * 6).reshape(2, 3, 7, 6).astype(float)
    kw = dict(kernel_size=kernel_size, stride=stride, padding=padding)
    for pool, back in ((cb.maxpool2d, cb.maxpool2d_backward), (cb.avgpool2d, cb.avgpool2d_backward)):
        out = pool(X, **kw)
        G = rng.standard_normal(out.shape)
        numeric = numerical_gradient(lambda _, pool=pool, G=G: np.vdot(pool(X, **kw), G), X, h=1e-3)
        assert rel_error(back(G, X, **kw), numeric) < 1e-8


def test_overlapping_windows_add_their_gradients():
    X = np.zeros((1, 1, 3, 3))
    X[0, 0, 1, 1] = 5.0  # the centre wins all four 2x2 windows at stride 1
    out = cb.maxpool2d(X, 2, stride=1)
    assert out.shape == (1, 1, 2, 2) and (out == 5).all()
    dX = cb.maxpool2d_backward(np.ones((1, 1, 2, 2)), X, 2, stride=1)
    assert dX[0, 0, 1, 1] == 4.0 and dX.sum() == 4.0


def test_max_padding_never_wins_and_avg_padding_counts_as_zero():
    X = -np.ones((1, 1, 2, 2))
    out = cb.maxpool2d(X, 2, stride=2, padding=1)
    assert (out == -1).all()
    avg = cb.avgpool2d(X, 2, stride=2, padding=1)
    assert (avg == -0.25).all()


def test_float32_and_single_image(rng):
    X = rng.standard_normal((3, 6, 6)).astype(np.float32)
    for pool, back in ((cb.maxpool2d, cb.maxpool2d_backward), (cb.avgpool2d, cb.avgpool2d_backward)):
        out = pool(X, 2)
        assert out.shape == (3, 3, 3) and out.dtype == np.float32
        dX = back(np.ones_like(out), X, 2)
        assert dX.shape == X.shape and dX.dtype == np.float32


def test_nan_is_the_maximum_of_its_window_and_gets_the_gradient():
    X = np.arange(16, dtype=float).reshape(1, 1, 4, 4)
    X[0, 0, 0, 1] = np.nan
    out, indices = cb.maxpool2d(X, 2, return_indices=True)
    assert np.isnan(out[0, 0, 0, 0]) and np.isfinite(out[0, 0, 1:, :]).all() and out[0, 0, 0, 1] == 7
    assert indices[0, 0, 0, 0] == 1  # the NaN's position
    dX = cb.maxpool2d_backward(np.ones_like(out), X, 2)
    assert dX[0, 0, 0, 1] == 1 and dX[0, 0, 0, 0] == 0 and dX.sum() == 4


@pytest.mark.parametrize("kernel_size", [2, 3, (4, 4), (5, 4)])  # 4, 9, 16 and 20 window cells
def test_the_winner_is_the_first_maximum_for_every_window_size(rng, kernel_size):
    X = rng.integers(0, 2, (2, 2, 10, 10)).astype(float)  # many ties
    out, indices = cb.maxpool2d(X, kernel_size, stride=1, return_indices=True)
    r = (kernel_size, kernel_size) if isinstance(kernel_size, int) else kernel_size
    for n, c, y, x in np.ndindex(out.shape):
        window = X[n, c, y : y + r[0], x : x + r[1]]
        first = np.flatnonzero(window.ravel() == window.max())[0]
        i, j = divmod(first, r[1])
        assert indices[n, c, y, x] == (y + i) * 10 + (x + j)


def test_backward_checks_the_indices_it_is_given(rng):
    X = rng.standard_normal((1, 2, 4, 4))
    out, indices = cb.maxpool2d(X, 2, return_indices=True)
    assert indices.shape == out.shape == (1, 2, 2, 2)
    assert ((indices >= 0) & (indices < 16)).all()
    with pytest.raises(
        ValueError, match=r"indices has shape \(2, 2, 2\) but the pooled output is \(1, 2, 2, 2\)"
    ):
        cb.maxpool2d_backward(out, X, 2, indices=indices[0])
    with pytest.raises(TypeError, match="indices must hold integers, got dtype float64"):
        cb.maxpool2d_backward(out, X, 2, indices=indices.astype(float))
    with pytest.raises(ValueError, match=r"indices must lie in \[0, H\*W\) = \[0, 16\), got -1..15"):
        cb.maxpool2d_backward(out, X, 2, indices=np.where(indices == indices.max(), -1, 15))
    with pytest.raises(
        ValueError, match=r"G has shape \(1, 2, 4, 4\) but the pooled output is \(1, 2, 2, 2\)"
    ):
        cb.avgpool2d_backward(X, X, 2)


def test_stride_defaults_to_the_window(rng):
    X = rng.standard_normal((2, 3, 6, 6))
    np.testing.assert_array_equal(cb.maxpool2d(X, 3), cb.maxpool2d(X, 3, stride=3))
    np.testing.assert_array_equal(cb.avgpool2d(X, (2, 3)), cb.avgpool2d(X, (2, 3), (2, 3)))
    assert cb.maxpool2d(X, (2, 3)).shape == (2, 3, 3, 2)


def test_an_all_minus_inf_window_routes_to_a_pixel_of_its_own_window():
    X = np.full((1, 1, 3, 3), -np.inf)
    out, indices = cb.maxpool2d(X, 2, 2, padding=1, return_indices=True)
    # window (0, 1) covers padded columns 2-3, i.e. input column 1 (and padding): pixel 1 of row 0
    assert indices[0, 0].tolist() == [[0, 1], [3, 4]]
    assert (out == -np.inf).all()
    dX = cb.maxpool2d_backward(np.ones_like(out), X, 2, 2, padding=1)
    assert dX[0, 0].tolist() == [[1, 1, 0], [1, 1, 0], [0, 0, 0]]


@pytest.mark.parametrize(
    "backward", [cb.maxpool2d_backward, cb.fast.maxpool2d_backward], ids=["core", "fast"]
)
def test_backward_refuses_bad_indices_naming_them(backward):
    X = np.random.default_rng(1).standard_normal((2, 2, 4, 4))
    out, indices = cb.maxpool2d(X, 2, return_indices=True)
    G = np.ones_like(out)
    np.testing.assert_array_equal(backward(G, X, 2, indices=indices), cb.maxpool2d_backward(G, X, 2))
    for bad, error in [
        (indices.astype(float), TypeError),
        (indices[:1], ValueError),
        (indices + 16, ValueError),
        (indices - 1 - indices.max(), ValueError),
    ]:
        with pytest.raises(error, match="indices"):
            backward(G, X, 2, indices=bad)


def test_pool_geometry_takes_one_image_shape_like_geometry_of():
    from cnnbook.pool import pool_geometry

    one = pool_geometry((3, 4, 4), 2)
    batched = pool_geometry((1, 3, 4, 4), 2)
    assert (one.N, one.Ho, one.Wo) == (batched.N, batched.Ho, batched.Wo) == (3, 2, 2)
    assert pool_geometry((np.int64(2), 3, 4, 4), 2).N == 6

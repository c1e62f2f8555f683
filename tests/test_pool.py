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
    out, cache = cb.maxpool2d(X, **case.kwargs)
    np.testing.assert_array_equal(out, cb.maxpool2d_naive(X, **case.kwargs))
    avg, _ = cb.avgpool2d(X, **case.kwargs)
    np.testing.assert_allclose(avg, cb.avgpool2d_naive(X, **case.kwargs), rtol=1e-12, atol=1e-12)


@given(pool_cases())
def test_argmax_points_at_the_maximum_and_ties_go_to_the_first(case):
    X = case.array(ties=True)
    out, cache = cb.maxpool2d(X, **case.kwargs)
    flat = X.reshape(case.N, case.C, -1)
    winners = np.take_along_axis(flat, cache["argmax"].reshape(case.N, case.C, -1), axis=2)
    np.testing.assert_array_equal(winners.reshape(out.shape), out)
    # first maximum in row-major order inside the window: no earlier window cell equals the max
    (sh, sw), (ph, pw), (rh, rw) = case.stride, case.padding, case.size
    n, c, y, x = 0, 0, 0, 0
    r, col = divmod(int(cache["argmax"][n, c, y, x]), case.W)
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
    G = np.random.default_rng(case.seed + 1).standard_normal(cb.maxpool2d(X, **case.kwargs)[0].shape)
    for pool, back in ((cb.maxpool2d, cb.maxpool2d_backward), (cb.avgpool2d, cb.avgpool2d_backward)):
        out, cache = pool(X, **case.kwargs)
        dX = back(G, cache)
        assert dX.shape == X.shape
        assert np.vdot(out, G) == pytest.approx(np.vdot(X, dX), rel=1e-10, abs=1e-10)


@pytest.mark.parametrize(
    "size,stride,padding", [(2, None, 0), (3, 2, 1), (3, 1, 0), ((2, 3), (1, 2), (1, 0))]
)
def test_backward_matches_finite_differences(rng, size, stride, padding):
    # distinct values far apart: no ties, so max pooling is differentiable at X
    X = rng.permutation(2 * 3 * 7 * 6).reshape(2, 3, 7, 6).astype(float)
    kw = dict(size=size, stride=stride, padding=padding)
    for pool, back in ((cb.maxpool2d, cb.maxpool2d_backward), (cb.avgpool2d, cb.avgpool2d_backward)):
        out, cache = pool(X, **kw)
        G = rng.standard_normal(out.shape)
        numeric = numerical_gradient(lambda _: np.vdot(pool(X, **kw)[0], G), X, h=1e-3)
        assert rel_error(back(G, cache), numeric) < 1e-8


def test_overlapping_windows_add_their_gradients():
    X = np.zeros((1, 1, 3, 3))
    X[0, 0, 1, 1] = 5.0  # the centre wins all four 2x2 windows at stride 1
    out, cache = cb.maxpool2d(X, 2, stride=1)
    assert out.shape == (1, 1, 2, 2) and (out == 5).all()
    dX = cb.maxpool2d_backward(np.ones((1, 1, 2, 2)), cache)
    assert dX[0, 0, 1, 1] == 4.0 and dX.sum() == 4.0


def test_max_padding_never_wins_and_avg_padding_counts_as_zero():
    X = -np.ones((1, 1, 2, 2))
    out, _ = cb.maxpool2d(X, 2, stride=2, padding=1)
    assert (out == -1).all()
    avg, _ = cb.avgpool2d(X, 2, stride=2, padding=1)
    assert (avg == -0.25).all()


def test_float32_and_single_image(rng):
    X = rng.standard_normal((3, 6, 6)).astype(np.float32)
    for pool, back in ((cb.maxpool2d, cb.maxpool2d_backward), (cb.avgpool2d, cb.avgpool2d_backward)):
        out, cache = pool(X, 2)
        assert out.shape == (3, 3, 3) and out.dtype == np.float32
        dX = back(np.ones_like(out), cache)
        assert dX.shape == X.shape and dX.dtype == np.float32


def test_nan_is_the_maximum_of_its_window_and_gets_the_gradient():
    X = np.arange(16, dtype=float).reshape(1, 1, 4, 4)
    X[0, 0, 0, 1] = np.nan
    out, cache = cb.maxpool2d(X, 2)
    assert np.isnan(out[0, 0, 0, 0]) and np.isfinite(out[0, 0, 1:, :]).all() and out[0, 0, 0, 1] == 7
    dX = cb.maxpool2d_backward(np.ones_like(out), cache)
    assert dX[0, 0, 0, 1] == 1 and dX[0, 0, 0, 0] == 0 and dX.sum() == 4


@pytest.mark.parametrize("size", [2, 3, (4, 4), (5, 4)])  # 4, 9, 16 and 20 window cells: every code path
def test_the_winner_is_the_first_maximum_for_every_window_size(rng, size):
    X = rng.integers(0, 2, (2, 2, 10, 10)).astype(float)  # many ties
    out, cache = cb.maxpool2d(X, size, stride=1)
    r = (size, size) if isinstance(size, int) else size
    for n, c, y, x in np.ndindex(out.shape):
        window = X[n, c, y : y + r[0], x : x + r[1]]
        first = np.flatnonzero(window.ravel() == window.max())[0]
        i, j = divmod(first, r[1])
        assert cache["argmax"][n, c, y, x] == (y + i) * 10 + (x + j)


def test_backward_refuses_the_other_kinds_cache(rng):
    X = rng.standard_normal((1, 1, 4, 4))
    out, max_cache = cb.maxpool2d(X, 2)
    _, avg_cache = cb.avgpool2d(X, 2)
    with pytest.raises(
        ValueError, match="avgpool2d_backward needs the cache of avgpool2d, got a cache of kind 'max'"
    ):
        cb.avgpool2d_backward(out, max_cache)
    with pytest.raises(ValueError, match="maxpool2d_backward needs the cache of maxpool2d"):
        cb.maxpool2d_backward(out, avg_cache)


def test_an_all_minus_inf_window_routes_to_a_pixel_of_its_own_window():
    X = np.full((1, 1, 3, 3), -np.inf)
    out, cache = cb.maxpool2d(X, 2, 2, padding=1)
    # window (0, 1) covers padded columns 2-3, i.e. input column 1 (and padding): pixel 1 of row 0
    assert cache["argmax"][0, 0].tolist() == [[0, 1], [3, 4]]

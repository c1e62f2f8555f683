"""conv2d / conv2d_backward / conv_transpose2d against independent oracles.

Oracles: the looped reference, scipy.signal.correlate2d (summed over channels), central finite
differences, and the adjoint identity <conv(X), G> = <X, conv_transpose(G)>.
"""

import numpy as np
import pytest
from hypothesis import given
from scipy.signal import convolve2d, correlate2d

import cnnbook as cb
from cnnbook.gradcheck import numerical_gradient, rel_error

from .conftest import conv_cases


@given(conv_cases())
def test_forward_matches_looped_reference(case):
    X, F, b = case.arrays()
    S = cb.conv2d(X, F, b, **case.kwargs)
    assert S.shape == (case.N, case.K, *case.out_hw())
    np.testing.assert_allclose(S, cb.conv2d_naive(X, F, b, **case.kwargs), rtol=1e-12, atol=1e-12)


@given(conv_cases())
def test_backward_matches_looped_reference(case):
    X, F, _ = case.arrays()
    G = np.random.default_rng(case.seed + 1).standard_normal((case.N, case.K, *case.out_hw()))
    for vectorized, slow in zip(
        cb.conv2d_backward(G, X, F, **case.kwargs), cb.conv2d_backward_naive(G, X, F, **case.kwargs)
    ):
        np.testing.assert_allclose(vectorized, slow, rtol=1e-12, atol=1e-12)


@given(conv_cases())
def test_transposed_convolution_is_the_input_gradient(case):
    X, F, _ = case.arrays()
    G = np.random.default_rng(case.seed + 2).standard_normal((case.N, case.K, *case.out_hw()))
    dX = cb.conv2d_backward(G, X, F, **case.kwargs)[0]
    # output_padding picks the input size among those giving the same H'
    op = tuple(
        cb.unused_size(n, f, s, p, d)
        for n, f, s, p, d in zip(
            (case.H, case.W), (case.fh, case.fw), case.stride, case.padding, case.dilation
        )
    )
    Y = cb.conv_transpose2d(G, F, output_padding=op, **case.kwargs)
    assert Y.shape == X.shape
    np.testing.assert_allclose(Y, dX, rtol=1e-12, atol=1e-12)
    # the adjoint identity, independent of either implementation's internals
    lhs = np.vdot(cb.conv2d_naive(X, F, **case.kwargs), G)
    assert lhs == pytest.approx(np.vdot(X, Y), rel=1e-10, abs=1e-10)


def test_forward_matches_scipy_correlate2d(rng):
    X = rng.standard_normal((2, 3, 9, 7))
    F = rng.standard_normal((4, 3, 3, 2))
    S = cb.conv2d(X, F)
    for n in range(2):
        for k in range(4):
            ref = sum(correlate2d(X[n, c], F[k, c], mode="valid") for c in range(3))
            np.testing.assert_allclose(S[n, k], ref, rtol=1e-12, atol=1e-12)


def test_cross_correlation_is_convolution_with_the_flipped_filter(rng):
    X = rng.standard_normal((1, 1, 6, 6))
    F = rng.standard_normal((1, 1, 3, 3))
    np.testing.assert_allclose(cb.conv2d(X, F)[0, 0], convolve2d(X[0, 0], F[0, 0, ::-1, ::-1], mode="valid"))


def test_input_gradient_is_full_convolution_with_the_filter(rng):
    """dL/dX = G_zero-pad * F^rot180 (stride 1): a 'full' true convolution of G with F."""
    X = rng.standard_normal((1, 1, 6, 6))
    F = rng.standard_normal((1, 1, 3, 3))
    G = rng.standard_normal((1, 1, 4, 4))
    dX = cb.conv2d_backward(G, X, F)[0]
    np.testing.assert_allclose(dX[0, 0], convolve2d(G[0, 0], F[0, 0], mode="full"), atol=1e-12)
    G_zero_pad = np.pad(G[0, 0], 2)
    np.testing.assert_allclose(
        dX[0, 0], correlate2d(G_zero_pad, F[0, 0, ::-1, ::-1], mode="valid"), atol=1e-12
    )


@pytest.mark.parametrize(
    "stride,padding,dilation", [(1, 0, 1), (2, 1, 1), ((2, 3), (1, 0), (2, 1)), (3, 2, 2)]
)
def test_backward_matches_finite_differences(rng, stride, padding, dilation):
    X = rng.standard_normal((2, 2, 7, 8))
    F = rng.standard_normal((3, 2, 3, 2))
    b = rng.standard_normal(3)
    kw = dict(stride=stride, padding=padding, dilation=dilation)
    G = rng.standard_normal(cb.conv2d(X, F, b, **kw).shape)
    loss = lambda: np.vdot(cb.conv2d(X, F, b, **kw), G)  # noqa: E731  dL/dS = G
    dX, dF, db = cb.conv2d_backward(G, X, F, **kw)
    assert rel_error(dX, numerical_gradient(lambda _: loss(), X)) < 1e-8
    assert rel_error(dF, numerical_gradient(lambda _: loss(), F)) < 1e-8
    assert rel_error(db, numerical_gradient(lambda _: loss(), b)) < 1e-8


def test_single_image_is_accepted_and_returned_unbatched(rng):
    X = rng.standard_normal((3, 6, 5))
    F = rng.standard_normal((2, 3, 3, 3))
    S = cb.conv2d(X, F, padding=1)
    assert S.shape == (2, 6, 5)
    np.testing.assert_allclose(S, cb.conv2d(X[None], F, padding=1)[0])
    dX, dF, db = cb.conv2d_backward(np.ones_like(S), X, F, padding=1)
    assert dX.shape == X.shape and dF.shape == F.shape and db.shape == (2,)
    assert cb.conv_transpose2d(S, F, padding=1).shape == X.shape


def test_float32_is_preserved_end_to_end(rng):
    X = rng.standard_normal((2, 3, 8, 8)).astype(np.float32)
    F = rng.standard_normal((4, 3, 3, 3)).astype(np.float32)
    b = rng.standard_normal(4).astype(np.float32)
    S = cb.conv2d(X, F, b, stride=2, padding=1)
    assert S.dtype == np.float32
    grads = cb.conv2d_backward(np.ones_like(S), X, F, stride=2, padding=1)
    assert all(g.dtype == np.float32 for g in grads)
    assert cb.conv_transpose2d(S, F, stride=2, padding=1).dtype == np.float32
    ref = cb.conv2d_naive(
        X.astype(np.float64), F.astype(np.float64), b.astype(np.float64), stride=2, padding=1
    )
    np.testing.assert_allclose(S, ref, rtol=1e-4, atol=1e-5)


def test_integer_input_becomes_float64():
    X = np.arange(16).reshape(1, 1, 4, 4)
    F = np.ones((1, 1, 2, 2), dtype=int)
    S = cb.conv2d(X, F)
    assert S.dtype == np.float64
    assert S[0, 0, 0, 0] == 0 + 1 + 4 + 5


@pytest.mark.parametrize("stride", [1, 2])
def test_return_cols_gives_im2col_and_the_backward_reuses_it(rng, stride):
    """S, cols = conv2d(..., return_cols=True): cols is im2col(X); passing it back changes nothing."""
    X = rng.standard_normal((2, 3, 7, 7))
    F = rng.standard_normal((4, 3, 3, 3))
    S, cols = cb.conv2d(X, F, stride=stride, padding=1, return_cols=True)
    np.testing.assert_array_equal(S, cb.conv2d(X, F, stride=stride, padding=1))
    np.testing.assert_array_equal(cols, cb.im2col(X, 3, stride=stride, padding=1))
    G = rng.standard_normal(S.shape)
    reference = cb.conv2d_backward(G, X, F, stride=stride, padding=1)
    for given_cols in (cols, cb.im2col(X, 3, stride=stride, padding=1)):
        for a, b in zip(cb.conv2d_backward(G, X, F, stride=stride, padding=1, cols=given_cols), reference):
            np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)
    with pytest.raises(ValueError, match=r"cols has shape \(27, 5\)"):
        cb.conv2d_backward(G, X, F, stride=stride, padding=1, cols=np.zeros((27, 5)))


def test_backward_is_one_gemm_each_as_lesson_08_derives(rng):
    """dF = G_mat @ cols.T and dX = col2im(F_mat.T @ G_mat), written out with the public pieces."""
    X = rng.standard_normal((2, 3, 6, 5))
    F = rng.standard_normal((4, 3, 3, 2))
    kw = dict(stride=(2, 1), padding=(1, 0), dilation=(1, 2))
    S, cols = cb.conv2d(X, F, **kw, return_cols=True)
    G = rng.standard_normal(S.shape)
    G_mat = G.transpose(1, 0, 2, 3).reshape(4, -1)
    dX, dF, db = cb.conv2d_backward(G, X, F, **kw)
    np.testing.assert_allclose(dF, (G_mat @ cols.T).reshape(F.shape), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(dX, cb.col2im(F.reshape(4, -1).T @ G_mat, X.shape, (3, 2), **kw), atol=1e-12)
    np.testing.assert_allclose(db, G.sum(axis=(0, 2, 3)), rtol=1e-12)


def test_nan_propagates_only_to_the_outputs_that_see_it():
    X = np.zeros((1, 1, 6, 6))
    X[0, 0, 0, 0] = np.nan
    S = cb.conv2d(X, np.ones((1, 1, 3, 3)))
    assert np.isnan(S[0, 0, 0, 0])
    assert np.isfinite(S[0, 0, 1:, :]).all() and np.isfinite(S[0, 0, :, 1:]).all()


def test_the_core_backward_has_one_convention(rng):
    """Core: (dX, dF, db) always; skipping dX is a speed option of cnnbook.fast only."""
    import inspect

    X = rng.standard_normal((2, 3, 7, 7))
    F = rng.standard_normal((4, 3, 3, 3))
    G = rng.standard_normal(cb.conv2d(X, F, padding=1).shape)
    dX, dF, db = cb.conv2d_backward(G, X, F, padding=1)
    assert dX.shape == X.shape and dF.shape == F.shape and db.shape == (4,)
    assert "input_grad" not in inspect.signature(cb.conv2d_backward).parameters
    with pytest.raises(TypeError):
        cb.conv2d_backward(G, X, F, padding=1, input_grad=False)  # type: ignore[call-arg]


def test_a_nan_reaches_only_the_filter_taps_that_read_it(rng):
    """The working layout's extra columns must not carry a NaN into dF (0 * NaN = NaN)."""
    X = rng.standard_normal((1, 1, 5, 5))
    X[0, 0, 2, 4] = np.nan  # last column: read only by taps j = 2 (no padding)
    F = rng.standard_normal((1, 1, 3, 3))
    G = np.ones((1, 1, 3, 3))
    vectorized = cb.conv2d_backward(G, X, F)[1]
    slow = cb.conv2d_backward_naive(G, X, F)[1]
    np.testing.assert_array_equal(np.isnan(vectorized), np.isnan(slow))
    assert np.isfinite(vectorized[0, 0, :, :2]).all()


def test_mixed_precision_backward_promotes_like_the_reference(rng):
    X = rng.standard_normal((1, 2, 5, 5)).astype(np.float32)
    F = rng.standard_normal((3, 2, 3, 3))
    G = rng.standard_normal((1, 3, 3, 3))
    for vectorized, slow in zip(cb.conv2d_backward(G, X, F), cb.conv2d_backward_naive(G, X, F)):
        assert vectorized.dtype == slow.dtype == np.float64


@pytest.mark.parametrize(
    ("stride", "dilation", "output_padding", "padding"),
    [(1, 2, 1, 0), (1, 3, 2, 1), (2, 3, 2, 0), ((1, 2), (3, 1), (2, 1), (0, 1)), ((2, 1), (1, 3), (1, 2), 2)],
)
def test_transpose_output_padding_below_stride_or_dilation_matches_torch(
    rng, stride, dilation, output_padding, padding
):
    torch = pytest.importorskip("torch")
    Y, F = rng.standard_normal((2, 3, 4, 5)), rng.standard_normal((3, 2, 3, 2))
    ours = cb.conv_transpose2d(Y, F, stride, padding, dilation, output_padding)
    theirs = torch.nn.functional.conv_transpose2d(
        torch.from_numpy(Y), torch.from_numpy(F), None, stride, padding, output_padding, 1, dilation
    ).numpy()
    assert ours.shape == theirs.shape
    np.testing.assert_allclose(ours, theirs, atol=1e-12)

"""The fast path (cnnbook.fast) against the textbook core: same signatures, same results.

Property tests on random geometries: strides that need not divide, padding, dilation, H != W,
fh != fw, float32 and float64, ties and NaN/-inf in pooling windows, single images.  Max pooling
must agree exactly (same maxima, same winners); sums may differ in the last bits where the two
paths add in a different order (GEMM shapes, bincount), so those are compared to a tolerance.
"""

import inspect

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import cnnbook as cb
from cnnbook import fast, functional

from .conftest import conv_cases, pool_cases

DTYPES = st.sampled_from([np.float64, np.float32])


def tolerance(dtype) -> dict:
    return dict(rtol=1e-12, atol=1e-12) if dtype == np.float64 else dict(rtol=2e-5, atol=2e-5)


# fast's own: which layout a geometry gets, tricks off, the order Sequential runs its layers in
MEASURING = ("Branches", "layouts", "tricks_off", "running_order")


@pytest.mark.parametrize("name", [name for name in fast.__all__ if name not in MEASURING])
def test_fast_has_the_cores_signature(name):
    """Same parameters, same defaults, in the same order; extras (input_grad) only at the end."""
    ours = inspect.signature(getattr(fast, name)).parameters
    core = inspect.signature(getattr(cb, name, None) or getattr(functional, name)).parameters
    assert list(ours)[: len(core)] == list(core)
    for key, parameter in core.items():
        assert ours[key].default == parameter.default and ours[key].kind == parameter.kind
    assert set(ours) - set(core) <= {"input_grad"}


@settings(max_examples=200)
@given(conv_cases(), DTYPES, st.booleans())
def test_conv2d_forward_agrees(case, dtype, with_bias):
    X, F, b = case.arrays(dtype)
    b = b if with_bias else None
    S = fast.conv2d(X, F, b, **case.kwargs)
    reference = cb.conv2d(X, F, b, **case.kwargs)
    assert S.shape == reference.shape and S.dtype == reference.dtype == dtype
    np.testing.assert_allclose(S, reference, **tolerance(dtype))
    S_again, cols = fast.conv2d(X, F, b, **case.kwargs, return_cols=True)
    np.testing.assert_array_equal(S_again, S)
    Ho, Wo = case.out_hw()
    exact = cb.im2col(X, (case.fh, case.fw), **case.kwargs).reshape(-1, case.N, Ho, Wo)
    row = case.W + 2 * case.padding[1]
    if cols.shape[0] == case.C * case.fh < exact.shape[0]:
        # row-shifted columns: tap (c, i, j) at output (y, x) is entry y row + x + j d_w of run (c, i),
        # rows of W + 2p_w, or of W + p_w where two rows share the padding between them (trick 22)
        runs = cols.reshape(case.C, case.fh, case.N, -1)
        pw, e = case.padding[1], case.dilation[1] * (case.fw - 1)
        row = (runs.shape[-1] - e) // Ho
        assert runs.shape[-1] == Ho * row + e
        assert row == case.W + 2 * pw or (row == case.W + pw and 0 < pw <= e <= case.W + pw)
        taps = [runs[..., j * case.dilation[1] :][..., : Ho * row] for j in range(case.fw)]
        rebuilt = np.stack(taps, axis=2).reshape(-1, case.N, Ho, row)[..., :Wo]
        np.testing.assert_array_equal(rebuilt, exact)
        return
    # the other working layouts: every output row at W' or W + 2p_w columns; the first W' are im2col's
    work = cols.reshape(exact.shape[0], case.N, Ho, -1)
    assert work.shape[-1] in (Wo, row)
    np.testing.assert_array_equal(work[..., :Wo], exact)


@settings(max_examples=200)
@given(conv_cases(), DTYPES)
def test_conv2d_backward_agrees_with_every_kind_of_cols(case, dtype):
    X, F, _ = case.arrays(dtype)
    G = np.random.default_rng(case.seed + 1).standard_normal((case.N, case.K, *case.out_hw())).astype(dtype)
    reference = cb.conv2d_backward(G, X, F, **case.kwargs)
    _, work_cols = fast.conv2d(X, F, **case.kwargs, return_cols=True)
    plain_cols = cb.im2col(X, (case.fh, case.fw), **case.kwargs)
    for cols in (None, work_cols, plain_cols):
        grads = fast.conv2d_backward(G, X, F, **case.kwargs, cols=cols)
        for ours, theirs in zip(grads, reference):
            assert ours is not None and ours.shape == theirs.shape and ours.dtype == theirs.dtype
            np.testing.assert_allclose(ours, theirs, **tolerance(dtype))
    dX, dF, db = fast.conv2d_backward(G, X, F, **case.kwargs, cols=work_cols, input_grad=False)
    assert dX is None
    np.testing.assert_allclose(dF, reference[1], **tolerance(dtype))
    np.testing.assert_allclose(db, reference[2], **tolerance(dtype))


def test_input_grad_false_skips_dX_and_keeps_the_rest(rng):
    X = rng.standard_normal((2, 3, 7, 7))
    F = rng.standard_normal((4, 3, 3, 3))
    G = rng.standard_normal(cb.conv2d(X, F, padding=1).shape)
    full = fast.conv2d_backward(G, X, F, padding=1)
    dX, dF, db = fast.conv2d_backward(G, X, F, padding=1, input_grad=False)
    assert dX is None
    np.testing.assert_array_equal(dF, full[1])
    np.testing.assert_array_equal(db, full[2])


def test_a_nan_reaches_only_the_filter_taps_that_read_it(rng):
    """The working layout's extra columns must not carry a NaN into dF (0 * NaN = NaN)."""
    X = rng.standard_normal((1, 1, 5, 5))
    X[0, 0, 2, 4] = np.nan  # last column: read only by taps j = 2 (no padding)
    F = rng.standard_normal((1, 1, 3, 3))
    G = np.ones((1, 1, 3, 3))
    for cols in (None, fast.conv2d(X, F, return_cols=True)[1]):
        ours = fast.conv2d_backward(G, X, F, cols=cols)[1]
        slow = cb.conv2d_backward_naive(G, X, F)[1]
        np.testing.assert_array_equal(np.isnan(ours), np.isnan(slow))
        assert np.isfinite(ours[0, 0, :, :2]).all()


def test_single_image_in_single_image_out(rng):
    X = rng.standard_normal((3, 6, 5))
    F = rng.standard_normal((2, 3, 3, 3))
    S, cols = fast.conv2d(X, F, padding=1, return_cols=True)
    np.testing.assert_allclose(S, cb.conv2d(X, F, padding=1), rtol=1e-12, atol=1e-12)
    dX, dF, db = fast.conv2d_backward(np.ones_like(S), X, F, padding=1, cols=cols)
    assert S.shape == (2, 6, 5) and dX is not None and dX.shape == X.shape
    assert dF.shape == F.shape and db.shape == (2,)
    out, indices = fast.maxpool2d(X, 2, return_indices=True)
    assert out.shape == indices.shape == (3, 3, 2)
    assert fast.maxpool2d_backward(np.ones_like(out), X, 2, indices=indices).shape == X.shape
    assert fast.avgpool2d_backward(np.ones_like(out), X, 2).shape == X.shape


@settings(max_examples=200)
@given(pool_cases(), DTYPES, st.sampled_from(["plain", "ties", "nan"]))
def test_max_pooling_agrees_exactly_winners_included(case, dtype, data):
    X = case.array(dtype, ties=data == "ties", nan=data == "nan")
    out, indices = fast.maxpool2d(X, **case.kwargs, return_indices=True)
    ref_out, ref_indices = cb.maxpool2d(X, **case.kwargs, return_indices=True)
    assert out.dtype == ref_out.dtype == dtype
    np.testing.assert_array_equal(out, ref_out)  # NaN where NaN
    np.testing.assert_array_equal(indices, ref_indices)
    np.testing.assert_array_equal(fast.maxpool2d(X, **case.kwargs), ref_out)
    G = np.random.default_rng(case.seed + 1).standard_normal(out.shape).astype(dtype)
    reference = cb.maxpool2d_backward(G, X, **case.kwargs)
    for given_indices in (None, indices, ref_indices):
        dX = fast.maxpool2d_backward(G, X, **case.kwargs, indices=given_indices)
        assert dX.shape == X.shape and dX.dtype == reference.dtype
        np.testing.assert_allclose(dX, reference, **tolerance(dtype))


@settings(max_examples=200)
@given(pool_cases(), DTYPES)
def test_average_pooling_agrees(case, dtype):
    X = case.array(dtype)
    out = fast.avgpool2d(X, **case.kwargs)
    reference = cb.avgpool2d(X, **case.kwargs)
    assert out.dtype == reference.dtype == dtype
    np.testing.assert_allclose(out, reference, **tolerance(dtype))
    G = np.random.default_rng(case.seed + 1).standard_normal(out.shape).astype(dtype)
    dX = fast.avgpool2d_backward(G, X, **case.kwargs)
    np.testing.assert_allclose(dX, cb.avgpool2d_backward(G, X, **case.kwargs), **tolerance(dtype))


@pytest.mark.parametrize("kernel_size", [2, 3, (4, 4), (5, 4)])  # 4, 9, 16 and 20 cells: every code path
@pytest.mark.parametrize("stride", [None, 1])
def test_first_winner_for_every_window_size(rng, kernel_size, stride):
    X = rng.integers(0, 2, (2, 2, 10, 10)).astype(float)  # many ties
    X[0, 0, rng.integers(0, 10, 5), rng.integers(0, 10, 5)] = np.nan
    out, indices = fast.maxpool2d(X, kernel_size, stride, return_indices=True)
    ref_out, ref_indices = cb.maxpool2d(X, kernel_size, stride, return_indices=True)
    np.testing.assert_array_equal(out, ref_out)
    np.testing.assert_array_equal(indices, ref_indices)


def test_an_all_minus_inf_window_routes_to_a_pixel_of_its_own_window():
    X = np.full((1, 1, 3, 3), -np.inf)
    _, indices = fast.maxpool2d(X, 2, 2, padding=1, return_indices=True)
    assert indices[0, 0].tolist() == [[0, 1], [3, 4]]
    G = np.ones((1, 1, 2, 2))
    np.testing.assert_array_equal(
        fast.maxpool2d_backward(G, X, 2, 2, 1), cb.maxpool2d_backward(G, X, 2, 2, 1)
    )


@settings(max_examples=60, deadline=None)
@given(
    shape=st.lists(st.integers(1, 9), min_size=1, max_size=4).map(tuple),
    dtype=DTYPES,
    seed=st.integers(0, 2**32 - 1),
)
def test_relu_agrees_exactly_with_the_core_nan_inf_and_signed_zeros_included(shape, dtype, seed):
    rng = np.random.default_rng(seed)
    specials = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, 1e-45, -1e-45], dtype=dtype)
    x = rng.standard_normal(shape).astype(dtype)
    x.flat[rng.integers(0, x.size, size=min(3, x.size))] = rng.choice(specials, size=min(3, x.size))
    for switches in ((), ("relu_zeros",)):
        with fast.tricks_off(*switches):
            ours = fast.relu(x)
        expected = functional.relu(x)
        assert ours.dtype == expected.dtype and ours.shape == expected.shape
        np.testing.assert_array_equal(ours, expected)
        np.testing.assert_array_equal(np.signbit(ours), np.signbit(expected))


@pytest.mark.parametrize(
    "x",
    [
        np.asfortranarray(np.random.default_rng(0).standard_normal((3, 4, 5))),
        np.random.default_rng(1).standard_normal((6, 8))[::2, ::3],
        np.random.default_rng(2).standard_normal((4, 5)).astype(">f4"),
        np.random.default_rng(3).standard_normal((4, 5)).astype(">f8"),
    ],
    ids=["fortran order", "strided view", "big-endian float32", "big-endian float64"],
)
def test_relu_keeps_the_cores_memory_order_and_byte_order(x):
    ours, expected = fast.relu(x), functional.relu(x)
    np.testing.assert_array_equal(ours, expected)
    assert ours.dtype == expected.dtype
    assert ours.strides == expected.strides


def test_relu_shares_one_read_only_array_of_zeros_and_never_changes_it():
    x = -np.ones((3, 4), dtype=np.float32)
    out = fast.relu(x)
    out += 5  # the result is the caller's own array, not the zeros
    zeros = fast._zeros(12, np.dtype(np.float32))
    assert not zeros.flags.writeable and not zeros.any()
    assert fast._zeros(12, np.dtype(np.float32)) is zeros
    np.testing.assert_array_equal(fast.relu(x), np.zeros((3, 4), np.float32))


@pytest.mark.parametrize(
    ("x", "error"), [(np.array([True]), TypeError), (np.array([]), ValueError), ("a", TypeError)]
)
def test_relu_refuses_what_the_core_refuses(x, error):
    with pytest.raises(error, match="x"):
        fast.relu(x)
    with pytest.raises(error, match="x"):
        functional.relu(x)


def test_the_relu_layer_runs_the_fast_relu():
    from cnnbook.layers import ReLU

    assert ReLU()._f is fast.relu
    x = np.random.default_rng(0).standard_normal((2, 3, 4, 4))
    np.testing.assert_array_equal(ReLU().forward(x), functional.relu(x))

"""The explicit matrices of the lectures, against conv2d, pooling and each other."""

import numpy as np
import pytest
from hypothesis import given

import cnnbook as cb
from cnnbook import matrices as M

from .conftest import conv_cases, pool_cases


@given(conv_cases(max_size=7))
def test_MX_and_MF_reproduce_the_convolution_and_its_input_gradient(case):
    X, F, _ = case.arrays()
    x, f = X[0], F[0]  # one image, one filter
    S = cb.conv2d_naive(x, F, **case.kwargs)  # (K, H', W')
    MX = M.make_MX(x, f.shape[1:], **case.kwargs)
    MF = M.make_MF(f, x.shape, **case.kwargs)
    np.testing.assert_allclose(MX @ M.vec(f), M.vec(S[0]), atol=1e-12)
    np.testing.assert_allclose(MF @ M.vec(x), M.vec(S[0]), atol=1e-12)
    # the bank stacks one block per filter: vec(S) = (vec(S_1); ...; vec(S_K))
    MF_bank = M.make_MF(F, x.shape, **case.kwargs)
    np.testing.assert_allclose(MF_bank @ M.vec(x), M.vec(S), atol=1e-12)
    # backward: dL/dvec(X) = g M_F, i.e. M_F^T vec(G)
    G = np.random.default_rng(case.seed + 5).standard_normal(S.shape)
    dX = cb.conv2d_backward_naive(G, x, F, **case.kwargs)[0]
    np.testing.assert_allclose(MF_bank.T @ M.vec(G), M.vec(dX), atol=1e-12)
    sparse = M.make_MF(F, x.shape, sparse=True, **case.kwargs)
    np.testing.assert_array_equal(sparse.toarray(), MF_bank)


@given(pool_cases(max_size=7))
def test_pooling_matrices(case):
    X = case.array()[0]
    kw = case.kwargs
    out, indices = cb.maxpool2d(X, **kw, return_indices=True)
    A = M.maxpool_matrix(X, **kw)
    np.testing.assert_array_equal(A @ M.vec(X), M.vec(out))
    assert (A.sum(axis=1) == 1).all()
    # the 1 of row p sits at the winner of window p: its plane's offset plus indices[p]
    planes = np.repeat(np.arange(X.shape[0]) * X.shape[1] * X.shape[2], out[0].size)
    np.testing.assert_array_equal(A.argmax(axis=1), planes + M.vec(indices))
    G = np.random.default_rng(case.seed).standard_normal(out.shape)
    np.testing.assert_allclose(A.T @ M.vec(G), M.vec(cb.maxpool2d_backward(G, X, **kw)), atol=1e-12)
    avg = cb.avgpool2d(X, **kw)
    B = M.avgpool_matrix(X.shape, **kw)
    np.testing.assert_allclose(B @ M.vec(X), M.vec(avg), atol=1e-12)
    np.testing.assert_allclose(B.T @ M.vec(G), M.vec(cb.avgpool2d_backward(G, X, **kw)), atol=1e-12)
    np.testing.assert_array_equal(M.maxpool_matrix(X, sparse=True, **kw).toarray(), A)
    np.testing.assert_array_equal(M.avgpool_matrix(X.shape, sparse=True, **kw).toarray(), B)


def test_relu_and_stack_jacobians_against_finite_differences(rng):
    from cnnbook.gradcheck import numerical_jacobian

    S = rng.standard_normal((2, 3, 3))
    J = numerical_jacobian(lambda s: np.maximum(s, 0), S)
    np.testing.assert_allclose(M.relu_jacobian(S), J, atol=1e-8)
    parts = [rng.standard_normal(4) for _ in range(3)]
    for i in range(3):

        def stacked(si, i=i):
            return np.concatenate([si if k == i else parts[k] for k in range(3)])

        np.testing.assert_allclose(
            M.stack_jacobian(i, 3, 4), numerical_jacobian(stacked, parts[i].copy()), atol=1e-9
        )


def test_vec_and_unvec():
    A = np.arange(2 * 3 * 4).reshape(2, 3, 4)
    v = M.vec(A)
    assert v[:4].tolist() == [0, 1, 2, 3]  # first row of plane 1, then the second row
    np.testing.assert_array_equal(M.unvec(v, A.shape), A)
    with pytest.raises(ValueError, match="cannot unvec 24 entries"):
        M.unvec(v, (5, 5))


def test_symbolic_matrices_name_the_same_entries_as_the_numeric_ones():
    MX = M.symbolic_MX((6, 6), (3, 3))
    assert MX.shape == (16, 9)
    assert list(MX[1]) == ["X12", "X13", "X14", "X22", "X23", "X24", "X32", "X33", "X34"]
    MF = M.symbolic_MF((3, 3), (6, 6))
    assert list(MF[1, :9]) == ["0", "F11", "F12", "F13", "0", "0", "0", "F21", "F22"]
    assert M.symbolic_MX((2, 4, 4), (3, 3))[0, 9] == "X2:11"
    assert M.symbolic_MX((2, 4, 4), 3).shape == (4, 18)  # the filter spans both planes
    MF2 = M.symbolic_MF(2, (2, 3, 3), name="G")  # channels from input_shape: labels "G<plane>:<ij>"
    assert MF2.shape == (4, 18) and list(MF2[0, 9:13]) == ["G2:11", "G2:12", "0", "G2:21"]


def test_dense_builders_refuse_huge_matrices_and_point_to_sparse(monkeypatch):
    monkeypatch.setattr(M, "MAX_DENSE_ENTRIES", 100)
    F = np.ones((3, 3, 3))
    with pytest.raises(ValueError, match="sparse=True"):
        M.make_MF(F, (3, 10, 10))
    assert M.make_MF(F, (3, 10, 10), sparse=True).shape == (64, 300)


def test_relu_jacobian_sparse_matches_dense(rng):
    S = rng.standard_normal((3, 4, 4))
    np.testing.assert_array_equal(M.relu_jacobian(S, sparse=True).toarray(), M.relu_jacobian(S))


@given(conv_cases(max_size=7))
def test_storage_bytes_equals_the_arrays_nbytes(case):
    X, F, _ = case.arrays()
    x = X[0]
    got = M.storage_bytes(x.shape, case.K, (case.fh, case.fw), **case.kwargs)
    sparse = M.make_MF(F, x.shape, sparse=True, **case.kwargs)
    # scipy may drop explicit zeros only if asked; count the structure it stores
    assert got["M_F sparse (CSR)"] == sparse.data.nbytes + sparse.indices.nbytes + sparse.indptr.nbytes
    assert got["M_F dense"] == M.make_MF(F, x.shape, **case.kwargs).nbytes
    assert got["im2col = M_X"] == M.make_MX(x, F.shape[2:], **case.kwargs).nbytes
    assert got["output S"] == cb.conv2d(x, F, **case.kwargs).nbytes
    assert got["input X"] == x.nbytes
    assert got["im2col = M_X"] == cb.im2col(x, F.shape[2:], **case.kwargs).nbytes
    half = M.storage_bytes(x.shape, case.K, (case.fh, case.fw), itemsize=4, **case.kwargs)
    assert half["M_F dense"] * 2 == got["M_F dense"]


def test_avgpool_matrix_checks_like_avgpool2d():
    with pytest.raises(ValueError, match="padding 2 must be smaller than the pool window 2"):
        M.avgpool_matrix((4, 4), 2, padding=2)
    with pytest.raises(ValueError, match="padding 2 must be smaller than the pool window 2"):
        cb.avgpool2d(np.zeros((1, 4, 4)), 2, padding=2)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_pooling_matrices_keep_the_input_float_dtype(dtype):
    X = np.random.default_rng(0).standard_normal((2, 4, 4)).astype(dtype)
    for sparse in (False, True):
        A = M.maxpool_matrix(X, 2, sparse=sparse)
        B = M.avgpool_matrix(X.shape, 2, sparse=sparse, dtype=dtype)
        assert A.dtype == dtype and B.dtype == dtype
        pooled = cb.maxpool2d(X, 2)
        np.testing.assert_array_equal(A @ M.vec(X), M.vec(pooled))
    assert M.avgpool_matrix((4, 4), 2).dtype == np.float64  # the default


def test_guards_compute_the_size_from_the_shapes_at_the_limit():
    # exactly MAX_DENSE_ENTRIES is allowed, one row more is refused (the formula, not a guess)
    t = 2**12
    assert M.stack_jacobian(0, M.MAX_DENSE_ENTRIES // t**2, t).size == M.MAX_DENSE_ENTRIES
    with pytest.raises(ValueError, match="MAX_DENSE_ENTRIES"):
        M.stack_jacobian(0, M.MAX_DENSE_ENTRIES // t**2 + 1, t)
    # symbolic: 1024 outputs x 1024 inputs is the limit for symbolic_MF on a 32x32 plane, 1x1 filter
    assert M.symbolic_MF(1, (32, 32)).size == M.MAX_SYMBOLIC_ENTRIES
    with pytest.raises(ValueError, match="MAX_SYMBOLIC_ENTRIES"):
        M.symbolic_MF(1, (33, 32))


def test_unvec_takes_int_entries_of_any_integer_type():
    v = np.arange(6.0)
    np.testing.assert_array_equal(M.unvec(v, (2, 3)), v.reshape(2, 3))
    np.testing.assert_array_equal(M.unvec(v, np.array([3, 2])), v.reshape(3, 2))
    assert M.unvec(np.ones(0), (0, 4)).shape == (0, 4)


@given(conv_cases(max_size=7))
def test_the_zero_columns_of_MF_are_the_pixels_no_window_reads(case):
    """Lesson 03: a pixel in a row or column that unread_rows names has an all-zero column of M_F
    (every plane), so dL/dX is zero there whatever G is; every other pixel's column is not zero."""
    X, F, _ = case.arrays()
    x, f = X[0], F[0]
    C, H, W = x.shape
    (sh, sw), (ph, pw), (dh, dw) = case.stride, case.padding, case.dilation
    unread = np.zeros((H, W), bool)
    for r in cb.unread_rows(H, case.fh, sh, ph, dh):
        if ph <= r < ph + H:
            unread[r - ph, :] = True
    for c in cb.unread_rows(W, case.fw, sw, pw, dw):
        if pw <= c < pw + W:
            unread[:, c - pw] = True
    MF = M.make_MF(f, x.shape, **case.kwargs)
    zero = ~MF.reshape(-1, C, H, W).any(axis=0)  # (C, H, W): columns of M_F that are all zero
    np.testing.assert_array_equal(zero, np.broadcast_to(unread, (C, H, W)))
    G = np.random.default_rng(case.seed + 9).standard_normal(
        (1, *cb.conv_output_shape((H, W), (case.fh, case.fw), **case.kwargs))
    )
    dX = cb.conv2d_backward_naive(G, x, f[None], **case.kwargs)[0]
    assert not dX[:, unread].any()

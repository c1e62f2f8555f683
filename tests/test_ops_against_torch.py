"""conv2d and pooling, textbook core and fast path, against PyTorch when it is installed.

PyTorch is never a dependency.  Randomized shapes and hyper-parameters in the spirit of numpy-ml's
tests: same inputs in float64, same outputs and gradients to tight tolerance.
"""

import numpy as np
import pytest
from hypothesis import assume, given, settings

import cnnbook as cb
from cnnbook import fast

from .conftest import conv_cases, pool_cases

torch = pytest.importorskip("torch")
F_ = torch.nn.functional


def _t(a):
    return torch.tensor(a, dtype=torch.float64, requires_grad=True)


@settings(max_examples=40)
@given(conv_cases())
def test_conv2d_forward_and_backward_match_torch(case):
    X, F, b = case.arrays()
    Xt, Ft, bt = _t(X), _t(F), _t(b)
    St = F_.conv2d(Xt, Ft, bt, stride=case.stride, padding=case.padding, dilation=case.dilation)
    G = np.random.default_rng(case.seed + 9).standard_normal(St.shape)
    St.backward(torch.tensor(G))
    for path in (cb, fast):
        S, cols = path.conv2d(X, F, b, **case.kwargs, return_cols=True)
        np.testing.assert_allclose(S, St.detach().numpy(), rtol=1e-10, atol=1e-10)
        dX, dF, db = path.conv2d_backward(G, X, F, **case.kwargs, cols=cols)
        np.testing.assert_allclose(dX, Xt.grad.numpy(), rtol=1e-10, atol=1e-10)
        np.testing.assert_allclose(dF, Ft.grad.numpy(), rtol=1e-10, atol=1e-10)
        np.testing.assert_allclose(db, bt.grad.numpy(), rtol=1e-10, atol=1e-10)


@settings(max_examples=40)
@given(conv_cases())
def test_conv_transpose2d_matches_torch(case):
    _, F, _ = case.arrays()
    Ho, Wo = case.out_hw()
    Y = np.random.default_rng(case.seed).standard_normal((case.N, case.K, Ho, Wo))
    op = tuple(
        cb.unused_size(n, f, s, p, d)
        for n, f, s, p, d in zip(
            (case.H, case.W), (case.fh, case.fw), case.stride, case.padding, case.dilation
        )
    )
    ref = F_.conv_transpose2d(
        torch.tensor(Y),
        torch.tensor(F),
        stride=case.stride,
        padding=case.padding,
        output_padding=op,
        dilation=case.dilation,
    )
    ours = cb.conv_transpose2d(Y, F, output_padding=op, **case.kwargs)
    np.testing.assert_allclose(ours, ref.numpy(), rtol=1e-10, atol=1e-10)


@settings(max_examples=40)
@given(pool_cases())
def test_pooling_matches_torch(case):
    # torch allows padding of at most half the window
    assume(2 * case.padding[0] <= case.kernel_size[0] and 2 * case.padding[1] <= case.kernel_size[1])
    X = case.array()
    kw = case.kwargs  # the same keywords as torch's: kernel_size, stride, padding
    for path in (cb, fast):
        for ours_f, ours_b, theirs in (
            (path.maxpool2d, path.maxpool2d_backward, F_.max_pool2d),
            (path.avgpool2d, path.avgpool2d_backward, F_.avg_pool2d),
        ):
            Xt = _t(X)
            out_t = theirs(Xt, **kw)
            out = ours_f(X, case.kernel_size, case.stride, case.padding)
            np.testing.assert_allclose(out, out_t.detach().numpy(), rtol=1e-12, atol=1e-12)
            G = np.random.default_rng(case.seed).standard_normal(out.shape)
            out_t.backward(torch.tensor(G))
            np.testing.assert_allclose(ours_b(G, X, **kw), Xt.grad.numpy(), rtol=1e-10, atol=1e-10)
    # max pooling's winners are torch's return_indices (flat index into each plane)
    _, theirs_indices = F_.max_pool2d(torch.tensor(X), **kw, return_indices=True)
    for path in (cb, fast):
        _, indices = path.maxpool2d(X, **kw, return_indices=True)
        np.testing.assert_array_equal(indices, theirs_indices.numpy())


def test_swish_and_prelu_match_torch():
    from cnnbook import functional as fn

    rng = np.random.default_rng(7)
    X = rng.standard_normal((2, 3, 4, 5))
    G = rng.standard_normal(X.shape)
    Xt = _t(X)
    F_.silu(Xt).backward(torch.tensor(G))
    np.testing.assert_allclose(fn.swish(X), F_.silu(torch.tensor(X)).numpy(), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(fn.swish_backward(G, X), Xt.grad.numpy(), rtol=1e-12, atol=1e-15)
    alpha = rng.uniform(0.05, 0.5, size=3)
    Xt, At = _t(X), _t(alpha)
    F_.prelu(Xt, At).backward(torch.tensor(G))  # torch's weight (C,) is per channel: ours (C, 1, 1)
    dx, dalpha = fn.prelu_backward(G, X, alpha.reshape(3, 1, 1))
    np.testing.assert_allclose(
        fn.prelu(X, alpha.reshape(3, 1, 1)), F_.prelu(torch.tensor(X), torch.tensor(alpha))
    )
    np.testing.assert_allclose(dx, Xt.grad.numpy(), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(dalpha.reshape(3), At.grad.numpy(), rtol=1e-12, atol=1e-15)

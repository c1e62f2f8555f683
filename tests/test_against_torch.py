"""conv2d and pooling against PyTorch, when it is installed (it is never a dependency).

Randomized shapes and hyper-parameters in the spirit of numpy-ml's tests: same inputs in float64,
same outputs and gradients to tight tolerance.
"""

import numpy as np
import pytest
from hypothesis import assume, given, settings

import cnnbook as cb

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
    S = cb.conv2d(X, F, b, **case.kwargs)
    np.testing.assert_allclose(S, St.detach().numpy(), rtol=1e-10, atol=1e-10)
    G = np.random.default_rng(case.seed + 9).standard_normal(S.shape)
    St.backward(torch.tensor(G))
    dX, dF, db = cb.conv2d_backward(G, X, F, **case.kwargs)
    np.testing.assert_allclose(dX, Xt.grad.numpy(), rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(dF, Ft.grad.numpy(), rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(db, bt.grad.numpy(), rtol=1e-10, atol=1e-10)


@settings(max_examples=40)
@given(conv_cases())
def test_conv_transpose2d_matches_torch(case):
    X, F, _ = case.arrays()
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
    assume(2 * case.padding[0] <= case.size[0] and 2 * case.padding[1] <= case.size[1])
    X = case.array()
    kw = dict(kernel_size=case.size, stride=case.stride, padding=case.padding)
    for ours_f, ours_b, theirs in (
        (cb.maxpool2d, cb.maxpool2d_backward, F_.max_pool2d),
        (cb.avgpool2d, cb.avgpool2d_backward, F_.avg_pool2d),
    ):
        Xt = _t(X)
        out_t = theirs(Xt, **kw)
        out, cache = ours_f(X, case.size, case.stride, case.padding)
        np.testing.assert_allclose(out, out_t.detach().numpy(), rtol=1e-12, atol=1e-12)
        G = np.random.default_rng(case.seed).standard_normal(out.shape)
        out_t.backward(torch.tensor(G))
        np.testing.assert_allclose(ours_b(G, cache), Xt.grad.numpy(), rtol=1e-10, atol=1e-10)

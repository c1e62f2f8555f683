"""Residual block: backward against central differences, and the block inside Sequential and fit."""

import numpy as np
import pytest

from cnnbook.gradcheck import numerical_gradient, rel_error
from cnnbook.layers import AvgPool2D, Conv2D, Dense, Flatten, ReLU, Tanh
from cnnbook.models import Sequential
from cnnbook.residual import Residual
from cnnbook.specs import summary
from cnnbook.train import fit

TOL = 1e-7


def block(rng, C=3):
    return Residual(
        [
            Conv2D(C, C, 3, padding=1, rng=rng, dtype=np.float64),
            Tanh(),
            Conv2D(C, C, 3, padding=1, rng=rng, dtype=np.float64),
        ]
    )


def test_backward_matches_finite_differences():
    rng = np.random.default_rng(0)
    res = block(rng)
    for key in res.params:
        if key.endswith(".b"):
            res.params[key][:] = 0.1 * rng.standard_normal(res.params[key].shape)
    X = rng.standard_normal((2, 3, 5, 5))
    G = rng.standard_normal((2, 3, 5, 5))
    res.forward(X)
    dX = res.backward(G)

    def loss_x(x):
        return float(np.sum(G * res.forward(x, training=False)))

    assert rel_error(dX, numerical_gradient(loss_x, X)) < TOL
    for key, theta in res.params.items():

        def loss_p(value, theta=theta):
            kept = theta.copy()
            theta[...] = value
            out = float(np.sum(G * res.forward(X, training=False)))
            theta[...] = kept
            return out

        assert rel_error(res.grads[key], numerical_gradient(loss_p, theta.copy())) < TOL, key


def test_forward_is_input_plus_branch_and_jacobian_is_identity_plus_branch():
    rng = np.random.default_rng(1)
    inner = [Conv2D(2, 2, 3, padding=1, rng=rng, dtype=np.float64), ReLU()]
    res = Residual(inner)
    X = rng.standard_normal((1, 2, 4, 4))
    branch = inner[1].forward(inner[0].forward(X, False), False)
    assert np.allclose(res.forward(X, training=False), X + branch)
    # A zero branch is the identity: dL/dX = G exactly.
    inner[0].params["F"][:] = 0
    res.forward(X)
    G = rng.standard_normal(X.shape)
    assert np.array_equal(res.backward(G), G)


def test_inside_sequential_summary_and_training():
    rng = np.random.default_rng(2)
    model = Sequential(
        [
            Conv2D(1, 4, 3, padding=1, rng=rng),
            ReLU(),
            AvgPool2D(2),
            Residual([ReLU(), Conv2D(4, 4, 3, padding=1, rng=rng)]),
            Flatten(),
            Dense(4 * 4 * 4, 3, rng=rng),
        ],
        input_shape=(1, 8, 8),
    )
    assert [layer.name for layer in model.layers][3] == "residual1"
    assert "residual1.1.F" in model.parameters() and "residual1.1.b" in model.parameters()
    assert model.layers[3].decay == ("1.F",)
    # The block's parameters are the inner arrays themselves.
    inner = model.layers[3].layers[1]
    assert model.parameters()["residual1.1.F"] is inner.params["F"]
    assert summary(model).total_params == model.n_params == sum(p.size for p in model.parameters().values())
    before = inner.params["F"].copy()
    X = rng.random((20, 1, 8, 8)).astype(np.float32)
    y = rng.integers(0, 3, 20)
    fit(model, X, y, epochs=1, batch_size=10, lr=0.05, progress=False)
    assert not np.array_equal(before, inner.params["F"])
    # load_parameters reaches the inner layer too; astype keeps the sharing.
    values = {k: np.zeros_like(v) for k, v in model.parameters().items()}
    model.load_parameters(values)
    assert not inner.params["F"].any()
    model.astype(np.float64)
    assert model.parameters()["residual1.1.F"] is inner.params["F"] and inner.params["F"].dtype == np.float64
    # Whole-network input gradient through the block, against differences.
    X64 = rng.random((2, 1, 8, 8))
    for lay in model.layers:
        for key in lay.params:
            lay.params[key][...] = 0.3 * rng.standard_normal(lay.params[key].shape)
    G = rng.standard_normal((2, 3))
    model.forward(X64)
    dX = model.backward(G)
    assert rel_error(dX, numerical_gradient(lambda x: float(np.sum(G * model.forward(x, False))), X64)) < TOL


def test_first_layer_may_skip_the_input_gradient():
    rng = np.random.default_rng(3)
    res = block(rng)
    X = rng.standard_normal((1, 3, 4, 4))
    res.forward(X)
    res.needs_input_grad = False
    assert res.backward(np.ones_like(X)) is None
    assert set(res.grads) == set(res.params)
    assert res.layers[0].needs_input_grad  # restored


def test_bad_input():
    with pytest.raises(TypeError, match="layers"):
        Residual(Conv2D(2, 2, 3))
    with pytest.raises(TypeError, match="layers"):
        Residual([])
    with pytest.raises(TypeError, match="layers"):
        Residual([np.zeros(3)])
    relu = ReLU()
    with pytest.raises(ValueError, match="layers"):
        Residual([relu, relu])
    with pytest.raises(ValueError, match="residual"):
        Sequential([Residual([Conv2D(1, 2, 3, padding=1)])], input_shape=(1, 5, 5))
    shrink = Residual([Conv2D(1, 1, 3)])
    with pytest.raises(ValueError, match="branch"):
        shrink.forward(np.zeros((1, 1, 5, 5), np.float32))
    res = block(np.random.default_rng(0))
    with pytest.raises(RuntimeError):
        res.backward(np.zeros((1, 3, 4, 4)))
    res.forward(np.zeros((1, 3, 4, 4)))
    with pytest.raises(ValueError, match="G"):
        res.backward(np.zeros((1, 3, 5, 4)))

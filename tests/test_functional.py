"""cnnbook.functional: every backward against finite differences, every forward against a naive formula."""

import math

import numpy as np
import pytest

from cnnbook import functional as fn
from cnnbook.gradcheck import numerical_gradient, numerical_jacobian, rel_error

RNG = np.random.default_rng(0)


def away_from_kinks(shape, rng=RNG):
    """Random values with |x| >= 0.1, so a finite difference never straddles a kink at 0."""
    x = rng.uniform(0.1, 3.0, size=shape) * rng.choice([-1.0, 1.0], size=shape)
    return x


# name -> (forward, backward, naive scalar formula, naive derivative)
ELEMENTWISE = {
    "sigmoid": (
        fn.sigmoid,
        fn.sigmoid_backward,
        lambda v: 1 / (1 + math.exp(-v)),
        lambda v: math.exp(-v) / (1 + math.exp(-v)) ** 2,
    ),
    "tanh": (
        fn.tanh,
        fn.tanh_backward,
        lambda v: (math.exp(v) - math.exp(-v)) / (math.exp(v) + math.exp(-v)),
        lambda v: 4 / (math.exp(v) + math.exp(-v)) ** 2,
    ),
    "relu": (fn.relu, fn.relu_backward, lambda v: max(0.0, v), lambda v: float(v > 0)),
    "leaky_relu": (
        lambda x: fn.leaky_relu(x, 0.1),
        lambda G, x: fn.leaky_relu_backward(G, x, 0.1),
        lambda v: max(0.1 * v, v),
        lambda v: 1.0 if v > 0 else 0.1,
    ),
    "elu": (
        lambda x: fn.elu(x, 0.7),
        lambda G, x: fn.elu_backward(G, x, 0.7),
        lambda v: v if v >= 0 else 0.7 * (math.exp(v) - 1),
        lambda v: 1.0 if v > 0 else 0.7 * math.exp(v),
    ),
    "swish": (
        lambda x: fn.swish(x, 1.5),
        lambda G, x: fn.swish_backward(G, x, 1.5),
        lambda v: v / (1 + math.exp(-1.5 * v)),
        lambda v: 1 / (1 + math.exp(-1.5 * v)) + 1.5 * v * math.exp(-1.5 * v) / (1 + math.exp(-1.5 * v)) ** 2,
    ),
    "prelu": (
        lambda x: fn.prelu(x, 0.3),
        lambda G, x: fn.prelu_backward(G, x, 0.3)[0],
        lambda v: v if v > 0 else 0.3 * v,
        lambda v: 1.0 if v > 0 else 0.3,
    ),
}


@pytest.mark.parametrize("name", sorted(ELEMENTWISE))
def test_elementwise_forward_matches_naive_formula(name):
    f, _, naive, _ = ELEMENTWISE[name]
    x = RNG.normal(size=(3, 4)) * 3
    expected = np.vectorize(naive)(x)
    np.testing.assert_allclose(f(x), expected, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("name", sorted(ELEMENTWISE))
def test_elementwise_backward_matches_finite_differences(name):
    f, back, _, dnaive = ELEMENTWISE[name]
    x = away_from_kinks((2, 3, 4))
    G = RNG.normal(size=x.shape)
    analytic = back(G, x)
    numeric = numerical_gradient(lambda z: float(np.sum(G * f(z))), x)
    assert rel_error(analytic, numeric) < 1e-8
    # with G = 1 the backward is the derivative itself
    np.testing.assert_allclose(back(np.ones_like(x), x), np.vectorize(dnaive)(x), rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize("name", sorted(ELEMENTWISE))
def test_elementwise_jacobian_is_diagonal(name):
    f, back, _, _ = ELEMENTWISE[name]
    x = away_from_kinks((5,))
    J = numerical_jacobian(f, x)
    assert np.allclose(J, np.diag(np.diag(J)), atol=1e-9)
    np.testing.assert_allclose(np.diag(J), back(np.ones_like(x), x), rtol=1e-7, atol=1e-9)


@pytest.mark.parametrize("alpha_shape", [(), (3, 1, 1), (1, 3, 1, 5)])
def test_prelu_slope_gradient_matches_finite_differences(alpha_shape):
    x = away_from_kinks((2, 3, 4, 5))
    G = RNG.normal(size=x.shape)
    alpha = RNG.uniform(0.05, 0.5, size=alpha_shape)
    dx, dalpha = fn.prelu_backward(G, x, alpha)
    assert dalpha.shape == alpha.shape
    numeric = numerical_gradient(
        lambda a: float(np.sum(G * fn.prelu(x, a))), np.array(alpha, dtype=np.float64)
    )
    assert rel_error(dalpha, numeric) < 1e-8
    assert rel_error(dx, numerical_gradient(lambda z: float(np.sum(G * fn.prelu(z, alpha))), x)) < 1e-8


def test_prelu_with_a_fixed_slope_is_leaky_relu_and_swish_with_beta_zero_halves():
    x = RNG.normal(size=(4, 5))
    assert np.array_equal(fn.prelu(x, 0.1), fn.leaky_relu(x, 0.1))
    np.testing.assert_allclose(fn.swish(x, 0.0), x / 2, rtol=1e-15)


def test_prelu_refuses_a_slope_that_does_not_broadcast():
    with pytest.raises(ValueError, match=r"alpha of shape \(4,\) does not broadcast"):
        fn.prelu(np.ones((2, 3)), np.ones(4))
    with pytest.raises(ValueError, match="alpha must be finite"):
        fn.prelu_backward(np.ones(3), np.ones(3), np.nan)
    with pytest.raises(ValueError, match="beta"):
        fn.swish(np.ones(3), -1.0)


def test_kinks_follow_indicator_of_positive():
    zero = np.zeros(3)
    ones = np.ones(3)
    assert np.all(fn.relu_backward(ones, zero) == 0)
    assert np.all(fn.leaky_relu_backward(ones, zero, 0.2) == 0.2)
    assert np.all(fn.elu_backward(ones, zero, 0.5) == 0.5)


def test_relu_backward_is_the_lectures_diagonal_jacobian():
    from cnnbook.matrices import relu_jacobian

    S = RNG.normal(size=(2, 3, 3))
    g = RNG.normal(size=S.size)
    assert np.array_equal(fn.relu_backward(g.reshape(S.shape), S).reshape(-1), g @ relu_jacobian(S))


def test_sigmoid_does_not_overflow_and_is_symmetric():
    x = np.array([-1000.0, -50.0, 0.0, 50.0, 1000.0])
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        y = fn.sigmoid(x)
    assert np.all(np.isfinite(y)) and y[0] == 0.0 and y[2] == 0.5 and y[-1] == 1.0
    np.testing.assert_allclose(fn.sigmoid(x) + fn.sigmoid(-x), 1.0)
    np.testing.assert_allclose(fn.tanh(x), 2 * fn.sigmoid(2 * x) - 1, atol=1e-15)


def test_float32_is_preserved():
    x = RNG.normal(size=(4, 6)).astype(np.float32)
    G = np.ones_like(x)
    for f, back in [
        (fn.sigmoid, fn.sigmoid_backward),
        (fn.tanh, fn.tanh_backward),
        (fn.relu, fn.relu_backward),
        (fn.leaky_relu, fn.leaky_relu_backward),
        (fn.elu, fn.elu_backward),
        (fn.swish, fn.swish_backward),
        (fn.prelu, lambda G, x: fn.prelu_backward(G, x)[0]),
    ]:
        assert f(x).dtype == np.float32 and back(G, x).dtype == np.float32
    assert fn.maxout(x, 2).dtype == np.float32
    assert fn.maxout_backward(np.ones((4, 3), np.float32), x, 2).dtype == np.float32
    assert fn.softmax(x).dtype == np.float32
    assert fn.softmax_cross_entropy(x, np.arange(4))[1].dtype == np.float32
    assert fn.svm_loss(x, np.arange(4))[1].dtype == np.float32


def test_inputs_are_not_modified():
    x = RNG.normal(size=(3, 4))
    keep = x.copy()
    fn.relu(x), fn.elu(x), fn.sigmoid(x), fn.mean_subtract(x), fn.softmax(x)
    fn.svm_loss(x, np.array([0, 1, 2])), fn.softmax_cross_entropy(x, np.array([0, 1, 2]))
    assert np.array_equal(x, keep)


# --------------------------------------------------------------------------------------------
# maxout
# --------------------------------------------------------------------------------------------


def test_maxout_forward_matches_loop_and_lecture_form():
    x = RNG.normal(size=(2, 6))
    out = fn.maxout(x, pieces=3)
    expected = np.array([[max(x[n, 3 * k : 3 * k + 3]) for k in range(2)] for n in range(2)])
    assert np.array_equal(out, expected)
    # the lecture's max(w1^T v + b1, w2^T v + b2)
    v = RNG.normal(size=4)
    w1, w2, b1, b2 = RNG.normal(size=4), RNG.normal(size=4), 0.3, -0.2
    pre = np.array([w1 @ v + b1, w2 @ v + b2])
    assert fn.maxout(pre, 2) == max(w1 @ v + b1, w2 @ v + b2)


@pytest.mark.parametrize("shape,pieces,axis", [((3, 8), 2, -1), ((2, 6, 3, 3), 3, 1), ((12,), 4, 0)])
def test_maxout_backward_matches_finite_differences(shape, pieces, axis):
    x = RNG.normal(size=shape)  # continuous values: ties have probability 0
    out_shape = fn.maxout(x, pieces, axis).shape
    G = RNG.normal(size=out_shape)
    numeric = numerical_gradient(lambda z: float(np.sum(G * fn.maxout(z, pieces, axis))), x)
    assert rel_error(fn.maxout_backward(G, x, pieces, axis), numeric) < 1e-8


def test_maxout_ties_go_to_first_piece_and_bad_shapes_raise():
    x = np.array([[2.0, 2.0, 1.0, 5.0]])
    assert np.array_equal(fn.maxout_backward(np.ones((1, 2)), x, 2), [[1.0, 0.0, 0.0, 1.0]])
    with pytest.raises(ValueError, match="multiple of pieces"):
        fn.maxout(np.ones((2, 5)), 2)
    with pytest.raises(TypeError):
        fn.maxout(np.ones((2, 4)), 2.0)
    with pytest.raises(ValueError, match="expected"):
        fn.maxout_backward(np.ones((2, 3)), np.ones((2, 4)), 2)


# --------------------------------------------------------------------------------------------
# linear, mean subtraction
# --------------------------------------------------------------------------------------------


def test_linear_jacobian_is_W_and_gradients_match_finite_differences():
    C, D, N = 3, 5, 4
    W, b = RNG.normal(size=(C, D)), RNG.normal(size=C)
    x1 = RNG.normal(size=D)
    np.testing.assert_allclose(numerical_jacobian(lambda z: fn.linear(z, W, b), x1), W, atol=1e-9)
    x = RNG.normal(size=(N, D))
    G = RNG.normal(size=(N, C))
    dx, dW, db = fn.linear_backward(G, x, W)
    loss = lambda: float(np.sum(G * fn.linear(x, W, b)))  # noqa: E731
    assert rel_error(dx, numerical_gradient(lambda z: float(np.sum(G * fn.linear(z, W, b))), x)) < 1e-8
    assert rel_error(dW, numerical_gradient(lambda _: loss(), W)) < 1e-8
    assert rel_error(db, numerical_gradient(lambda _: loss(), b)) < 1e-8
    # one example: dW is the outer product g^T x^T
    g1 = RNG.normal(size=C)
    _, dW1, db1 = fn.linear_backward(g1, x1, W)
    assert np.allclose(dW1, np.outer(g1, x1)) and np.allclose(db1, g1)


def test_linear_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match="match W"):
        fn.linear(np.ones((2, 4)), np.ones((3, 5)))
    with pytest.raises(ValueError, match="b must have shape"):
        fn.linear(np.ones(5), np.ones((3, 5)), np.ones(4))


def test_mean_subtract_backward_equals_forward_and_finite_differences():
    x = RNG.normal(size=(3, 5))
    h = fn.mean_subtract(x)
    np.testing.assert_allclose(h, x - np.array([[row.mean()] for row in x]))
    G = RNG.normal(size=x.shape)
    numeric = numerical_gradient(lambda z: float(np.sum(G * fn.mean_subtract(z))), x)
    assert rel_error(fn.mean_subtract_backward(G, x), numeric) < 1e-8
    assert np.array_equal(fn.mean_subtract_backward(G, x), fn.mean_subtract(G))
    D = 4
    J = numerical_jacobian(fn.mean_subtract, RNG.normal(size=D))
    np.testing.assert_allclose(J, np.eye(D) - 1 / D, atol=1e-9)


def test_mean_subtract_along_channels_of_images():
    x = RNG.normal(size=(2, 3, 4, 4))
    h = fn.mean_subtract(x, axis=1)
    assert np.allclose(h.sum(axis=1), 0)


# --------------------------------------------------------------------------------------------
# softmax, cross-entropy, SVM
# --------------------------------------------------------------------------------------------


def naive_softmax(s):
    e = np.exp(s)
    return e / e.sum(axis=-1, keepdims=True)


def test_softmax_matches_naive_and_is_shift_invariant():
    s = RNG.normal(size=(4, 5))
    np.testing.assert_allclose(fn.softmax(s), naive_softmax(s), rtol=1e-12)
    np.testing.assert_allclose(fn.softmax(s + 123.0), fn.softmax(s), rtol=1e-12)
    np.testing.assert_allclose(fn.softmax(s.T, axis=0), fn.softmax(s).T, rtol=1e-12)
    np.testing.assert_allclose(np.exp(fn.log_softmax(s)), fn.softmax(s), rtol=1e-12)


@pytest.mark.parametrize("scores", [[1000.0, 999.0, 0.0], [-1000.0, -1001.0, -1002.0]])
def test_softmax_is_stable_at_plus_minus_1000(scores):
    s = np.array(scores)
    with np.errstate(all="ignore"):
        naive = naive_softmax(s)
    assert np.isnan(naive).any()  # the problem is real
    with np.errstate(over="raise", invalid="raise", divide="raise"):  # underflow to 0 is harmless
        p = fn.softmax(s)
        loss, d = fn.softmax_cross_entropy(s, 2)
    expected = naive_softmax(s - s.max())
    np.testing.assert_allclose(p, expected, rtol=1e-12)
    assert np.isclose(p.sum(), 1.0)
    assert math.isfinite(loss) and np.all(np.isfinite(d))
    # loss = -log p_2 = max - s_2 + log sum exp(s - max): large (when class 2 is far behind) but finite
    assert np.isclose(loss, s.max() - s[2] + math.log(np.exp(s - s.max()).sum()), rtol=1e-12)
    np.testing.assert_allclose(d, expected - np.eye(3)[2], rtol=1e-12, atol=1e-300)


def test_softmax_cross_entropy_gradient_matches_finite_differences():
    N, C = 4, 5
    s = RNG.normal(size=(N, C))
    y = RNG.integers(0, C, size=N)
    loss, d = fn.softmax_cross_entropy(s, y)
    p = naive_softmax(s)
    assert np.isclose(loss, -np.mean(np.log(p[np.arange(N), y])))
    t = np.eye(C)[y]
    np.testing.assert_allclose(d, (p - t) / N, rtol=1e-12)
    numeric = numerical_gradient(lambda z: fn.softmax_cross_entropy(z, y)[0], s)
    assert rel_error(d, numeric) < 1e-8
    # the one-hot target gives the same thing as the class indices
    loss_t, d_t = fn.softmax_cross_entropy(s, t)
    assert np.isclose(loss_t, loss) and np.allclose(d_t, d)


def test_one_example_gradient_is_lectures_minus_y_minus_p():
    s = RNG.normal(size=6)
    y = 4
    loss, d = fn.softmax_cross_entropy(s, y)
    onehot = np.eye(6)[y]
    np.testing.assert_allclose(d, -(onehot - naive_softmax(s)), rtol=1e-12)
    assert d.shape == (6,) and np.isclose(loss, -np.log(naive_softmax(s)[y]))


def test_cross_entropy_from_probabilities_and_logits_agree():
    s = RNG.normal(size=(3, 4))
    y = np.array([0, 3, 1])
    assert np.isclose(fn.cross_entropy(fn.softmax(s), y), fn.cross_entropy(s, y, from_logits=True))
    soft = fn.softmax(RNG.normal(size=(3, 4)))
    np.testing.assert_allclose(
        fn.cross_entropy(fn.softmax(s), soft), -np.mean(np.sum(soft * np.log(fn.softmax(s)), axis=1))
    )
    # a zero probability on the true class is an infinite loss, without a warning
    with np.errstate(all="raise"):
        assert fn.cross_entropy(np.array([[0.0, 1.0]]), np.array([0])) == np.inf
        assert fn.cross_entropy(np.array([[0.0, 1.0]]), np.array([1])) == 0.0


def test_soft_targets_gradient():
    s = RNG.normal(size=(3, 4))
    t = fn.softmax(RNG.normal(size=(3, 4)))
    _, d = fn.softmax_cross_entropy(s, t)
    assert rel_error(d, numerical_gradient(lambda z: fn.softmax_cross_entropy(z, t)[0], s)) < 1e-8


def naive_svm(scores, y, margin):
    total = 0.0
    for i in range(scores.shape[0]):
        for j in range(scores.shape[1]):
            if j != y[i]:
                total += max(0.0, scores[i, j] - scores[i, y[i]] + margin)
    return total / scores.shape[0]


@pytest.mark.parametrize("margin", [1.0, 0.5])
def test_svm_loss_matches_loop_and_finite_differences(margin):
    N, C = 6, 4
    s = RNG.normal(size=(N, C))
    y = RNG.integers(0, C, size=N)
    loss, d = fn.svm_loss(s, y, margin)
    assert np.isclose(loss, naive_svm(s, y, margin))
    numeric = numerical_gradient(lambda z: fn.svm_loss(z, y, margin)[0], s)
    assert rel_error(d, numeric) < 1e-7
    assert np.allclose(d.sum(axis=1), 0)  # each row: +1 per violator, -count on the true class


def test_svm_one_example_and_kink():
    loss, d = fn.svm_loss(np.array([3.0, 2.0, 5.0]), 0)
    assert loss == 0 + 3.0 and np.array_equal(d, [-1.0, 0.0, 1.0])  # class 1 sits on the margin: term 0
    loss0, d0 = fn.svm_loss(np.array([[3.0, 1.0]]), np.array([0]))
    assert loss0 == 0 and np.array_equal(d0, [[0.0, 0.0]]) and not np.signbit(d0).any()


def test_label_validation():
    s = np.zeros((2, 3))
    with pytest.raises(TypeError, match="integer"):
        fn.softmax_cross_entropy(s, np.array([0.0, 1.0]))
    with pytest.raises(ValueError, match=r"lie in \[0, 3\)"):
        fn.svm_loss(s, np.array([0, 3]))
    with pytest.raises(ValueError, match="do not match"):
        fn.softmax_cross_entropy(s, np.array([0, 1, 2]))
    with pytest.raises(ValueError, match="at least 2 classes"):
        fn.svm_loss(np.zeros((2, 1)), np.array([0, 0]))


def test_alpha_validation():
    with pytest.raises(ValueError, match="alpha"):
        fn.leaky_relu(np.ones(2), alpha=1.5)
    with pytest.raises(TypeError, match="alpha"):
        fn.elu(np.ones(2), alpha="1")
    with pytest.raises(ValueError, match="upstream"):
        fn.relu_backward(np.ones(3), np.ones(4))


@pytest.mark.parametrize("axis", [1.9, 1.0, np.float64(1), True, None, "1"])
def test_axis_must_be_an_int_not_truncated(axis):
    x = np.arange(8.0).reshape(2, 4)
    for call in (
        lambda: fn.maxout(x, 2, axis=axis),
        lambda: fn.softmax(x, axis=axis),
        lambda: fn.log_softmax(x, axis=axis),
        lambda: fn.mean_subtract(x, axis=axis),
        lambda: fn.mean_subtract_backward(x, x, axis=axis),
    ):
        with pytest.raises(TypeError, match="axis"):
            call()
    np.testing.assert_allclose(fn.softmax(x, axis=np.int64(1)), fn.softmax(x, axis=1))

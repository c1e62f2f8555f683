"""The numerical oracle itself must be right: check it on functions with known derivatives."""

import numpy as np
import pytest

from cnnbook.gradcheck import numerical_gradient, numerical_jacobian, rel_error


def test_gradient_of_a_known_function_and_x_left_unchanged(rng):
    x = rng.standard_normal((3, 4))
    before = x.copy()
    grad = numerical_gradient(lambda v: np.sum(np.sin(v) * v), x)
    np.testing.assert_allclose(grad, np.cos(before) * before + np.sin(before), rtol=1e-8, atol=1e-10)
    np.testing.assert_array_equal(x, before)


def test_jacobian_of_a_linear_map_is_the_matrix_in_vec_order(rng):
    A = rng.standard_normal((5, 6))
    x = rng.standard_normal((2, 3))  # vec(x) = x.reshape(-1)
    J = numerical_jacobian(lambda v: A @ v.reshape(-1), x)
    assert J.shape == (5, 6)
    np.testing.assert_allclose(J, A, atol=1e-9)


def test_input_restored_even_if_f_raises(rng):
    x = rng.standard_normal(4)
    before = x.copy()
    calls = []

    def f(v):
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("boom")
        return float(v.sum())

    with pytest.raises(RuntimeError, match="boom"):
        numerical_gradient(f, x)
    assert len(calls) == 2
    np.testing.assert_array_equal(x, before)


def test_rel_error_scale():
    a = np.array([1.0, 2.0, 3.0])
    assert rel_error(a, a) == 0.0
    assert rel_error(a, -a) == 1.0
    assert abs(rel_error(a, a * (1 + 1e-6)) - 5e-7) < 1e-9


def test_agrees_to_prints_a_bound_not_digits():
    from cnnbook.gradcheck import agrees_to

    assert agrees_to(3e-15) == "< 1e-13"
    assert agrees_to(2e-10) == "< 1e-08"
    assert agrees_to(0.5).endswith("(too large!)")


def test_divides_by_the_step_actually_taken():
    # at x = 1e3 the step 1e-11 is not representable: (x + h) - (x - h) != 2h.  Dividing by the
    # step taken keeps d x / dx exactly 1 (2h would give 1.0014 or so)
    x = np.array([1e3])
    assert numerical_gradient(lambda v: float(v[0]), x, h=1e-11)[0] == 1.0
    assert abs(numerical_gradient(lambda v: float(v[0] ** 2), np.array([1e3]))[0] - 2e3) < 1e-4


def test_float32_is_refused_with_the_reason():
    with pytest.raises(TypeError, match="float64"):
        numerical_gradient(lambda v: float((v**2).sum()), np.array([1000.0], dtype=np.float32))


def test_a_sampled_gradient_is_the_full_gradient_at_those_positions():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((3, 4, 5))
    W = rng.standard_normal(x.shape)

    def f(z):
        return float(np.sum(W * np.sin(z)))

    picked = rng.choice(x.size, 17, replace=False)
    keep = x.copy()
    sampled = numerical_gradient(f, x, indices=picked)
    assert np.array_equal(x, keep)
    assert sampled.shape == (17,)
    np.testing.assert_allclose(sampled, (W * np.cos(x)).reshape(-1)[picked], rtol=1e-8, atol=1e-10)
    np.testing.assert_array_equal(sampled, numerical_gradient(f, x).reshape(-1)[picked])


@pytest.mark.parametrize(
    ("indices", "error", "message"),
    [
        ([0.5, 1.0], TypeError, "indices must hold integer positions"),
        ([], ValueError, "non-empty 1-D"),
        ([[0, 1]], ValueError, "non-empty 1-D"),
        ([0, 60], ValueError, r"indices must lie in \[0, 60\)"),
        ([-1], ValueError, r"indices must lie in \[0, 60\)"),
    ],
)
def test_a_sampled_gradient_refuses_bad_positions(indices, error, message):
    x = np.zeros((3, 4, 5))
    with pytest.raises(error, match=message):
        numerical_gradient(lambda z: float(z.sum()), x, indices=indices)

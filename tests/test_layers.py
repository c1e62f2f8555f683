"""Layers and Sequential: every backward pass against central differences (float64), shapes, errors."""

import inspect

import numpy as np
import pytest

from cnnbook import (
    avgpool2d_backward,
    conv2d,
    conv2d_backward,
    layers,
    maxpool2d,
    maxpool2d_backward,
)
from cnnbook import functional as fn
from cnnbook.gradcheck import numerical_gradient, rel_error
from cnnbook.layers import (
    ELU,
    AvgPool2D,
    Conv2D,
    Dense,
    Flatten,
    Layer,
    LeakyReLU,
    Maxout,
    MaxPool2D,
    ReLU,
    Sigmoid,
    SoftmaxCrossEntropy,
    Tanh,
    init_weights,
)
from cnnbook.models import Sequential, small_convnet

TOL = 1e-7


def check_layer(layer, X, rng):
    """``L = sum(G * layer(X))`` for a random ``G``: backward's dX and parameter grads vs differences."""
    Y = layer.forward(X)
    G = rng.standard_normal(Y.shape)

    def loss(_):
        return float(np.sum(G * layer.forward(X)))

    dX = layer.backward(G)
    assert dX.shape == X.shape
    assert rel_error(dX, numerical_gradient(loss, X)) < TOL
    for key, value in layer.params.items():
        assert layer.grads[key].shape == value.shape
        assert rel_error(layer.grads[key], numerical_gradient(loss, value)) < TOL, key


@pytest.mark.parametrize(
    "kwargs", [dict(kernel_size=3, padding=1), dict(kernel_size=(2, 3), stride=2), dict(kernel_size=1)]
)
def test_conv2d_gradients(rng, kwargs):
    layer = Conv2D(2, 3, rng=rng, dtype=np.float64, **kwargs)
    layer.params["b"][:] = rng.standard_normal(3)
    check_layer(layer, rng.standard_normal((2, 2, 6, 5)), rng)


def test_conv2d_forward_is_the_core_conv2d(rng):
    layer = Conv2D(3, 4, 3, stride=2, padding=1, rng=rng)
    layer.params["b"][:] = rng.standard_normal(4)
    X = rng.standard_normal((2, 3, 9, 8)).astype(np.float32)
    S = layer.forward(X)
    assert S.dtype == np.float32 and S.shape == (2, 4, 5, 4)
    ref = conv2d(X.astype(np.float64), layer.params["F"].astype(np.float64), layer.params["b"], 2, 1)
    np.testing.assert_allclose(S, ref, rtol=1e-5, atol=1e-5)
    assert layer.output_shape((3, 9, 8)) == (4, 5, 4)


def test_dense_gradients_and_formula(rng):
    layer = Dense(7, 4, rng=rng, dtype=np.float64)
    layer.params["b"][:] = rng.standard_normal(4)
    X = rng.standard_normal((3, 7))
    check_layer(layer, X, rng)
    np.testing.assert_allclose(layer.forward(X)[1], layer.params["W"] @ X[1] + layer.params["b"])


@pytest.mark.parametrize(
    "pool", [MaxPool2D(2), MaxPool2D(3, stride=2, padding=1), AvgPool2D(2), AvgPool2D(3, 1)]
)
def test_pool_gradients(rng, pool):
    check_layer(pool, rng.standard_normal((2, 3, 6, 7)), rng)


def test_layer_backward_is_the_core_backward_of_the_kept_inputs(rng):
    """forward(training=True) keeps X (and cols / indices); backward(G) = *_backward(G, X, ...)."""
    X = rng.standard_normal((2, 3, 7, 6))
    conv = Conv2D(3, 4, (3, 2), stride=(2, 1), padding=1, rng=rng, dtype=np.float64)
    G = rng.standard_normal(conv.forward(X).shape)
    dX = conv.backward(G)
    ref = conv2d_backward(G, X, conv.params["F"], (2, 1), 1)
    for ours, core in zip((dX, conv.grads["F"], conv.grads["b"]), ref):
        np.testing.assert_allclose(ours, core, rtol=1e-12, atol=1e-12)
    for pool, core_backward in (
        (MaxPool2D(3, 2, 1), maxpool2d_backward),
        (AvgPool2D(2, 1), avgpool2d_backward),
    ):
        G = rng.standard_normal(pool.forward(X).shape)
        s = pool.spec
        np.testing.assert_allclose(
            pool.backward(G), core_backward(G, X, s.kernel_size, s.stride, s.padding), rtol=1e-12, atol=1e-12
        )


def test_backward_takes_only_G_and_conv_can_skip_dX(rng):
    classes = [c for c in vars(layers).values() if isinstance(c, type) and issubclass(c, layers.Layer)]
    assert len(classes) >= 12
    for cls in classes:
        assert list(inspect.signature(cls.backward).parameters) == ["self", "G"], cls
    conv = Conv2D(2, 3, 3, rng=rng, dtype=np.float64)
    X = rng.standard_normal((2, 2, 5, 5))
    G = rng.standard_normal(conv.forward(X).shape)
    full = (conv.backward(G), dict(conv.grads))
    conv.needs_input_grad = False
    assert conv.backward(G) is None
    for key in ("F", "b"):
        np.testing.assert_array_equal(conv.grads[key], full[1][key])
    assert full[0] is not None and full[0].shape == X.shape


def test_training_skips_the_first_layers_input_gradient(rng):
    model = tiny_net()
    first = model.layers[0]
    seen = []
    backward = first.backward

    def spy(G):
        seen.append((first.needs_input_grad, backward(G)))
        return seen[-1][1]

    first.backward = spy
    X, y = rng.standard_normal((3, 1, 8, 8)), np.array([0, 4, 2])
    model.loss_and_gradients(X, y)
    grads = {k: v.copy() for k, v in model.gradients().items()}
    assert seen[-1] == (False, None)
    assert first.needs_input_grad  # the flag is set for the training pass only
    dX = model.backward(model.loss.backward())
    assert seen[-1][0] is True and dX is not None and dX.shape == X.shape
    for name, value in model.gradients().items():
        np.testing.assert_array_equal(value, grads[name])


def test_maxpool_layer_is_the_core_maxpool(rng):
    X = rng.standard_normal((2, 3, 6, 6))
    np.testing.assert_array_equal(MaxPool2D(2).forward(X), maxpool2d(X, 2))
    assert MaxPool2D(2).output_shape((3, 7, 7)) == (3, 3, 3)


@pytest.mark.parametrize(
    "act", [ReLU(), LeakyReLU(0.1), ELU(1.0), Sigmoid(), Tanh(), Maxout(2, axis=1)], ids=repr
)
def test_activation_gradients(rng, act):
    X = rng.standard_normal((2, 4, 3, 3))
    X[np.abs(X) < 1e-3] = 0.5  # keep away from the kinks, where differences straddle two slopes
    check_layer(act, X, rng)


def test_activations_call_functional(rng):
    X = rng.standard_normal((2, 4))
    np.testing.assert_array_equal(ReLU().forward(X), fn.relu(X))
    np.testing.assert_array_equal(LeakyReLU(0.1).forward(X), fn.leaky_relu(X, 0.1))
    np.testing.assert_array_equal(Maxout(2, axis=1).forward(X), fn.maxout(X, 2, axis=1))
    assert Maxout(2, axis=1).output_shape((6, 5, 5)) == (3, 5, 5)


def test_flatten_is_row_major_vec(rng):
    X = rng.standard_normal((2, 3, 4, 5))
    layer = Flatten()
    Y = layer.forward(X)
    np.testing.assert_array_equal(Y[1], X[1].reshape(-1))
    np.testing.assert_array_equal(layer.backward(Y), X)
    assert layer.output_shape((3, 4, 5)) == (60,)


def test_softmax_cross_entropy_layer(rng):
    s = rng.standard_normal((5, 10))
    y = rng.integers(0, 10, 5)
    loss_layer = SoftmaxCrossEntropy()
    loss = loss_layer.forward(s, y)
    assert loss == pytest.approx(-np.mean(fn.log_softmax(s)[np.arange(5), y]))
    num = numerical_gradient(lambda z: SoftmaxCrossEntropy().forward(z, y), s)
    assert rel_error(loss_layer.backward(), num) < TOL
    with pytest.raises(RuntimeError, match="preceding forward"):
        SoftmaxCrossEntropy().backward()


def test_backward_needs_a_training_forward(rng):
    layer = Conv2D(1, 2, 3, rng=rng)
    with pytest.raises(RuntimeError, match=r"forward\(X, training=True\)"):
        layer.backward(np.zeros((1, 2, 3, 3)))
    X = rng.standard_normal((1, 1, 5, 5)).astype(np.float32)
    G = layer.forward(X, training=False)
    with pytest.raises(RuntimeError):
        layer.backward(G)


def test_init_statistics_and_determinism():
    he = init_weights((64, 32, 3, 3), 32 * 9, 64 * 9, "he", 0)
    assert he.dtype == np.float32
    assert he.std() == pytest.approx(np.sqrt(2 / 288), rel=0.03)
    glorot = init_weights((300, 500), 500, 300, "glorot", 0, dtype=np.float64)
    assert glorot.std() == pytest.approx(np.sqrt(2 / 800), rel=0.03)
    assert init_weights((50, 50), 50, 50, "he", 0, gain=0.5).std() == pytest.approx(0.1, rel=0.05)
    np.testing.assert_array_equal(Conv2D(1, 4, 3, rng=7).params["F"], Conv2D(1, 4, 3, rng=7).params["F"])
    assert not np.array_equal(Conv2D(1, 4, 3, rng=7).params["F"], Conv2D(1, 4, 3, rng=8).params["F"])
    assert np.all(Dense(5, 3).params["b"] == 0)
    with pytest.raises(ValueError, match="'he' or 'glorot'"):
        init_weights((2, 2), 2, 2, "xavier", 0)
    with pytest.raises(ValueError, match="gain"):
        init_weights((2, 2), 2, 2, "he", 0, gain=0)
    # the parameter is called init, as in the layers and in its error messages
    np.testing.assert_array_equal(
        init_weights((3, 3), 3, 3, init="glorot", rng=1), init_weights((3, 3), 3, 3, "glorot", 1)
    )
    with pytest.raises(TypeError, match="init must be the str"):
        init_weights((2, 2), 2, 2, init=1, rng=0)


def test_needs_input_grad_is_restored_after_training_backward():
    from cnnbook.models import small_convnet

    model = small_convnet()
    X, y = np.zeros((2, 1, 28, 28), np.float32), np.array([0, 1])
    model.loss_and_gradients(X, y)
    assert all(layer.needs_input_grad for layer in model.layers)
    assert "fast-path detail" in (Layer.__doc__ or "")


def test_constructor_errors():
    with pytest.raises(ValueError, match="in_channels"):
        Conv2D(0, 3, 3)
    with pytest.raises(TypeError, match="out_features must be an int, got True"):
        Dense(3, True)
    with pytest.raises(TypeError, match=r"in_channels must be an int, got 2\.0"):
        Conv2D(2.0, 3, 3)
    with pytest.raises(ValueError, match="kernel_size"):
        Conv2D(1, 3, 0)


def test_layer_input_errors(rng):
    with pytest.raises(ValueError, match=r"expects \(N, 7\).*Flatten"):
        Dense(7, 2).forward(np.zeros((2, 1, 7, 1), np.float32))
    with pytest.raises(ValueError, match="channel mismatch"):
        Conv2D(3, 2, 3).forward(np.zeros((1, 1, 5, 5), np.float32))
    with pytest.raises(ValueError, match=r"expects \(C=3"):
        Conv2D(3, 2, 3).output_shape((1, 5, 5))


# ---- Sequential and the lesson's network ------------------------------------------------------


def tiny_net(seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    layers = [
        Conv2D(1, 2, 3, padding=1, rng=rng, dtype=dtype),
        ReLU(),
        MaxPool2D(2),
        Conv2D(2, 3, 3, padding=1, rng=rng, dtype=dtype),
        Tanh(),
        AvgPool2D(2),
        Flatten(),
        Dense(12, 5, rng=rng, dtype=dtype),
    ]
    return Sequential(layers, input_shape=(1, 8, 8))


def test_whole_network_gradient_check(rng):
    model = tiny_net()
    for layer in model.layers:
        for value in layer.params.values():
            value += 0.1 * rng.standard_normal(value.shape)  # non-zero biases too
    X = rng.standard_normal((3, 1, 8, 8))
    y = np.array([0, 4, 2])
    loss, _ = model.loss_and_gradients(X, y)
    grads = model.gradients()

    def f(_):
        return model.loss.forward(model.forward(X), y)

    assert f(None) == loss
    for name, value in model.parameters().items():
        assert rel_error(grads[name], numerical_gradient(f, value)) < 1e-6, name
    model.loss.forward(model.forward(X), y)
    dX = model.backward(model.loss.backward())
    assert rel_error(dX, numerical_gradient(f, X)) < 1e-6


def test_sequential_names_shapes_summary():
    model = small_convnet()
    names = [layer.name for layer in model.layers]
    assert names == ["conv1", "relu1", "pool1", "conv2", "relu2", "pool2", "flatten", "fc1"]
    assert model.shapes() == [
        (8, 28, 28),
        (8, 28, 28),
        (8, 14, 14),
        (16, 14, 14),
        (16, 14, 14),
        (16, 7, 7),
        (784,),
        (10,),
    ]
    # conv1: 8 (1*3*3 + 1); conv2: 16 (8*3*3 + 1); fc1: 10 (784 + 1)
    assert model.n_params == 8 * 10 + 16 * 73 + 10 * 785 == 9098
    assert list(model.parameters()) == ["conv1.F", "conv1.b", "conv2.F", "conv2.b", "fc1.W", "fc1.b"]
    text = str(model.summary())
    assert "9,098" in text and "16x7x7" in text
    assert model.dtype == np.float32


def test_sequential_input_checks():
    model = small_convnet()
    with pytest.raises(ValueError, match=r"\(N, 1, 28, 28\).*\(5, 28, 28\)"):
        model.forward(np.zeros((5, 28, 28), np.float32))
    with pytest.raises(TypeError, match="real numbers"):
        model.forward(np.zeros((1, 1, 28, 28), bool))
    with pytest.raises(TypeError, match="Layer"):
        Sequential([])
    with pytest.raises(ValueError, match=r"expects \(C=3"):
        Sequential([Conv2D(3, 2, 3)], input_shape=(1, 8, 8))


def test_predict_scores_and_astype(rng):
    model = small_convnet(seed=3)
    X = rng.random((7, 1, 28, 28)).astype(np.float32)
    scores = model.scores(X, batch_size=3)
    np.testing.assert_allclose(scores, model.forward(X, training=False), rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(model.predict(X), scores.argmax(axis=1))
    model.astype(np.float64)
    assert model.dtype == np.float64 and model.forward(X.astype(np.float64)).dtype == np.float64


def test_load_parameters_round_trip():
    a, b = small_convnet(seed=1), small_convnet(seed=2)
    b.load_parameters({k: v.copy() for k, v in a.parameters().items()})
    for k in a.parameters():
        np.testing.assert_array_equal(a.parameters()[k], b.parameters()[k])
    with pytest.raises(ValueError, match="names differ"):
        b.load_parameters({"conv1.F": a.parameters()["conv1.F"]})
    bad = dict(a.parameters(), **{"fc1.b": np.zeros(3)})
    with pytest.raises(ValueError, match=r"fc1.b: expected shape \(10,\)"):
        b.load_parameters(bad)


def test_small_convnet_weights_are_pinned_for_a_seed():
    """Lesson 09's recorded outputs depend on these exact initial weights (one generator, this order)."""
    p = small_convnet(0).parameters()
    pinned = {
        "conv1.F": ([0.05926979333162308, -0.06227482855319977, 0.30189812183380127], 3.023947497829795),
        "conv2.F": ([0.1673269271850586, -0.10298451036214828, 0.3036685585975647], -8.80939348314132),
        "fc1.W": ([0.003169648814946413, -0.0074025108478963375, -0.007304492872208357], 1.43907014337492),
    }
    for name, (first, total) in pinned.items():
        np.testing.assert_allclose(p[name].ravel()[:3], first, rtol=1e-7)
        assert p[name].astype(np.float64).sum() == pytest.approx(total, rel=1e-9), name
    assert not any(p[name].any() for name in ("conv1.b", "conv2.b", "fc1.b"))


def test_small_convnet_options():
    model = small_convnet(out_channels=(4, 6), kernel_size=5, input_shape=(3, 12, 12), classes=7)
    assert [layer.spec.out_channels for layer in model.layers if isinstance(layer, Conv2D)] == [4, 6]
    assert model.shapes()[-1] == (7,) and model.layers[0].spec.kernel_size == (5, 5)
    with pytest.raises(ValueError, match="out_channels must be a pair"):
        small_convnet(out_channels=8)
    with pytest.raises(ValueError, match="out_channels must be a positive int"):
        small_convnet(out_channels=(8, 0))


def test_initial_loss_is_near_ln10():
    rng = np.random.default_rng(0)
    X = rng.random((200, 1, 28, 28)).astype(np.float32)
    y = rng.integers(0, 10, 200)
    for seed in range(3):
        model = small_convnet(seed)
        assert abs(model.loss.forward(model.scores(X), y) - np.log(10)) < 0.15


def test_layers_built_without_a_generator_get_independent_weights():
    """Issue 10, class 7: no rng means fresh entropy, not a shared seed 0."""
    a, b = Conv2D(8, 8, 3), Conv2D(8, 8, 3)
    assert not np.array_equal(a.params["F"], b.params["F"])
    assert not np.array_equal(Dense(20, 10).params["W"], Dense(20, 10).params["W"])
    # different shapes no longer share their first draws
    assert not np.array_equal(Conv2D(1, 4, 3).params["F"].ravel()[:4], Dense(9, 4).params["W"].ravel()[:4])
    # a seed or a generator stays reproducible, bit for bit
    np.testing.assert_array_equal(Conv2D(8, 8, 3, rng=3).params["F"], Conv2D(8, 8, 3, rng=3).params["F"])
    g1, g2 = np.random.default_rng(4), np.random.default_rng(4)
    np.testing.assert_array_equal(Dense(5, 3, rng=g1).params["W"], Dense(5, 3, rng=g2).params["W"])
    for name, value in small_convnet(0).parameters().items():
        np.testing.assert_array_equal(value, small_convnet(0).parameters()[name])
    fresh = [small_convnet(None).parameters()["conv1.F"] for _ in range(2)]
    assert not np.array_equal(*fresh)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_integer_images_are_computed_in_the_model_dtype(dtype, rng):
    """Issue 10, class 8: uint8 pixels are cast to the model's dtype, as fit does."""
    model = small_convnet(seed=1, dtype=dtype)
    pixels = rng.integers(0, 256, (5, 1, 28, 28)).astype(np.uint8)
    as_float = pixels.astype(dtype)
    for method in ("forward", "scores"):
        out = getattr(model, method)(pixels) if method == "scores" else model.forward(pixels, training=False)
        assert out.dtype == dtype, method
        np.testing.assert_array_equal(out, model.forward(as_float, training=False))
    np.testing.assert_array_equal(model.predict(pixels), model.predict(as_float))
    assert all(A.dtype == dtype for _, A in model.activations(pixels))

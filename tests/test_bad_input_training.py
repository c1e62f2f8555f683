"""Bad input to training, layers and models is refused before any work or change of state.

Table-driven: every case names the entry point, the bad argument, the exception type and a
fragment of the message that names the argument; after every refused call the model's parameters
(and, for :class:`cnnbook.train.SGD`, its velocities) must be exactly what they were.
"""

import math

import numpy as np
import pytest

from cnnbook.layers import ELU, Conv2D, Dense, Flatten, LeakyReLU, Maxout, MaxPool2D, ReLU, init_weights
from cnnbook.models import Sequential, small_convnet
from cnnbook.specs import summary
from cnnbook.train import (
    SGD,
    accuracy,
    batches,
    confusion_matrix,
    evaluate,
    fit,
    learning_rates,
    random_shift,
)


def data(n=24, seed=0):
    rng = np.random.default_rng(seed)
    return rng.random((n, 1, 8, 8)).astype(np.float32), np.arange(n) % 3


def net(seed=0, dtype=np.float32):
    rng = np.random.default_rng(seed)
    return Sequential(
        [
            Conv2D(1, 2, 3, padding=1, rng=rng, dtype=dtype),
            ReLU(),
            MaxPool2D(2),
            Flatten(),
            Dense(32, 3, rng=rng, dtype=dtype),
        ],
        input_shape=(1, 8, 8),
    )


def snapshot(model):
    return {name: value.copy() for name, value in model.parameters().items()}


def assert_unchanged(model, before):
    after = model.parameters()
    assert set(after) == set(before)
    for name, value in before.items():
        assert after[name].dtype == value.dtype, name
        np.testing.assert_array_equal(after[name], value, err_msg=name)


X0, Y0 = data()
NAN_X = X0.copy()
NAN_X[5, 0, 3, 3] = np.nan

# (id, keyword overrides of a valid fit call, exception, fragment of the message naming the argument)
FIT_CASES = [
    # data
    ("X-bool", dict(X=X0 > 0.5), TypeError, "X"),
    ("X-complex", dict(X=X0 + 1j), TypeError, "X"),
    ("X-object", dict(X=X0.astype(object)), TypeError, "X"),
    ("X-wrong-shape", dict(X=X0[:, 0]), ValueError, "X of shape"),
    ("X-nan", dict(X=NAN_X), ValueError, "X holds NaN"),
    ("X-inf", dict(X=np.where(NAN_X != NAN_X, np.inf, NAN_X)), ValueError, "X holds NaN or infinite"),
    ("X-empty", dict(X=X0[:0], y=Y0[:0]), ValueError, "X is empty"),
    ("y-float", dict(y=Y0.astype(float)), ValueError, "(y)"),
    ("y-bool", dict(y=Y0 > 0), ValueError, "(y)"),
    ("y-2d", dict(y=Y0[:, None]), ValueError, "(y)"),
    ("y-short", dict(y=Y0[:-1]), ValueError, "y has shape"),
    ("y-too-large", dict(y=np.where(np.arange(24) == 17, 3, Y0)), ValueError, "y must lie in [0, 3)"),
    ("y-negative", dict(y=np.where(np.arange(24) == 2, -1, Y0)), ValueError, "y must lie in [0, 3)"),
    ("y-plus-10", dict(y=Y0 + 10), ValueError, "y must lie in [0, 3)"),
    ("validation-not-pair", dict(validation=(X0,)), TypeError, "validation"),
    ("validation-array", dict(validation=X0), TypeError, "validation"),
    ("validation-y-range", dict(validation=(X0, Y0 + 1)), ValueError, "validation y must lie in [0, 3)"),
    ("validation-y-length", dict(validation=(X0, Y0[:3])), ValueError, "validation X has 24 examples"),
    ("validation-X-shape", dict(validation=(X0[:, :, :4], Y0)), ValueError, "X of shape"),
    ("validation-X-nan", dict(validation=(NAN_X, Y0)), ValueError, "validation X holds NaN"),
    # hyper-parameters
    ("lr-zero", dict(lr=0.0), ValueError, "lr"),
    ("lr-negative", dict(lr=-0.1), ValueError, "lr"),
    ("lr-nan", dict(lr=math.nan), ValueError, "lr"),
    ("lr-inf", dict(lr=math.inf), ValueError, "lr"),
    ("lr-bool", dict(lr=True), TypeError, "lr"),
    ("lr-str", dict(lr="0.1"), TypeError, "lr"),
    ("lr-none", dict(lr=None), TypeError, "lr"),
    ("lr-complex", dict(lr=0.1 + 0j), TypeError, "lr"),
    ("lr-array", dict(lr=np.array([0.1])), TypeError, "lr"),
    ("momentum-one", dict(momentum=1.0), ValueError, "momentum"),
    ("momentum-negative", dict(momentum=-0.1), ValueError, "momentum"),
    ("momentum-nan", dict(momentum=math.nan), ValueError, "momentum"),
    ("momentum-bool", dict(momentum=False), TypeError, "momentum"),
    ("momentum-str", dict(momentum="0.9"), TypeError, "momentum"),
    ("weight_decay-negative", dict(weight_decay=-1e-4), ValueError, "weight_decay"),
    ("weight_decay-inf", dict(weight_decay=math.inf), ValueError, "weight_decay"),
    ("weight_decay-nan", dict(weight_decay=math.nan), ValueError, "weight_decay"),
    ("weight_decay-bool", dict(weight_decay=True), TypeError, "weight_decay"),
    ("weight_decay-none", dict(weight_decay=None), TypeError, "weight_decay"),
    ("schedule-name", dict(schedule="linear"), ValueError, "schedule"),
    ("schedule-int", dict(schedule=3), TypeError, "schedule"),
    ("schedule-negative", dict(schedule=lambda t: -1.0), ValueError, "schedule"),
    ("schedule-nan", dict(schedule=lambda t: math.nan), ValueError, "schedule"),
    ("schedule-late-inf", dict(schedule=lambda t: 1.0 if t < 0.8 else math.inf), ValueError, "schedule"),
    ("schedule-overflow", dict(lr=10.0, schedule=lambda t: 1e308), ValueError, "schedule"),
    ("schedule-str", dict(schedule=lambda t: "1"), TypeError, "schedule"),
    ("schedule-bool", dict(schedule=lambda t: True), TypeError, "schedule"),
    ("schedule-none", dict(schedule=lambda t: None), TypeError, "schedule"),
    ("shift-negative", dict(shift=-1), ValueError, "shift"),
    ("shift-float", dict(shift=1.5), TypeError, "shift"),
    ("shift-bool", dict(shift=True), TypeError, "shift"),
    ("batch_size-zero", dict(batch_size=0), ValueError, "batch_size"),
    ("batch_size-negative", dict(batch_size=-4), ValueError, "batch_size"),
    ("batch_size-float", dict(batch_size=8.0), TypeError, "batch_size"),
    ("batch_size-bool", dict(batch_size=True), TypeError, "batch_size"),
    ("epochs-zero", dict(epochs=0), ValueError, "epochs"),
    ("epochs-float", dict(epochs=1.5), TypeError, "epochs"),
    ("epochs-bool", dict(epochs=True), TypeError, "epochs"),
    ("epochs-none", dict(epochs=None), TypeError, "epochs"),
    ("seed-negative", dict(seed=-1), ValueError, "seed"),
    ("seed-float", dict(seed=1.5), TypeError, "seed"),
    ("seed-bool", dict(seed=True), TypeError, "seed"),
    ("seed-str", dict(seed="0"), TypeError, "seed"),
    ("callback-not-callable", dict(callback=3), TypeError, "callback"),
    ("progress-str", dict(progress="no"), TypeError, "progress"),
    ("progress-int", dict(progress=1), TypeError, "progress"),
    ("seed-float", dict(seed=1.5), TypeError, "seed"),
    ("model-not-sequential", dict(model=[Dense(64, 3)]), TypeError, "model"),
]


@pytest.mark.parametrize(
    ("overrides", "error", "fragment"), [c[1:] for c in FIT_CASES], ids=[c[0] for c in FIT_CASES]
)
def test_fit_refuses_before_the_first_step(overrides, error, fragment):
    model = net()
    before = snapshot(model)
    args = dict(model=model, X=X0, y=Y0, epochs=2, batch_size=8, lr=0.1, progress=False)
    args.update(overrides)
    with pytest.raises(error) as info:
        fit(**args)
    assert fragment in str(info.value)
    assert_unchanged(model, before)
    assert all(not layer.grads for layer in model.layers)  # no forward/backward ran either


# (id, function of (model, X, y), exception, fragment)
EVAL_CASES = [
    ("accuracy-y-plus-10", lambda m, X, y: accuracy(m, X, y + 10), ValueError, "y must lie in [0, 3)"),
    ("accuracy-y-negative", lambda m, X, y: accuracy(m, X, y - 1), ValueError, "y must lie in [0, 3)"),
    ("evaluate-y-plus-10", lambda m, X, y: evaluate(m, X, y + 10), ValueError, "y must lie in [0, 3)"),
    ("accuracy-batch_size-zero", lambda m, X, y: accuracy(m, X, y, batch_size=0), ValueError, "batch_size"),
    ("evaluate-batch_size-float", lambda m, X, y: evaluate(m, X, y, 2.5), TypeError, "batch_size"),
    ("accuracy-y-float", lambda m, X, y: accuracy(m, X, y * 1.0), ValueError, "(y)"),
    ("accuracy-not-a-model", lambda m, X, y: accuracy("net", X, y), TypeError, "model"),
]


@pytest.mark.parametrize(
    ("call", "error", "fragment"), [c[1:] for c in EVAL_CASES], ids=[c[0] for c in EVAL_CASES]
)
def test_evaluation_refuses_bad_labels(call, error, fragment):
    model = net()
    before = snapshot(model)
    with pytest.raises(error) as info:
        call(model, X0, Y0)
    assert fragment in str(info.value)
    assert_unchanged(model, before)


# ---- SGD: arguments, and a step that applies to every parameter or to none -------------------


def stepped_optimizer():
    """A model and optimizer after two real steps (non-zero velocities), gradients of a third in place."""
    model = net()
    optimizer = SGD(model, momentum=0.9, weight_decay=1e-3)
    for start in (0, 8, 16):
        model.loss_and_gradients(X0[start : start + 8], Y0[start : start + 8])
        if start < 16:
            optimizer.step(0.1)
    return model, optimizer


SGD_CASES = [
    ("init-momentum-one", lambda m, o: SGD(m, momentum=1.0), ValueError, "momentum"),
    ("init-momentum-bool", lambda m, o: SGD(m, momentum=True), TypeError, "momentum"),
    ("init-momentum-nan", lambda m, o: SGD(m, momentum=math.nan), ValueError, "momentum"),
    ("init-weight_decay-negative", lambda m, o: SGD(m, weight_decay=-1.0), ValueError, "weight_decay"),
    ("init-weight_decay-str", lambda m, o: SGD(m, weight_decay="0"), TypeError, "weight_decay"),
    ("init-model", lambda m, o: SGD(m.layers), TypeError, "model"),
    ("step-lr-str", lambda m, o: o.step("0.1"), TypeError, "lr"),
    ("step-lr-negative", lambda m, o: o.step(-0.1), ValueError, "lr"),
    ("step-lr-nan", lambda m, o: o.step(math.nan), ValueError, "lr"),
    ("step-lr-inf", lambda m, o: o.step(math.inf), ValueError, "lr"),
    ("step-lr-bool", lambda m, o: o.step(True), TypeError, "lr"),
    ("step-lr-none", lambda m, o: o.step(None), TypeError, "lr"),
    ("step-overflow", lambda m, o: o.step(1e300), FloatingPointError, "not finite"),
]


@pytest.mark.parametrize(
    ("call", "error", "fragment"), [c[1:] for c in SGD_CASES], ids=[c[0] for c in SGD_CASES]
)
def test_sgd_refuses_and_changes_nothing(call, error, fragment):
    model, optimizer = stepped_optimizer()
    before = snapshot(model)
    velocity = {name: v.copy() for name, v in optimizer.velocity.items()}
    assert any(v.any() for v in velocity.values())
    with pytest.raises(error) as info, np.errstate(over="ignore", invalid="ignore"):
        call(model, optimizer)
    assert fragment in str(info.value)
    assert_unchanged(model, before)
    for name, v in velocity.items():
        np.testing.assert_array_equal(optimizer.velocity[name], v, err_msg=name)


def test_sgd_step_before_any_backward_pass_says_what_to_do():
    model = net()
    before = snapshot(model)
    optimizer = SGD(model)
    with pytest.raises(RuntimeError, match=r"run a backward pass \(e\.g\. model\.loss_and_gradients"):
        optimizer.step(0.1)
    assert_unchanged(model, before)
    assert not any(v.any() for v in optimizer.velocity.values())


def test_sgd_step_with_a_nan_gradient_in_the_last_parameter_changes_nothing():
    model, optimizer = stepped_optimizer()
    before = snapshot(model)
    velocity = {name: v.copy() for name, v in optimizer.velocity.items()}
    model.layers[-1].grads["b"][1] = np.nan  # the last parameter: all others would have been fine
    with pytest.raises(FloatingPointError, match=r"fc1\.b"):
        optimizer.step(0.1)
    assert_unchanged(model, before)
    for name, v in velocity.items():
        np.testing.assert_array_equal(optimizer.velocity[name], v)


def test_sgd_step_is_the_in_place_rule_bit_for_bit():
    model, optimizer = stepped_optimizer()
    expected = {}
    for name, layer, key in model.named_parameters():
        theta, v = layer.params[key].copy(), optimizer.velocity[name].copy()
        v *= optimizer.momentum
        v += layer.grads[key]
        if key in layer.decay:
            v += optimizer.weight_decay * theta
        theta -= 0.1 * v
        expected[name] = (theta, v)
    optimizer.step(0.1)
    for name, (theta, v) in expected.items():
        np.testing.assert_array_equal(model.parameters()[name], theta)
        np.testing.assert_array_equal(optimizer.velocity[name], v)


@pytest.mark.parametrize("how", ["overflow", "nan-loss"])
def test_fit_stops_with_the_model_as_before_the_failing_step(monkeypatch, how):
    """A diverging step names the epoch and batch and leaves the parameters the step started from."""
    import cnnbook.train as train

    model = net()
    initial = snapshot(model)
    after_steps = []
    step = train.SGD.step

    def recording_step(self, lr):
        step(self, lr)  # a step that raises records nothing
        after_steps.append(snapshot(self.model))

    monkeypatch.setattr(train.SGD, "step", recording_step)
    if how == "nan-loss":
        real = model.loss_and_gradients

        def loss_and_gradients(X, y):
            loss, scores = real(X, y)
            return (math.nan if len(after_steps) == 4 else loss), scores

        monkeypatch.setattr(model, "loss_and_gradients", loss_and_gradients)
        with pytest.raises(FloatingPointError, match=r"epoch 2, batch 2 of 3 .*the loss became nan"):
            fit(model, X0, Y0, epochs=3, batch_size=8, lr=0.1, progress=False)
        assert len(after_steps) == 4
    else:
        with pytest.raises(
            FloatingPointError, match=r"diverged at epoch 1, batch 3 of 3.*smaller learning rate"
        ):
            # from the third step on, lr * v overflows float32 (the rate itself is a finite float)
            fit(
                model,
                X0,
                Y0,
                epochs=2,
                batch_size=8,
                lr=1.0,
                schedule=lambda t: 1.0 if t < 0.3 else 1e299,
                progress=False,
            )
        assert len(after_steps) == 2
    # every parameter is what the last completed step left (none half-updated)
    assert_unchanged(model, after_steps[-1] if after_steps else initial)
    assert all(np.isfinite(p).all() for p in model.parameters().values())


# ---- layers and models: hyper-parameters and dtypes refused at construction ------------------

LAYER_CASES = [
    ("Conv2D-dtype-int32", lambda: Conv2D(1, 2, 3, dtype=np.int32), TypeError, "dtype"),
    ("Conv2D-dtype-uint8", lambda: Conv2D(1, 2, 3, dtype="uint8"), TypeError, "dtype"),
    ("Conv2D-dtype-float16", lambda: Conv2D(1, 2, 3, dtype=np.float16), TypeError, "dtype"),
    ("Conv2D-dtype-complex", lambda: Conv2D(1, 2, 3, dtype=complex), TypeError, "dtype"),
    ("Conv2D-dtype-nonsense", lambda: Conv2D(1, 2, 3, dtype="nonsense"), TypeError, "dtype"),
    ("Conv2D-init", lambda: Conv2D(1, 2, 3, init="xavier"), ValueError, "init"),
    ("Conv2D-init-none", lambda: Conv2D(1, 2, 3, init=None), TypeError, "init"),
    ("Conv2D-init-int", lambda: Conv2D(1, 2, 3, init=3), TypeError, "init"),
    ("Dense-init-list", lambda: Dense(2, 3, init=["he"]), TypeError, "init"),
    ("init_weights-init-str", lambda: init_weights((2, 2), 2, 2, "xavier", 0), ValueError, "init"),
    ("init_weights-init-none", lambda: init_weights((2, 2), 2, 2, None, 0), TypeError, "init"),
    ("Conv2D-gain-zero", lambda: Conv2D(1, 2, 3, gain=0), ValueError, "gain"),
    ("Conv2D-gain-nan", lambda: Conv2D(1, 2, 3, gain=math.nan), ValueError, "gain"),
    ("Conv2D-gain-bool", lambda: Conv2D(1, 2, 3, gain=True), TypeError, "gain"),
    ("Conv2D-rng-negative", lambda: Conv2D(1, 2, 3, rng=-1), ValueError, "rng"),
    ("Conv2D-rng-float", lambda: Conv2D(1, 2, 3, rng=1.5), TypeError, "rng"),
    ("Conv2D-rng-bool", lambda: Conv2D(1, 2, 3, rng=True), TypeError, "rng"),
    ("Dense-dtype-int64", lambda: Dense(3, 2, dtype=np.int64), TypeError, "dtype"),
    ("Dense-gain-negative", lambda: Dense(3, 2, gain=-1.0), ValueError, "gain"),
    ("Dense-gain-str", lambda: Dense(3, 2, gain="1"), TypeError, "gain"),
    ("Dense-init", lambda: Dense(3, 2, init="HE"), ValueError, "init"),
    ("Dense-rng-str", lambda: Dense(3, 2, rng="0"), TypeError, "rng"),
    ("init_weights-dtype", lambda: init_weights((2, 2), 2, 2, "he", 0, dtype=np.int8), TypeError, "dtype"),
    ("init_weights-fan_in", lambda: init_weights((2, 2), 0, 2, "he", 0), ValueError, "fan_in"),
    ("init_weights-fan_out", lambda: init_weights((2, 2), 2, 2.5, "he", 0), TypeError, "fan_out"),
    ("init_weights-gain-inf", lambda: init_weights((2, 2), 2, 2, "he", 0, gain=math.inf), ValueError, "gain"),
    ("LeakyReLU-alpha-5", lambda: LeakyReLU(alpha=5), ValueError, "alpha"),
    ("LeakyReLU-alpha-negative", lambda: LeakyReLU(alpha=-0.1), ValueError, "alpha"),
    ("LeakyReLU-alpha-nan", lambda: LeakyReLU(alpha=math.nan), ValueError, "alpha"),
    ("LeakyReLU-alpha-bool", lambda: LeakyReLU(alpha=True), TypeError, "alpha"),
    ("LeakyReLU-alpha-str", lambda: LeakyReLU(alpha="0.1"), TypeError, "alpha"),
    ("LeakyReLU-alpha-none", lambda: LeakyReLU(alpha=None), TypeError, "alpha"),
    ("ELU-alpha-negative", lambda: ELU(alpha=-1.0), ValueError, "alpha"),
    ("ELU-alpha-inf", lambda: ELU(alpha=math.inf), ValueError, "alpha"),
    ("ELU-alpha-nan", lambda: ELU(alpha=math.nan), ValueError, "alpha"),
    ("ELU-alpha-bool", lambda: ELU(alpha=False), TypeError, "alpha"),
    ("ELU-alpha-complex", lambda: ELU(alpha=1j), TypeError, "alpha"),
    ("Maxout-pieces-zero", lambda: Maxout(pieces=0), ValueError, "pieces"),
    ("Maxout-pieces-negative", lambda: Maxout(pieces=-2), ValueError, "pieces"),
    ("Maxout-pieces-float", lambda: Maxout(pieces=2.0), TypeError, "pieces"),
    ("Maxout-pieces-bool", lambda: Maxout(pieces=True), TypeError, "pieces"),
    ("Maxout-axis-float", lambda: Maxout(axis=1.9), TypeError, "axis"),
    ("Maxout-axis-bool", lambda: Maxout(axis=True), TypeError, "axis"),
    ("Maxout-axis-none", lambda: Maxout(axis=None), TypeError, "axis"),
    ("Maxout-axis-batch", lambda: Maxout(axis=0), ValueError, "axis"),
    (
        "Sequential-input_shape-float",
        lambda: Sequential([Flatten()], input_shape=(1, 8.7, 8)),
        TypeError,
        "input_shape",
    ),
    (
        "Sequential-input_shape-zero",
        lambda: Sequential([Flatten()], input_shape=(1, 0, 8)),
        ValueError,
        "input_shape",
    ),
    ("Sequential-input_shape-int", lambda: Sequential([Flatten()], input_shape=8), TypeError, "input_shape"),
    ("small_convnet-kernel_size-float", lambda: small_convnet(kernel_size=3.0), TypeError, "kernel_size"),
    ("small_convnet-classes-zero", lambda: small_convnet(classes=0), ValueError, "classes"),
    ("small_convnet-head_gain-zero", lambda: small_convnet(head_gain=0.0), ValueError, "head_gain"),
    ("small_convnet-dtype-int", lambda: small_convnet(dtype=np.int32), TypeError, "dtype"),
    ("small_convnet-seed-negative", lambda: small_convnet(seed=-1), ValueError, "seed"),
    ("small_convnet-seed-bool", lambda: small_convnet(seed=True), TypeError, "seed"),
    ("small_convnet-input_shape", lambda: small_convnet(input_shape=(1, 28.0, 28)), TypeError, "input_shape"),
]


@pytest.mark.parametrize(
    ("build", "error", "fragment"), [c[1:] for c in LAYER_CASES], ids=[c[0] for c in LAYER_CASES]
)
def test_layers_refuse_bad_hyper_parameters_at_construction(build, error, fragment):
    with pytest.raises(error) as info:
        build()
    assert fragment in str(info.value)


def test_a_refused_layer_leaves_a_shared_generator_alone():
    rng = np.random.default_rng(5)
    state = rng.bit_generator.state
    for bad in (dict(dtype=np.int32), dict(gain=0.0), dict(init="x"), dict(rng=rng, dtype=np.int8)):
        with pytest.raises((TypeError, ValueError)):
            Conv2D(1, 2, 3, **{"rng": rng, **bad})
    for bad in (dict(dtype=np.int32), dict(head_gain=0.0), dict(classes=0), dict(kernel_size=2.5)):
        with pytest.raises((TypeError, ValueError)):
            small_convnet(rng, **bad)
    assert rng.bit_generator.state == state


MODEL_CASES = [
    ("astype-int32", lambda m: m.astype(np.int32), TypeError, "dtype"),
    ("astype-float16", lambda m: m.astype(np.float16), TypeError, "dtype"),
    ("astype-complex", lambda m: m.astype(np.complex128), TypeError, "dtype"),
    ("layer-astype-uint8", lambda m: m.layers[0].astype(np.uint8), TypeError, "dtype"),
    (
        "load-complex-last",
        lambda m: m.load_parameters(_values(m, "fc1.b", np.zeros(3, complex))),
        TypeError,
        "fc1.b",
    ),
    (
        "load-nan-last",
        lambda m: m.load_parameters(_values(m, "fc1.b", np.full(3, np.nan))),
        ValueError,
        "fc1.b",
    ),
    (
        "load-inf-first",
        lambda m: m.load_parameters(_values(m, "conv1.F", np.full((2, 1, 3, 3), np.inf))),
        ValueError,
        "conv1.F",
    ),
    ("load-bool", lambda m: m.load_parameters(_values(m, "conv1.b", np.ones(2, bool))), TypeError, "conv1.b"),
    ("load-str", lambda m: m.load_parameters(_values(m, "fc1.W", np.full((3, 32), "a"))), TypeError, "fc1.W"),
    (
        "load-object",
        lambda m: m.load_parameters(_values(m, "fc1.W", np.ones((3, 32), object))),
        TypeError,
        "fc1.W",
    ),
    ("load-shape-last", lambda m: m.load_parameters(_values(m, "fc1.b", np.zeros(4))), ValueError, "fc1.b"),
    ("load-names", lambda m: m.load_parameters({"conv1.F": np.zeros((2, 1, 3, 3))}), ValueError, "names"),
    ("load-not-a-dict", lambda m: m.load_parameters([np.zeros(3)]), TypeError, "values"),
    ("forward-bool", lambda m: m.forward(X0 > 0), TypeError, "X"),
    ("scores-complex", lambda m: m.scores(X0 + 0j), TypeError, "X"),
    ("predict-shape", lambda m: m.predict(X0[:, 0]), ValueError, "X of shape"),
    ("scores-batch_size-zero", lambda m: m.scores(X0, batch_size=0), ValueError, "batch_size"),
    ("scores-batch_size-bool", lambda m: m.scores(X0, batch_size=True), TypeError, "batch_size"),
    ("predict-batch_size-float", lambda m: m.predict(X0, 2.5), TypeError, "batch_size"),
    ("predict-empty", lambda m: m.predict(X0[:0]), ValueError, "non-empty"),
    ("scores-empty", lambda m: m.scores(X0[:0]), ValueError, "non-empty"),
    ("backward-input_grad-str", lambda m: _backward(m, "x"), TypeError, "input_grad"),
    ("backward-input_grad-int", lambda m: _backward(m, 0), TypeError, "input_grad"),
    ("summary-wrong-channels", lambda m: m.summary((3, 8, 8)), ValueError, "conv1"),
    ("summary-fn-wrong-channels", lambda m: summary(m, (3, 8, 8)), ValueError, "expects (C=1, H, W)"),
    ("summary-wrong-features", lambda m: m.summary((1, 10, 10)), ValueError, "expects 32 input features"),
    ("shapes-wrong-size", lambda m: m.shapes((1, 10, 10)), ValueError, "layer 5 (fc1)"),
    ("summary-input_shape-none-given", lambda m: summary(m.layers, None), ValueError, "input_shape"),
    ("summary-input_shape-int", lambda m: m.summary(5), TypeError, "input_shape"),
]


def _backward(model, input_grad):
    """A training forward pass, then ``backward`` with a bad ``input_grad``."""
    model.forward(X0[:4], training=True)
    return model.backward(np.ones((4, 3), np.float32), input_grad=input_grad)


def _values(model, name, bad):
    """Valid new values for every parameter (ones, so a partial load would show) except ``name``."""
    values = {key: np.ones_like(v) for key, v in model.parameters().items()}
    values[name] = bad
    return values


@pytest.mark.parametrize(
    ("call", "error", "fragment"), [c[1:] for c in MODEL_CASES], ids=[c[0] for c in MODEL_CASES]
)
def test_models_refuse_and_change_nothing(call, error, fragment):
    model = net()
    before = snapshot(model)
    with pytest.raises(error) as info:
        call(model)
    assert fragment in str(info.value)
    assert_unchanged(model, before)


def test_sequential_refuses_a_broken_chain_before_naming_the_layers():
    rng = np.random.default_rng(0)
    layers = [Conv2D(1, 2, 3, rng=rng), ReLU(), Flatten(), Dense(5, 3, rng=rng)]  # 2*6*6 = 72 != 5
    with pytest.raises(ValueError, match=r"layer 4 \(fc1\) on input \(72,\): .*expects 5 input features"):
        Sequential(layers, input_shape=(1, 8, 8))
    assert [layer.name for layer in layers] == ["", "", "", ""]


def test_model_shape_errors_name_the_layer():
    with pytest.raises(ValueError, match=r"layer 6 \(pool2\) on input \(16, 1, 1\): filter size 2"):
        small_convnet(input_shape=(1, 3, 3))


def test_summary_of_a_model_refuses_what_the_model_refuses():
    model = small_convnet()
    assert model.summary().total_params == model.n_params == 9098
    for shape in ((3, 28, 28), (2, 28, 28), (1, 32, 32)):
        with pytest.raises(ValueError) as by_model:
            model.shapes(shape)
        with pytest.raises(ValueError) as by_summary:
            summary(model, shape)
        with pytest.raises(ValueError):
            model.summary(shape)
        assert "layer " in str(by_model.value) and "layer " in str(by_summary.value)


# (id, function of a Generator, exception, fragment): helpers of fit, refused before any draw
HELPER_CASES = [
    ("batches-batch_size-zero", lambda r: list(batches(X0, Y0, 0, r)), ValueError, "batch_size"),
    ("batches-batch_size-bool", lambda r: list(batches(X0, Y0, True, r)), TypeError, "batch_size"),
    ("batches-batch_size-float", lambda r: list(batches(X0, Y0, 2.5, r)), TypeError, "batch_size"),
    ("batches-shift-float", lambda r: list(batches(X0, Y0, 8, r, shift=1.7)), TypeError, "shift"),
    ("batches-shift-negative", lambda r: list(batches(X0, Y0, 8, r, shift=-1)), ValueError, "shift"),
    ("batches-lengths", lambda r: list(batches(X0, Y0[:-1], 8, r)), ValueError, "24 examples but y has 23"),
    ("batches-rng-int", lambda r: list(batches(X0, Y0, 8, 0)), TypeError, "rng"),
    ("batches-rng-none", lambda r: list(batches(X0, Y0, 8, None)), TypeError, "rng"),
    ("random_shift-float", lambda r: random_shift(X0, 1.9, r), TypeError, "max_shift"),
    ("random_shift-bool", lambda r: random_shift(X0, True, r), TypeError, "max_shift"),
    ("random_shift-negative", lambda r: random_shift(X0, -1, r), ValueError, "max_shift"),
    ("random_shift-rng-int", lambda r: random_shift(X0, 1, 3), TypeError, "rng"),
    ("confusion-classes-float", lambda r: confusion_matrix(Y0, Y0, classes=2.5), TypeError, "classes"),
    ("confusion-classes-bool", lambda r: confusion_matrix(Y0, Y0, classes=True), TypeError, "classes"),
    ("confusion-classes-zero", lambda r: confusion_matrix(Y0, Y0, classes=0), ValueError, "classes"),
    ("confusion-y_true-float", lambda r: confusion_matrix(Y0 * 1.0, Y0, 3), TypeError, "y_true"),
    ("confusion-y_pred-bool", lambda r: confusion_matrix(Y0, Y0 > 0, 3), TypeError, "y_pred"),
    ("confusion-y_pred-range", lambda r: confusion_matrix(Y0, Y0 + 1, 3), ValueError, "y_pred must lie in"),
    ("confusion-lengths", lambda r: confusion_matrix(Y0, Y0[:-1], 3), ValueError, "y_true"),
    ("learning_rates-lr", lambda r: learning_rates(0.0, "constant", 5), ValueError, "lr"),
    ("learning_rates-steps", lambda r: learning_rates(0.1, "constant", 0), ValueError, "total_steps"),
    ("learning_rates-steps-float", lambda r: learning_rates(0.1, "cosine", 2.0), TypeError, "total_steps"),
    ("learning_rates-schedule", lambda r: learning_rates(0.1, "step", 5), ValueError, "schedule"),
    ("learning_rates-negative", lambda r: learning_rates(0.1, lambda t: -1.0, 5), ValueError, "schedule"),
]


@pytest.mark.parametrize(
    ("call", "error", "fragment"), [c[1:] for c in HELPER_CASES], ids=[c[0] for c in HELPER_CASES]
)
def test_training_helpers_refuse_before_drawing(call, error, fragment):
    rng = np.random.default_rng(7)
    state = rng.bit_generator.state
    with pytest.raises(error) as info:
        call(rng)
    assert fragment in str(info.value)
    assert rng.bit_generator.state == state


def test_table_sizes():
    """The closing note of issue 10 reports these counts."""
    assert len(FIT_CASES) + len(EVAL_CASES) + len(SGD_CASES) + len(LAYER_CASES) + len(MODEL_CASES) >= 150

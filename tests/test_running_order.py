"""Trick 24 (``cnnbook.fast.running_order``): a strided max pooling written after a ReLU runs before it.

The two orders must give the same scores, loss and parameter gradients *bit for bit* (and the
same input gradient as numbers: a zero's sign may move) -- not just close --
on inputs full of ties, zeros and windows with no positive value (where the orders could differ
if the argument in the trick's docstring were wrong), with and without padding, overlapping
windows, float32 and float64, and with frozen layers in front.
"""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from cnnbook import fast
from cnnbook.functional import relu_backward
from cnnbook.layers import AvgPool2D, Conv2D, Dense, Flatten, LeakyReLU, MaxPool2D, ReLU, Tanh
from cnnbook.models import Sequential


class _MyReLU(ReLU):
    """A subclass may do something else: it keeps its place."""


def test_running_order_swaps_each_relu_followed_by_max_pooling_and_nothing_else():
    conv, relu, pool, relu2, pool2, mine, pool3, tanh, pool4 = (
        Conv2D(1, 2, 3),
        ReLU(),
        MaxPool2D(2),
        ReLU(),
        MaxPool2D(2),
        _MyReLU(),
        MaxPool2D(2),
        Tanh(),
        MaxPool2D(2),
    )
    layers = [conv, relu, pool, relu2, pool2, mine, pool3, tanh, pool4]
    order = fast.running_order(layers)
    assert order == [conv, pool, relu, pool2, relu2, mine, pool3, tanh, pool4]
    assert layers == [conv, relu, pool, relu2, pool2, mine, pool3, tanh, pool4]  # not changed in place
    # two ReLUs then pooling: the second ReLU swaps; a ReLU then two poolings: the first pooling
    relu3, relu4, pool5, pool6 = ReLU(), ReLU(), MaxPool2D(2), MaxPool2D(2)
    assert fast.running_order([relu3, relu4, pool5]) == [relu3, pool5, relu4]
    assert fast.running_order([relu3, pool5, pool6]) == [pool5, relu3, pool6]
    with fast.tricks_off("pool_before_relu"):
        assert fast.running_order(layers) == layers
    # average pooling does not commute with ReLU; a stride-1 max pooling would save nothing
    avg, unstrided = AvgPool2D(2), MaxPool2D(3, 1, 1)
    assert fast.running_order([relu3, avg, relu4, unstrided]) == [relu3, avg, relu4, unstrided]
    assert fast.running_order([relu3, MaxPool2D(3, (1, 2))])[0] is not relu3


def _network(seed, channels, kernel, stride, padding, frozen_first, dtype):
    rng = np.random.default_rng(seed)
    conv1 = Conv2D(1, channels, 3, padding=1, rng=rng, dtype=dtype)
    conv2 = Conv2D(channels, channels, 3, padding=1, rng=rng, dtype=dtype)
    conv3 = Conv2D(channels, 2, 1, rng=rng, dtype=dtype)
    pool = MaxPool2D(kernel, stride, padding)
    layers = [conv1, ReLU(), pool, conv2, LeakyReLU(0.1), ReLU(), MaxPool2D(2), ReLU(), conv3, Flatten()]
    model = Sequential(layers)
    features = int(np.prod(model.shapes((1, 12, 12))[-1]))
    model = Sequential([*layers, Dense(features, 5, rng=rng, dtype=dtype)], input_shape=(1, 12, 12))
    if frozen_first:
        model.freeze("conv1")
    return model


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    channels=st.integers(1, 3),
    window=st.sampled_from([(2, 2, 0), (3, 2, 1), (3, (1, 2), 1), (3, 3, 1), ((2, 3), (1, 2), (1, 0))]),
    frozen_first=st.booleans(),
    quantized=st.booleans(),
    dtype=st.sampled_from([np.float32, np.float64]),
)
def test_the_network_gives_the_same_bits_with_max_pooling_before_relu(
    seed, channels, window, frozen_first, quantized, dtype
):
    model = _network(seed % 1000, channels, *window, frozen_first, dtype)
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((4, 1, 12, 12))
    if quantized:  # integers and zero weights: ties, exact zeros, all-negative windows everywhere
        X = np.round(2 * X)
        for layer in model.layers:
            for key in layer.params:
                layer.params[key][...] = np.round(2 * layer.params[key]) / 2
    X = X.astype(dtype)
    y = rng.integers(0, 5, size=4)
    results = []
    for switches in ((), ("pool_before_relu",)):
        with fast.tricks_off(*switches):
            loss, scores = model.loss_and_gradients(X, y)
            grads = model.gradients()
            dX = model.backward(model.loss.backward(), input_grad=True)
        results.append((loss, scores, grads, dX))
    (loss, scores, grads, dX), (loss0, scores0, grads0, dX0) = results
    bits = np.uint32 if dtype == np.float32 else np.uint64
    assert loss == loss0
    np.testing.assert_array_equal(scores.view(bits), scores0.view(bits))
    assert grads.keys() == grads0.keys() and ("conv1.F" in grads) != frozen_first
    for name in grads:  # bit for bit: signed zeros and all
        np.testing.assert_array_equal(grads[name].view(bits), grads0[name].view(bits), err_msg=name)
    np.testing.assert_array_equal(dX, dX0)  # equal numbers (a zero's sign may differ, see the pair test)


@settings(max_examples=150, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    window=st.sampled_from([(2, 2, 0), (3, 2, 1), (3, 3, 1), ((2, 3), (2, 1), (1, 0)), (2, 3, 0)]),
    dtype=st.sampled_from([np.float32, np.float64]),
)
def test_the_pair_alone_commutes_on_nan_inf_and_signed_zeros(seed, window, dtype):
    """ReLU -> max pooling against max pooling -> ReLU on inputs full of specials: the same outputs
    (NaN where NaN); the same input gradients as numbers (only a zero's sign may move)."""
    rng = np.random.default_rng(seed)
    specials = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, 1.0, -1.0], dtype=dtype)
    X = rng.standard_normal((2, 2, 7, 8)).astype(dtype)
    X.flat[rng.integers(0, X.size, size=12)] = rng.choice(specials, size=12)
    relu, pool = ReLU(), MaxPool2D(*window)
    relu_first = pool.forward(relu.forward(X))
    pool_first = relu.forward(pool.forward(X))
    np.testing.assert_array_equal(np.isnan(relu_first), np.isnan(pool_first))
    finite = ~np.isnan(relu_first)
    np.testing.assert_array_equal(relu_first[finite], pool_first[finite])
    # A finite G (an inf in G times Ind(x > 0) = 0 makes a NaN, which lands on another pixel of
    # a window with no positive value, like the sign of a zero: see trick 24 in cnnbook/fast.py)
    G = rng.standard_normal(relu_first.shape).astype(dtype)
    G.flat[rng.integers(0, G.size, size=3)] = rng.choice(specials[3:], size=3)
    dX_written = relu.backward(pool_backward_after(pool, relu, X, G, relu_first=True))
    dX_swapped = pool_backward_after(pool, relu, X, G, relu_first=False)
    np.testing.assert_array_equal(dX_written, dX_swapped)  # -0.0 == 0.0 here


def pool_backward_after(pool, relu, X, G, relu_first):
    """Written order: the pooling's backward of its forward on ReLU(X) (the caller applies the
    ReLU's backward).  Swapped: the ReLU's backward on the pooled X, then the pooling's backward."""
    if relu_first:
        pool.forward(relu.forward(X))
        return pool.backward(G)
    pooled = pool.forward(X)
    return pool.backward(relu_backward(G, pooled))


def test_activations_show_every_layer_in_the_written_order():
    model = _network(0, 2, 2, 2, 0, False, np.float64)
    X = np.random.default_rng(0).standard_normal((2, 1, 12, 12))
    names = [name for name, _ in model.activations(X)]
    assert names == [layer.name for layer in model.layers]
    shapes = {name: A.shape for name, A in model.activations(X)}
    assert shapes["relu1"] == (2, 2, 12, 12) and shapes["pool1"] == (2, 2, 6, 6)


def test_training_steps_and_inference_run_the_relu_on_the_pooled_array(monkeypatch):
    model = _network(0, 2, 2, 2, 0, False, np.float64)
    seen = []
    relu = model.layers[1]
    original = relu.forward

    def spy(A, training=True):
        seen.append(A.shape)
        return original(A, training)

    monkeypatch.setattr(relu, "forward", spy)
    X = np.zeros((3, 1, 12, 12))
    model.loss_and_gradients(X, np.zeros(3, dtype=int))
    model.forward(X, training=False)
    model.forward(X, training=True)  # the written order: its layers can be stepped through by hand
    assert seen == [(3, 2, 6, 6), (3, 2, 6, 6), (3, 2, 12, 12)]
    with fast.tricks_off("pool_before_relu"):
        model.loss_and_gradients(X, np.zeros(3, dtype=int))
    assert seen[-1] == (3, 2, 12, 12)


def test_forward_in_training_mode_lets_the_layers_backward_be_stepped_through_by_hand():
    """Lesson 12 walks ``reversed(net.layers)`` after ``net.forward``: the written order."""
    model = _network(3, 2, 2, 2, 0, False, np.float64)
    rng = np.random.default_rng(3)
    X, y = rng.standard_normal((4, 1, 12, 12)), rng.integers(0, 5, size=4)
    model.loss_and_gradients(X, y)  # a swapped step first: forward must not inherit its order
    model.loss.forward(model.forward(X, training=True), y)
    G = model.loss.backward()
    for layer in reversed(model.layers):
        G = layer.backward(G)
    model.loss.forward(model.forward(X, training=True), y)
    np.testing.assert_array_equal(G, model.backward(model.loss.backward(), input_grad=True))

"""Saliency, occlusion and top-activating patches against direct loops and finite differences;
the shipped trained weights against their checksum."""

import numpy as np
import pytest

from cnnbook import functional as fn
from cnnbook import trained
from cnnbook.gradcheck import numerical_gradient, rel_error
from cnnbook.models import small_convnet
from cnnbook.receptive_field import receptive_field
from cnnbook.saliency import (
    input_gradient,
    layer_index,
    occlusion_map,
    saliency_map,
    top_activating_patches,
    unit_gradient,
)


def tiny(dtype=np.float64):
    return small_convnet(seed=3, out_channels=(2, 3), input_shape=(1, 12, 12), dtype=dtype)


def test_input_gradient_is_each_examples_loss_gradient():
    model = tiny()
    rng = np.random.default_rng(0)
    X, y = rng.random((3, 1, 12, 12)), np.array([1, 4, 7])
    dX = input_gradient(model, X, y)
    for n in range(3):

        def loss(x, n=n):
            return fn.softmax_cross_entropy(model.forward(x[None], training=False), y[n : n + 1])[0]

        assert rel_error(dX[n], numerical_gradient(loss, X[n])) < 1e-6
    assert np.array_equal(saliency_map(model, X, y), np.abs(dX)[:, 0])


def test_unit_gradient_against_finite_differences():
    model = tiny()
    X = np.random.default_rng(1).random((1, 1, 12, 12))
    k = layer_index(model, "conv2")

    def unit(x):
        A = x[None]
        for lay in model.layers[: k + 1]:
            A = lay.forward(A, training=False)
        return float(A[0, 2, 3, 1])

    assert rel_error(unit_gradient(model, X, "conv2", 2, 3, 1)[0], numerical_gradient(unit, X[0])) < 1e-6


def test_occlusion_against_a_direct_loop():
    model = tiny()
    rng = np.random.default_rng(2)
    X, y = rng.random((2, 1, 12, 12)), np.array([3, 0])
    size, stride, fill = 4, 3, 0.5
    out = occlusion_map(model, X, y, size, stride, fill)
    assert out.shape == (2, 3, 3)
    for n in range(2):
        p0 = fn.softmax(model.forward(X[n : n + 1], training=False))[0, y[n]]
        for u in range(3):
            for v in range(3):
                Z = X[n : n + 1].copy()
                Z[:, :, u * stride : u * stride + size, v * stride : v * stride + size] = fill
                p = fn.softmax(model.forward(Z, training=False))[0, y[n]]
                assert abs(out[n, u, v] - (p0 - p)) < 1e-12


def test_top_patches_against_a_direct_loop():
    model = tiny()
    rng = np.random.default_rng(3)
    X = rng.random((4, 1, 12, 12))
    for name in ("relu1", "pool2"):
        top = top_activating_patches(model, X, name, k=3)
        A = dict(model.activations(X))[name]
        row = receptive_field(model).row(name)
        rh, rw = row.size
        assert top.window == (rh, rw) and top.patches.shape == (A.shape[1], 3, 1, rh, rw)
        for c in range(A.shape[1]):
            units = sorted(
                (-A[n, c, i, j], n, i, j)
                for n in range(4)
                for i in range(A.shape[2])
                for j in range(A.shape[3])
            )[:3]
            for t, (neg, n, i, j) in enumerate(units):
                assert top.values[c, t] == -neg and tuple(top.positions[c, t]) == (n, i, j)
                patch = np.zeros((1, rh, rw))
                for a in range(rh):
                    for b in range(rw):
                        p = row.start[0] + i * row.jump[0] + a
                        q = row.start[1] + j * row.jump[1] + b
                        if 0 <= p < 12 and 0 <= q < 12:
                            patch[0, a, b] = X[n, 0, p, q]
                assert np.array_equal(top.patches[c, t], patch)


def test_bad_input():
    model = tiny()
    X = np.zeros((2, 1, 12, 12))
    with pytest.raises(TypeError, match="model"):
        input_gradient("net", X, np.array([0, 1]))
    with pytest.raises(ValueError, match="one label per image"):
        input_gradient(model, X, np.array([0]))
    with pytest.raises(ValueError, match="y"):
        saliency_map(model, X, np.array([0, 10]))
    with pytest.raises(ValueError, match="layer"):
        unit_gradient(model, X, "conv7", 0, 0, 0)
    with pytest.raises(ValueError, match="channel"):
        unit_gradient(model, X, "conv1", 2, 0, 0)
    with pytest.raises(ValueError, match="not \\(C, H, W\\)"):
        unit_gradient(model, X, "fc1", 0, 0, 0)
    with pytest.raises(TypeError, match="size"):
        occlusion_map(model, X, np.array([0, 1]), 2.5)
    with pytest.raises(ValueError, match="k"):
        top_activating_patches(model, X, "pool2", k=10**6)
    with pytest.raises(ValueError, match="X"):
        saliency_map(model, np.zeros((0, 1, 12, 12)), np.array([], dtype=int))


def test_shipped_weights_are_checked(tmp_path, monkeypatch):
    model = trained.load_trained_small_convnet()
    assert model.n_params == 9098 and model.dtype == np.float32
    bad = tmp_path / "small_convnet_digits.npz"
    data = bytearray(trained.TRAINED_SMALL_CONVNET.read_bytes())
    data[-40] ^= 1
    bad.write_bytes(bytes(data))
    monkeypatch.setattr(trained, "TRAINED_SMALL_CONVNET", bad)
    with pytest.raises(ValueError, match=r"small_convnet_digits\.npz"):
        trained.load_trained_small_convnet()
    with pytest.raises(TypeError, match="verify"):
        trained.load_trained_small_convnet(verify="yes")

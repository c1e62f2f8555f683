"""Whole networks against PyTorch (when installed; it is never a dependency): the same weights give
the same scores, loss and gradients in float64, and training steps follow torch.optim.SGD.

Single operations (conv2d, pooling) against torch.nn.functional: test_ops_against_torch.py."""

import numpy as np
import pytest

from cnnbook.layers import ELU, AvgPool2D, Conv2D, Dense, Flatten, LeakyReLU, MaxPool2D, ReLU, Sigmoid, Tanh
from cnnbook.models import Sequential, small_convnet
from cnnbook.train import SGD, batches, fit, learning_rates

torch = pytest.importorskip("torch")
from cnnbook.torch_bridge import TorchTrainer, to_torch, torch_parameter_names  # noqa: E402

TOL = dict(rtol=1e-10, atol=1e-12)


def mixed_net(seed=0):
    """Every layer type that has a torch counterpart, with odd sizes and a strided/padded pool."""
    rng = np.random.default_rng(seed)
    layers = [
        Conv2D(2, 3, (3, 2), stride=(1, 2), padding=1, rng=rng, dtype=np.float64),
        LeakyReLU(0.1),
        MaxPool2D(3, stride=2, padding=1),
        Conv2D(3, 4, (2, 1), rng=rng, dtype=np.float64),
        ELU(0.7),
        AvgPool2D(2, stride=1),
        Tanh(),
        Flatten(),
        Dense(4 * 3 * 1, 6, rng=rng, dtype=np.float64),
        Sigmoid(),
        Dense(6, 5, rng=rng, dtype=np.float64),
        ReLU(),
    ]
    model = Sequential(layers, input_shape=(2, 9, 7))
    for value in model.parameters().values():
        value += 0.1 * rng.standard_normal(value.shape)
    return model


def torch_loss_and_grads(net, X, y):
    net.zero_grad()
    scores = net(torch.from_numpy(X))
    loss = torch.nn.functional.cross_entropy(scores, torch.from_numpy(y))
    loss.backward()
    return scores.detach().numpy(), loss.item(), {n: p.grad.numpy() for n, p in net.named_parameters()}


@pytest.mark.parametrize(
    "build", [lambda: small_convnet(seed=5, dtype=np.float64), mixed_net], ids=["small", "mixed"]
)
def test_scores_loss_and_gradients_match_torch(build):
    model = build()
    rng = np.random.default_rng(1)
    X = rng.random((4, *model.input_shape))
    y = rng.integers(0, model.shapes()[-1][0], 4)
    net = to_torch(model)
    scores_t, loss_t, grads_t = torch_loss_and_grads(net, X, y)
    loss, scores = model.loss_and_gradients(X, y)
    np.testing.assert_allclose(scores, scores_t, **TOL)
    assert loss == pytest.approx(loss_t, rel=1e-12)
    names = torch_parameter_names(model)
    for name, grad in model.gradients().items():
        np.testing.assert_allclose(grad, grads_t[names[name]], err_msg=name, **TOL)
    # and dL/dX
    Xt = torch.from_numpy(X).requires_grad_(True)
    torch.nn.functional.cross_entropy(net(Xt), torch.from_numpy(y)).backward()
    model.loss_and_gradients(X, y)
    np.testing.assert_allclose(model.backward(model.loss.backward()), Xt.grad.numpy(), **TOL)


def test_float32_scores_match_torch():
    model = small_convnet(seed=2)
    X = np.random.default_rng(0).random((16, 1, 28, 28)).astype(np.float32)
    net = to_torch(model)
    assert next(net.parameters()).dtype == torch.float32
    np.testing.assert_allclose(
        model.scores(X), net(torch.from_numpy(X)).detach().numpy(), rtol=1e-4, atol=1e-5
    )


def test_sgd_steps_follow_torch_optim_sgd():
    """Momentum 0.9, L2 on weights only (a param group without decay for biases), changing lr."""
    model = small_convnet(seed=3, dtype=np.float64)
    net = to_torch(model)
    decay = [p for n, p in net.named_parameters() if n.endswith("weight")]
    rest = [p for n, p in net.named_parameters() if n.endswith("bias")]
    opt_t = torch.optim.SGD(
        [{"params": decay, "weight_decay": 5e-3}, {"params": rest, "weight_decay": 0.0}], lr=0.1, momentum=0.9
    )
    opt = SGD(model, momentum=0.9, weight_decay=5e-3)
    rng = np.random.default_rng(4)
    for lr in (0.1, 0.05, 0.2):
        X, y = rng.random((8, 1, 28, 28)), rng.integers(0, 10, 8)
        model.loss_and_gradients(X, y)
        opt.step(lr)
        torch_loss_and_grads(net, X, y)
        for group in opt_t.param_groups:
            group["lr"] = lr
        opt_t.step()
    names = torch_parameter_names(model)
    state = dict(net.named_parameters())
    for name, value in model.parameters().items():
        np.testing.assert_allclose(value, state[names[name]].detach().numpy(), rtol=1e-9, atol=1e-12)


def test_to_torch_refuses_layers_without_counterpart():
    from cnnbook.layers import Maxout

    with pytest.raises(TypeError, match="no PyTorch counterpart"):
        to_torch(Sequential([Maxout(2)]))


def test_fit_equals_torch_trainer():
    """fit's batches, shifts and cosine lr replayed by TorchTrainer give the same weights (float64)."""
    rng = np.random.default_rng(0)
    X, y = rng.random((40, 1, 28, 28)), rng.integers(0, 10, 40)
    model = small_convnet(seed=1, dtype=np.float64)
    settings = dict(epochs=2, batch_size=16, lr=0.05, weight_decay=1e-3, seed=7, shift=2, schedule="cosine")
    trainer = TorchTrainer(model, X, y, **settings)
    assert trainer.rates == learning_rates(0.05, "cosine", 2 * 3)  # the one per-step computation
    history = fit(model, X, y, progress=False, **settings)
    losses = [trainer.epoch() for _ in range(2)]
    np.testing.assert_allclose(losses, history.loss, rtol=1e-10)
    state = dict(trainer.net.named_parameters())
    for name, theirs in torch_parameter_names(model).items():
        np.testing.assert_allclose(
            model.parameters()[name], state[theirs].detach().numpy(), rtol=1e-8, atol=1e-10
        )
    np.testing.assert_array_equal(trainer.predict(X, batch_size=15), model.predict(X))


def test_torch_trainer_and_fit_see_the_same_batches():
    """Both draw from cnnbook.train.batches with one generator: the same images, shifts and labels."""
    rng = np.random.default_rng(2)
    X, y = rng.random((37, 1, 28, 28)).astype(np.float32), rng.integers(0, 10, 37)
    settings = dict(epochs=2, batch_size=10, lr=0.05, seed=5, shift=2, schedule="cosine")
    ours, theirs = [], []
    model = small_convnet(seed=0)
    trainer = TorchTrainer(model, X, y, **settings)
    net, loss_and_gradients = trainer.net, model.loss_and_gradients

    def record_torch(x):
        theirs.append(x.detach().numpy().copy())
        return net(x)

    def record_ours(Xb, yb):
        ours.append(Xb.copy())
        return loss_and_gradients(Xb, yb)

    trainer.net = record_torch
    model.loss_and_gradients = record_ours
    fit(model, X, y, progress=False, **settings)
    for _ in range(2):
        trainer.epoch()
    replay = np.random.default_rng(5)
    expected = [Xb for _ in range(2) for Xb, _ in batches(X, y, 10, replay, shift=2)]
    assert len(ours) == len(theirs) == len(expected) == 8
    for a, b, c in zip(ours, theirs, expected):
        np.testing.assert_array_equal(a, c)
        np.testing.assert_array_equal(b, c)


@pytest.mark.parametrize(
    ("bad", "error", "fragment"),
    [
        (dict(epochs=0), ValueError, "epochs"),
        (dict(batch_size=2.5), TypeError, "batch_size"),
        (dict(lr=0.0), ValueError, "lr"),
        (dict(momentum=1.0), ValueError, "momentum"),
        (dict(weight_decay=-1.0), ValueError, "weight_decay"),
        (dict(shift=1.7), TypeError, "shift"),
        (dict(seed=-1), ValueError, "seed"),
        (dict(schedule="step"), ValueError, "schedule"),
    ],
)
def test_torch_trainer_checks_its_arguments_as_fit_does(bad, error, fragment):
    X, y = np.zeros((4, 1, 28, 28), np.float32), np.arange(4)
    settings = {"epochs": 1, "lr": 0.1, **bad}
    with pytest.raises(error, match=fragment):
        TorchTrainer(small_convnet(), X, y, **settings)
    with pytest.raises(error, match=fragment):
        fit(small_convnet(), X, y, progress=False, **settings)

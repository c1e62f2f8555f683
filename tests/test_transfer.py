"""Transfer learning support: frozen layers, copying parameters between networks, .npz checkpoints.

Oracles: training a network whose feature layers are frozen must equal training a lone classifier
on the features computed once (the same batches from the same seed); momentum steps are replayed by
hand and, when PyTorch is installed, by ``torch.optim.SGD`` with ``requires_grad=False``; a saved
file is read back with plain ``np.load``.
"""

import copy
import re

import numpy as np
import pytest

from cnnbook.layers import Conv2D, Dense, Flatten, MaxPool2D, ReLU
from cnnbook.models import Sequential, read_parameters, small_convnet
from cnnbook.train import SGD, fit

FEATURES = ("conv1", "conv2")
F1 = (8, 1, 3, 3)  # small_convnet's conv1.F


def data(n=24, seed=0, classes=10):
    rng = np.random.default_rng(seed)
    return rng.random((n, 1, 28, 28)), rng.integers(0, classes, n)


def snapshot(model):
    return {name: value.copy() for name, value in model.parameters().items()}


def assert_same(model, before):
    for name, value in model.parameters().items():
        np.testing.assert_array_equal(value, before[name], err_msg=name)


# ---- freezing ---------------------------------------------------------------------------------


def test_frozen_parameters_do_not_move_while_the_others_do():
    model = small_convnet(seed=0, dtype=np.float64).freeze(*FEATURES)
    X, y = data()
    before = snapshot(model)
    fit(model, X, y, epochs=2, batch_size=8, lr=0.05, weight_decay=1e-2, shift=1, progress=False)
    after = model.parameters()
    for name in before:
        moved = not np.array_equal(after[name], before[name])
        assert moved == name.startswith("fc1"), name  # weight decay leaves frozen weights alone too
    assert model.n_trainable == model.layers[-1].n_params
    assert set(model.trainable_parameters()) == {"fc1.W", "fc1.b"}


def test_training_a_frozen_network_equals_training_its_classifier_on_fixed_features():
    """The oracle: features computed once by the frozen layers, a lone Dense layer trained on them."""
    model = small_convnet(seed=1, dtype=np.float64).freeze(*FEATURES)
    X, y = data(30, seed=2)
    features = X
    for layer in model.layers[:-1]:
        features = layer.forward(features, training=False)
    head = Sequential([copy.deepcopy(model.layers[-1])], input_shape=features.shape[1:])
    settings = dict(epochs=3, batch_size=7, lr=0.1, momentum=0.9, weight_decay=1e-3, seed=5, progress=False)
    h_model = fit(model, X, y, schedule="cosine", **settings)
    h_head = fit(head, features, y, schedule="cosine", **settings)
    np.testing.assert_allclose(h_model.loss, h_head.loss, rtol=1e-12)
    for key in ("W", "b"):
        ours, theirs = model.layers[-1].params[key], head.layers[0].params[key]
        np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-14)


def test_the_backward_pass_of_training_stops_before_the_first_trainable_layer():
    X, y = data(5)
    full = small_convnet(seed=3, dtype=np.float64)
    frozen = small_convnet(seed=3, dtype=np.float64).freeze("conv1")
    full.loss_and_gradients(X, y)
    frozen.loss_and_gradients(X, y)  # conv1 is frozen: the pass ends at conv2
    assert frozen.layers[0].grads == {} and "conv1.F" not in frozen.gradients()
    assert set(frozen.gradients()) == {"conv2.F", "conv2.b", "fc1.W", "fc1.b"}
    for name, g in frozen.gradients().items():
        np.testing.assert_allclose(g, full.gradients()[name], rtol=1e-12, atol=1e-15)
    # an explicit backward with the input gradient still goes all the way and fills every layer
    frozen.forward(X)
    frozen.backward(np.ones((5, 10)))
    assert set(frozen.gradients()) == set(frozen.parameters())


def test_a_frozen_layer_after_a_trainable_one_still_passes_the_gradient_back():
    model = small_convnet(seed=4, dtype=np.float64).freeze("conv2")
    X, y = data(6)
    before = snapshot(model)
    fit(model, X, y, epochs=1, batch_size=3, lr=0.05, progress=False)
    after = model.parameters()
    assert not np.array_equal(after["conv1.F"], before["conv1.F"])  # gradient came through conv2
    np.testing.assert_array_equal(after["conv2.F"], before["conv2.F"])


def test_momentum_of_a_frozen_parameter_waits_and_the_others_follow_the_rule_by_hand():
    model = small_convnet(seed=5, dtype=np.float64)
    opt = SGD(model, momentum=0.9, weight_decay=1e-2)
    X, y = data(4)
    model.loss_and_gradients(X, y)
    opt.step(0.1)  # every parameter trainable: velocities now non-zero
    kept = {name: v.copy() for name, v in opt.velocity.items()}
    model.freeze("conv1")
    theta0 = snapshot(model)
    model.loss_and_gradients(X, y)
    grads = {name: g.copy() for name, g in model.gradients().items()}
    opt.step(0.05)
    for name, value in model.parameters().items():
        if name.startswith("conv1"):
            np.testing.assert_array_equal(opt.velocity[name], kept[name])  # not decayed by mu either
            np.testing.assert_array_equal(value, theta0[name])
        else:
            decay = 1e-2 * theta0[name] if name.endswith((".F", ".W")) else 0.0
            v = 0.9 * kept[name] + grads[name] + decay
            np.testing.assert_allclose(opt.velocity[name], v, rtol=1e-13)
            np.testing.assert_allclose(value, theta0[name] - 0.05 * v, rtol=1e-13)
    model.unfreeze("conv1")  # resumes from the kept velocity
    model.loss_and_gradients(X, y)
    g1 = model.gradients()["conv1.b"].copy()
    opt.step(0.05)
    np.testing.assert_allclose(opt.velocity["conv1.b"], 0.9 * kept["conv1.b"] + g1, rtol=1e-13)


def test_freeze_and_unfreeze_by_name():
    model = small_convnet(seed=0)
    assert model.freeze() is model and not any(layer.trainable for layer in model.layers)
    model.unfreeze("fc1")
    assert [layer.name for layer in model.layers if layer.trainable] == ["fc1"]
    assert model.n_trainable == 10 * 785 and model.n_params == 9098
    assert "conv1: Conv2D(1 -> 8, 3x3, stride=1, padding=1) (frozen)" in repr(model)
    assert "fc1: Dense" in repr(model) and "fc1: Dense(784 -> 10) (frozen)" not in repr(model)
    model.unfreeze()
    assert all(layer.trainable for layer in model.layers) and "(frozen)" not in repr(model)


@pytest.mark.parametrize(
    ("call", "error", "fragment"),
    [
        (lambda m: m.freeze("conv1", "conv9"), ValueError, "'conv9'"),
        (lambda m: m.unfreeze("fc1", 1), TypeError, "layer names"),
        (lambda m: setattr(m.layers[0], "trainable", 0), TypeError, "trainable"),
        (lambda m: setattr(m.layers[0], "trainable", "no"), TypeError, "trainable"),
    ],
    ids=["unknown-name", "not-a-name", "flag-int", "flag-str"],
)
def test_freezing_refuses_bad_input_and_changes_nothing(call, error, fragment):
    model = small_convnet(seed=0)
    with pytest.raises(error, match=fragment):
        call(model)
    assert all(layer.trainable for layer in model.layers)


def test_fit_refuses_a_fully_frozen_model_before_any_step():
    model = small_convnet(seed=0).freeze()
    X, y = data(4)
    before = snapshot(model)
    with pytest.raises(ValueError, match="no trainable parameters"):
        fit(model, X, y, epochs=1, lr=0.1, progress=False)
    assert_same(model, before)


# ---- copying parameters between networks --------------------------------------------------


def test_load_parameters_from_another_network_by_layer_name():
    source, target = small_convnet(seed=1), small_convnet(seed=2, classes=5)  # another classifier
    fresh_head = snapshot(target)
    copied = target.load_parameters(source, layers=FEATURES)
    assert copied == ["conv1.F", "conv1.b", "conv2.F", "conv2.b"]
    for name, value in target.parameters().items():
        expected = source.parameters()[name] if name.startswith("conv") else fresh_head[name]
        np.testing.assert_array_equal(value, expected, err_msg=name)
        if name.startswith("conv"):
            assert not np.shares_memory(value, source.parameters()[name])  # a copy, not shared arrays


def test_load_parameters_refuses_shape_mismatches_before_copying_anything():
    source = small_convnet(seed=1, out_channels=(8, 12))  # conv1 fits, conv2 does not
    target = small_convnet(seed=2)
    before = snapshot(target)
    with pytest.raises(ValueError, match=r"conv2.F: expected shape \(16, 8, 3, 3\), got \(12, 8, 3, 3\)"):
        target.load_parameters(source, layers=FEATURES)
    assert_same(target, before)  # conv1, which matched, was not copied either
    with pytest.raises(ValueError, match="names differ"):
        target.load_parameters(small_convnet(seed=1, classes=5).parameters() | {"extra": np.zeros(1)})


@pytest.mark.parametrize(
    ("layers", "values", "error", "fragment"),
    [
        (["conv1", "conv7"], None, ValueError, "'conv7'"),
        ("conv1", None, TypeError, "layers must be a list"),
        ([1], None, TypeError, "layer names"),
        (["fc1"], {"conv1.F": np.zeros((8, 1, 3, 3))}, ValueError, "lack ['fc1.W', 'fc1.b']"),
        (["conv1"], {"conv1.F": np.zeros(F1, complex), "conv1.b": np.zeros(8)}, TypeError, "conv1.F"),
        (["conv1"], {"conv1.F": np.zeros(F1), "conv1.b": np.full(8, np.nan)}, ValueError, "conv1.b"),
        (None, 3.0, TypeError, "values must be a dict"),
    ],
    ids=["unknown-layer", "layers-str", "layers-int", "missing-values", "complex", "nan", "not-values"],
)
def test_partial_loads_refuse_bad_input_and_change_nothing(layers, values, error, fragment):
    target = small_convnet(seed=2)
    before = snapshot(target)
    with pytest.raises(error) as info:
        target.load_parameters(small_convnet(seed=1) if values is None else values, layers=layers)
    assert fragment in str(info.value)
    assert_same(target, before)


# ---- .npz checkpoints ----------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_save_and_load_round_trip_bit_for_bit(tmp_path, dtype):
    model = small_convnet(seed=7, dtype=dtype)
    X, y = data(8)
    fit(model, X, y, epochs=1, batch_size=4, lr=0.05, progress=False)  # values that are not the init's
    path = model.save_parameters(tmp_path / "trained.npz")
    assert path == tmp_path / "trained.npz"
    with np.load(path, allow_pickle=False) as archive:  # the independent reader
        assert sorted(archive.files) == sorted(model.parameters())
        for name, value in model.parameters().items():
            assert archive[name].dtype == value.dtype
            np.testing.assert_array_equal(archive[name], value)
    other = small_convnet(seed=8, dtype=dtype)
    assert other.load_parameters(str(path)) == list(model.parameters())
    for name, value in model.parameters().items():
        assert other.parameters()[name].tobytes() == value.tobytes()
    np.testing.assert_array_equal(other.scores(X), model.scores(X))
    assert {k: v.tobytes() for k, v in read_parameters(path).items()} == {
        k: v.tobytes() for k, v in model.parameters().items()
    }


def test_load_only_the_features_from_a_file(tmp_path):
    source, target = small_convnet(seed=1), small_convnet(seed=2)
    head = snapshot(target)
    target.load_parameters(source.save_parameters(tmp_path / "s.npz"), layers=FEATURES)
    np.testing.assert_array_equal(target.parameters()["conv2.F"], source.parameters()["conv2.F"])
    np.testing.assert_array_equal(target.parameters()["fc1.W"], head["fc1.W"])


def test_save_replaces_an_existing_file_and_leaves_no_temporary_files(tmp_path):
    path = tmp_path / "m.npz"
    small_convnet(seed=1).save_parameters(path)
    small_convnet(seed=2).save_parameters(path)
    assert [p.name for p in tmp_path.iterdir()] == ["m.npz"]
    np.testing.assert_array_equal(read_parameters(path)["fc1.W"], small_convnet(seed=2).parameters()["fc1.W"])


def test_checkpoint_bad_input_names_the_file(tmp_path):
    model = small_convnet(seed=0)
    before = snapshot(model)
    with pytest.raises(ValueError, match=re.escape("must end in .npz")):
        model.save_parameters(tmp_path / "weights.npy")
    with pytest.raises(TypeError, match="path"):
        model.save_parameters(3)
    with pytest.raises(FileNotFoundError):
        model.save_parameters(tmp_path / "missing" / "m.npz")
    assert list(tmp_path.iterdir()) == []
    broken = tmp_path / "broken.npz"
    broken.write_bytes(b"not a zip file")
    with pytest.raises(ValueError, match=re.escape("broken.npz is not a readable .npz")):
        model.load_parameters(broken)
    single = tmp_path / "single.npz"
    with open(single, "wb") as stream:
        np.save(stream, np.zeros(3))
    with pytest.raises(ValueError, match=re.escape("single.npz is not a readable .npz file of parameters")):
        read_parameters(single)
    pickled = tmp_path / "pickled.npz"
    np.savez(pickled, **{name: np.ones(v.shape, object) for name, v in model.parameters().items()})
    with pytest.raises(ValueError, match=re.escape("pickled.npz")):
        model.load_parameters(pickled)
    with pytest.raises(FileNotFoundError):
        model.load_parameters(tmp_path / "absent.npz")
    wrong = tmp_path / "wrong.npz"
    small_convnet(seed=0, out_channels=(4, 16)).save_parameters(wrong)
    with pytest.raises(ValueError, match=r"conv1.F: expected shape \(8, 1, 3, 3\)"):
        model.load_parameters(wrong)
    assert_same(model, before)


# ---- PyTorch, when installed ---------------------------------------------------------------


def mixed_net(seed=0):
    rng = np.random.default_rng(seed)
    layers = [
        Conv2D(1, 3, 3, padding=1, rng=rng, dtype=np.float64),
        ReLU(),
        MaxPool2D(2),
        Conv2D(3, 4, 3, rng=rng, dtype=np.float64),
        ReLU(),
        Flatten(),
        Dense(4 * 5 * 5, 6, rng=rng, dtype=np.float64),
        ReLU(),
        Dense(6, 3, rng=rng, dtype=np.float64),
    ]
    return Sequential(layers, input_shape=(1, 14, 14))


@pytest.mark.parametrize("frozen", [("conv1",), ("conv2", "fc2"), ("conv1", "conv2", "fc1")])
def test_fit_with_frozen_layers_equals_torch_trainer(frozen):
    torch = pytest.importorskip("torch")
    from cnnbook.torch_bridge import TorchTrainer, to_torch, torch_parameter_names

    model = mixed_net(1).freeze(*frozen)
    rng = np.random.default_rng(0)
    X, y = rng.random((20, 1, 14, 14)), rng.integers(0, 3, 20)
    net = to_torch(model)
    assert [p.requires_grad for p in net.parameters()] == [
        layer.trainable for layer in model.layers for _ in layer.params
    ]
    settings = dict(epochs=2, batch_size=6, lr=0.1, weight_decay=1e-2, seed=3, schedule="cosine")
    trainer = TorchTrainer(model, X, y, **settings)
    before = snapshot(model)
    fit(model, X, y, progress=False, **settings)
    for _ in range(2):
        trainer.epoch()
    state = dict(trainer.net.named_parameters())
    for name, theirs in torch_parameter_names(model).items():
        ours = model.parameters()[name]
        np.testing.assert_allclose(ours, state[theirs].detach().numpy(), rtol=1e-9, atol=1e-12)
        if name.split(".")[0] in frozen:
            np.testing.assert_array_equal(ours, before[name])
    assert isinstance(torch.__version__, str)


def test_torch_trainer_refuses_a_fully_frozen_model():
    pytest.importorskip("torch")
    from cnnbook.torch_bridge import TorchTrainer

    X, y = data(4)
    with pytest.raises(ValueError, match="no trainable parameters"):
        TorchTrainer(small_convnet(seed=0).freeze(), X, y, epochs=1, lr=0.1)

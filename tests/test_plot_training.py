"""The training figures of cnnbook.plot: they draw what they are given, with labelled axes."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest

from cnnbook import plot
from cnnbook.models import small_convnet
from cnnbook.train import History


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def test_training_curves():
    h = History(
        loss=[2.0, 1.0, 0.5],
        train_accuracy=[0.5, 0.8, 0.9],
        val_loss=[1.5, 0.9, 0.6],
        val_accuracy=[0.6, 0.85, 0.88],
    )
    ax_loss, ax_acc = plot.plot_training_curves(h)
    assert ax_loss.get_xlabel() == "epoch" and "loss" in ax_loss.get_ylabel()
    np.testing.assert_array_equal(ax_acc.lines[1].get_ydata(), [60, 85, 88])
    assert len(ax_loss.lines) == 2
    assert len(plot.plot_training_curves(History(loss=[1.0], train_accuracy=[0.5]))[0].lines) == 1


def test_filters_and_feature_maps():
    model = small_convnet()
    fig = plot.plot_filters(model.parameters()["conv1.F"], title="conv1")
    assert sum(ax.images != [] for ax in fig.axes[:-1]) == 8  # the last axes: the colour bar
    fig = plot.plot_filters(model.parameters()["conv2.F"][:3])
    assert sum(ax.images != [] for ax in fig.axes[:-1]) == 3 * 8
    x = np.random.default_rng(0).random((1, 1, 28, 28)).astype(np.float32)
    maps = [(name, a[0]) for name, a in model.activations(x)[:6]]
    fig = plot.plot_feature_maps(maps, image=x[0], channels=4)
    assert len(fig.axes) == 7 * 4
    assert fig.axes[4].get_ylabel().startswith("conv1")
    with pytest.raises(ValueError, match=r"\(K, C, fh, fw\)"):
        plot.plot_filters(np.zeros((3, 3)))
    with pytest.raises(ValueError, match=r"\(C, H, W\)"):
        plot.plot_feature_maps([("fc", np.zeros(10))])


def test_confusion_matrix_and_gallery():
    M = np.diag([5, 6, 7])
    M[0, 2] = 1
    ax = plot.plot_confusion_matrix(M)
    assert ax.get_xlabel() == "predicted class" and ax.get_ylabel() == "true class"
    assert sorted(t.get_text() for t in ax.texts) == ["1", "5", "6", "7"]
    with pytest.raises(ValueError, match="square"):
        plot.plot_confusion_matrix(np.zeros((2, 3)))
    X = np.random.default_rng(0).random((6, 1, 5, 5))
    fig = plot.plot_misclassified(
        X, np.array([0, 1, 2, 3, 4, 5]), np.array([0, 2, 2, 1, 4, 5]), max_images=8, ncols=4
    )
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    assert titles == ["1 -> 2", "3 -> 1"]
    assert len(fig.axes) == 8  # always max_images panels: the figure's size does not depend on the mistakes
    fig = plot.plot_misclassified(X, np.zeros(6, int), np.zeros(6, int))
    assert fig.axes[0].texts[0].get_text() == "no mistakes"


def test_filters_show_biases_and_a_colour_bar():
    F = np.random.default_rng(1).standard_normal((4, 1, 3, 3))
    b = np.array([0.5, -0.25, 0.0, 1.0])
    fig = plot.plot_filters(F, b, ncols=4)
    panels = [ax for ax in fig.axes if ax.images and ax.get_title()]
    assert [ax.get_xlabel() for ax in panels] == ["b = 0.50", "b = -0.25", "b = 0.00", "b = 1.00"]
    bar = fig.axes[-1]  # the colour bar spans the weights' symmetric range
    low, high = sorted(bar.get_ylim())
    assert np.isclose(high, np.abs(F).max()) and np.isclose(low, -np.abs(F).max())
    assert all(t.get_fontsize() >= 8 for t in bar.get_yticklabels())
    with pytest.raises(ValueError, match="one bias per filter"):
        plot.plot_filters(F, b[:3])


def test_feature_maps_use_a_sequential_scale_for_non_negative_rows():
    rng = np.random.default_rng(2)
    signed = rng.standard_normal((2, 5, 5))
    relu = np.maximum(signed, 0)
    fig = plot.plot_feature_maps([("conv", signed), ("relu", relu)], channels=2)
    conv_im, relu_im = fig.axes[0].images[0], fig.axes[2].images[0]
    assert conv_im.get_cmap().name == "RdBu_r" and np.isclose(conv_im.norm.vmin, -conv_im.norm.vmax)
    assert relu_im.get_cmap().name != "RdBu_r" and relu_im.norm.vmin == 0
    assert relu_im.get_cmap()(0.0) == (1.0, 1.0, 1.0, 1.0)  # exact zeros are drawn white
    assert np.isclose(relu_im.norm.vmax, relu.max())
    bars = [child for ax in fig.axes for child in ax.child_axes]  # one colour bar per row, inset at its end
    assert bars and all(t.get_fontsize() >= 8 for ax in bars for t in ax.get_yticklabels())


def test_activation_history_histograms_and_zero_fractions():
    rng = np.random.default_rng(3)
    # Three moments of a "layer": a growing share of exact zeros, the rest spread over (0, t + 1).
    records = {
        "relu": [
            np.where(rng.random(400) < z, 0.0, rng.random(400) * (t + 1))
            for t, z in enumerate((0.2, 0.5, 0.9))
        ]
    }
    records["other"] = [rng.standard_normal((4, 5)) for _ in range(3)]
    fig = plot.plot_activation_history(records, times=[0, 5, 10], bins=10, xlabel="step")
    assert len(fig.axes) == 2 * 2 + 2 * 2  # two panels per layer, each with its colour bar (one kept hidden)
    image_ax, zero_ax = fig.axes[0], fig.axes[2]  # a 2 x layers grid, row by row
    assert image_ax.get_title() == "relu" and zero_ax.get_xlabel() == "step"
    # bottom: the fraction of exact zeros, counted here by brute force
    expected = [sum(v == 0 for v in a) / a.size for a in records["relu"]]
    np.testing.assert_allclose(zero_ax.lines[0].get_ydata(), expected)
    np.testing.assert_allclose(zero_ax.lines[0].get_xdata(), [0, 5, 10])
    # top: one column per moment, column t = log10 of the fraction of all entries in each bin (zeros left out)
    data = image_ax.images[0].get_array()
    assert data.shape == (10, 3)
    top = max(a.max() for a in records["relu"])
    for t, a in enumerate(records["relu"]):
        in_first_bin = np.sum((a > 0) & (a <= top / 10)) / a.size
        assert np.isclose(10 ** data[0, t], in_first_bin) or (in_first_bin == 0 and data.mask[0, t])
        assert np.isclose(np.sum(10 ** data[:, t].compressed()), 1 - expected[t])
    with pytest.raises(ValueError, match="same number"):
        plot.plot_activation_history({"a": [np.ones(3)], "b": [np.ones(3), np.ones(3)]})
    with pytest.raises(ValueError, match="times"):
        plot.plot_activation_history({"a": [np.ones(3)] * 2}, times=[0])
    with pytest.raises(ValueError, match="at least one layer"):
        plot.plot_activation_history({})

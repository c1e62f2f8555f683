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
    assert sum(ax.images != [] for ax in fig.axes) == 8
    fig = plot.plot_filters(model.parameters()["conv2.F"][:3])
    assert sum(ax.images != [] for ax in fig.axes) == 3 * 8
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

"""Lesson 01's response maps and lesson 04's activation panels: the scales fit the data they draw."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest

from cnnbook import functional as fn
from cnnbook.plot import DERIVATIVE_COLOR, FUNCTION_COLOR, plot_activations, plot_response_maps


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def _limits(ax):
    return ax.images[0].get_clim()


def test_signed_maps_are_centred_on_zero_and_unsigned_ones_span_their_data():
    rng = np.random.default_rng(0)
    S = np.stack([rng.normal(size=(5, 6)), rng.uniform(0.2, 0.9, size=(5, 6))])
    H = np.maximum(S, 0)
    fig = plot_response_maps(rng.uniform(size=(7, 8)), S, H, names=["edge", "blur"], signed=[True, False])
    axes = [ax for ax in fig.axes if ax.images]  # image panels, not colour bars
    assert len(axes) == 1 + 2 + 2
    low, high = _limits(axes[1])
    assert low == -high == -np.abs(S[0]).max()  # diverging, symmetric about 0
    assert axes[1].images[0].get_cmap().name == "RdBu_r"
    assert _limits(axes[2]) == (S[1].min(), S[1].max())  # sequential over the data
    assert _limits(axes[3]) == (0, H[0].max())  # activations from 0
    assert all(ax.get_xlabel() == "column" and ax.get_ylabel() == "row" for ax in axes)


def test_clipping_uses_the_percentile_of_the_magnitude_and_rejects_mismatched_names():
    S = np.arange(-50.0, 50.0).reshape(1, 10, 10)
    fig = plot_response_maps(np.zeros((12, 12)), S, names=["edge"], signed=[True], clip_percentile=90)
    high = _limits([ax for ax in fig.axes if ax.images][1])[1]
    assert high == pytest.approx(np.percentile(np.abs(S), 90))
    with pytest.raises(ValueError, match="one entry per map"):
        plot_response_maps(np.zeros((12, 12)), S, names=["a", "b"], signed=[True])


def test_activation_panels_draw_f_and_its_derivative_and_switch_off_spare_panels():
    xs = np.linspace(-2, 2, 41)
    acts = {
        "ReLU": (fn.relu, lambda x: fn.relu_backward(np.ones_like(x), x)),
        "Swish": (fn.swish, lambda x: fn.swish_backward(np.ones_like(x), x)),
        "tanh": (fn.tanh, lambda x: fn.tanh_backward(np.ones_like(x), x)),
    }
    fig = plot_activations(acts, xs, ncols=2)
    shown = [ax for ax in fig.axes if ax.axison]
    assert len(fig.axes) == 4 and len(shown) == 3
    for ax, (f, df) in zip(shown, acts.values()):
        f_line, df_line = ax.get_lines()[:2]
        assert np.allclose(f_line.get_ydata(), f(xs)) and np.allclose(df_line.get_ydata(), df(xs))
        assert f_line.get_color() == FUNCTION_COLOR and df_line.get_color() == DERIVATIVE_COLOR
        assert f_line.get_linestyle() != df_line.get_linestyle()
    assert shown[-1].get_xlabel() and shown[1].get_xlabel()  # the lowest panel of each column

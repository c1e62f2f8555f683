"""The time-breakdown figure of lesson 08 draws what its dictionaries say."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import pytest

from cnnbook.plot import plot_time_breakdown


def test_bars_stack_the_pieces_and_ticks_mark_the_whole_calls():
    pieces = {"forward": {"copy": 0.001, "gemm": 0.003}, "backward": {"gemm2": 0.004, "scatter": 0.002}}
    calls = {"textbook": {"forward": 0.0045, "backward": 0.0065}, "fast": {"forward": 0.004}}
    ax = plot_time_breakdown(pieces, calls, title="t")
    bars = ax.patches
    assert [round(b.get_width(), 9) for b in bars] == [1.0, 3.0, 4.0, 2.0]  # ms, in dict order
    assert [round(b.get_x(), 9) for b in bars] == [0.0, 1.0, 0.0, 4.0]  # stacked left to right per pass
    ticks = {(line.get_label(), float(line.get_xdata()[0]), float(line.get_ydata()[0])) for line in ax.lines}
    assert ("whole call: textbook", 4.5, 0.0) in ticks and ("whole call: fast", 4.0, 0.0) in ticks
    assert any(x == pytest.approx(6.5) and y == 1.0 for _, x, y in ticks)  # the backward tick
    assert len(ax.lines) == 3  # "fast" has no backward time: no tick drawn
    assert ax.get_ylim()[0] > ax.get_ylim()[1]  # first pass on top
    assert [t.get_text() for t in ax.get_yticklabels()] == ["forward", "backward"]
    plt.close(ax.figure)

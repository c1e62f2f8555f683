"""Lesson 02's window outlines: two windows told apart by colour and line style, unread rows hatched."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.colors import to_rgba

from cnnbook.plot import UNUSED_COLOR, plot_grid


def test_window_taps_and_outline_windows_tell_the_two_windows_apart():
    from cnnbook.plot import (
        FIRST_WINDOW_COLOR,
        NEXT_WINDOW_COLOR,
        outline_windows,
        plot_window_counts,
        window_taps,
    )

    assert window_taps(2) == [(0, 0), (0, 1), (1, 0), (1, 1)]
    assert window_taps(2, (1, 3), dilation=2) == [(1, 3), (1, 5), (3, 3), (3, 5)]
    ax = plot_grid(np.ones((4, 4)), annotate=False)
    outline_windows(ax, window_taps(2), window_taps(2, (0, 1)))
    boxes = [p for p in ax.patches if p.get_fill() is False]
    first = [p for p in boxes if p.get_edgecolor()[:3] == to_rgba(FIRST_WINDOW_COLOR)[:3]]
    following = [p for p in boxes if p.get_edgecolor()[:3] == to_rgba(NEXT_WINDOW_COLOR)[:3]]
    assert len(first) == len(following) == 4
    assert {p.get_linestyle() for p in first} == {"-"} and {p.get_linestyle() for p in following} == {"--"}
    plt.close(ax.figure)
    # counts on a 7x7 grid at stride 3: row and column 7 (index 6) hatched, 7 + 7 - 1 cells
    _, ax = plt.subplots(figsize=(4, 4))
    plot_window_counts(np.ones((7, 7)), ax, kernel_size=3, stride=3, unread=(6,))
    grey = [p for p in ax.patches if p.get_facecolor()[:3] == to_rgba(UNUSED_COLOR)[:3]]
    assert len(grey) == 13
    plt.close(ax.figure)

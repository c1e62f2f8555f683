"""Figures: the grid pictures mark what the numbers say."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.colors import to_rgba

import cnnbook as cb
from cnnbook import matrices as M
from cnnbook.plot import UNUSED_COLOR, plot_grid, plot_matrix


def test_plot_grid_greys_the_trailing_rows_of_the_padded_grid():
    """unused_size counts rows of the padded input: with padding they can be padding rows."""
    u = cb.unused_size(6, 3, stride=2, padding=1)  # 6 + 2 - 3 = 5, odd: padded row 8 unused
    assert u == 1
    ax = plot_grid(np.pad(np.ones((6, 6)), 1), pad=1, unused=(u, 0))
    grey = [p for p in ax.patches if p.get_facecolor()[:3] == to_rgba(UNUSED_COLOR)[:3]]
    assert {int(p.get_y() + 0.5) for p in grey} == {7}  # the last row of the 8x8 padded grid
    plt.close(ax.figure)


def test_plot_grid_writes_symbolic_entries_and_plot_matrix_leaves_zeros_blank():
    ax = plot_grid(M.symbolic_MX((4, 4), (3, 3)))
    assert [t.get_text() for t in ax.texts][:3] == ["X11", "X12", "X13"]
    plt.close(ax.figure)
    MF = M.make_MF(np.ones((3, 3)), (6, 6))
    ax = plot_matrix(MF, highlight_rows=[1])
    shown = ax.images[0].get_array()
    assert shown.mask.sum() == (MF == 0).sum()
    plt.close(ax.figure)

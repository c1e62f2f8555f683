"""Figures: the grid pictures mark what the numbers say."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.colors import to_rgba

import cnnbook as cb
from cnnbook import matrices as M
from cnnbook.plot import (
    UNUSED_COLOR,
    WINDOW_COLORS,
    WINNER_COLOR,
    draw_windows,
    plot_grid,
    plot_matrix,
    plot_pool_grid,
    pool_legend,
)


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


# --- lesson 05 ---


def test_draw_graph_draws_one_box_per_node_one_arrow_per_edge_and_the_edge_labels():
    from matplotlib.text import Annotation

    from cnnbook.plot import GRAPH_STYLES, draw_graph

    nodes = {"F": (0.0, 1.0), "X": (0.0, 0.0), "S": (1.0, 0.5), "l": (2.0, 0.5)}
    edges = [("F", "S", "$M_X$"), ("X", "S", ""), ("S", "l", "g")]
    ax = draw_graph(nodes, edges, kinds={"F": "param", "X": "data"}, highlight=[("S", "l")])
    arrows = [t for t in ax.texts if isinstance(t, Annotation)]
    boxes = [t for t in ax.texts if not isinstance(t, Annotation) and t.get_text() in nodes]
    assert len(arrows) == len(edges) and sorted(t.get_text() for t in boxes) == sorted(nodes)
    assert {t.get_text() for t in ax.texts} >= {"$M_X$", "g"}  # empty labels are not drawn
    colours = {t.get_text(): t.get_bbox_patch().get_facecolor() for t in boxes}
    assert colours["F"] == to_rgba(GRAPH_STYLES["param"][0]) and colours["S"] == to_rgba(
        GRAPH_STYLES["value"][0]
    )
    widths = [a.arrow_patch.get_linewidth() for a in arrows]
    assert widths[2] > widths[0] == widths[1]  # the highlighted edge is the thick one
    x0, x1 = ax.get_xlim()
    assert x0 < 0.0 and x1 > 2.0  # every node inside the axes
    plt.close(ax.figure)


def test_draw_graph_rejects_edges_and_kinds_that_name_no_node():
    import pytest

    from cnnbook.plot import draw_graph

    nodes = {"a": (0.0, 0.0), "b": (1.0, 0.0)}
    for kwargs, word in [
        ({"edges": [("a", "c", "")]}, "edges"),
        ({"edges": [("a", "b", "")], "kinds": {"c": "data"}}, "kinds"),
        ({"edges": [("a", "b", "")], "kinds": {"a": "weights"}}, "kinds"),
        ({"edges": [("a", "b", "")], "highlight": [("b", "a")]}, "highlight"),
    ]:
        with pytest.raises(ValueError, match=word):
            draw_graph(nodes, **kwargs)
    plt.close("all")


# --- lesson 07 ---
def test_draw_windows_outlines_the_regions_maxpool2d_reads():
    """Every winner maxpool2d returns lies inside the outline drawn for its region, in its region's colour."""
    rng = np.random.default_rng(0)
    for (h, w), r, s in [
        ((4, 4), 2, 2),
        ((5, 5), 3, 2),
        ((6, 8), 3, 1),
        ((7, 7), 2, 3),
        ((5, 7), (2, 3), (1, 2)),
    ]:
        X = rng.permutation(h * w).reshape(1, h, w).astype(float)
        out, indices = cb.maxpool2d(X, r, s, return_indices=True)
        fig, ax = plt.subplots()
        patches = draw_windows(ax, out.shape[1:], r, s)
        assert len(patches) == out[0].size
        for k, (patch, q) in enumerate(zip(patches, indices.ravel())):
            row, col = divmod(int(q), w)
            assert patch.get_x() < col < patch.get_x() + patch.get_width()
            assert patch.get_y() < row < patch.get_y() + patch.get_height()
            assert patch.get_edgecolor() == to_rgba(WINDOW_COLORS[k % len(WINDOW_COLORS)])
        assert [p.get_x() for p in draw_windows(ax, out.shape[1:], r, s, only=1)] == [patches[1].get_x()]
        plt.close(fig)


def test_plot_pool_grid_keeps_colour_for_regions_winners_and_unread_cells():
    H5 = np.arange(1, 26, dtype=float).reshape(5, 5)
    unread = [(r, c) for r in range(5) for c in range(5) if r in cb.unread_rows(5, 2, 2) or c == 4]
    ax = plot_pool_grid(H5, regions=((2, 2), 2, 2), winners=[(1, 1), (1, 3)], unread=unread)
    assert not any(image.get_visible() for image in ax.images)  # values are written, not shaded
    fills = [p for p in ax.patches if p.get_fill() and p.get_facecolor()[:3] == to_rgba(WINNER_COLOR)[:3]]
    hatched = [p for p in ax.patches if p.get_hatch()]
    outlines = [p for p in ax.patches if not p.get_fill()]
    assert (len(fills), len(hatched), len(outlines)) == (2, 9, 4)
    legend = pool_legend(ax, 4, winners=True, unread=True)
    assert [t.get_text() for t in legend.get_texts()][-2:] == [
        "winner (max of its region)",
        "never read by any region",
    ]
    plt.close(ax.figure)
    ax = plot_pool_grid(np.ones((2, 3)), outputs=True)  # an output map: each cell in its region's colour
    assert [p.get_edgecolor() for p in ax.patches] == [to_rgba(c) for c in WINDOW_COLORS[:6]]
    plt.close(ax.figure)


def test_pooling_figures_refuse_bad_arguments():
    fig, ax = plt.subplots()
    with pytest.raises(ValueError, match="out_shape"):
        draw_windows(ax, (0, 2), 2, 2)
    with pytest.raises(TypeError, match="kernel_size"):
        draw_windows(ax, (2, 2), 2.5, 2)
    with pytest.raises(ValueError, match=r"only must name a region 0 \.\. 3"):
        draw_windows(ax, (2, 2), 2, 2, only=4)
    with pytest.raises(ValueError, match="n_regions"):
        pool_legend(ax, 0)
    plt.close(fig)

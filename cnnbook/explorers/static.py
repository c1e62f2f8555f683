"""The static picture of a frame (matplotlib): what a notebook shows without a live kernel.

:func:`draw_frame` draws the same panels the browser draws (:mod:`cnnbook.explorers.frames`) with
:func:`cnnbook.plot.plot_grid` / :func:`~cnnbook.plot.plot_matrix`, unread cells shaded by
:func:`cnnbook.plot.shade_cells` (the one shading mechanism).  ``draw_conv_view``,
``draw_matrix_view`` and ``draw_pool_view`` draw a view directly.
"""

from __future__ import annotations

import io
import textwrap

import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from ..plot import one_based_ticks, outline_cells, plot_grid, plot_matrix, shade_cells
from .frames import conv_frame, matrix_frame, pool_frame
from .views import ConvView, MatrixView, PoolView

__all__ = ["draw_conv_view", "draw_frame", "draw_matrix_view", "draw_pool_view", "figure_png"]

_CELL_INCH = 0.34


def _panel_width(p: dict) -> float:
    if p["kind"] == "grid":
        return max(p["w"], 3) * _CELL_INCH + 0.6
    return min(7.0, max(3.0, 0.1 * p["n"])) + 0.6


def _draw_grid(ax, p: dict, k: int | None) -> None:
    h, w = p["h"], p["w"]
    if p["text"] is not None:
        A = np.array([[float(t) for t in row] for row in p["text"]])
        plot_grid(A, ax, pad=p["pad"], annotate=True)
    else:
        plot_grid(np.zeros((h, w)), ax, pad=p["pad"], annotate=False)
    shade_cells(ax, [tuple(rc) for rc in p["unread"]])
    outline_cells(ax, [tuple(rc) for rc in p["outline"]])
    if k is not None and p["links"]:
        cells = p["links"][k]
        outline_cells(ax, [(r, c) for r, c, _ in cells])
        for r, c, label in cells:
            if label is not None:
                ax.text(c, r, label, ha="center", va="center", color="crimson", fontsize=9, zorder=4,
                        bbox={"facecolor": "white", "edgecolor": "none", "pad": 0.5})  # fmt: skip
    if k is not None and p["box"]:
        r0, r1, c0, c1 = p["box"][k]
        ax.add_patch(
            Rectangle(
                (c0 - 0.5, r0 - 0.5), c1 - c0 + 1, r1 - r0 + 1, facecolor="crimson", alpha=0.15, zorder=3
            )
        )
        ax.add_patch(
            Rectangle(
                (c0 - 0.5, r0 - 0.5),
                c1 - c0 + 1,
                r1 - r0 + 1,
                fill=False,
                edgecolor="crimson",
                lw=2.5,
                zorder=4,
            )
        )
    if k is not None and p["select"]:
        outline_cells(ax, [(k // w, k % w)], color="#1f5fbf", linewidth=3)
    ax.set_title("\n".join(textwrap.wrap(p["title"], max(14, int(_panel_width(p) * 9)))), fontsize=9)


def _draw_matrix(ax, p: dict, k: int | None) -> None:
    M = np.zeros((p["m"], p["n"]))
    for r, c, v in p["nnz"]:
        M[r, c] = v
    rows = p["links"][k] if (k is not None and p["links"]) else []
    plot_matrix(M, ax, row_label=p["rows_label"], col_label=p["cols_label"], highlight_rows=rows)
    one_based_ticks(ax, p["m"], p["n"])
    ax.set_title("\n".join(textwrap.wrap(p["title"], max(14, int(_panel_width(p) * 9)))), fontsize=9)


def draw_frame(frame: dict, selected: int | None = None) -> Figure:
    """The frame's panels side by side, the readout's first line as the title.

    ``selected``: the chosen cell ``k = i·w + j`` of the selectable panel (its links are drawn).
    """
    if frame["error"]:
        fig = Figure(figsize=(6.0, 1.0))
        fig.text(0.02, 0.5, "not a valid setting: " + frame["error"], va="center", fontsize=9)
        return fig
    panels = frame["panels"]
    widths = [_panel_width(p) for p in panels]
    tall = max(p["h"] if p["kind"] == "grid" else min(p["m"] * 0.12 / _CELL_INCH, 16) for p in panels)
    fig = Figure(
        figsize=(min(16.0, sum(widths) + 0.4), min(7.5, _CELL_INCH * tall + 1.8)), layout="constrained"
    )
    axes = fig.subplots(1, len(panels), gridspec_kw={"width_ratios": widths}, squeeze=False)[0]
    for ax, p in zip(axes, panels):
        (_draw_grid if p["kind"] == "grid" else _draw_matrix)(ax, p, selected)
    first = frame["lines"][0]
    fig.suptitle(first if isinstance(first, str) else first[selected or 0], fontsize=11)
    return fig


def figure_png(fig: Figure, dpi: int = 80) -> bytes:
    """Render a figure to PNG bytes.

    Cell labels and cell patches stay inside their axes, so they are left out of the layout
    computation (which otherwise measures every one of them: most of the drawing time).
    """
    for ax in fig.axes:
        for artist in (*ax.texts, *ax.patches):
            artist.set_in_layout(False)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return buf.getvalue()


def _index(view: ConvView) -> int:
    return view.out_row * view.out_w + view.out_col


def draw_conv_view(view: ConvView) -> Figure:
    """Input (padding shaded, receptive field outlined, unread rows/columns hatched), filter, output."""
    return draw_frame(conv_frame(view), _index(view))


def draw_matrix_view(view: MatrixView) -> Figure:
    """The matrix (the chosen row boxed), the input grid with that row laid on it, the output."""
    return draw_frame(matrix_frame(view), _index(view.conv))


def draw_pool_view(view: PoolView) -> Figure:
    """Input with the winners outlined (unread rows/columns hatched), pooled output, ``A_MaxPool``."""
    return draw_frame(pool_frame(view))

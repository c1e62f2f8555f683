"""Interactive explorers for the lessons: stride, padding, filter size, dilation and pooling.

Three widgets (ipywidgets 8 + matplotlib), each a thin shell around two pure functions that can be
called, tested and plotted without any widget:

=====================  ===========================  ==================================
widget                 computation (-> state)       drawing (state -> Figure)
=====================  ===========================  ==================================
:func:`conv_explorer`  :func:`conv_view`            :func:`draw_conv_view`
:func:`matrix_explorer` :func:`matrix_view`         :func:`draw_matrix_view`
:func:`pool_explorer`  :func:`pool_view`            :func:`draw_pool_view`
=====================  ===========================  ==================================

Every explorer is an :class:`Explorer` (an ``ipywidgets.VBox``) with

* ``controls`` -- a dict of the control widgets by name (``"kernel_size"``, ``"stride"``,
  ``"padding"``, ...; the public argument names, while the slider labels show the lectures' letters
  ``f``, ``r``, ``s``, ``p``, ``d``); setting
  ``explorer.controls["stride"].value = 2`` recomputes the state and the picture synchronously, in
  a notebook and in plain Python alike;
* ``state`` -- the current :class:`ConvView` / :class:`MatrixView` / :class:`PoolView` (``None``
  while the settings are invalid, e.g. a filter larger than the padded input) and ``error`` -- the
  :class:`ValueError` message in that case;
* ``readout`` -- an HTML widget whose first line reads ``output: H' x W' = a x b``, followed by the
  output-size rule with the numbers filled in and the rows/columns a stride leaves unused;
* ``image`` -- the figure as a PNG (input, filter, output; all labelled).

The callbacks never print: text goes into ``readout`` and pictures into ``image``, so a lesson can
display an explorer in a cell whose output strict nbval ignores, then set controls and ``assert`` on
``state`` in the next cell.  Output positions on the sliders are 1-based like the lectures'
``S_11``; the views store 0-based Python indices.  Everything is computed by the package
(:func:`cnnbook.conv_output_size`, :func:`cnnbook.unread_rows`, :func:`cnnbook.conv2d`,
:func:`cnnbook.matrices.make_MF` / :func:`~cnnbook.matrices.make_MX`, :func:`cnnbook.maxpool2d`,
:func:`cnnbook.matrices.maxpool_matrix`); nothing is re-derived here.
"""

from __future__ import annotations

import html
import io
from dataclasses import dataclass
from typing import Any

import ipywidgets as widgets
import numpy as np
from matplotlib.figure import Figure

from .conv import conv2d
from .matrices import make_MF, make_MX, maxpool_matrix
from .plot import one_based_ticks, plot_grid, plot_matrix, shade_cells
from .pool import maxpool2d
from .shapes import conv_output_size, effective_size, unread_rows

__all__ = [
    "ConvView",
    "Explorer",
    "MatrixView",
    "PoolView",
    "conv_explorer",
    "conv_view",
    "draw_conv_view",
    "draw_matrix_view",
    "draw_pool_view",
    "example_filter",
    "example_input",
    "matrix_explorer",
    "matrix_view",
    "pool_explorer",
    "pool_view",
    "size_formula",
]

Cell = tuple[int, int]

_SEED = 2424  # the course code: the example values are the same in every lesson and test
_MASTER_SIZE = 16


# --------------------------------------------------------------------------------------------
# Example values and the output-size text.
# --------------------------------------------------------------------------------------------


def example_input(H: int, W: int) -> np.ndarray:
    """A fixed ``(H, W)`` input of integers 1..9 (never 0, so every input pixel shows in ``M_X``).

    The top-left ``H x W`` corner of one seeded 16x16 array: growing the input keeps its values.
    """
    if not (1 <= H <= _MASTER_SIZE and 1 <= W <= _MASTER_SIZE):
        raise ValueError(f"example input is at most {_MASTER_SIZE}x{_MASTER_SIZE}, got {H}x{W}")
    master = np.random.default_rng(_SEED).integers(1, 10, size=(_MASTER_SIZE, _MASTER_SIZE))
    return master[:H, :W].astype(np.float64)


def example_filter(kernel_size: int) -> np.ndarray:
    """A fixed ``(f, f)`` filter (``f = kernel_size``) with entries in {-2, -1, 1, 2}.

    Never 0, so every tap shows in ``M_F``.
    """
    f = kernel_size
    if not 1 <= f <= _MASTER_SIZE:
        raise ValueError(f"example filter is at most {_MASTER_SIZE}x{_MASTER_SIZE}, got kernel_size={f}")
    master = np.random.default_rng(_SEED + 1).choice([-2, -1, 1, 2], size=(_MASTER_SIZE, _MASTER_SIZE))
    return master[:f, :f].astype(np.float64)


def size_formula(
    n: int,
    kernel_size: int,
    stride: int = 1,
    padding: int = 0,
    dilation: int = 1,
    *,
    name: str = "H",
    general: bool = True,
) -> str:
    """The output-size rule along one axis with the numbers filled in.

    ``kernel_size`` is the lectures' ``f`` (``r`` for a pooling window); e.g. for ``n=7``,
    ``kernel_size=3``, ``stride=2``::

        H' = ⌊(H + 2p − d(f−1) − 1)/s⌋ + 1 = ⌊(7 + 2·0 − 1·(3−1) − 1)/2⌋ + 1 = ⌊4/2⌋ + 1 = 3

    ``general=False`` writes the pooling form ``⌊(H − r)/s⌋ + 1`` (no padding, no dilation).
    Raises :class:`ValueError` (from :func:`cnnbook.conv_output_size`) for impossible settings.
    """
    f = kernel_size
    out = conv_output_size(n, f, stride, padding, dilation)
    room = n + 2 * padding - effective_size(f, dilation)
    if general:
        rule = f"⌊({name} + 2p − d(f−1) − 1)/s⌋ + 1"
        filled = f"⌊({n} + 2·{padding} − {dilation}·({f}−1) − 1)/{stride}⌋ + 1"
    else:
        if padding or dilation != 1:
            raise ValueError("general=False is the pooling form: padding 0 and dilation 1 only")
        rule = f"⌊({name} − r)/s⌋ + 1"
        filled = f"⌊({n} − {f})/{stride}⌋ + 1"
    text = f"{name}' = {rule} = {filled} = ⌊{room}/{stride}⌋ + 1 = {out}"
    if room % stride:
        text += f"  (remainder {room % stride}: the stride does not fit)"
    return text


def _unused_names(indices: tuple[int, ...], n: int, padding: int, axis: str) -> list:
    """Name padded-coordinate indices: ``input row 7``, ``padding row 1 below the input``, ..."""
    before, after = ("above", "below") if axis == "row" else ("left of", "right of")
    names = []
    for k in indices:
        if k < padding:
            names.append(f"padding {axis} {padding - k} {before} the input")
        elif k < padding + n:
            names.append(f"input {axis} {k - padding + 1}")
        else:
            names.append(f"padding {axis} {k - padding - n + 1} {after} the input")
    return names


def _unused_text(
    rows: tuple[int, ...], cols: tuple[int, ...], H: int, W: int, padding: int, by: str = "the filter"
) -> str:
    if not rows and not cols:
        return "every row and column is used: the stride fits."
    parts = []
    if rows:
        parts.append("rows: " + ", ".join(_unused_names(rows, H, padding, "row")))
    if cols:
        parts.append("columns: " + ", ".join(_unused_names(cols, W, padding, "column")))
    return f"never touched by {by} (hatched grey): " + "; ".join(parts) + "."


def _readout_html(lines: list, css_class: str) -> str:
    body = "<br>".join(html.escape(line, quote=False) for line in lines[1:])
    head = html.escape(lines[0], quote=False)
    return (
        f"<div class='cnnbook-readout {css_class}' style='font-family:monospace;line-height:1.5'>"
        f"<b class='cnnbook-output-size'>{head}</b><br>{body}</div>"
    )


# --------------------------------------------------------------------------------------------
# Convolution: state, computation, drawing.
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ConvView:
    """Everything the convolution explorer shows for one setting (0-based indices).

    ``kernel_size``: the filter size ``f``; ``padded``: the ``(H+2p, W+2p)`` input;
    ``receptive_field``: the ``f*f`` cells of ``padded``
    (padded coordinates, filter order F11, F12, ...) that output ``(out_row, out_col)`` reads;
    ``unused_rows`` / ``unused_cols``: padded-coordinate indices no filter position touches
    (``cnnbook.unread_rows``: trailing ones and any the stride skips between windows); ``S``: the
    response ``X * F`` (cross-correlation).
    """

    H: int
    W: int
    kernel_size: int
    stride: int
    padding: int
    dilation: int
    out_row: int
    out_col: int
    out_h: int
    out_w: int
    X: np.ndarray
    F: np.ndarray
    S: np.ndarray
    padded: np.ndarray
    receptive_field: tuple[Cell, ...]
    unused_rows: tuple[int, ...]
    unused_cols: tuple[int, ...]
    formula: str
    unused_text: str

    @property
    def output_size(self) -> str:
        """``"output: H' x W' = a x b"`` -- the readout's first line."""
        return f"output: H' x W' = {self.out_h} x {self.out_w}"

    @property
    def input_cells(self) -> tuple[Cell, ...]:
        """The receptive-field cells that are real input pixels, in unpadded coordinates."""
        p = self.padding
        return tuple(
            (r - p, c - p) for r, c in self.receptive_field if p <= r < p + self.H and p <= c < p + self.W
        )

    @property
    def unused_cells(self) -> tuple[Cell, ...]:
        """Every cell of ``padded`` in an unused row or column (padded coordinates)."""
        h, w = self.padded.shape
        return tuple(
            (r, c) for r in range(h) for c in range(w) if r in self.unused_rows or c in self.unused_cols
        )

    @property
    def text(self) -> str:
        """The readout as plain text, one line per fact."""
        return "\n".join(self._lines())

    def _lines(self) -> list:
        i, j = self.out_row + 1, self.out_col + 1
        value = self.S[self.out_row, self.out_col]
        return [
            self.output_size,
            *self.formula.split("\n"),
            f"outlined: output S{i},{j} (row {i}, column {j}) = {value:g}, "
            f"the sum of its {self.kernel_size}x{self.kernel_size} outlined input cells times F",
            self.unused_text,
        ]

    def html(self) -> str:
        return _readout_html(self._lines(), "cnnbook-conv")


def conv_view(
    H: int,
    W: int,
    kernel_size: int,
    stride: int = 1,
    padding: int = 0,
    dilation: int = 1,
    out_row: int = 0,
    out_col: int = 0,
    *,
    X: np.ndarray | None = None,
    F: np.ndarray | None = None,
) -> ConvView:
    """Compute what an ``H x W`` input, an ``f x f`` filter (``f = kernel_size``) and the
    hyper-parameters give.

    ``out_row``, ``out_col``: 0-based output position to explain.  ``X`` ``(H, W)`` and ``F``
    ``(f, f)`` default to :func:`example_input` / :func:`example_filter`.  Raises
    :class:`ValueError` for impossible settings (message from :func:`cnnbook.conv_output_size`)
    and for a position outside the output.
    """
    f = kernel_size
    out_h = conv_output_size(H, f, stride, padding, dilation)
    out_w = conv_output_size(W, f, stride, padding, dilation)
    if not (0 <= out_row < out_h and 0 <= out_col < out_w):
        raise ValueError(f"output position ({out_row}, {out_col}) is outside the {out_h} x {out_w} output")
    X = example_input(H, W) if X is None else np.asarray(X, dtype=np.float64)
    F = example_filter(f) if F is None else np.asarray(F, dtype=np.float64)
    if X.shape != (H, W) or F.shape != (f, f):
        raise ValueError(f"X must be ({H}, {W}) and F ({f}, {f}); got X {X.shape}, F {F.shape}")
    S = conv2d(X[None], F[None, None], stride=stride, padding=padding, dilation=dilation)[0]
    padded = np.pad(X, padding)
    r0, c0 = out_row * stride, out_col * stride
    field = tuple((r0 + a * dilation, c0 + b * dilation) for a in range(f) for b in range(f))
    rows = unread_rows(H, f, stride, padding, dilation)
    cols = unread_rows(W, f, stride, padding, dilation)
    formula = "\n".join(
        [
            size_formula(H, f, stride, padding, dilation, name="H"),
            size_formula(W, f, stride, padding, dilation, name="W"),
        ]
    )
    return ConvView(
        H=H,
        W=W,
        kernel_size=f,
        stride=stride,
        padding=padding,
        dilation=dilation,
        out_row=out_row,
        out_col=out_col,
        out_h=out_h,
        out_w=out_w,
        X=X,
        F=F,
        S=S,
        padded=padded,
        receptive_field=field,
        unused_rows=rows,
        unused_cols=cols,
        formula=formula,
        unused_text=_unused_text(rows, cols, H, W, padding),
    )


_CELL_INCH = 0.36


def _grid_figure(widths: list, height_cells: int) -> tuple[Figure, Any]:
    """A one-row figure whose panels are as wide as their grids (in cells)."""
    width = min(15.0, _CELL_INCH * sum(widths) + 1.3 * len(widths))
    fig = Figure(figsize=(width, min(7.0, _CELL_INCH * height_cells + 1.6)), layout="constrained")
    return fig, fig.subplots(1, len(widths), gridspec_kw={"width_ratios": widths})


def draw_conv_view(view: ConvView) -> Figure:
    """Input (padding shaded, receptive field outlined, unused rows/columns grey), filter, output."""
    p = view.padding
    hp, wp = view.padded.shape
    f = view.kernel_size
    fig, (ax_in, ax_f, ax_out) = _grid_figure([wp, max(f, 3), max(view.out_w, 3)], max(hp, f))
    note = "\nhatched grey: never touched" if view.unused_rows or view.unused_cols else ""
    plot_grid(
        view.padded,
        ax_in,
        pad=p,
        highlight=view.receptive_field,
        title=f"INPUT X: {view.H} x {view.W}, padding p = {p}{note}",
    )
    shade_cells(ax_in, view.unused_cells)
    d = f", dilation d = {view.dilation}" if view.dilation > 1 else ""
    plot_grid(view.F, ax_f, title=f"filter F: {f} x {f}{d}\nstride s = {view.stride}")
    plot_grid(
        view.S,
        ax_out,
        highlight=[(view.out_row, view.out_col)],
        title=f"OUTPUT S = X * F\n{view.out_h} x {view.out_w}",
    )
    for ax in (ax_f, ax_out):
        ax.set_xlabel("column")
    fig.suptitle(view.output_size, fontsize=11)
    return fig


# --------------------------------------------------------------------------------------------
# The explicit matrices M_F^filter and M_X.
# --------------------------------------------------------------------------------------------

MATRIX_KINDS = ("M_F", "M_X")


@dataclass(frozen=True)
class MatrixView:
    """One row of ``M_F^filter`` (``vec S = M_F vec X``) or ``M_X`` (``vec S = M_X vec F``).

    ``row_index``: 0-based row ``p = out_row * W' + out_col`` of ``matrix``; ``row`` that row;
    ``input_cells``: the input pixels (0-based, unpadded) its non-zero entries belong to;
    ``row_on_input``: the row's non-zeros laid back onto an ``(H, W)`` grid (for ``M_F`` it is
    ``unvec(row)``: the filter taps where the window sits).
    """

    conv: ConvView
    kind: str
    matrix: np.ndarray
    row_index: int
    row: np.ndarray
    input_cells: tuple[Cell, ...]
    row_on_input: np.ndarray

    @property
    def name(self) -> str:
        return "M_F^filter" if self.kind == "M_F" else "M_X"

    @property
    def output_size(self) -> str:
        return self.conv.output_size

    @property
    def text(self) -> str:
        return "\n".join(self._lines())

    def _lines(self) -> list:
        c = self.conv
        m, n = self.matrix.shape
        acts_on = "vec(X)" if self.kind == "M_F" else "vec(F)"
        columns = "HW" if self.kind == "M_F" else "f²"
        return [
            c.output_size,
            *c.formula.split("\n"),
            f"{self.name} is {m} x {n} (H'W' x {columns}): vec(S) = {self.name} {acts_on}",
            f"highlighted: row {self.row_index + 1} = (i−1)·W' + j for S{c.out_row + 1},{c.out_col + 1}; "
            f"{np.count_nonzero(self.row)} non-zeros, on the outlined input cells",
            c.unused_text,
        ]

    def html(self) -> str:
        return _readout_html(self._lines(), "cnnbook-matrix")


def matrix_view(view: ConvView, kind: str = "M_F") -> MatrixView:
    """Build ``kind`` (``"M_F"`` or ``"M_X"``) for ``view``'s setting and map its row back.

    ``M_F`` comes from :func:`cnnbook.matrices.make_MF` and ``M_X`` from
    :func:`cnnbook.matrices.make_MX`; the row belongs to the output ``(view.out_row, view.out_col)``.
    """
    if kind not in MATRIX_KINDS:
        raise ValueError(f"kind must be one of {MATRIX_KINDS}, got {kind!r}")
    p = view.out_row * view.out_w + view.out_col
    on_input = np.zeros((view.H, view.W))
    if kind == "M_F":
        M = make_MF(view.F, (view.H, view.W), view.stride, view.padding, view.dilation)
        row = M[p]
        flat = np.flatnonzero(row)
        cells = tuple((int(q) // view.W, int(q) % view.W) for q in flat)
        on_input = row.reshape(view.H, view.W).copy()
    else:
        M = make_MX(view.X, view.kernel_size, view.stride, view.padding, view.dilation)
        row = M[p]
        pad = view.padding
        cells = tuple(
            (view.receptive_field[k][0] - pad, view.receptive_field[k][1] - pad) for k in np.flatnonzero(row)
        )
        for (r, c), k in zip(cells, np.flatnonzero(row)):
            on_input[r, c] = row[k]
    return MatrixView(
        conv=view, kind=kind, matrix=M, row_index=p, row=row.copy(), input_cells=cells, row_on_input=on_input
    )


def draw_matrix_view(view: MatrixView) -> Figure:
    """The matrix (zeros blank, the chosen row boxed) beside the input grid with that row laid on it."""
    c = view.conv
    m, n = view.matrix.shape
    mat_w = min(16.0, max(4.0, 0.22 * n))
    fig = Figure(
        figsize=(min(15.0, mat_w + _CELL_INCH * c.W + 2.6), min(7.0, max(3.4, 0.2 * m + 1.6))),
        layout="constrained",
    )
    ax_m, ax_in = fig.subplots(1, 2, gridspec_kw={"width_ratios": [mat_w, max(2.0, _CELL_INCH * c.W + 0.6)]})
    cols = "input pixel (index in vec(X))" if view.kind == "M_F" else "filter tap (index in vec(F))"
    plot_matrix(
        view.matrix,
        ax_m,
        title=f"{view.name}: {m} x {n}, row {view.row_index + 1} boxed",
        row_label="output (index in vec(S))",
        col_label=cols,
        highlight_rows=[view.row_index],
    )
    one_based_ticks(ax_m, m, n)
    what = "filter taps" if view.kind == "M_F" else "input values"
    plot_grid(
        view.row_on_input,
        ax_in,
        highlight=view.input_cells,
        title=f"INPUT grid: row {view.row_index + 1}'s\nnon-zeros ({what})",
    )
    fig.suptitle(
        f"{c.output_size};  output S{c.out_row + 1},{c.out_col + 1} = row {view.row_index + 1}", fontsize=11
    )
    return fig


# --------------------------------------------------------------------------------------------
# Max pooling.
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PoolView:
    """Max pooling of one plane ``X (H, W)`` with an ``r x r`` window (``r = kernel_size``) and ``stride``.

    ``indices``: the ``indices`` of ``maxpool2d(..., return_indices=True)`` (flat ``row*W + col``
    of each winner, shape ``(H', W')``); ``winners``: the same as ``(row, col)`` cells; ``A``:
    ``A_MaxPool`` with ``vec(out) = A vec(X)``; ``unused_rows`` / ``unused_cols``: input
    rows/columns no window covers.
    """

    X: np.ndarray
    kernel_size: int
    stride: int
    out: np.ndarray
    indices: np.ndarray
    winners: tuple[Cell, ...]
    A: np.ndarray
    unused_rows: tuple[int, ...]
    unused_cols: tuple[int, ...]
    formula: str
    unused_text: str

    @property
    def out_h(self) -> int:
        return self.out.shape[0]

    @property
    def out_w(self) -> int:
        return self.out.shape[1]

    @property
    def output_size(self) -> str:
        return f"output: H' x W' = {self.out_h} x {self.out_w}"

    @property
    def text(self) -> str:
        return "\n".join(self._lines())

    def _lines(self) -> list:
        m, n = self.A.shape
        return [
            self.output_size,
            *self.formula.split("\n"),
            f"winners (outlined) = the positions the backward pass routes G to; "
            f"A_MaxPool is {m} x {n} with one 1 per row",
            self.unused_text,
        ]

    def html(self) -> str:
        return _readout_html(self._lines(), "cnnbook-pool")


def pool_view(X: np.ndarray, kernel_size: int, stride: int) -> PoolView:
    """Max-pool ``X`` ``(H, W)`` with :func:`cnnbook.maxpool2d` and build ``A_MaxPool`` for it."""
    r = kernel_size
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2:
        raise ValueError(f"pool_view takes one plane (H, W), got shape {X.shape}")
    H, W = X.shape
    out, indices = maxpool2d(X[None], r, stride, return_indices=True)
    winners = tuple((int(q) // W, int(q) % W) for q in indices[0].ravel())
    rows = unread_rows(H, r, stride)
    cols = unread_rows(W, r, stride)
    formula = "\n".join(
        [
            size_formula(H, r, stride, name="H", general=False),
            size_formula(W, r, stride, name="W", general=False),
        ]
    )
    return PoolView(
        X=X,
        kernel_size=r,
        stride=stride,
        out=out[0],
        indices=indices[0],
        winners=winners,
        A=maxpool_matrix(X, r, stride),
        unused_rows=rows,
        unused_cols=cols,
        formula=formula,
        unused_text=_unused_text(rows, cols, H, W, 0, by="any window"),
    )


def draw_pool_view(view: PoolView) -> Figure:
    """Input with the winners outlined (unused rows/columns grey), pooled output, ``A_MaxPool``."""
    H, W = view.X.shape
    m, n = view.A.shape
    fig, (ax_in, ax_out, ax_a) = _grid_figure([W, max(view.out_w, 3), max(6.0, 0.35 * n)], max(H, 4))
    note = ", hatched: unused" if view.unused_rows or view.unused_cols else ""
    plot_grid(view.X, ax_in, highlight=view.winners, title=f"INPUT H: {H} x {W}\nwinners outlined{note}")
    shade_cells(
        ax_in, [(r, c) for r in range(H) for c in range(W) if r in view.unused_rows or c in view.unused_cols]
    )
    title = f"OUTPUT: {view.out_h} x {view.out_w}\nr = {view.kernel_size}, s = {view.stride}"
    plot_grid(view.out, ax_out, title=title)
    plot_matrix(
        view.A,
        ax_a,
        title=f"A_MaxPool: {m} x {n}",
        row_label="output (index in vec)",
        col_label="input (index in vec(H))",
    )
    one_based_ticks(ax_a, m, n)
    fig.suptitle(view.output_size, fontsize=11)
    return fig


# --------------------------------------------------------------------------------------------
# The widgets.
# --------------------------------------------------------------------------------------------


def figure_png(fig: Figure, dpi: int = 80) -> bytes:
    """Render a figure to PNG bytes (what the explorers put in their ``image``).

    Cell labels and cell patches stay inside their axes, so they are left out of the layout
    computation (which otherwise measures every one of them: most of the drawing time).
    """
    for ax in fig.axes:
        for artist in (*ax.texts, *ax.patches):
            artist.set_in_layout(False)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return buf.getvalue()


def _slider(description: str, value: int, lo: int, hi: int) -> widgets.IntSlider:
    return widgets.IntSlider(
        value=min(max(value, lo), hi),
        min=lo,
        max=hi,
        description=description,
        continuous_update=False,
        style={"description_width": "initial"},
        layout=widgets.Layout(width="260px"),
    )


class Explorer(widgets.VBox):
    """Controls + readout + figure around a pure ``compute`` and a pure ``draw``.

    Subclasses implement :meth:`compute` (read ``controls``, return the state or raise
    :class:`ValueError`) and :meth:`draw` (state -> Figure); :meth:`sync` may adjust dependent
    controls (it runs with updates suspended, so it cannot recurse).
    """

    def __init__(self, controls: dict[str, widgets.Widget], columns: int = 2):
        self.controls = controls
        self.state: Any = None
        self.error: str | None = None
        self.readout = widgets.HTML()
        self.image = widgets.Image(format="png")
        self._busy = False
        items = list(controls.values())
        per = -(-len(items) // columns)
        boxes = [widgets.VBox(items[k : k + per]) for k in range(0, len(items), per)]
        super().__init__(children=[widgets.HBox(boxes), self.readout, self.image])
        self.add_class("cnnbook-explorer")
        for control in items:
            control.observe(self._on_change, names="value")
        self._on_change(None)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.error or (self.state.output_size if self.state else '')})"

    def compute(self) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def draw(self, state: Any) -> Figure:  # pragma: no cover - abstract
        raise NotImplementedError

    def sync(self, owner: widgets.Widget | None) -> None:
        """Adjust controls that depend on ``owner`` before :meth:`compute` (default: nothing)."""

    def _on_change(self, change: Any) -> None:
        if self._busy:
            return
        self._busy = True
        try:
            self.sync(None if change is None else change.owner)
            try:
                state = self.compute()
            except ValueError as exc:
                self.state, self.error = None, str(exc)
                self.readout.value = (
                    "<div class='cnnbook-readout cnnbook-error' style='font-family:monospace'>"
                    f"<b>not a valid setting:</b> {html.escape(str(exc), quote=False)}</div>"
                )
                self.image.value = b""
                return
            png = figure_png(self.draw(state))  # render first: readout and picture change together
            self.state, self.error = state, None
            self.readout.value = state.html()
            self.image.value = png
        finally:
            self._busy = False


class _ConvSliders(Explorer):
    """Sliders for H, W, kernel_size (label f), stride, padding, dilation and the output position
    (plus a Play button)."""

    def __init__(self, H=7, W=7, kernel_size=3, stride=1, padding=0, dilation=1, *, max_size=12, extra=None):
        controls = {
            "H": _slider("input rows H", H, 3, max_size),
            "W": _slider("input columns W", W, 3, max_size),
            "kernel_size": _slider("filter size f", kernel_size, 1, 7),
            "stride": _slider("stride s", stride, 1, 4),
            "padding": _slider("padding p", padding, 0, 3),
            "dilation": _slider("dilation d", dilation, 1, 3),
            "out_row": _slider("output row i", 1, 1, max_size),
            "out_col": _slider("output column j", 1, 1, max_size),
            "position": widgets.Play(
                value=0, min=0, max=1, interval=900, repeat=True, description="step through the outputs"
            ),
            **(extra or {}),
        }
        self._out_w = 1
        super().__init__(controls)

    def sync(self, owner):
        c = self.controls
        if owner is c["position"] and self._out_w:
            c["out_row"].value = c["position"].value // self._out_w + 1
            c["out_col"].value = c["position"].value % self._out_w + 1

    def conv(self) -> ConvView:
        """Clamp the position sliders to the current output size and compute the :class:`ConvView`."""
        c = self.controls
        f, stride, padding, dilation = (c[k].value for k in ("kernel_size", "stride", "padding", "dilation"))
        out_h = conv_output_size(c["H"].value, f, stride, padding, dilation)
        out_w = conv_output_size(c["W"].value, f, stride, padding, dilation)
        c["out_row"].max, c["out_col"].max = out_h, out_w  # ipywidgets clamps the values
        c["position"].max = max(out_h * out_w - 1, 1)
        c["position"].value = (c["out_row"].value - 1) * out_w + c["out_col"].value - 1
        self._out_w = out_w
        out_row, out_col = c["out_row"].value - 1, c["out_col"].value - 1
        return conv_view(c["H"].value, c["W"].value, f, stride, padding, dilation, out_row, out_col)


class ConvExplorer(_ConvSliders):
    """Sliders for H, W, kernel_size (label f), stride, padding, dilation and the output position
    (plus a Play button)."""

    def compute(self) -> ConvView:
        return self.conv()

    def draw(self, state: ConvView) -> Figure:
        return draw_conv_view(state)


class MatrixExplorer(_ConvSliders):
    """The convolution settings plus a choice of matrix (``M_F^filter`` or ``M_X``)."""

    def __init__(self, H=4, W=4, kernel_size=3, stride=1, padding=0, dilation=1, kind="M_F"):
        choice = widgets.ToggleButtons(
            options=[("M_F^filter (acts on vec X)", "M_F"), ("M_X (acts on vec F)", "M_X")],
            value=kind,
            description="matrix",
            style={"description_width": "initial"},
        )
        super().__init__(H, W, kernel_size, stride, padding, dilation, max_size=8, extra={"matrix": choice})

    def compute(self) -> MatrixView:
        return matrix_view(self.conv(), self.controls["matrix"].value)

    def draw(self, state: MatrixView) -> Figure:
        return draw_matrix_view(state)


class PoolExplorer(Explorer):
    """Window size (kernel_size, label r) and stride (and, for the random map, its size and seed)
    for max pooling."""

    def __init__(self, X=None, kernel_size=2, stride=2, H=4, W=4, seed=0):
        controls = {
            "kernel_size": _slider("window r", kernel_size, 1, 4),
            "stride": _slider("stride s", stride, 1, 4),
        }
        self.X = None if X is None else np.asarray(X, dtype=np.float64)
        if self.X is None:
            controls.update(
                H=_slider("input rows H", H, 2, 8),
                W=_slider("input columns W", W, 2, 8),
                seed=_slider("seed", seed, 0, 20),
            )
        super().__init__(controls)

    def current_input(self) -> np.ndarray:
        """The map being pooled: the user's ``X`` or a seeded permutation of 1..HW (no ties)."""
        if self.X is not None:
            return self.X
        c = self.controls
        H, W = c["H"].value, c["W"].value
        return (np.random.default_rng(c["seed"].value).permutation(H * W) + 1.0).reshape(H, W)

    def compute(self) -> PoolView:
        c = self.controls
        return pool_view(self.current_input(), c["kernel_size"].value, c["stride"].value)

    def draw(self, state: PoolView) -> Figure:
        return draw_pool_view(state)


def conv_explorer(
    H: int = 7, W: int = 7, kernel_size: int = 3, stride: int = 1, padding: int = 0, dilation: int = 1
) -> ConvExplorer:
    """Explore stride, padding, filter size and dilation on an ``H x W`` input (the lecture's 7x7).

    Shows the padded input (padding pale blue) with the chosen output's receptive field outlined,
    the filter, the output with that cell outlined, the readout ``output: H' x W' = ...`` with the
    rule filled in, and the rows/columns a stride leaves unused (grey, and named in the readout).
    """
    return ConvExplorer(H, W, kernel_size, stride, padding, dilation)


def matrix_explorer(
    H: int = 4,
    W: int = 4,
    kernel_size: int = 3,
    stride: int = 1,
    padding: int = 0,
    dilation: int = 1,
    kind: str = "M_F",
) -> MatrixExplorer:
    """``M_F^filter`` or ``M_X`` for the same settings as :func:`conv_explorer`, as an image.

    The chosen output's row is boxed and its non-zeros are laid back onto the input grid.
    """
    return MatrixExplorer(H, W, kernel_size, stride, padding, dilation, kind)


def pool_explorer(
    X: np.ndarray | None = None,
    kernel_size: int = 2,
    stride: int = 2,
    H: int = 4,
    W: int = 4,
    seed: int = 0,
) -> PoolExplorer:
    """Max pooling of ``X`` ``(H, W)`` (default: a seeded random map with H, W, seed sliders).

    Shows the pooled map, the winners (the ``indices`` of :func:`cnnbook.maxpool2d`) outlined on
    the input and ``A_MaxPool``.
    """
    return PoolExplorer(X, kernel_size, stride, H, W, seed)

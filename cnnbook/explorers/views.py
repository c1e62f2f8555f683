"""The explorers' pure views: what each explorer shows for one setting, computed by the package.

No widgets and no drawing here: each ``*_view`` function takes the settings and returns a frozen
dataclass (the *state*) built with the package's own functions (:func:`cnnbook.conv_output_size`,
:func:`cnnbook.unread_rows`, :func:`cnnbook.conv2d`, :func:`cnnbook.conv2d_backward`,
:func:`cnnbook.conv_transpose2d`, :func:`cnnbook.maxpool2d`, :func:`cnnbook.matrices.make_MF`,
:func:`cnnbook.matrices.make_MX`, :func:`cnnbook.matrices.maxpool_matrix`); derived facts are
properties.  Indices are 0-based here; the explorers' sliders count from 1 like the lectures' ``S_11``.
:mod:`cnnbook.explorers.frames` turns a state into the picture description the browser draws.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from ..conv import conv2d, conv2d_backward, conv_transpose2d
from ..matrices import make_MF, make_MX, maxpool_matrix
from ..pool import maxpool2d
from ..shapes import conv_output_size, effective_size, unread_rows

__all__ = [
    "MATRIX_KINDS",
    "ConvView",
    "MatrixView",
    "PoolView",
    "RoutingView",
    "StackView",
    "TransposeView",
    "conv_view",
    "example_filter",
    "example_gradient",
    "example_input",
    "matrix_view",
    "pool_view",
    "routing_view",
    "size_formula",
    "stack_view",
    "transpose_view",
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


# --------------------------------------------------------------------------------------------
# Convolution: state, computation, drawing.
# --------------------------------------------------------------------------------------------


def output_size_line(out_h: int, out_w: int) -> str:
    """``"output: H' x W' = a x b"``: the first line of every explorer's readout."""
    return f"output: H' x W' = {out_h} x {out_w}"


class Readout:
    """A view whose readout is ``lines`` (a list of facts); ``text`` joins them, one line per fact."""

    @property
    def lines(self) -> list[str]:  # pragma: no cover - every view defines its own
        raise NotImplementedError

    @property
    def text(self) -> str:
        """The readout as plain text, one line per fact."""
        return "\n".join(self.lines)


@dataclass(frozen=True)
class ConvView(Readout):
    """Everything the convolution explorer shows for one setting (0-based indices).

    ``kernel_size``: the filter size ``f``; ``padded``: the ``(H+2p, W+2p)`` input;
    ``window_rows[i]`` / ``window_cols[j]``: the rows / columns of ``padded`` the window of output
    row ``i`` / column ``j`` reads (``i·s + a·d`` for ``a = 0..f−1``); ``receptive_field``: the
    ``f*f`` cells of ``padded``
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
    window_rows: tuple[tuple[int, ...], ...]
    window_cols: tuple[tuple[int, ...], ...]
    unused_rows: tuple[int, ...]
    unused_cols: tuple[int, ...]
    formula: str
    unused_text: str

    @property
    def output_size(self) -> str:
        return output_size_line(self.out_h, self.out_w)

    def at(self, out_row: int, out_col: int) -> ConvView:
        """The same setting with another output chosen (0-based); nothing is recomputed."""
        if not (0 <= out_row < self.out_h and 0 <= out_col < self.out_w):
            raise ValueError(
                f"output position ({out_row}, {out_col}) is outside the {self.out_h} x {self.out_w} output"
            )
        return replace(self, out_row=out_row, out_col=out_col)

    @property
    def receptive_field(self) -> tuple[Cell, ...]:
        """The cells of ``padded`` output ``(out_row, out_col)`` reads, in filter order F11, F12, ..."""
        return tuple((r, c) for r in self.window_rows[self.out_row] for c in self.window_cols[self.out_col])

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
    def lines(self) -> list[str]:
        """The readout, one fact per line; the first is ``output: H' x W' = a x b``."""
        i, j = self.out_row + 1, self.out_col + 1
        value = self.S[self.out_row, self.out_col]
        return [
            self.output_size,
            *self.formula.split("\n"),
            f"outlined: output S{i},{j} (row {i}, column {j}) = {value:g}, "
            f"the sum of its {self.kernel_size}x{self.kernel_size} outlined input cells times F",
            self.unused_text,
        ]


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
    window_rows = tuple(tuple(i * stride + a * dilation for a in range(f)) for i in range(out_h))
    window_cols = tuple(tuple(j * stride + b * dilation for b in range(f)) for j in range(out_w))
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
        window_rows=window_rows,
        window_cols=window_cols,
        unused_rows=rows,
        unused_cols=cols,
        formula=formula,
        unused_text=_unused_text(rows, cols, H, W, padding),
    )


# --------------------------------------------------------------------------------------------
# The explicit matrices M_F^filter and M_X.
# --------------------------------------------------------------------------------------------

MATRIX_KINDS = ("M_F", "M_X")


@dataclass(frozen=True)
class MatrixView(Readout):
    """``M_F^filter`` (``vec S = M_F vec X``) or ``M_X`` (``vec S = M_X vec F``) and the row of ``conv``'s
    output ``(out_row, out_col)``.

    ``row_index``: 0-based row ``k = out_row * W' + out_col`` of ``matrix``; ``row`` that row;
    ``input_cells``: the input pixels (0-based, unpadded) its non-zero entries belong to;
    ``row_on_input``: the row's non-zeros laid back onto an ``(H, W)`` grid (for ``M_F`` it is
    ``unvec(row)``: the filter taps where the window sits).
    """

    conv: ConvView
    kind: str
    matrix: np.ndarray

    def at(self, out_row: int, out_col: int) -> MatrixView:
        """The same matrix with another output's row chosen (0-based)."""
        return replace(self, conv=self.conv.at(out_row, out_col))

    @property
    def row_index(self) -> int:
        return self.conv.out_row * self.conv.out_w + self.conv.out_col

    @property
    def row(self) -> np.ndarray:
        return self.matrix[self.row_index]

    @property
    def input_cells(self) -> tuple[Cell, ...]:
        taps = np.flatnonzero(self.row)
        if self.kind == "M_F":
            return tuple((int(q) // self.conv.W, int(q) % self.conv.W) for q in taps)
        pad, field = self.conv.padding, self.conv.receptive_field
        return tuple((field[k][0] - pad, field[k][1] - pad) for k in taps)

    @property
    def row_on_input(self) -> np.ndarray:
        if self.kind == "M_F":
            return self.row.reshape(self.conv.H, self.conv.W).copy()
        on_input = np.zeros((self.conv.H, self.conv.W))
        for (r, c), k in zip(self.input_cells, np.flatnonzero(self.row)):
            on_input[r, c] = self.row[k]
        return on_input

    @property
    def name(self) -> str:
        return "M_F^filter" if self.kind == "M_F" else "M_X"

    @property
    def output_size(self) -> str:
        return self.conv.output_size

    @property
    def lines(self) -> list[str]:
        """The readout, one fact per line; the first is ``output: H' x W' = a x b``."""
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


def matrix_view(view: ConvView, kind: str = "M_F") -> MatrixView:
    """Build ``kind`` (``"M_F"`` or ``"M_X"``) for ``view``'s setting; the row is ``view``'s output's.

    ``M_F`` comes from :func:`cnnbook.matrices.make_MF` and ``M_X`` from
    :func:`cnnbook.matrices.make_MX`.
    """
    if kind not in MATRIX_KINDS:
        raise ValueError(f"kind must be one of {MATRIX_KINDS}, got {kind!r}")
    if kind == "M_F":
        M = make_MF(view.F, (view.H, view.W), view.stride, view.padding, view.dilation)
    else:
        M = make_MX(view.X, view.kernel_size, view.stride, view.padding, view.dilation)
    return MatrixView(conv=view, kind=kind, matrix=M)


# --------------------------------------------------------------------------------------------
# Max pooling.
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PoolView(Readout):
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
        return output_size_line(self.out_h, self.out_w)

    @property
    def lines(self) -> list[str]:
        """The readout, one fact per line; the first is ``output: H' x W' = a x b``."""
        m, n = self.A.shape
        return [
            self.output_size,
            *self.formula.split("\n"),
            f"winners (outlined) = the positions the backward pass routes G to; "
            f"A_MaxPool is {m} x {n} with one 1 per row",
            self.unused_text,
        ]


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


# --------------------------------------------------------------------------------------------
# Receptive field through a stack of layers.
# --------------------------------------------------------------------------------------------

Layer = tuple[int, int, int, int]  # (kernel_size f, stride s, padding p, dilation d)


@dataclass(frozen=True)
class StackView(Readout):
    """The receptive field of one output cell of the last layer in every earlier layer (square maps).

    ``layers``: ``(f, s, p, d)`` per layer; ``sizes``: ``n_0 = n`` (the input) and each layer's
    output size by :func:`cnnbook.conv_output_size`; ``boxes[l] = (r0, r1, c0, c1)``: the rows and
    columns (inclusive, 0-based, *unclipped*: negative or ``>= sizes[l]`` means padding) spanned by
    the cells of map ``l`` that output ``(out_row, out_col)`` of the last map depends on.  Going
    back through a layer, row ``o`` of its output reads rows ``o·s − p + a·d`` (``a = 0..f−1``) of
    its input; an intermediate map's padding rows read nothing.
    """

    n: int
    layers: tuple[Layer, ...]
    sizes: tuple[int, ...]
    out_row: int
    out_col: int
    boxes: tuple[tuple[int, int, int, int], ...]

    def at(self, out_row: int, out_col: int) -> StackView:
        """Another output cell of the last layer (0-based)."""
        return stack_view(self.n, self.layers, out_row, out_col)

    @property
    def out_h(self) -> int:
        return self.sizes[-1]

    @property
    def out_w(self) -> int:
        return self.sizes[-1]

    @property
    def output_size(self) -> str:
        return output_size_line(self.out_h, self.out_w)

    def _terms(self) -> list[tuple[int, str]]:
        terms, jump = [], 1
        for f, s, _, d in self.layers:
            terms.append((d * (f - 1) * jump, f"{d}·({f}−1)·{jump}"))
            jump *= s
        return terms

    @property
    def field_size(self) -> int:
        """The receptive field's side ``r = 1 + Σ_l d_l(f_l − 1)·s_1⋯s_(l−1)`` (padding included;
        the box of a cell near a border can be smaller where an intermediate map's padding cuts it)."""
        return 1 + sum(t for t, _ in self._terms())

    @property
    def field_formula(self) -> str:
        numbers = " + ".join(text for _, text in self._terms())
        return f"r = 1 + Σ_l d_l(f_l−1)·s_1⋯s_(l−1) = 1 + {numbers} = {self.field_size}"

    @property
    def lines(self) -> list[str]:
        lines = [self.output_size]
        for k, ((f, s, p, d), n) in enumerate(zip(self.layers, self.sizes), start=1):
            lines.append(f"layer {k}: " + size_formula(n, f, s, p, d, name="n"))
        lines.append(
            f"receptive field of one output cell of layer {len(self.layers)}: "
            f"{self.field_size} x {self.field_size} cells of the padded input: {self.field_formula}"
        )
        for k in range(len(self.layers) - 1, -1, -1):
            r0, r1, c0, c1 = self.boxes[k]
            name = "input" if k == 0 else f"layer {k}"
            n = self.sizes[k]
            outside = max(0, -r0) + max(0, r1 - n + 1), max(0, -c0) + max(0, c1 - n + 1)
            named = [f"{m} padding {w}{'' if m == 1 else 's'}" for m, w in zip(outside, ("row", "column"))]
            pad = f" (and {', '.join(named)})" if any(outside) else ""
            lines.append(
                f"{name}: rows {max(r0, 0) + 1}–{min(r1, n - 1) + 1}, "
                f"columns {max(c0, 0) + 1}–{min(c1, n - 1) + 1}{pad}"
            )
        return lines


def stack_view(n: int, layers: tuple[Layer, ...] | list, out_row: int = 0, out_col: int = 0) -> StackView:
    """Follow output ``(out_row, out_col)`` of the last of ``layers`` back to an ``n x n`` input.

    ``layers``: ``(kernel_size, stride, padding, dilation)`` per layer.  Raises :class:`ValueError`
    when a layer's filter does not fit its (padded) input or the position is outside the output.
    """
    if not layers or any(len(layer) != 4 for layer in layers):
        raise ValueError("layers must be a non-empty list of (kernel_size, stride, padding, dilation)")
    layers = tuple((int(f), int(s), int(p), int(d)) for f, s, p, d in layers)
    sizes = [n]
    for f, s, p, d in layers:
        sizes.append(conv_output_size(sizes[-1], f, s, p, d))
    if not (0 <= out_row < sizes[-1] and 0 <= out_col < sizes[-1]):
        raise ValueError(
            f"output position ({out_row}, {out_col}) is outside the {sizes[-1]} x {sizes[-1]} output"
        )
    rows, cols = [{out_row}], [{out_col}]
    for k in range(len(layers) - 1, -1, -1):
        f, s, p, d = layers[k]
        taps = [a * d for a in range(f)]
        # an intermediate map's padding cells (outside 0..n-1) depend on nothing earlier
        rows.insert(0, {o * s - p + t for o in rows[0] if 0 <= o < sizes[k + 1] for t in taps})
        cols.insert(0, {o * s - p + t for o in cols[0] if 0 <= o < sizes[k + 1] for t in taps})
    boxes = [(min(r), max(r), min(c), max(c)) for r, c in zip(rows, cols)]
    return StackView(n, layers, tuple(sizes), out_row, out_col, tuple(boxes))


# --------------------------------------------------------------------------------------------
# Backward routing: one cell of G -> dX (a column of M_F^T) and dF (a row of M_X).
# --------------------------------------------------------------------------------------------


def example_gradient(h: int, w: int) -> np.ndarray:
    """A fixed ``(h, w)`` upstream gradient ``G`` of integers 1..3 (a corner of one seeded 16x16 array)."""
    master = np.random.default_rng(_SEED + 2).integers(1, 4, size=(_MASTER_SIZE, _MASTER_SIZE))
    return master[:h, :w].astype(np.float64)


@dataclass(frozen=True)
class RoutingView(Readout):
    """Where one cell ``G_ij`` of the upstream gradient goes in the backward pass of ``S = X * F``.

    ``conv``: the forward setting with ``(out_row, out_col) = (i, j)``; ``G`` ``(H', W')``;
    ``dX``, ``dF``: :func:`cnnbook.conv2d_backward` of the whole ``G``; ``MF``, ``MX``: the matrices
    (:func:`~cnnbook.matrices.make_MF`, :func:`~cnnbook.matrices.make_MX`); ``lands`` ``(H, W)``: column
    ``k = i·W' + j`` of ``M_F^T`` (row ``k`` of :func:`~cnnbook.matrices.make_MF`), the weights
    with which ``G_ij`` is added into ``dX``: the filter's taps on the window's real input cells;
    ``feeds`` ``(f, f)``: row ``k`` of :func:`~cnnbook.matrices.make_MX`, the input values
    ``G_ij`` multiplies into each ``dF_ab`` (0 for taps over the padding).
    """

    conv: ConvView
    G: np.ndarray
    dX: np.ndarray
    dF: np.ndarray
    MF: np.ndarray
    MX: np.ndarray

    def at(self, out_row: int, out_col: int) -> RoutingView:
        """The same setting with another cell of ``G`` chosen (0-based)."""
        return replace(self, conv=self.conv.at(out_row, out_col))

    @property
    def lands(self) -> np.ndarray:
        return self.MF[self.index].reshape(self.conv.H, self.conv.W)

    @property
    def feeds(self) -> np.ndarray:
        f = self.conv.kernel_size
        return self.MX[self.index].reshape(f, f)

    @property
    def index(self) -> int:
        return self.conv.out_row * self.conv.out_w + self.conv.out_col

    @property
    def output_size(self) -> str:
        return self.conv.output_size

    @property
    def lines(self) -> list[str]:
        c = self.conv
        i, j, k = c.out_row + 1, c.out_col + 1, self.index + 1
        g = self.G[c.out_row, c.out_col]
        f2 = c.kernel_size**2
        fed = int(np.count_nonzero(self.feeds))
        return [
            c.output_size,
            *c.formula.split("\n"),
            f"G{i},{j} = {g:g} lands in dX on {int(np.count_nonzero(self.lands))} input cells, weighted by "
            f"the filter taps there: column {k} of M_F^T (row {k} of M_F)",
            f"it feeds {fed} of the {f2} entries of dF: dF_ab += G{i},{j} · X at tap (a, b) of its window "
            f"(row {k} of M_X)" + ("" if fed == f2 else f"; the {f2 - fed} taps over the padding get 0"),
        ]


def routing_view(
    H: int,
    W: int,
    kernel_size: int,
    stride: int = 1,
    padding: int = 0,
    dilation: int = 1,
    out_row: int = 0,
    out_col: int = 0,
) -> RoutingView:
    """The backward pass of the example convolution, seen from gradient cell ``(out_row, out_col)``."""
    c = conv_view(H, W, kernel_size, stride, padding, dilation, out_row, out_col)
    G = example_gradient(c.out_h, c.out_w)
    dX, dF, _ = conv2d_backward(G[None], c.X[None], c.F[None, None], stride, padding, dilation)
    MF = make_MF(c.F, (H, W), stride, padding, dilation)
    MX = make_MX(c.X, kernel_size, stride, padding, dilation)
    return RoutingView(c, G, dX[0], dF[0, 0], MF, MX)


# --------------------------------------------------------------------------------------------
# Transposed convolution: which output cells each input cell paints.
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TransposeView(Readout):
    """``Z = conv_transpose2d(Y, F)`` for an ``m x m`` input ``Y`` and the example ``f x f`` filter.

    ``paints`` ``(m*m, out_h, out_w)``: the transposed convolution of each one-hot input (in
    ``vec(Y)`` order); ``painted``: the one of ``(in_row, in_col)``, the filter taps that input cell
    adds into the output (0 elsewhere);
    ``coverage``: the transposed convolution of all-ones ``Y`` and ``F``: how many taps land on each
    output cell (uneven coverage is the checkerboard pattern of upsampling by transposed convolution).
    """

    Y: np.ndarray
    F: np.ndarray
    Z: np.ndarray
    stride: int
    padding: int
    output_padding: int
    dilation: int
    in_row: int
    in_col: int
    paints: np.ndarray
    coverage: np.ndarray

    def at(self, in_row: int, in_col: int) -> TransposeView:
        """The same setting with another input cell chosen (0-based)."""
        m, w = self.Y.shape
        if not (0 <= in_row < m and 0 <= in_col < w):
            raise ValueError(f"input position ({in_row}, {in_col}) is outside the {m} x {w} input")
        return replace(self, in_row=in_row, in_col=in_col)

    @property
    def painted(self) -> np.ndarray:
        return self.paints[self.in_row * self.Y.shape[1] + self.in_col]

    @property
    def kernel_size(self) -> int:
        return self.F.shape[0]

    @property
    def out_h(self) -> int:
        return self.Z.shape[0]

    @property
    def out_w(self) -> int:
        return self.Z.shape[1]

    @property
    def output_size(self) -> str:
        return output_size_line(self.out_h, self.out_w)

    def rule(self, n: int, out: int, name: str = "H") -> str:
        f, s, p, op, d = self.kernel_size, self.stride, self.padding, self.output_padding, self.dilation
        return (
            f"{name}' = ({name} − 1)·s − 2p + d(f−1) + output_padding + 1 = "
            f"({n} − 1)·{s} − 2·{p} + {d}·({f}−1) + {op} + 1 = {out}"
        )

    @property
    def lines(self) -> list[str]:
        m, w = self.Y.shape
        i, j = self.in_row + 1, self.in_col + 1
        f, s, p, d = self.kernel_size, self.stride, self.padding, self.dilation
        back = conv_output_size(self.out_h, f, s, p, d)
        return [
            self.output_size,
            self.rule(m, self.out_h, "H"),
            self.rule(w, self.out_w, "W"),
            f"the convolution with the same f, s, p, d maps {self.out_h} back to "
            f"⌊({self.out_h} + 2·{p} − {d}·({f}−1) − 1)/{s}⌋ + 1 = {back}",
            f"input Y{i},{j} = {self.Y[self.in_row, self.in_col]:g} paints "
            f"{int(np.count_nonzero(self.painted))} "
            f"output cells (outlined) with Y{i},{j} times the filter taps",
            f"numbers in the output: how many input cells paint each one "
            f"({int(self.coverage.min())} to {int(self.coverage.max())})",
        ]


def transpose_view(
    m: int,
    kernel_size: int,
    stride: int = 1,
    padding: int = 0,
    output_padding: int = 0,
    dilation: int = 1,
    in_row: int = 0,
    in_col: int = 0,
) -> TransposeView:
    """Transposed convolution of an ``m x m`` example input; everything by :func:`cnnbook.conv_transpose2d`.

    Raises :class:`ValueError` (from :func:`cnnbook.conv_transpose2d`) for impossible settings,
    and for a position outside the input.
    """
    if not (0 <= in_row < m and 0 <= in_col < m):
        raise ValueError(f"input position ({in_row}, {in_col}) is outside the {m} x {m} input")
    Y = example_gradient(m, m)
    F = example_filter(kernel_size)
    args = (stride, padding, dilation, output_padding)
    Z = conv_transpose2d(Y[None, None], F[None, None], *args)[0, 0]
    ones = np.eye(m * m).reshape(m * m, 1, m, m)  # one one-hot input per image of the batch
    paints = conv_transpose2d(ones, F[None, None], *args)[:, 0]
    coverage = conv_transpose2d(np.ones((1, 1, m, m)), np.ones((1, 1, kernel_size, kernel_size)), *args)[0, 0]
    return TransposeView(Y, F, Z, stride, padding, output_padding, dilation, in_row, in_col, paints, coverage)

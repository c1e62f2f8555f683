"""Frames: a state turned into the picture description the browser (and the static PNG) draws.

A *frame* is plain JSON: the readout lines and a few panels.  It holds every output position's
facts at once, so moving the position, clicking or hovering a cell redraws without asking Python.

``frame = {"error": str | None, "lines": [...], "select": {"h", "w", "panel"} | None, "panels": [...]}``

* ``lines``: readout lines; an entry is a string, or a list with one string per selectable cell
  (row-major, ``k = i·w + j``) when the line depends on the chosen cell.  The first line is
  ``output: H' x W' = a x b``.
* a ``"grid"`` panel: ``title``, ``h``, ``w``, ``text`` (cell labels or ``None``), ``shade`` (0..1
  grey level by magnitude or ``None``), ``pad`` (the outer ring drawn as padding), ``unread`` (cells
  drawn hatched grey: never read), ``outline`` (cells always outlined), ``rows``/``cols`` (tick
  labels), ``links`` (per selectable cell, the cells to outline here, ``[r, c, label]`` with
  ``label`` ``None`` or a text that replaces the cell's), ``box`` (per selectable cell,
  ``[r0, r1, c0, c1]`` to outline), ``select`` (this panel's cells are the ones chosen).
* a ``"matrix"`` panel: ``title``, ``m``, ``n``, ``nnz`` (``[r, c, v]``), ``span`` (max ``|v|``),
  ``rows_label``, ``cols_label``, ``links`` (per selectable cell, the rows to box).

Nothing here computes geometry: each frame reads a view's fields and properties
(:mod:`cnnbook.explorers.views`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .views import ConvView, MatrixView, PoolView, RoutingView, StackView, TransposeView

__all__ = [
    "conv_frame",
    "error_frame",
    "grid",
    "matrix",
    "matrix_frame",
    "pool_frame",
    "routing_frame",
    "stack_frame",
    "transpose_frame",
]

Frame = dict[str, Any]


def _label(v: Any) -> str:
    return f"{v:g}" if isinstance(v, (float, int, np.floating, np.integer)) else str(v)


def _ticks(n: int, pad: int = 0) -> list[str]:
    """1-based tick labels for ``n`` cells whose outer ``pad`` on each side are padding (no label)."""
    return ["" if k < pad or k >= n - pad else str(k - pad + 1) for k in range(n)]


def grid(
    title: str,
    values: np.ndarray | None = None,
    *,
    shape: tuple[int, int] | None = None,
    pad: int = 0,
    unread: Sequence = (),
    outline: Sequence = (),
    links: list | None = None,
    box: list | None = None,
    select: bool = False,
    shade: bool = True,
) -> dict:
    """A grid panel (see the module docstring); ``values`` ``(h, w)`` are written in and shade the cells."""
    if values is not None:
        A = np.asarray(values, dtype=float)
        h, w = A.shape
        span = float(np.abs(A).max()) or 1.0
        text: list | None = [[_label(v) for v in row] for row in A]
        grey: list | None = (np.round(np.abs(A) / span, 3)).tolist() if shade else None
    else:
        assert shape is not None
        h, w = shape
        text = grey = None
    return {
        "kind": "grid",
        "title": title,
        "h": h,
        "w": w,
        "text": text,
        "shade": grey,
        "pad": pad,
        "unread": [list(map(int, rc)) for rc in unread],
        "outline": [list(map(int, rc)) for rc in outline],
        "rows": _ticks(h, pad),
        "cols": _ticks(w, pad),
        "links": links,
        "box": box,
        "select": select,
    }


def matrix(title: str, M: np.ndarray, rows_label: str, cols_label: str, links: list | None = None) -> dict:
    """A matrix panel: the non-zeros of ``M`` ``(m, n)`` coloured by value; ``links``: rows to box."""
    M = np.asarray(M, dtype=float)
    r, c = np.nonzero(M)
    return {
        "kind": "matrix",
        "title": title,
        "m": M.shape[0],
        "n": M.shape[1],
        "nnz": [[int(a), int(b), float(M[a, b])] for a, b in zip(r, c)],
        "span": float(np.abs(M).max()) or 1.0,
        "rows_label": rows_label,
        "cols_label": cols_label,
        "links": links,
    }


def error_frame(message: str) -> Frame:
    return {"error": message, "lines": [], "select": None, "panels": []}


def _per_cell(h: int, w: int, view_at: Callable[[int, int], Any]) -> list:
    return [view_at(i, j) for i in range(h) for j in range(w)]


def _lines(views: list) -> list:
    """Readout lines of every selectable cell's view: shared lines once, the others per cell."""
    all_lines = [v.lines for v in views]
    out: list = []
    for k, line in enumerate(all_lines[0]):
        column = [lines[k] for lines in all_lines]
        out.append(line if all(x == line for x in column) else column)
    return out


def _frame(lines: list, select: tuple[int, int, int] | None, panels: list) -> Frame:
    sel = None if select is None else {"h": select[0], "w": select[1], "panel": select[2]}
    return {"error": None, "lines": lines, "select": sel, "panels": panels}


def _unread_cells(h: int, w: int, rows: Sequence[int], cols: Sequence[int]) -> list:
    return [(r, c) for r in range(h) for c in range(w) if r in rows or c in cols]


# --------------------------------------------------------------------------------------------
# One frame builder per explorer.
# --------------------------------------------------------------------------------------------


def conv_frame(view: ConvView) -> Frame:
    """Padded input (receptive field linked to the chosen output), filter, output (the choice)."""
    views = _per_cell(view.out_h, view.out_w, view.at)
    hp, wp = view.padded.shape
    p, f = view.padding, view.kernel_size
    d = f", dilation d = {view.dilation}" if view.dilation > 1 else ""
    panels = [
        grid(
            f"INPUT X: {view.H} x {view.W}, padding p = {p}",
            view.padded,
            pad=p,
            unread=_unread_cells(hp, wp, view.unused_rows, view.unused_cols),
            links=[[[r, c, None] for r, c in v.receptive_field] for v in views],
        ),
        grid(f"filter F: {f} x {f}{d}, stride s = {view.stride}", view.F),
        grid(f"OUTPUT S = X * F: {view.out_h} x {view.out_w}", view.S, select=True),
    ]
    return _frame(_lines(views), (view.out_h, view.out_w, 2), panels)


def matrix_frame(view: MatrixView) -> Frame:
    """The matrix (chosen row boxed), the input grid with that row laid on it, and the output."""
    c = view.conv
    views = _per_cell(c.out_h, c.out_w, view.at)
    cols = "input pixel (index in vec(X))" if view.kind == "M_F" else "filter tap (index in vec(F))"
    what = "filter taps" if view.kind == "M_F" else "input values"
    m, n = view.matrix.shape
    on_input = []
    for v in views:
        row_grid = v.row_on_input
        on_input.append([[r, q, _label(row_grid[r, q])] for r, q in v.input_cells])
    panels = [
        matrix(
            f"{view.name}: {m} x {n}",
            view.matrix,
            "output (index in vec(S))",
            cols,
            links=[[v.row_index] for v in views],
        ),
        grid(f"INPUT grid: the row's non-zeros ({what})", shape=(c.H, c.W), links=on_input),
        grid(f"OUTPUT S: {c.out_h} x {c.out_w}", c.S, select=True),
    ]
    return _frame(_lines(views), (c.out_h, c.out_w, 2), panels)


def pool_frame(view: PoolView) -> Frame:
    """Input (winners outlined, unread rows/columns hatched), pooled output, ``A_MaxPool``."""
    H, W = view.X.shape
    m, n = view.A.shape
    panels = [
        grid(
            f"INPUT: {H} x {W}, winners outlined",
            view.X,
            unread=_unread_cells(H, W, view.unused_rows, view.unused_cols),
            outline=view.winners,
        ),
        grid(f"OUTPUT: {view.out_h} x {view.out_w} (r = {view.kernel_size}, s = {view.stride})", view.out),
        matrix(f"A_MaxPool: {m} x {n}", view.A, "output (index in vec)", "input (index in vec(X))"),
    ]
    return _frame(list(view.lines), None, panels)


def stack_frame(view: StackView) -> Frame:
    """One grid per map (input, then each layer's output); the chosen cell's field boxed in each."""
    views = _per_cell(view.out_h, view.out_w, view.at)
    L = len(view.layers)
    panels = []
    for k, n in enumerate(view.sizes):
        boxes = []
        for v in views:
            r0, r1, c0, c1 = v.boxes[k]
            boxes.append([max(r0, 0), min(r1, n - 1), max(c0, 0), min(c1, n - 1)])
        if k == 0:
            title = f"input: {n} x {n}"
        else:
            f, s, p, d = view.layers[k - 1]
            title = f"layer {k}: {n} x {n} (f={f}, s={s}, p={p}, d={d})"
        panels.append(grid(title, shape=(n, n), box=boxes, select=k == L))
    return _frame(_lines(views), (view.out_h, view.out_w, L), panels)


def routing_frame(view: RoutingView) -> Frame:
    """X (the window), F, G (the choice), dX (where G_ij lands, weights F) and dF (what it feeds)."""
    c = view.conv
    views = _per_cell(c.out_h, c.out_w, view.at)
    f = c.kernel_size
    lands, feeds = [], []
    for v in views:
        L = v.lands
        lands.append([[int(r), int(q), _label(L[r, q])] for r, q in zip(*np.nonzero(L))])
        Fd = v.feeds
        feeds.append([[a, b, _label(Fd[a, b])] for a in range(f) for b in range(f)])
    panels = [
        grid(
            f"INPUT X: {c.H} x {c.W}, padding p = {c.padding}",
            c.padded,
            pad=c.padding,
            links=[[[r, q, None] for r, q in v.conv.receptive_field] for v in views],
        ),
        grid(f"filter F: {f} x {f}, stride s = {c.stride}", c.F),
        grid(f"upstream gradient G = dL/dS: {c.out_h} x {c.out_w}", view.G, select=True),
        grid("dX: where the chosen G lands (weights: F taps)", shape=(c.H, c.W), links=lands),
        grid("dF: entries it feeds (times these X values)", shape=(f, f), links=feeds),
    ]
    return _frame(_lines(views), (c.out_h, c.out_w, 2), panels)


def transpose_frame(view: TransposeView) -> Frame:
    """Input Y (the choice), filter, output (cells the chosen input paints, coverage counts)."""
    m, w = view.Y.shape
    views = _per_cell(m, w, view.at)
    painted = []
    for v in views:
        P = v.painted
        painted.append([[int(r), int(q), None] for r, q in zip(*np.nonzero(P))])
    f = view.kernel_size
    panels = [
        grid(f"INPUT Y: {m} x {w}", view.Y, select=True),
        grid(f"filter F: {f} x {f}, s = {view.stride}, p = {view.padding}", view.F),
        grid(
            f"OUTPUT: {view.out_h} x {view.out_w}; numbers: input cells painting it",
            view.coverage,
            links=painted,
        ),
    ]
    return _frame(_lines(views), (m, w, 0), panels)

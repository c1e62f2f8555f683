"""Figures for the lessons and explorers (matplotlib; the core package never imports this module).

Grid pictures of small arrays (inputs, filters, responses) with their values written in,
padding shaded and chosen cells outlined, and pictures of the explicit matrices with zeros left
blank.  Every function takes an optional ``ax`` and returns it, so lessons can compose figures.
Rows are drawn top to bottom and labelled with the lectures' 1-based indices.
"""

from __future__ import annotations

from typing import Iterable, Optional, Sequence, Tuple

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.patches import Rectangle

__all__ = ["plot_grid", "plot_matrix", "outline_cells"]

PAD_COLOR = "#dbe9f6"  # padding cells: pale blue, visibly not part of the input
UNUSED_COLOR = "#bdbdbd"  # rows/columns no filter position touches: grey


def _axes(ax: Optional[plt.Axes], shape: Tuple[int, int], cell: float = 0.45) -> plt.Axes:
    if ax is None:
        h, w = shape
        _, ax = plt.subplots(figsize=(max(2.0, cell * w + 1), max(2.0, cell * h + 1)))
    return ax


def outline_cells(
    ax: plt.Axes,
    cells: Iterable[Tuple[int, int]],
    color: str = "crimson",
    linewidth: float = 2.5,
    fill: Optional[str] = None,
) -> None:
    """Draw a box around each ``(row, col)`` cell of a grid drawn by :func:`plot_grid`."""
    for r, c in cells:
        ax.add_patch(
            Rectangle(
                (c - 0.5, r - 0.5), 1, 1, fill=fill is not None, facecolor=fill or "none",
                edgecolor=color, linewidth=linewidth, alpha=0.9 if fill is None else 0.35,
            )
        )


def plot_grid(
    A: np.ndarray,
    ax: Optional[plt.Axes] = None,
    *,
    title: str = "",
    pad: Tuple[int, int] | int = 0,
    highlight: Sequence[Tuple[int, int]] = (),
    highlight_color: str = "crimson",
    unused: Tuple[int, int] = (0, 0),
    annotate: bool = True,
    fmt: str = "{:g}",
    cmap: str = "Greys",
    index_base: int = 1,
) -> plt.Axes:
    """Draw a 2-D array as a grid of cells, values written in (strings too: symbolic entries).

    ``A``: ``(h, w)``, already padded if ``pad`` is non-zero; the outer ``pad`` rows/columns
    (an int or ``(ph, pw)``) are shaded as padding.  ``unused`` = ``(rows, cols)``: that many
    trailing rows/columns are greyed (never visited by the filter).  ``highlight``: cells to
    outline.  Tick labels are input indices (``index_base``; padding gets none).
    """
    A = np.asarray(A)
    if A.ndim != 2:
        raise ValueError(f"plot_grid draws a 2-D array, got shape {A.shape}")
    ph, pw = (pad, pad) if isinstance(pad, int) else pad
    ax = _axes(ax, A.shape)
    numeric = np.issubdtype(A.dtype, np.number)
    if numeric and annotate:  # shade cells by magnitude; strings (symbolic entries) stay white
        values = np.abs(A.astype(float))
        finite = values[np.isfinite(values)]
        span = float(finite.max()) if finite.size else 1.0
    else:
        values, span = np.zeros(A.shape), 1.0
    ax.imshow(values, cmap=cmap, vmin=0, vmax=max(span, 1e-12) * 2.5, interpolation="nearest")
    h, w = A.shape
    for r in range(h):
        for c in range(w):
            is_pad = r < ph or r >= h - ph or c < pw or c >= w - pw
            if is_pad:
                ax.add_patch(Rectangle((c - 0.5, r - 0.5), 1, 1, color=PAD_COLOR, zorder=1))
            if annotate:
                text = fmt.format(A[r, c]) if numeric else str(A[r, c])
                ax.text(c, r, text, ha="center", va="center", zorder=3,
                        fontsize=8 if w > 10 else 9, color="#4a6b8a" if is_pad else "black")
    ur, uc = unused
    for r in range(h - ph - ur, h - ph):
        for c in range(w):
            ax.add_patch(Rectangle((c - 0.5, r - 0.5), 1, 1, color=UNUSED_COLOR, zorder=2, alpha=0.8))
    for c in range(w - pw - uc, w - pw):
        for r in range(h):
            ax.add_patch(Rectangle((c - 0.5, r - 0.5), 1, 1, color=UNUSED_COLOR, zorder=2, alpha=0.8))
    outline_cells(ax, highlight, color=highlight_color)
    ax.set_xticks(np.arange(w))
    ax.set_yticks(np.arange(h))
    ax.set_xticklabels([str(c - pw + index_base) if pw <= c < w - pw else "" for c in range(w)], fontsize=7)
    ax.set_yticklabels([str(r - ph + index_base) if ph <= r < h - ph else "" for r in range(h)], fontsize=7)
    ax.set_xticks(np.arange(-0.5, w, 1), minor=True)
    ax.set_yticks(np.arange(-0.5, h, 1), minor=True)
    ax.grid(which="minor", color="#888888", linewidth=0.6)
    ax.tick_params(which="minor", length=0)
    ax.set_xlabel("column")
    ax.set_ylabel("row")
    ax.set_xlim(-0.5, w - 0.5)
    ax.set_ylim(h - 0.5, -0.5)
    if title:
        ax.set_title(title)
    return ax


def plot_matrix(
    M: np.ndarray,
    ax: Optional[plt.Axes] = None,
    *,
    title: str = "",
    row_label: str = "row",
    col_label: str = "column",
    highlight_rows: Sequence[int] = (),
    cmap: str = "coolwarm",
) -> plt.Axes:
    """Draw a (possibly large, mostly zero) matrix: zeros blank, other entries coloured by value.

    ``M``: dense ``(m, n)`` array or a scipy.sparse matrix.  ``highlight_rows`` are outlined.
    """
    if hasattr(M, "toarray"):
        M = M.toarray()
    M = np.asarray(M, dtype=float)
    if M.ndim != 2:
        raise ValueError(f"plot_matrix draws a 2-D array, got shape {M.shape}")
    if ax is None:
        m, n = M.shape
        width = min(12.0, max(3.0, 0.25 * n + 1.5))
        _, ax = plt.subplots(figsize=(width, min(10.0, max(2.5, width * m / max(n, 1) + 1))))
    span = float(np.abs(M).max()) or 1.0
    shown = np.ma.masked_where(M == 0, M)
    ax.imshow(shown, cmap=cmap, vmin=-span, vmax=span, interpolation="nearest", aspect="auto")
    m, n = M.shape
    for r in highlight_rows:
        ax.add_patch(Rectangle((-0.5, r - 0.5), n, 1, fill=False, edgecolor="black", linewidth=2))
    ax.set_xlabel(col_label)
    ax.set_ylabel(row_label)
    ax.set_xlim(-0.5, n - 0.5)
    ax.set_ylim(m - 0.5, -0.5)
    if title:
        ax.set_title(title)
    return ax


def shade_cells(
    ax: plt.Axes,
    cells: Iterable[Tuple[int, int]],
    color: str = UNUSED_COLOR,
    alpha: float = 0.8,
    hatch: Optional[str] = "///",
) -> None:
    """Fill each ``(row, col)`` cell of a grid drawn by :func:`plot_grid` (default: unused, grey hatched).

    Unlike ``plot_grid(unused=...)``, the cells are given explicitly, in the drawn array's own
    coordinates, so rows/columns of the padding can be shaded too.  The hatch keeps them apart
    from cells that are grey because of their value.
    """
    for r, c in cells:
        ax.add_patch(Rectangle((c - 0.5, r - 0.5), 1, 1, facecolor=color, edgecolor="#555555",
                               linewidth=0, hatch=hatch, zorder=2, alpha=alpha))


__all__ += ["shade_cells"]

"""Figures for the lessons and explorers (matplotlib; the core package never imports this module).

Grid pictures of small arrays (inputs, filters, responses) with their values written in,
padding shaded and chosen cells outlined, and pictures of the explicit matrices with zeros left
blank.  Every function takes an optional ``ax`` and returns it, so lessons can compose figures.
Rows are drawn top to bottom and labelled with the lectures' 1-based indices.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.colors import ListedColormap
from matplotlib.patches import Rectangle
from matplotlib.ticker import MaxNLocator

from ._checks import as_int, as_pair, positive_int

__all__ = [
    "WINDOW_COLORS",
    "WINNER_COLOR",
    "draw_windows",
    "one_based_ticks",
    "outline_cells",
    "outline_windows",
    "plot_activation_history",
    "plot_confusion_matrix",
    "plot_feature_maps",
    "plot_filters",
    "plot_grid",
    "plot_matrix",
    "plot_misclassified",
    "plot_pool_grid",
    "plot_time_breakdown",
    "plot_training_curves",
    "plot_window_counts",
    "pool_legend",
    "shade_cells",
    "window_taps",
]

PAD_COLOR = "#dbe9f6"  # padding cells: pale blue, visibly not part of the input
UNUSED_COLOR = "#bdbdbd"  # rows/columns no filter position touches: grey
# The Okabe-Ito colours, distinguishable with every common colour-vision deficiency: every figure that
# tells things apart by colour takes them from here (blue and orange first, the pair most figures need).
OKABE_ITO: tuple[str, ...] = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00")


def _axes(ax: plt.Axes | None, shape: tuple[int, int], cell: float = 0.45) -> plt.Axes:
    if ax is None:
        h, w = shape
        _, ax = plt.subplots(figsize=(max(2.0, cell * w + 1), max(2.0, cell * h + 1)))
    return ax


def outline_cells(
    ax: plt.Axes,
    cells: Iterable[tuple[int, int]],
    color: str = "crimson",
    linewidth: float = 2.5,
    fill: str | None = None,
    inset: float = 0.06,
    linestyle: str = "-",
) -> None:
    """Draw a box around each ``(row, col)`` cell of a grid drawn by :func:`plot_grid`.

    ``inset`` (in cells) keeps boxes on border cells clear of the axes frame.
    """
    for r, c in cells:
        ax.add_patch(
            Rectangle(
                (c - 0.5 + inset, r - 0.5 + inset),
                1 - 2 * inset,
                1 - 2 * inset,
                fill=fill is not None,
                facecolor=fill or "none",
                edgecolor=color,
                linewidth=linewidth,
                linestyle=linestyle,
                alpha=0.9 if fill is None else 0.35,
            )
        )


def plot_grid(
    A: np.ndarray,
    ax: plt.Axes | None = None,
    *,
    title: str = "",
    pad: tuple[int, int] | int = 0,
    highlight: Sequence[tuple[int, int]] = (),
    highlight_color: str = "crimson",
    unused: tuple[int, int] = (0, 0),
    annotate: bool = True,
    fmt: str = "{:g}",
    cmap: str = "Greys",
    index_base: int = 1,
) -> plt.Axes:
    """Draw a 2-D array as a grid of cells, values written in (strings too: symbolic entries).

    ``A``: ``(h, w)``, already padded if ``pad`` is non-zero; the outer ``pad`` rows/columns
    (an int or ``(ph, pw)``) are shaded as padding.  ``unused`` = ``(rows, cols)`` (superseded:
    prefer :func:`shade_cells` with the cells :func:`cnnbook.unread_rows` names, which also covers
    rows a stride skips between windows): that many trailing rows/columns of the drawn (padded) grid
    are hatched by :func:`shade_cells` -- never visited by the filter,
    as :func:`cnnbook.unused_size` counts them (they may be padding).  ``highlight``: cells to
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
                ax.text(
                    c,
                    r,
                    text,
                    ha="center",
                    va="center",
                    zorder=3,
                    fontsize=8 if w > 10 else 9,
                    color="#4a6b8a" if is_pad else "black",
                )
    ur, uc = unused  # kept for older lesson cells: the same hatching as shade_cells
    shade_cells(ax, [(r, c) for r in range(h) for c in range(w) if r >= h - ur or c >= w - uc])
    outline_cells(ax, highlight, color=highlight_color)
    ax.set_xticks(np.arange(w))
    ax.set_yticks(np.arange(h))
    ticks = 9 if max(h, w) <= 12 else 8
    ax.set_xticklabels(
        [str(c - pw + index_base) if pw <= c < w - pw else "" for c in range(w)], fontsize=ticks
    )
    ax.set_yticklabels(
        [str(r - ph + index_base) if ph <= r < h - ph else "" for r in range(h)], fontsize=ticks
    )
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
    ax: plt.Axes | None = None,
    *,
    title: str = "",
    row_label: str = "row",
    col_label: str = "column",
    highlight_rows: Sequence[int] = (),
    cmap: str = "coolwarm",
    one_based: bool = False,
) -> plt.Axes:
    """Draw a (possibly large, mostly zero) matrix: zeros blank, other entries coloured by value.

    ``M``: dense ``(m, n)`` array or a scipy.sparse matrix.  ``highlight_rows`` (0-based) are
    outlined.  ``one_based=True`` labels the ticks 1, 2, ... as the lectures count rows/columns.
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
    if one_based:
        one_based_ticks(ax, m, n)
    if title:
        ax.set_title(title)
    return ax


def one_based_ticks(ax: plt.Axes, m: int, n: int) -> None:
    """Ticks labelled 1, 2, ... (the lectures' indices): every one up to 20, else about 10 per axis."""
    for axis, size in ((ax.xaxis, n), (ax.yaxis, m)):
        step = 1 if size <= 20 else -(-size // 10)
        positions = list(range(0, size, step))
        axis.set_ticks(positions)
        axis.set_ticklabels([str(k + 1) for k in positions])


def shade_cells(
    ax: plt.Axes,
    cells: Iterable[tuple[int, int]],
    color: str = UNUSED_COLOR,
    alpha: float = 0.8,
    hatch: str | None = "///",
) -> None:
    """Fill each ``(row, col)`` cell of a grid drawn by :func:`plot_grid` (default: unused, grey hatched).

    The one shading of unread cells (the explorers' static pictures and ``plot_grid(unused=...)``
    use it too); the cells are given explicitly, in the drawn array's own coordinates, so
    rows/columns of the padding can be shaded too.  The hatch keeps them apart
    from cells that are grey because of their value.
    """
    for r, c in cells:
        ax.add_patch(
            Rectangle(
                (c - 0.5, r - 0.5),
                1,
                1,
                facecolor=color,
                edgecolor="#555555",
                linewidth=0,
                hatch=hatch,
                zorder=2,
                alpha=alpha,
            )
        )


# --------------------------------------------------------------------------------------------
# Training a network: curves, filters, feature maps, confusion matrix, misclassified examples
# --------------------------------------------------------------------------------------------


def _figure_axes(n: int, ncols: int, cell: float, title: str = "", extra: float = 0.0):
    """A figure with ``n`` image panels in rows of ``ncols`` (room for a small title above each and
    ``extra`` inches per row below, e.g. for a label under each panel)."""
    ncols = max(1, min(ncols, n))
    nrows = -(-n // ncols)
    fig, axes = plt.subplots(
        nrows,
        ncols,
        figsize=(cell * ncols, (cell + 0.25 + extra) * nrows + (0.4 if title else 0)),
        squeeze=False,
    )
    for ax in axes.flat[n:]:
        ax.axis("off")
    if title:
        fig.suptitle(title)
    return fig, axes


def _bare(ax: plt.Axes) -> None:
    ax.set_xticks([])
    ax.set_yticks([])


def plot_training_curves(
    history, axes: Sequence[plt.Axes] | None = None, *, val_label: str = "validation"
) -> Sequence[plt.Axes]:
    """Loss and accuracy per epoch from a :class:`cnnbook.train.History` (validation too, if recorded).

    Draws into two axes (created side by side, 10x3.5 inches, when ``axes`` is None) and returns them.
    ``val_label`` names the held-out set in the legends (e.g. "test").
    """
    if axes is None:
        _, axes = plt.subplots(1, 2, figsize=(10, 3.5))
    epochs = np.arange(1, len(history.loss) + 1)
    ax_loss, ax_acc = axes
    ax_loss.plot(epochs, history.loss, "o-", label="training (mean over the epoch)")
    if history.val_loss:
        ax_loss.plot(epochs, history.val_loss, "s-", label=f"{val_label} (after the epoch)")
    ax_loss.set_xlabel("epoch")
    ax_loss.set_ylabel("cross-entropy loss")
    ax_loss.set_title("loss")
    ax_acc.plot(epochs, 100 * np.asarray(history.train_accuracy), "o-", label="training")
    if history.val_accuracy:
        ax_acc.plot(epochs, 100 * np.asarray(history.val_accuracy), "s-", label=val_label)
    ax_acc.set_xlabel("epoch")
    ax_acc.set_ylabel("accuracy (%)")
    ax_acc.set_title("accuracy")
    for ax in axes:
        ax.grid(alpha=0.3)
        ax.legend()
    return axes


def plot_filters(
    F: np.ndarray, b: np.ndarray | None = None, *, ncols: int = 8, title: str = "", cell: float = 1.1
):
    """Every 2-D slice ``F[k, c]`` of a filter bank ``(K, C, fh, fw)`` as a small image.

    One row of panels per filter when ``C > 1`` (columns: input channels), else ``ncols`` per row.
    A shared diverging colour scale centred on 0 (red positive, blue negative, white 0), given by a
    colour bar on the right.  ``b`` ``(K,)``, if given, writes each filter's bias under its panel(s)
    (``b = ...``).  Returns the figure.
    """
    F = np.asarray(F, dtype=float)
    if F.ndim != 4:
        raise ValueError(f"plot_filters needs a filter bank (K, C, fh, fw), got shape {F.shape}")
    K, C = F.shape[:2]
    if b is not None:
        b = np.asarray(b, dtype=float)
        if b.shape != (K,):
            raise ValueError(f"b must hold one bias per filter, shape ({K},), got {b.shape}")
    span = float(np.abs(F).max()) or 1.0
    if C == 1:
        fig, axes = _figure_axes(K, ncols, cell, title, extra=0.2 if b is not None else 0.0)
        panels = [(axes.flat[k], F[k, 0], f"filter {k + 1}", k) for k in range(K)]
    else:
        fig, axes = _figure_axes(K * C, C, cell, title, extra=0.2 if b is not None else 0.0)
        panels = [(axes[k, c], F[k, c], f"F{k + 1}, ch {c + 1}", k) for k in range(K) for c in range(C)]
    for ax, plane, label, k in panels:
        im = ax.imshow(plane, cmap="RdBu_r", vmin=-span, vmax=span, interpolation="nearest")
        ax.set_title(label, fontsize=8)
        _bare(ax)
        if b is not None:
            ax.set_xlabel(f"b = {b[k]:.2f}", fontsize=8)
    fig.tight_layout(rect=(0, 0, 0.93, 1))
    bar = fig.colorbar(im, cax=fig.add_axes((0.945, 0.12, 0.012, 0.7)))
    bar.ax.tick_params(labelsize=8)
    bar.set_label("weight", fontsize=8)
    return fig


# A sequential map for non-negative values: exactly white at 0 (first of its 256 levels), then Reds.
_WHITE_ZERO_REDS = ListedColormap(
    np.vstack([[1.0, 1.0, 1.0, 1.0], plt.get_cmap("Reds")(np.linspace(0.08, 1.0, 255))]), name="white_reds"
)


def plot_feature_maps(
    maps: Sequence[tuple[str, np.ndarray]],
    image: np.ndarray | None = None,
    *,
    channels: int = 8,
    cell: float = 1.05,
):
    """Feature maps of one image, one row per layer: ``maps`` = ``[(name, array (C, H, W)), ...]``.

    The first ``channels`` planes of each layer are shown.  The panels of a row share one colour
    scale, shown by a colour bar (8 pt ticks) at the row's right end, so that the channels of a
    layer can be compared: a diverging scale centred on 0 (red positive, blue negative, white 0, as
    in :func:`plot_filters`) for a row with negative values (a convolution's output), a sequential
    one from white at 0 to dark red at the row's maximum for a non-negative row (ReLU and pooling
    outputs), where an all-zero channel (a ReLU that is off everywhere) is plain white.  The row
    label gives the layer's name and shape.  ``image`` ``(H, W)`` or ``(1, H, W)``, if given,
    opens the figure as the input row, drawn like the digits elsewhere in the book: grey, dark =
    large (``gray_r``), from ``min(0, image)`` to ``max(1, image)``.  Returns the figure.
    """
    rows = (
        [("input", np.asarray(image).reshape((1, *np.asarray(image).shape[-2:])))]
        if image is not None
        else []
    )
    rows += [(name, np.asarray(a)) for name, a in maps]
    for name, a in rows:
        if a.ndim != 3:
            raise ValueError(f"feature map '{name}' must be (C, H, W), got shape {a.shape}")
    ncols = min(channels, max(a.shape[0] for _, a in rows))
    fig, axes = plt.subplots(len(rows), ncols, figsize=(cell * ncols + 1.9, cell * len(rows)), squeeze=False)
    for r, (name, a) in enumerate(rows):
        shown = a[:ncols].astype(float)
        if r == 0 and image is not None:
            style = dict(cmap="gray_r", vmin=min(0.0, shown.min()), vmax=max(1.0, shown.max()))
        elif shown.min() >= 0:
            style = dict(cmap=_WHITE_ZERO_REDS, vmin=0.0, vmax=float(shown.max()) or 1.0)
        else:
            span = float(np.abs(shown).max()) or 1.0
            style = dict(cmap="RdBu_r", vmin=-span, vmax=span)
        for c in range(ncols):
            ax = axes[r, c]
            _bare(ax)
            if c >= a.shape[0]:
                ax.axis("off")
                continue
            im = ax.imshow(shown[c], interpolation="nearest", **style)
            if r == 0 or (r == 1 and image is not None):
                ax.set_title(f"channel {c + 1}", fontsize=8)
        last = axes[r, min(ncols, a.shape[0]) - 1]
        bar = fig.colorbar(im, cax=last.inset_axes([1.06, 0.0, 0.07, 1.0]))
        bar.ax.tick_params(labelsize=8, length=2)
        bar.locator = MaxNLocator(3)
        bar.update_ticks()
        axes[r, 0].set_ylabel(
            f"{name}\n{a.shape[0]}x{a.shape[1]}x{a.shape[2]}", fontsize=8, rotation=0, ha="right", va="center"
        )
    fig.tight_layout()
    return fig


def plot_confusion_matrix(
    M: np.ndarray,
    ax: plt.Axes | None = None,
    *,
    class_names: Sequence[str] | None = None,
    title: str = "",
) -> plt.Axes:
    """A confusion matrix ``M[true, predicted]`` of counts, every count written in its cell.

    Rows are true classes, columns predicted ones; the diagonal holds the correct answers.  Colour is
    on a log scale so that the few mistakes are visible next to the large diagonal.
    """
    M = np.asarray(M)
    if M.ndim != 2 or M.shape[0] != M.shape[1]:
        raise ValueError(f"a confusion matrix is square, got shape {M.shape}")
    n = M.shape[0]
    names = list(class_names) if class_names is not None else [str(i) for i in range(n)]
    if ax is None:
        _, ax = plt.subplots(figsize=(0.45 * n + 1.8, 0.45 * n + 1.4))
    ax.imshow(np.log1p(M), cmap="Blues", interpolation="nearest")
    top = np.log1p(M.max()) if M.size else 1
    for i in range(n):
        for j in range(n):
            if M[i, j]:
                ax.text(
                    j,
                    i,
                    str(M[i, j]),
                    ha="center",
                    va="center",
                    fontsize=8,
                    color="white" if np.log1p(M[i, j]) > 0.6 * top else "black",
                )
    ax.set_xticks(range(n))
    ax.set_yticks(range(n))
    ax.set_xticklabels(names)
    ax.set_yticklabels(names)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    if title:
        ax.set_title(title)
    return ax


def plot_misclassified(
    X: np.ndarray,
    y_true: np.ndarray,
    y_pred: np.ndarray,
    *,
    max_images: int = 24,
    ncols: int = 8,
    title: str = "",
    cell: float = 1.15,
):
    """A gallery of the examples with ``y_pred != y_true`` (the first ``max_images`` of them).

    ``X``: ``(N, 1, H, W)`` or ``(N, H, W)`` images; each panel is titled ``true -> predicted``.
    The figure always has ``max_images`` panels (empty ones switched off), so its size does not
    depend on the number of mistakes; "no mistakes" is written in the first if there are none.
    """
    X = np.asarray(X)
    wrong = np.flatnonzero(np.asarray(y_true) != np.asarray(y_pred))[:max_images]
    fig, axes = _figure_axes(max_images, ncols, cell, title)
    if not len(wrong):
        axes.flat[0].text(0.5, 0.5, "no mistakes", ha="center", va="center")
        axes.flat[0].axis("off")
    for ax, i in zip(axes.flat, wrong):
        ax.imshow(X[i].reshape(X.shape[-2:]), cmap="gray_r", interpolation="nearest")
        ax.set_title(f"{y_true[i]} -> {y_pred[i]}", fontsize=8, color="crimson")
        _bare(ax)
    fig.tight_layout()
    return fig


# --- lesson 09 ---


def plot_activation_history(
    records: Mapping[str, Sequence[np.ndarray]],
    *,
    times: Sequence[float] | None = None,
    bins: int = 30,
    xlabel: str = "epoch",
    title: str = "",
    cell: tuple[float, float] = (3.0, 3.4),
):
    """How each layer's activations are distributed as training goes on: a diagnostic of its health.

    ``records`` maps a layer name to its outputs ``[A_0, A_1, ..., A_{T-1}]`` on the same examples
    at ``T`` moments of training (arrays of any shape, e.g. ``(N, C, H, W)``; ``times``, default
    ``0, 1, ..., T-1``, gives the moments, e.g. the epoch after which each was taken).  One column
    of two panels per layer:

    * top: an image whose column ``t`` is the histogram of the *non-zero* values of ``A_t`` in
      ``bins`` equal bins from ``min(0, all values)`` to the largest value the layer ever takes;
      colour: ``log10`` of the fraction of *all* entries of ``A_t`` in the bin (sequential map,
      colour bar; empty bins are left white), so a layer whose values spread, shrink or vanish
      shows it at a glance;
    * bottom: the fraction of entries of ``A_t`` that are exactly 0 -- for a ReLU, the units that
      are off -- on a 0..1 scale.

    Returns the figure (``(cell[0] * layers + 0.8) x cell[1]`` inches).
    """
    names = list(records)
    if not names:
        raise ValueError("records must name at least one layer")
    series = {name: [np.asarray(a, dtype=float).reshape(-1) for a in records[name]] for name in names}
    T = len(series[names[0]])
    sizes = [[a.size for a in arrays] for arrays in series.values()]
    if T == 0 or any(len(s) != T or 0 in s for s in sizes):
        raise ValueError("every layer needs the same number T >= 1 of non-empty arrays")
    x = np.arange(T, dtype=float) if times is None else np.asarray(times, dtype=float)
    if x.shape != (T,):
        raise ValueError(f"times must hold one value per record ({T}), got shape {x.shape}")
    fig, axes = plt.subplots(
        2,
        len(names),
        figsize=(cell[0] * len(names) + 0.8, cell[1]),
        squeeze=False,
        gridspec_kw={"height_ratios": (2.2, 1)},
        sharex="col",
    )
    step = float(np.median(np.diff(x))) if T > 1 else 1.0
    for j, name in enumerate(names):
        arrays = series[name]
        lo = min(0.0, min(float(a.min()) for a in arrays))
        hi = max(float(a.max()) for a in arrays)
        hi = hi if hi > lo else lo + 1.0
        edges = np.linspace(lo, hi, bins + 1)
        counts = np.stack([np.histogram(a[a != 0], bins=edges)[0] / a.size for a in arrays], axis=1)
        shown = np.ma.masked_equal(counts, 0)
        logged = np.ma.log10(shown)
        ax = axes[0, j]
        im = ax.imshow(
            logged,
            origin="lower",
            aspect="auto",
            cmap="viridis",
            interpolation="nearest",
            extent=(x[0] - step / 2, x[-1] + step / 2, lo, hi),
        )
        bar = fig.colorbar(im, ax=ax, pad=0.02)
        bar.ax.tick_params(labelsize=8)
        bar.set_label("log10 fraction", fontsize=8)
        ax.set_title(name, fontsize=10)
        ax.set_ylabel("value (non-zero)", fontsize=9)
        ax.tick_params(labelsize=8)
        zero = [float(np.mean(a == 0)) for a in arrays]
        ax = axes[1, j]
        ax.plot(x, zero, "o-", color="#0072B2", markersize=3)
        ax.set_ylim(-0.05, 1.05)
        ax.set_ylabel("fraction = 0", fontsize=9)
        ax.set_xlabel(xlabel, fontsize=9)
        ax.tick_params(labelsize=8)
        ax.grid(alpha=0.3)
        fig.colorbar(im, ax=ax, pad=0.02).ax.set_visible(False)  # keeps the two panels' widths equal
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


# --- lesson 05 ---

GRAPH_STYLES = {  # node kind -> (face colour, edge colour); colour-blind-safe blue/orange
    "data": ("#eeeeee", "#555555"),  # inputs and labels: no gradient wanted
    "param": ("#fbe3b0", OKABE_ITO[1]),  # learnable parameters
    "value": ("#ffffff", OKABE_ITO[0]),  # intermediate results and the loss
}

__all__ += ["draw_graph"]


def draw_graph(
    nodes: dict[str, tuple[float, float]],
    edges: Sequence[tuple[str, str, str]],
    ax: plt.Axes | None = None,
    *,
    labels: dict[str, str] | None = None,
    kinds: dict[str, str] | None = None,
    highlight: Iterable[tuple[str, str]] = (),
    label_offsets: dict[tuple[str, str], tuple[float, float]] | None = None,
    figsize: tuple[float, float] = (12.0, 5.0),
    fontsize: float = 12,
    edge_fontsize: float = 11,
) -> plt.Axes:
    """Draw a computational graph: boxes at given positions, arrows with a label on each edge.

    ``nodes``: name -> ``(x, y)`` centre in data coordinates.  ``edges``: ``(source, target, label)``
    triples, drawn as arrows from source to target with ``label`` (e.g. the local Jacobian
    ``d target / d source``; ``""`` for none) at the arrow's midpoint.  ``labels``: text in each box
    (default: the node's name; mathtext and ``\\n`` allowed).  ``kinds``: name -> ``"data"``,
    ``"param"`` or ``"value"`` (default) picks the box colours of ``GRAPH_STYLES``.  ``highlight``:
    edges drawn thick and blue (a path the text follows); the others are thin and grey.
    ``label_offsets``: ``(source, target)`` -> ``(dx, dy)`` moves that edge's label off the midpoint.
    Returns the axes (created with ``figsize`` when ``ax`` is None), axis lines off.
    """
    labels = dict(labels or {})
    kinds = dict(kinds or {})
    for name, kind in kinds.items():
        if name not in nodes:
            raise ValueError(f"kinds names {name!r}, which is not in nodes")
        if kind not in GRAPH_STYLES:
            raise ValueError(f"kinds[{name!r}] must be one of {sorted(GRAPH_STYLES)}, got {kind!r}")
    for source, target, _ in edges:
        for end in (source, target):
            if end not in nodes:
                raise ValueError(f"edges name {end!r}, which is not in nodes")
    offsets = dict(label_offsets or {})
    for source, target in [*highlight, *offsets]:
        if (source, target) not in {(s, t) for s, t, _ in edges}:
            raise ValueError(
                f"highlight/label_offsets name the edge {(source, target)!r}, which is not in edges"
            )
    marked = {tuple(edge) for edge in highlight}
    if ax is None:
        _, ax = plt.subplots(figsize=figsize)
    boxes = {}
    for name, (x, y) in nodes.items():
        face, edge = GRAPH_STYLES[kinds.get(name, "value")]
        boxes[name] = ax.text(
            x,
            y,
            labels.get(name, name),
            ha="center",
            va="center",
            fontsize=fontsize,
            zorder=3,
            bbox={"boxstyle": "round,pad=0.4", "facecolor": face, "edgecolor": edge, "linewidth": 1.5},
        )
    for source, target, text in edges:
        on_path = (source, target) in marked
        colour = OKABE_ITO[0] if on_path else "#777777"
        ax.annotate(
            "",
            xy=nodes[target],
            xytext=nodes[source],
            zorder=2,
            arrowprops={
                "arrowstyle": "-|>",
                "color": colour,
                "linewidth": 2.2 if on_path else 1.0,
                "patchA": boxes[source].get_bbox_patch(),
                "patchB": boxes[target].get_bbox_patch(),
                "shrinkA": 2,
                "shrinkB": 2,
                "mutation_scale": 14,
            },
        )
        if text:
            (x0, y0), (x1, y1) = nodes[source], nodes[target]
            dx, dy = offsets.get((source, target), (0.0, 0.0))
            ax.text(
                (x0 + x1) / 2 + dx,
                (y0 + y1) / 2 + dy,
                text,
                ha="center",
                va="center",
                fontsize=edge_fontsize,
                color=OKABE_ITO[0] if on_path else "#333333",
                zorder=4,
                bbox={"boxstyle": "round,pad=0.15", "facecolor": "white", "edgecolor": "none", "alpha": 0.9},
            )
    xs, ys = zip(*nodes.values())
    ax.set_xlim(min(xs) - 0.6, max(xs) + 0.6)
    ax.set_ylim(min(ys) - 0.5, max(ys) + 0.5)
    ax.axis("off")
    return ax


# --- lesson 02 ---

FIRST_WINDOW_COLOR = OKABE_ITO[0]  # blue, solid outline: the first window
NEXT_WINDOW_COLOR = OKABE_ITO[1]  # orange, dashed outline: the next window along the row


def outline_windows(
    ax: plt.Axes,
    first: Iterable[tuple[int, int]],
    following: Iterable[tuple[int, int]] = (),
) -> plt.Axes:
    """Outline the cells of a first window (blue, solid) and of the next one (orange, dashed).

    ``first``, ``following``: ``(row, col)`` cells of a grid drawn by :func:`plot_grid`.  The
    second outline sits further inside each cell, so a cell both windows read shows both boxes.
    """
    outline_cells(ax, first, color=FIRST_WINDOW_COLOR, linewidth=2.5)
    outline_cells(ax, following, color=NEXT_WINDOW_COLOR, linewidth=2.2, inset=0.2, linestyle="--")
    return ax


def window_taps(
    kernel_size: int, start: tuple[int, int] = (0, 0), dilation: int = 1
) -> list[tuple[int, int]]:
    """The ``(row, col)`` cells a ``kernel_size x kernel_size`` window with ``dilation`` reads.

    ``start``: the window's top-left cell ``(q_row, q_col)``; its taps sit at ``q + dilation * i``
    for ``i < kernel_size`` along each axis.
    """
    (r0, c0), f, d = start, kernel_size, dilation
    return [(r0 + d * i, c0 + d * j) for i in range(f) for j in range(f)]


def plot_window_counts(
    count: np.ndarray,
    ax: plt.Axes,
    *,
    kernel_size: int,
    stride: int = 1,
    padding: int = 0,
    dilation: int = 1,
    unread: Sequence[int] = (),
    title: str = "",
) -> plt.Axes:
    """Draw how many windows read each cell, the first two windows, and the rows nobody reads.

    ``count``: ``(h, w)`` counts on the padded grid (padding rows/columns included when
    ``padding > 0``; they are tinted as padding).  The first window (top-left) is outlined blue
    and solid, the next one along the row (``stride`` columns on) orange and dashed
    (:func:`outline_windows`).  ``unread``: indices, in the padded grid, of rows (and, the same,
    columns) no window reads (:func:`cnnbook.unread_rows`); their cells are hatched grey.
    """
    count = np.asarray(count)
    h, w = count.shape
    plot_grid(count, ax, pad=padding, cmap="Blues", title=title)
    shade_cells(ax, [(r, c) for r in range(h) for c in range(w) if r in unread or c in unread])
    first = window_taps(kernel_size, (0, 0), dilation)
    return outline_windows(ax, first, window_taps(kernel_size, (0, stride), dilation))


# --- lesson 01 ---

__all__ += ["plot_response_maps"]


def plot_response_maps(
    image: np.ndarray,
    S: np.ndarray,
    H: np.ndarray | None = None,
    *,
    names: Sequence[str],
    signed: Sequence[bool],
    image_title: str = "input $X$",
    figsize: tuple[float, float] = (14.0, 6.5),
    clip_percentile: float | None = None,
) -> plt.Figure:
    """An image and the response maps of ``K`` filters applied to it, each with its own colour bar.

    ``image``: ``(h, w)``, drawn in grey.  ``S``: ``(K, h', w')`` responses, drawn in the first row
    beside the image; ``H``: optional ``(K, h', w')`` activations (e.g. ``max(0, S)``), drawn in a
    second row under them.  ``signed[k]`` says whether map ``k`` is signed data (an edge filter:
    drawn on a diverging map centred on 0, limits ``±max|S_k|``) or not (a blur of a non-negative
    image: a grey sequential map over the data's range, like the image).  Activations are
    non-negative: a sequential map from 0.  ``clip_percentile`` (e.g. 99): signed maps use that
    percentile of ``|S_k|`` as their limit instead of the maximum (a photo's few strongest edges would
    wash out the rest); the colour bar then shows arrows for the clipped values.  Returns the figure.
    """
    S = np.asarray(S, dtype=float)
    K = S.shape[0]
    if len(names) != K or len(signed) != K:
        raise ValueError(f"names and signed need one entry per map ({K}), got {len(names)} and {len(signed)}")
    rows = 1 if H is None else 2
    fig, axes = plt.subplots(rows, K + 1, figsize=figsize, layout="constrained", squeeze=False)
    axes[0, 0].imshow(image, cmap="gray")
    axes[0, 0].set_title(image_title)
    for k in range(K):
        ax = axes[0, k + 1]
        clipped = signed[k] and clip_percentile is not None
        if signed[k]:
            magnitude = np.abs(S[k])
            limit = magnitude.max() if clip_percentile is None else np.percentile(magnitude, clip_percentile)
            span = float(limit) or 1.0
            im = ax.imshow(S[k], cmap="RdBu_r", vmin=-span, vmax=span)
        else:
            im = ax.imshow(S[k], cmap="gray")
        ax.set_title(f"$S_{k + 1}$: {names[k]}")
        label = "response" + (" (signed)" if signed[k] else "")
        fig.colorbar(im, ax=ax, shrink=0.8, label=label, extend="both" if clipped else "neither")
    if H is not None:
        axes[1, 0].axis("off")
        for k in range(K):
            ax = axes[1, k + 1]
            im = ax.imshow(H[k], cmap="viridis", vmin=0, vmax=float(np.max(H[k])) or 1.0)
            ax.set_title(f"$H_{k + 1} = \\max(0, S_{k + 1})$")
            fig.colorbar(im, ax=ax, shrink=0.8, label="activation")
    for ax in axes.flat:
        if ax.axison:
            ax.set_xlabel("column")
            ax.set_ylabel("row")
    return fig


# --- lesson 04 ---

__all__ += ["plot_activations"]

FUNCTION_COLOR, DERIVATIVE_COLOR = OKABE_ITO[:2]  # blue / orange


def plot_activations(
    activations: dict,
    xs: np.ndarray,
    *,
    ncols: int = 4,
    ylim: tuple[float, float] = (-1.6, 3.1),
    panel: tuple[float, float] = (3.0, 3.1),
) -> plt.Figure:
    """One panel per activation: ``f(x)`` (blue, solid) and ``f'(x)`` (orange, dashed) over ``xs``.

    ``activations`` maps a name to ``(f, df)``, two functions of a 1-D array ``(n,) -> (n,)``;
    panels fill rows of ``ncols`` (``panel`` inches each), extra panels are switched off.
    Returns the figure.
    """
    n = len(activations)
    nrows = -(-n // ncols)
    fig, axes = plt.subplots(
        nrows, ncols, figsize=(panel[0] * ncols, panel[1] * nrows), sharex=True, squeeze=False
    )
    for ax, (name, (f, df)) in zip(axes.flat, activations.items()):
        ax.plot(xs, f(xs), color=FUNCTION_COLOR, label="f(x)")
        ax.plot(xs, df(xs), color=DERIVATIVE_COLOR, linestyle="--", label="f'(x)")
        ax.axhline(0, color="black", linewidth=0.5)
        ax.axvline(0, color="black", linewidth=0.5)
        ax.set_title(name, fontsize=10)
        ax.set_ylim(*ylim)
        ax.legend(fontsize=8, loc="upper left")
    for ax in axes.flat[n:]:
        ax.axis("off")
    for col in range(ncols):
        shown = [axes[r, col] for r in range(nrows) if axes[r, col].axison]
        if shown:
            shown[-1].set_xlabel("input x (pre-activation)")
            shown[-1].xaxis.set_tick_params(labelbottom=True)
    for ax in axes[:, 0]:
        ax.set_ylabel("f(x) and f'(x)")
    fig.tight_layout()
    return fig


# --- lesson 07 ---
# Pooling figures, one encoding per meaning: pooling region k and the output cell it makes share colour k
# (an outline), a region's winner is filled (WINNER_COLOR), cells no region reads are hatched grey
# (shade_cells), and values are written in the cells, not shaded.

#: Outline colours of pooling regions 0, 1, 2, ... (Okabe-Ito: distinguishable with colour-blindness).
WINDOW_COLORS: tuple[str, ...] = OKABE_ITO
#: Fill of a max-pooling region's winner (Okabe-Ito yellow; no region outline uses it).
WINNER_COLOR = "#F0E442"


def draw_windows(
    ax: plt.Axes,
    out_shape: tuple[int, int],
    kernel_size: int | tuple[int, int],
    stride: int | tuple[int, int],
    *,
    only: int | None = None,
    inset: float = 0.08,
) -> list[Rectangle]:
    """Outline the pooling regions on a grid drawn by :func:`plot_grid` or :func:`plot_pool_grid`.

    ``out_shape`` = ``(h', w')`` of the pooled map; region ``k`` (row-major, ``k = i w' + j``) covers
    rows ``i s_h .. i s_h + r_h - 1`` and columns ``j s_w .. j s_w + r_w - 1`` (0-based, no padding) for
    ``kernel_size`` ``r`` and ``stride`` ``s`` (ints or ``(h, w)`` pairs), and is outlined in
    ``WINDOW_COLORS[k % 6]``.  ``only=k`` draws region ``k`` alone.  The outlines sit ``inset`` cells
    inside the region, so the axes frame does not hide them and neighbouring regions stay apart.
    ``kernel_size = stride = 1`` outlines every cell of an output map in its region's colour.
    Returns the patches drawn.
    """
    h_out, w_out = as_pair(out_shape, "out_shape", 1)
    rh, rw = as_pair(kernel_size, "kernel_size", 1)
    sh, sw = as_pair(stride, "stride", 1)
    if only is not None and not 0 <= as_int(only, "only") < h_out * w_out:
        raise ValueError(f"only must name a region 0 .. {h_out * w_out - 1}, got {only}")
    if not 0 <= inset < 0.5:
        raise ValueError(f"inset must be in [0, 0.5) cells, got {inset}")
    patches = []
    for k, (i, j) in enumerate(np.ndindex(h_out, w_out)):
        if only is None or k == only:
            patch = Rectangle(
                (j * sw - 0.5 + inset, i * sh - 0.5 + inset),
                rw - 2 * inset,
                rh - 2 * inset,
                fill=False,
                edgecolor=WINDOW_COLORS[k % len(WINDOW_COLORS)],
                linewidth=2.5,
                zorder=4,
            )
            ax.add_patch(patch)
            patches.append(patch)
    return patches


def plot_pool_grid(
    A: np.ndarray,
    ax: plt.Axes | None = None,
    *,
    title: str = "",
    regions: tuple[tuple[int, int], int | tuple[int, int], int | tuple[int, int]] | None = None,
    only: int | None = None,
    outputs: bool = False,
    winners: Iterable[tuple[int, int]] = (),
    unread: Iterable[tuple[int, int]] = (),
) -> plt.Axes:
    """One map of a pooling figure: ``A`` ``(h, w)`` drawn by :func:`plot_grid`, values written on white.

    Colour is kept for what the pooling pictures mean:

    * ``regions=(out_shape, kernel_size, stride)``: the pooling regions on an input-side map
      (:func:`draw_windows`; ``only=k`` for region ``k`` alone);
    * ``outputs=True``: ``A`` is an output-side map ``(h', w')`` (the pooled map or the upstream
      gradient ``G``), cell ``k`` outlined in the colour of region ``k``;
    * ``winners``: ``(row, col)`` cells filled with :data:`WINNER_COLOR`;
    * ``unread``: ``(row, col)`` cells hatched grey (:func:`shade_cells`): no region reads them.

    :func:`pool_legend` explains the encodings.  Returns ``ax``.
    """
    ax = plot_grid(A, ax, title=title)
    for image in ax.images:  # the magnitude shading of plot_grid: values are written instead
        image.set_visible(False)
    ax.set_facecolor("white")
    if regions is not None:
        out_shape, kernel_size, stride = regions
        draw_windows(ax, out_shape, kernel_size, stride, only=only)
    if outputs:
        draw_windows(ax, np.shape(A), 1, 1)  # validated above: A is 2-D
    for r, c in winners:
        ax.add_patch(Rectangle((c - 0.5, r - 0.5), 1, 1, facecolor=WINNER_COLOR, edgecolor="none", zorder=1))
    shade_cells(ax, unread)
    ax.tick_params(labelsize=9)
    return ax


def pool_legend(
    where: plt.Axes | plt.Figure,
    n_regions: int,
    *,
    winners: bool = False,
    unread: bool = False,
    **kwargs: object,
):
    """A legend for :func:`plot_pool_grid`'s encodings, on an axes or a figure; returns it.

    One entry per region colour (``"region k -> output k"``, 1-based as in the lectures, for
    ``k < n_regions``), then ``winners``: "winner (max of its region)" and ``unread``: "never read by
    any region".  ``kwargs`` go to ``legend`` (e.g. ``loc``, ``ncol``).
    """
    n = positive_int(n_regions, "n_regions")
    handles = [
        Rectangle((0, 0), 1, 1, fill=False, edgecolor=WINDOW_COLORS[k % len(WINDOW_COLORS)], linewidth=2.5)
        for k in range(n)
    ]
    labels = [f"region {k + 1} → output {k + 1}" for k in range(n)]
    if winners:
        handles.append(Rectangle((0, 0), 1, 1, facecolor=WINNER_COLOR, edgecolor="none"))
        labels.append("winner (max of its region)")
    if unread:
        handles.append(Rectangle((0, 0), 1, 1, facecolor=UNUSED_COLOR, edgecolor="#555555", hatch="///"))
        labels.append("never read by any region")
    options: dict = {"fontsize": 9, "ncol": len(handles), "frameon": False, **kwargs}
    return where.legend(handles, labels, **options)


# --- lesson 08 ---


def plot_time_breakdown(
    pieces: dict[str, dict[str, float]],
    calls: dict[str, dict[str, float]],
    *,
    title: str = "",
    ax: plt.Axes | None = None,
) -> plt.Axes:
    """Stacked bars of where a call's time goes, with ticks at the whole calls' times.

    ``pieces[pass][piece]``: seconds of each piece of one pass (e.g. ``"forward"``: im2col, GEMM,
    reshape), drawn as one horizontal bar per pass, pieces stacked left to right in dict order.
    ``calls[implementation][pass]``: seconds of the whole call, drawn as a vertical tick on that
    pass's bar (one colour and legend entry per implementation).  Times are shown in ms.
    """
    fig = None
    if ax is None:
        fig, ax = plt.subplots(figsize=(8, 1.2 + 1.2 * len(pieces)))
    names = [name for parts in pieces.values() for name in parts]
    colors = {name: f"C{k}" for k, name in enumerate(names)}
    tick_colors = ["k", "C9", "C8", "C7"]  # colours the bars (up to 7 pieces) do not use
    for y, (passname, parts) in enumerate(pieces.items()):
        left = 0.0
        for name, seconds in parts.items():
            ax.barh(y, seconds * 1e3, left=left, color=colors[name], label=name, height=0.6)
            left += seconds * 1e3
        for k, (implementation, times) in enumerate(calls.items()):
            if passname in times:
                label = f"whole call: {implementation}" if y == 0 else None
                ax.plot(
                    times[passname] * 1e3,
                    y,
                    "|",
                    color=tick_colors[k % 4],
                    markersize=34,
                    mew=2.5,
                    label=label,
                )
    ax.set_yticks(range(len(pieces)), list(pieces))
    ax.invert_yaxis()  # the first pass on top
    ax.set_xlabel("time per call (ms)")
    if title:
        ax.set_title(title)
    ax.legend(fontsize=8, loc="center left", bbox_to_anchor=(1.01, 0.5), markerscale=0.35)
    if fig is not None:  # a figure of its own: fit the legend beside the bars
        fig.tight_layout()
    return ax

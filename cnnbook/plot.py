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

__all__ = [
    "one_based_ticks",
    "outline_cells",
    "plot_activation_history",
    "plot_confusion_matrix",
    "plot_feature_maps",
    "plot_filters",
    "plot_grid",
    "plot_matrix",
    "plot_misclassified",
    "plot_training_curves",
    "shade_cells",
]

PAD_COLOR = "#dbe9f6"  # padding cells: pale blue, visibly not part of the input
UNUSED_COLOR = "#bdbdbd"  # rows/columns no filter position touches: grey


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

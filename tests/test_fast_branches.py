"""Every branch of the fast convolution (cnnbook.fast) against the textbook core.

The fast path chooses per geometry: full-row or exact columns, full-row or exact dX, dX's
horizontal taps in the GEMM or in the additions, one strided copy or tap copies, fresh or reused
scratch arrays, dX in one block or several, zeroed extra columns when the input holds NaN or inf.
Each choice can be forced (the ablation switches ``fast._TRICKS``), so the property tests below
run every combination on random geometries -- strides, padding, dilation, odd sizes, N = 1,
float32 and float64, non-contiguous arrays, NaN and inf -- and hold the results to the core's
(cnnbook.conv2d / conv2d_backward, tested against the looped reference and finite differences in
tests/test_conv.py).  The workspace tests check that a reused scratch array never leaks into a
result that a later call could overwrite.
"""

import re
import tracemalloc
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import cnnbook as cb
from cnnbook import batch_threads, fast

from .conftest import conv_cases

DTYPES = st.sampled_from([np.float64, np.float32])
SWITCHES = st.sampled_from([None, *fast._TRICKS])  # None: every trick on; else that one off
BLOCK_BYTES = st.sampled_from([None, 1, 700, 5000])  # None: the default; 1: one image per block
DF_BRANCHES = st.sampled_from([None, "chunks", "views"])  # None: the default rules; else forced (tricks())
PARTS = st.sampled_from([1, 2, 3])  # the batch cut into this many parts on threads (trick 20), forced


def tolerance(dtype) -> dict:
    return dict(rtol=1e-11, atol=1e-11) if dtype == np.float64 else dict(rtol=3e-5, atol=3e-5)


SIZES = (
    "_DX_BLOCK_BYTES",
    "_SHIFTED_BLOCK_BYTES",
    "_DF_CHUNK",
    "_CHUNKED_DF_MAX",
    "_DF_VIEWS_MAX",
    "_DF_VIEWS_RUNS",
)


@contextmanager
def tricks(off: str | None = None, block_bytes: int | None = None, df: str | None = None) -> Iterator[None]:
    """Switch one trick off, set every block size (dX's, the forwards') and/or force dF's branch:
    ``df="chunks"`` cuts every exact-columns or stack dF into 3-column chunks (trick 18),
    ``df="views"`` sends every dF of shifted rows to views of G (trick 19).  All restored on leaving."""
    saved = dict(fast._TRICKS)
    saved_sizes = {name: getattr(fast, name) for name in SIZES}
    try:
        if off is not None:
            fast._TRICKS[off] = False
        if block_bytes is not None:
            fast._DX_BLOCK_BYTES = fast._SHIFTED_BLOCK_BYTES = block_bytes
        if df == "chunks":
            fast._DF_CHUNK, fast._CHUNKED_DF_MAX = 3, 1 << 62
        elif df == "views":
            fast._CHUNKED_DF_MAX, fast._DF_VIEWS_MAX, fast._DF_VIEWS_RUNS = -1, 1 << 62, (0, 1 << 62)
        yield
    finally:
        fast._TRICKS.update(saved)
        for name, value in saved_sizes.items():
            setattr(fast, name, value)


def strided_copy(A: np.ndarray) -> np.ndarray:
    """The same values in a non-contiguous array (every other element of a twice-as-wide buffer)."""
    wide = np.zeros((*A.shape[:-1], 2 * A.shape[-1]), dtype=A.dtype)
    view = wide[..., ::2]
    view[...] = A
    assert not view.flags.c_contiguous or A.shape[-1] == 1
    return view


def check_against_core(X, F, b, G, kwargs, dtype) -> None:
    """Forward (with and without columns) and backward (every kind of cols, dX on and off) vs the core."""
    S_ref = cb.conv2d(X, F, b, **kwargs)
    grads_ref = cb.conv2d_backward(G, X, F, **kwargs)
    S, cols = fast.conv2d(X, F, b, **kwargs, return_cols=True)
    assert S.dtype == S_ref.dtype == dtype
    np.testing.assert_allclose(S, S_ref, **tolerance(dtype))
    np.testing.assert_allclose(fast.conv2d(X, F, b, **kwargs), S_ref, **tolerance(dtype))
    for given_cols in (cols, None, cb.im2col(X, F.shape[2:], **kwargs)):
        grads = fast.conv2d_backward(G, X, F, **kwargs, cols=given_cols)
        for ours, theirs in zip(grads, grads_ref):
            assert ours is not None and ours.shape == theirs.shape and ours.dtype == theirs.dtype
            np.testing.assert_allclose(ours, theirs, **tolerance(dtype))
    no_dX = fast.conv2d_backward(G, X, F, **kwargs, cols=cols, input_grad=False)
    assert no_dX[0] is None
    np.testing.assert_allclose(no_dX[1], grads_ref[1], **tolerance(dtype))


@settings(max_examples=250, deadline=None)
@given(
    conv_cases(max_size=24), DTYPES, SWITCHES, BLOCK_BYTES, DF_BRANCHES, PARTS, st.booleans(), st.booleans()
)
def test_every_switch_agrees_with_the_core(
    case, dtype, off, block_bytes, df, parts, non_contiguous, with_bias
):
    X, F, b = case.arrays(dtype)
    G = np.random.default_rng(case.seed + 1).standard_normal((case.N, case.K, *case.out_hw())).astype(dtype)
    if non_contiguous:
        X, F, G = strided_copy(X), strided_copy(F), strided_copy(G)
    with tricks(off, block_bytes, df), batch_threads.forced(parts):
        check_against_core(X, F, b if with_bias else None, G, case.kwargs, dtype)


# Geometries that reach each choice: (X shape, F shape, stride, padding, dilation), with the branches
# (fast.layouts) that every trick on gives and that the layout_choice switch off gives.
B = fast.Branches
BRANCHES = {
    "shifted rows": (
        ((2, 3, 9, 11), (2, 3, 3, 3), 1, 1, 1),
        B("shifted rows", "full rows", "stack", "stack"),
        B("shifted rows", "full rows", "stack", "stack"),
    ),
    "shifted rows, mid-sized dF on views": (
        ((2, 12, 14, 14), (12, 12, 3, 3), 1, 1, 1),
        B("shifted rows", "full rows", "stack", "views"),
        B("shifted rows", "full rows", "stack", "views"),
    ),
    "shifted rows, dF and dX by the stack (large dF)": (
        ((1, 20, 5, 6), (18, 20, 3, 3), 1, 1, 1),
        B("shifted rows", "full rows", "stack", "stack"),
        B("shifted rows", "full rows", "stack", "stack"),
    ),
    "exact columns, full-row dX, stack": (
        ((2, 3, 20, 20), (9, 3, 3, 3), 1, 1, 1),
        B("exact", "full rows", "stack", "one"),
        B("full rows", "full rows", "stack", "one"),
    ),
    "exact columns, chunked dF": (
        ((2, 1, 24, 24), (4, 1, 3, 3), 1, 1, 1),
        B("exact", "full rows", "views", "chunks"),
        B("full rows", "full rows", "views", "chunks"),
    ),
    "exact columns, exact dX (long rows)": (
        ((2, 2, 6, 23), (9, 2, 2, 2), 1, 0, 1),
        B("exact", "exact", "additions", "one"),
        B("full rows", "full rows", "stack", "one"),
    ),
    "full-row columns (nothing wasted)": (
        ((2, 2, 6, 7), (4, 2, 2, 1), 1, 0, 1),
        B("full rows", "full rows", "stack", "one"),
        B("full rows", "full rows", "stack", "one"),
    ),
    "stride 2: full-row dX in phase planes": (
        ((2, 3, 11, 9), (4, 3, 3, 2), 2, 1, 1),
        B("exact", "full rows", "additions", "one"),
        B("exact", "exact", "additions", "one"),
    ),
    "strides 2 and 3, dilated, phase planes": (
        ((2, 2, 12, 13), (3, 2, 3, 3), (2, 3), (1, 2), (2, 1)),
        B("exact", "full rows", "additions", "one"),
        B("exact", "exact", "additions", "one"),
    ),
    "row stride 2, long rows": (
        ((2, 2, 13, 30), (4, 2, 2, 3), (2, 1), (1, 0), 1),
        B("exact", "exact", "additions", "one"),
        B("full rows", "full rows", "additions", "one"),
    ),
    "dilated, shifted views": (
        ((1, 2, 12, 17), (6, 2, 3, 2), 1, 0, (2, 2)),  # K / (C f_h) = 1: no shifted rows
        B("exact", "full rows", "views", "one"),
        B("full rows", "full rows", "views", "one"),
    ),
    "single channel, long rows, shifted views": (
        ((2, 1, 6, 25), (5, 1, 3, 3), 1, 1, 1),
        B("exact", "full rows", "views", "one"),
        B("full rows", "full rows", "views", "one"),
    ),
    "single image, single channel": (
        ((1, 1, 5, 5), (4, 1, 2, 2), 1, 0, 1),
        B("exact", "full rows", "views", "one"),
        B("full rows", "full rows", "views", "one"),
    ),
}


def branch_arrays(name, dtype, rng):
    (shape, filters, stride, padding, dilation), _, _ = BRANCHES[name]
    X = rng.standard_normal(shape).astype(dtype)
    F = rng.standard_normal(filters).astype(dtype)
    b = rng.standard_normal(filters[0]).astype(dtype)
    kwargs = dict(stride=stride, padding=padding, dilation=dilation)
    G = rng.standard_normal(cb.conv2d(X, F, **kwargs).shape).astype(dtype)
    return X, F, b, G, kwargs


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("off", [None, "layout_choice"])
@pytest.mark.parametrize("name", list(BRANCHES))
def test_each_branch_is_reached_and_agrees(name, off, dtype, rng):
    _, on_branches, off_branches = BRANCHES[name]
    X, F, b, G, kwargs = branch_arrays(name, dtype, rng)
    with tricks(off):
        assert fast.layouts(X.shape, F.shape, **kwargs) == (off_branches if off else on_branches)
    for block_bytes, df in ((None, None), (1, "chunks"), (1, "views")):
        for parts in (1, 2):  # the whole batch, and two parts on two threads (trick 20)
            with tricks(off, block_bytes, df), batch_threads.forced(parts):
                check_against_core(X, F, b, G, kwargs, dtype)


# What switching each of tricks 12, 13, 15, 18 and 19 off changes, on the geometries that use it.
SWITCHED = {
    "shifted_columns": ("shifted rows", "columns", "shifted rows"),
    "dx_row_gemm": ("exact columns, full-row dX, stack", "dx_taps", "stack"),
    "dx_shifted_views": ("single channel, long rows, shifted views", "dx_taps", "views"),
    "chunked_df": ("exact columns, chunked dF", "df", "chunks"),
    "df_views": ("shifted rows, mid-sized dF on views", "df", "views"),
}


@pytest.mark.parametrize("off", list(SWITCHED))
def test_switching_a_branch_off_leaves_it_and_agrees(off, rng):
    name, field, branch = SWITCHED[off]
    X, F, b, G, kwargs = branch_arrays(name, np.float64, rng)
    assert getattr(fast.layouts(X.shape, F.shape, **kwargs), field) == branch
    for block_bytes in (None, 1):
        with tricks(off, block_bytes):
            assert getattr(fast.layouts(X.shape, F.shape, **kwargs), field) != branch
            check_against_core(X, F, b, G, kwargs, np.float64)


@pytest.mark.skipif(batch_threads.blas_threads() is None, reason="NumPy's BLAS is not OpenBLAS")
@pytest.mark.parametrize("parts", [1, 2])
@pytest.mark.parametrize("blas", [1, 2])
@pytest.mark.parametrize(
    "name",
    ["exact columns, chunked dF", "single image, single channel", "single channel, long rows, shifted views"],
)
def test_the_forward_multiplies_image_by_image_only_on_one_blas_thread(name, blas, parts, rng):
    """Trick 21: exact columns and a one-thread BLAS (set so, or inside a part of trick 20) -- the
    forward's GEMM image by image straight into S, no GEMM-output workspace; otherwise one GEMM."""
    X, F, b, G, kwargs = branch_arrays(name, np.float64, rng)
    g = fast._conv_geometry(X.shape, F.shape[2:], kwargs["stride"], kwargs["padding"], kwargs["dilation"])
    assert fast.layouts(X.shape, F.shape, **kwargs).columns == "exact"
    in_parts = min(parts, X.shape[0]) > 1  # a single image runs as one part
    saved = batch_threads.blas_threads()
    batch_threads.set_blas_threads(blas)
    try:
        assert fast._image_gemms(g, False) == (blas == 1)
        with batch_threads.forced(parts):
            fast._workspaces().clear()
            check_against_core(X, F, b, G, kwargs, np.float64)
            made_output = any(key[0] == "output" for key in fast._workspaces())
        assert made_output == (blas != 1 and not in_parts)  # a part's BLAS has one thread
        with tricks("image_gemms"):
            assert not fast._image_gemms(g, False)
    finally:
        batch_threads.set_blas_threads(saved)


# Shifted-rows layers (X shape, F shape, padding, dilation) and their row length with trick 22 on:
# W + p_w when 0 < p_w <= e = d_w (f_w - 1) <= W + p_w, else W + 2 p_w.
SHARED_ROWS = [
    ((2, 6, 7, 9), (3, 6, 5, 5), (2, 2), 1, 9 + 2),  # "same" padding, e = 2 p_w
    ((2, 6, 7, 9), (3, 6, 3, 3), (1, 2), 1, 9 + 2),  # p_w = e: no garbage column at all
    ((3, 5, 6, 2), (2, 5, 3, 5), (1, 2), 1, 2 + 2),  # e = W + p_w: the run ends in the extra row
    ((2, 6, 7, 9), (3, 6, 3, 3), (1, 1), 2, 9 + 1),  # dilation 2: e = 4 >= p_w
    ((2, 6, 7, 9), (3, 6, 3, 3), (1, 3), 1, 9 + 6),  # p_w > e: rows keep both paddings
    ((2, 6, 7, 9), (3, 6, 3, 3), (1, 0), 1, 9),  # no padding: nothing to share
]


@pytest.mark.parametrize("parts", [1, 2])
@pytest.mark.parametrize(("shape", "filters", "padding", "dilation", "row"), SHARED_ROWS)
def test_shifted_rows_share_the_padding_between_rows_where_it_fits(
    shape, filters, padding, dilation, row, parts, rng
):
    """Trick 22: the zeros that end a padded row are the zeros that begin the next."""
    X = rng.standard_normal(shape)
    F = rng.standard_normal(filters)
    b = rng.standard_normal(filters[0])
    kwargs = dict(stride=1, padding=padding, dilation=dilation)
    G = rng.standard_normal(cb.conv2d(X, F, **kwargs).shape)
    g = fast._conv_geometry(X.shape, F.shape[2:], 1, padding, dilation)
    assert fast.layouts(X.shape, F.shape, **kwargs).columns == "shifted rows"
    assert fast._row(g, True) == row and fast._row(g, False) == g.W + 2 * g.pw
    for off in (None, "shared_padding"):
        with tricks(off), batch_threads.forced(parts):
            _, cols = fast.conv2d(X, F, b, **kwargs, return_cols=True)
            assert cols.shape[1] == g.N * (
                g.Ho * (row if off is None else g.W + 2 * g.pw) + dilation * (g.fw - 1)
            )
            check_against_core(X, F, b, G, kwargs, np.float64)


def test_rows_that_share_their_padding_leave_no_pixels_in_another_layouts_padding(rng):
    """Rows of W + p_w (trick 22) and rows of W' + 2p_w with W' = W - p_w have the same length: the
    second layer must not find the first one's pixels where its own right padding should be zero."""
    padding = (1, 2)
    XA, FA = rng.standard_normal((1, 2, 5, 6)), rng.standard_normal((1, 2, 3, 3))  # shared rows of 6 + 2
    XB = rng.standard_normal((1, 2, 5, 4))
    for FB in (rng.standard_normal((1, 2, 3, 2)), rng.standard_normal((3, 2, 3, 1))):  # rows of 4 + 4
        fast.conv2d(XA, FA, padding=padding)
        S = fast.conv2d(XB, FB, padding=padding)
        np.testing.assert_allclose(S, cb.conv2d(XB, FB, padding=padding), rtol=1e-12, atol=1e-12)
        G = rng.standard_normal(S.shape)
        fast.conv2d(XA, FA, padding=padding)
        for ours, theirs in zip(
            fast.conv2d_backward(G, XB, FB, padding=padding), cb.conv2d_backward(G, XB, FB, padding=padding)
        ):
            np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-12)


def test_inputs_with_nan_or_inf_never_get_shifted_rows(rng):
    """Shifted rows hold pixels no window reads; against a zero of G they would turn dF into NaN."""
    X, F, b, G, kwargs = branch_arrays("shifted rows", np.float64, rng)
    for bad in (np.nan, np.inf):
        X_bad = X.copy()
        X_bad[0, 0, 0, 0] = bad  # read by some windows, and by none at some taps
        S, cols = fast.conv2d(X_bad, F, b, **kwargs, return_cols=True)
        assert cols.shape[0] == F[0].size  # fh fw taps per channel: not the shifted rows
        with np.errstate(invalid="ignore"):
            np.testing.assert_allclose(S, cb.conv2d(X_bad, F, b, **kwargs))
            for ours, theirs in zip(
                fast.conv2d_backward(G, X_bad, F, **kwargs, cols=cols),
                cb.conv2d_backward(G, X_bad, F, **kwargs),
            ):
                np.testing.assert_allclose(ours, theirs)


def workspace_arrays() -> list[np.ndarray]:
    """The workspaces of this thread and of the helper thread that runs a second part (trick 20)."""
    helper = batch_threads._helper_threads(1)[0]
    return [*fast._workspaces().values(), *helper.submit(fast._workspaces).result().values()]


@pytest.mark.parametrize("parts", [1, 2])
@pytest.mark.parametrize("off", [None, "layout_choice"])
@pytest.mark.parametrize("name", list(BRANCHES))
def test_results_survive_later_calls_that_reuse_the_workspaces(name, off, parts, rng):
    """Two layers of one geometry: forward A, forward B, backward B, backward A -- A's results intact."""
    (shape, filters, stride, padding, dilation), _, _ = BRANCHES[name]
    with tricks(off), batch_threads.forced(parts):
        two_layers_of_one_geometry(
            shape, filters, dict(stride=stride, padding=padding, dilation=dilation), rng
        )


def two_layers_of_one_geometry(shape, filters, kwargs, rng) -> None:
    F = rng.standard_normal(filters).astype(np.float32)
    b = rng.standard_normal(filters[0]).astype(np.float32)
    XA, XB = (rng.standard_normal(shape).astype(np.float32) for _ in range(2))
    out_shape = cb.conv2d(XA, F, **kwargs).shape
    GA, GB = (rng.standard_normal(out_shape).astype(np.float32) for _ in range(2))
    SA, colsA = fast.conv2d(XA, F, b, **kwargs, return_cols=True)
    kept = [SA.copy(), colsA.copy()]
    SB, colsB = fast.conv2d(XB, F, b, **kwargs, return_cols=True)
    gradsB = fast.conv2d_backward(GB, XB, F, **kwargs, cols=colsB)
    np.testing.assert_array_equal(SA, kept[0])
    np.testing.assert_array_equal(colsA, kept[1])
    gradsA = fast.conv2d_backward(GA, XA, F, **kwargs, cols=colsA)
    keptB = [g.copy() for g in gradsB if g is not None]
    fast.conv2d(XA, F, b, **kwargs)  # a third round through the same workspaces
    fast.conv2d_backward(GA, XA, F, **kwargs)
    for ours, theirs in zip([g for g in gradsB if g is not None], keptB):
        np.testing.assert_array_equal(ours, theirs)
    for X, G, S, grads in ((XA, GA, SA, gradsA), (XB, GB, SB, gradsB)):
        np.testing.assert_allclose(S, cb.conv2d(X, F, b, **kwargs), rtol=3e-5, atol=3e-5)
        for ours, theirs in zip(grads, cb.conv2d_backward(G, X, F, **kwargs)):
            np.testing.assert_allclose(ours, theirs, rtol=3e-5, atol=3e-5)
    for result in (SA, colsA, SB, colsB, *gradsA, *gradsB):
        assert result is not None
        assert not any(np.shares_memory(result, space) for space in workspace_arrays())


def test_workspaces_are_bounded_and_can_be_switched_off(rng):
    F = rng.standard_normal((2, 1, 3, 3))
    for size in range(5, 5 + 2 * fast._MAX_WORKSPACES):
        X = rng.standard_normal((1, 1, size, size))
        fast.conv2d_backward(np.ones(cb.conv2d(X, F).shape), X, F)
    assert len(fast._workspaces()) <= fast._MAX_WORKSPACES
    before = {id(a) for a in workspace_arrays()}
    with tricks("workspaces"):
        X = rng.standard_normal((2, 1, 7, 9))
        fast.conv2d_backward(np.ones(cb.conv2d(X, F).shape), X, F)
    assert {id(a) for a in workspace_arrays()} == before  # nothing made or reused


def test_geometries_that_share_a_scratch_shape_do_not_share_its_untouched_cells(rng):
    """A workspace keeps cells its caller never writes (zero padding, zero extra columns of G):
    a geometry that writes those cells must get a buffer of its own, however the shapes match."""
    pairs = [  # (X shape, kernel, padding) twice
        # the same padded input (2, 1, 4, 3): zero border only for the second
        (((1, 2, 3, 3), (1, 1), 0), ((1, 2, 1, 1), (1, 1), 1)),
        # the same G matrix (2, 2, 20, 22): the first's extra columns are the second's data
        (((2, 2, 20, 20), (3, 3), 1), ((2, 2, 24, 26), (5, 5), 0)),
    ]
    for first, second in pairs:
        for shape, kernel, padding in (first, second, first, second):
            X = rng.standard_normal(shape)
            F = rng.standard_normal((2, shape[1], *kernel))
            G = rng.standard_normal(cb.conv2d(X, F, padding=padding).shape)
            check_against_core(X, F, None, G, dict(padding=padding), np.float64)


def test_layouts_refuses_shapes_it_cannot_read():
    with pytest.raises(ValueError, match="input_shape and filter_shape"):
        fast.layouts((2, 3, 8), (4, 3, 3, 3))
    with pytest.raises(ValueError, match="input_shape and filter_shape"):
        fast.layouts((2, 3, 8, 8), (3, 3))
    with pytest.raises(ValueError, match=r"filter_shape \(4, 2, 3, 3\) has 2 channels; the input has 3"):
        fast.layouts((2, 3, 8, 8), (4, 2, 3, 3))


def test_backward_refuses_cols_of_no_layout_and_names_the_ones_it_takes(rng):
    X, F, b, G, kwargs = branch_arrays("shifted rows", np.float64, rng)
    _, cols = fast.conv2d(X, F, b, **kwargs, return_cols=True)
    assert cols.shape[0] == 9  # C fh rows: the shifted layout
    wrong = cols[:, :5]
    message = re.escape("cols has shape (9, 5)") + ".*one of .*" + re.escape(str(cols.shape))
    with pytest.raises(ValueError, match=message):
        fast.conv2d_backward(G, X, F, **kwargs, cols=wrong)


@pytest.mark.parametrize("bad", [np.nan, np.inf])
@pytest.mark.parametrize("name", list(BRANCHES))
def test_a_nan_or_inf_filter_tap_spreads_exactly_as_in_the_core(name, bad, rng):
    """Full rows carry zeros of G that no window produced; a NaN or inf tap must not meet them (0 * NaN)."""
    X, F, b, G, kwargs = branch_arrays(name, np.float64, rng)
    F[0, 0, 0, 0] = bad  # the first tap: at the rows' left ends, where the zero margins are
    with np.errstate(invalid="ignore", over="ignore"):
        reference = cb.conv2d_backward(G, X, F, **kwargs)
        for cols in (None, fast.conv2d(X, F, b, **kwargs, return_cols=True)[1]):
            for ours, theirs in zip(fast.conv2d_backward(G, X, F, **kwargs, cols=cols), reference):
                np.testing.assert_array_equal(np.isnan(ours), np.isnan(theirs))
                np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-12)


def test_the_reviewers_cases_of_a_nan_filter_on_full_rows():
    for X_shape, G_shape, stride in (((1, 1, 1, 10), (1, 1, 1, 4), 2), ((1, 1, 1, 30), (1, 1, 1, 28), 1)):
        X, G = np.ones(X_shape), np.ones(G_shape)
        F = np.ones((1, 1, 1, 3))
        F[0, 0, 0, 0] = np.nan
        with np.errstate(invalid="ignore"):
            ours = fast.conv2d_backward(G, X, F, stride=stride)[0]
            theirs = cb.conv2d_backward(G, X, F, stride=stride)[0]
        np.testing.assert_array_equal(np.isnan(ours), np.isnan(theirs))
        assert np.isfinite(theirs).any()


@pytest.mark.parametrize("parts", [1, 2])
def test_the_backward_restores_numpys_ufunc_buffer_size(parts, rng, monkeypatch):
    """Trick 17: small ufunc buffers for the backward only -- in every part of trick 20 too --
    NumPy's size put back, also after a refusal."""
    X, F, _, G, kwargs = branch_arrays("exact columns, full-row dX, stack", np.float64, rng)
    seen = []
    real = fast._row_stack_backward
    monkeypatch.setattr(
        fast, "_row_stack_backward", lambda *a, **k: seen.append(np.getbufsize()) or real(*a, **k)
    )
    before = np.getbufsize()
    with batch_threads.forced(parts):
        fast.conv2d_backward(G, X, F, **kwargs)
    assert seen == [fast._UFUNC_BUFFER] * parts != [before] * parts
    assert np.getbufsize() == before
    with pytest.raises(ValueError, match="G has shape"):
        fast.conv2d_backward(G[:, :1], X, F, **kwargs)
    assert np.getbufsize() == before


# Layers of the benchmark's kinds at a quarter of its batch, one per backward branch:
# (input shape, filter shape, stride, padding) and the (columns, dx, dx_taps) branches it takes.
MEMORY_LAYERS = {
    "shifted rows": ((16, 8, 14, 14), (16, 8, 5, 5), 1, 2, ("shifted rows", "full rows", "stack")),
    "exact columns, full-row dX, stack": (
        (16, 32, 16, 16),
        (96, 32, 3, 3),
        1,
        1,
        ("exact", "full rows", "stack"),
    ),
    "exact columns, full-row dX, shifted views": (
        (16, 1, 28, 28),
        (8, 1, 5, 5),
        1,
        2,
        ("exact", "full rows", "views"),
    ),
    "stride 2, phase planes": ((16, 3, 32, 32), (16, 3, 5, 5), 2, 2, ("exact", "full rows", "additions")),
    "long rows, exact dX": ((16, 3, 32, 32), (32, 3, 3, 3), 1, 1, ("exact", "exact", "additions")),
}


def test_the_memory_layers_take_the_branches_their_names_say():
    """The names above stay true when a rule moves (trick 13's limit once turned the 'stack' layer
    into a shifted-rows one)."""
    for name, (shape, filters, stride, padding, expected) in MEMORY_LAYERS.items():
        branches = fast.layouts(shape, filters, stride, padding)
        assert (branches.columns, branches.dx, branches.dx_taps) == expected, name


@pytest.mark.parametrize("parts", [1, 2])
@pytest.mark.parametrize("name", list(MEMORY_LAYERS))
def test_a_backward_allocates_little_beyond_its_results(name, parts, rng):
    """Peak traced allocation of a warm backward: dX, dF and db plus at most 16 KB of small objects,
    in one part or two (trick 20: each part's dF is a workspace of its thread, summed into dF; 16 KB
    more for the helper thread: its own ufunc buffers, a future with its lock, a copy of the context).

    Without trick 17, NumPy 2's ufunc iterator takes 64-96 KB of buffers for every addition over
    non-contiguous views, even with nothing to cast; without the workspaces, the scratch arrays.
    """
    with batch_threads.forced(parts):
        _backward_peak_within_results(name, rng, 16 * 1024 * parts)


def _backward_peak_within_results(name, rng, allowance) -> None:
    shape, filters, stride, padding, _ = MEMORY_LAYERS[name]
    X = rng.standard_normal(shape).astype(np.float32)
    F = rng.standard_normal(filters).astype(np.float32)
    S, cols = fast.conv2d(X, F, None, stride, padding, return_cols=True)
    G = rng.standard_normal(S.shape).astype(np.float32)
    fast.conv2d_backward(G, X, F, stride, padding, cols=cols)  # warm: the workspaces exist
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        dX, dF, db = fast.conv2d_backward(G, X, F, stride, padding, cols=cols)
        peak = tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()
    assert dX is not None
    assert peak <= dX.nbytes + dF.nbytes + db.nbytes + allowance


@pytest.mark.parametrize("blas", [1, 2])
@pytest.mark.parametrize("name", list(MEMORY_LAYERS))
def test_a_forward_allocates_little_beyond_its_results(name, blas, rng, monkeypatch):
    """Peak traced allocation of a warm forward: S and the columns plus at most 16 KB of small
    objects, with trick 21 (one BLAS thread: its bias added with small ufunc buffers) or without."""
    monkeypatch.setattr(batch_threads, "blas_threads", lambda: blas)
    shape, filters, stride, padding, _ = MEMORY_LAYERS[name]
    X = rng.standard_normal(shape).astype(np.float32)
    F = rng.standard_normal(filters).astype(np.float32)
    b = rng.standard_normal(filters[0]).astype(np.float32)
    fast.conv2d(X, F, b, stride, padding, return_cols=True)  # warm: the workspaces exist
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        S, cols = fast.conv2d(X, F, b, stride, padding, return_cols=True)
        peak = tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()
    assert peak <= S.nbytes + cols.nbytes + 16 * 1024


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_a_small_filter_gradient_is_summed_over_chunks_of_its_long_inner_dimension(dtype, rng):
    """Trick 18 on a layer of the size lesson 09 trains: dF = cols @ G^T from 512-column GEMMs and a rest."""
    X = rng.standard_normal((8, 1, 28, 28)).astype(dtype)  # N H' W' = 6272 = 12 chunks of 512 + 128
    F = rng.standard_normal((8, 1, 3, 3)).astype(dtype)
    S, cols = fast.conv2d(X, F, None, padding=1, return_cols=True)
    G = rng.standard_normal(S.shape).astype(dtype)
    for off in ((), ("chunked_df",)):
        fast._workspaces().clear()
        with fast.tricks_off(*off):
            dF = fast.conv2d_backward(G, X, F, padding=1, cols=cols, input_grad=False)[1]
        np.testing.assert_allclose(dF, cb.conv2d_backward(G, X, F, padding=1)[1], **tolerance(dtype))
        chunked = any(name == "dF chunks" for name, _, _ in fast._workspaces())
        assert chunked == (not off)  # the 12 partial products' workspace: made with the trick on only

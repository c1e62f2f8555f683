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

from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import cnnbook as cb
from cnnbook import fast

from .conftest import conv_cases

DTYPES = st.sampled_from([np.float64, np.float32])
SWITCHES = st.sampled_from([None, *fast._TRICKS])  # None: every trick on; else that one off
BLOCK_BYTES = st.sampled_from([None, 1, 700, 5000])  # None: the default; 1: one image per block


def tolerance(dtype) -> dict:
    return dict(rtol=1e-11, atol=1e-11) if dtype == np.float64 else dict(rtol=3e-5, atol=3e-5)


@contextmanager
def tricks(off: str | None = None, block_bytes: int | None = None) -> Iterator[None]:
    """Switch one trick off and/or set dX's block size, restoring both afterwards."""
    saved, saved_block = dict(fast._TRICKS), fast._DX_BLOCK_BYTES
    try:
        if off is not None:
            fast._TRICKS[off] = False
        if block_bytes is not None:
            fast._DX_BLOCK_BYTES = block_bytes
        yield
    finally:
        fast._TRICKS.update(saved)
        fast._DX_BLOCK_BYTES = saved_block


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
@given(conv_cases(max_size=24), DTYPES, SWITCHES, BLOCK_BYTES, st.booleans(), st.booleans())
def test_every_switch_agrees_with_the_core(case, dtype, off, block_bytes, non_contiguous, with_bias):
    X, F, b = case.arrays(dtype)
    G = np.random.default_rng(case.seed + 1).standard_normal((case.N, case.K, *case.out_hw())).astype(dtype)
    if non_contiguous:
        X, F, G = strided_copy(X), strided_copy(F), strided_copy(G)
    with tricks(off, block_bytes):
        check_against_core(X, F, b if with_bias else None, G, case.kwargs, dtype)


# Geometries that reach each choice: (X shape, kernel, stride, padding, dilation), with the layouts
# (full-row columns?, full-row dX?) every trick on gives and the layout_choice switch off gives.
BRANCHES = {
    "exact columns, full-row dX (short rows)": (
        ((2, 3, 20, 20), (3, 3), 1, 1, 1),
        (False, True),
        (True, True),
    ),
    "exact columns, exact dX (long rows)": (((2, 2, 6, 23), (2, 2), 1, 0, 1), (False, False), (True, True)),
    "full-row columns (nothing wasted)": (((2, 2, 6, 7), (2, 1), 1, 0, 1), (True, True), (True, True)),
    "stride 2: exact everything": (((2, 3, 11, 9), (3, 2), 2, 1, 1), (False, False), (False, False)),
    "row stride 2": (((2, 2, 13, 30), (2, 3), (2, 1), (1, 0), 1), (False, False), (True, True)),
    "dilated": (((1, 2, 12, 17), (3, 2), 1, 0, (2, 2)), (False, True), (True, True)),
    "single image": (((1, 1, 5, 5), (2, 2), 1, 0, 1), (False, True), (True, True)),
}


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("off", [None, "layout_choice"])
@pytest.mark.parametrize("name", list(BRANCHES))
def test_each_branch_is_reached_and_agrees(name, off, dtype, rng):
    (shape, kernel, stride, padding, dilation), on_layouts, off_layouts = BRANCHES[name]
    X = rng.standard_normal(shape).astype(dtype)
    F = rng.standard_normal((4, shape[1], *kernel)).astype(dtype)
    b = rng.standard_normal(4).astype(dtype)
    kwargs = dict(stride=stride, padding=padding, dilation=dilation)
    G = rng.standard_normal(cb.conv2d(X, F, **kwargs).shape).astype(dtype)
    for block_bytes in (None, 1):
        with tricks(off, block_bytes):
            columns, dx = fast.layouts(shape, kernel, stride, padding, dilation)[:2]
            assert (columns, dx) == (off_layouts if off else on_layouts)
            check_against_core(X, F, b, G, kwargs, dtype)


# Which geometries fold dX's horizontal taps into the GEMM (trick 12): full-row dX, s_h = 1, C > 1.
ROW_GEMM = {
    "exact columns, full-row dX (short rows)": True,
    "full-row columns (nothing wasted)": True,
    "dilated": True,
    "exact columns, exact dX (long rows)": False,
    "single image": False,  # C = 1
}


@pytest.mark.parametrize("off", [None, "dx_row_gemm"])
@pytest.mark.parametrize("name", list(ROW_GEMM))
def test_the_row_gemm_dx_is_reached_and_agrees(name, off, rng):
    (shape, kernel, stride, padding, dilation), _, _ = BRANCHES[name]
    X = rng.standard_normal(shape)
    F = rng.standard_normal((4, shape[1], *kernel))
    kwargs = dict(stride=stride, padding=padding, dilation=dilation)
    G = rng.standard_normal(cb.conv2d(X, F, **kwargs).shape)
    for block_bytes in (None, 1):
        with tricks(off, block_bytes):
            row_gemm = fast.layouts(shape, kernel, stride, padding, dilation)[2]
            assert row_gemm == (ROW_GEMM[name] and off is None)
            check_against_core(X, F, None, G, kwargs, np.float64)


def workspace_arrays() -> list[np.ndarray]:
    return list(fast._WORKSPACES.values())


@pytest.mark.parametrize("off", [None, "layout_choice"])
@pytest.mark.parametrize("name", list(BRANCHES))
def test_results_survive_later_calls_that_reuse_the_workspaces(name, off, rng):
    """Two layers of one geometry: forward A, forward B, backward B, backward A -- A's results intact."""
    (shape, kernel, stride, padding, dilation), _, _ = BRANCHES[name]
    with tricks(off):
        two_layers_of_one_geometry(
            shape, kernel, dict(stride=stride, padding=padding, dilation=dilation), rng
        )


def two_layers_of_one_geometry(shape, kernel, kwargs, rng) -> None:
    F = rng.standard_normal((3, shape[1], *kernel)).astype(np.float32)
    b = rng.standard_normal(3).astype(np.float32)
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
    assert len(fast._WORKSPACES) <= fast._MAX_WORKSPACES
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

"""Headless tests of the explorers (cnnbook.explorers, re-exported by cnnbook.widgets): views,
frames, static pictures and every control, checked against the core by an independent route.

The explorers recompute synchronously when a control's ``value`` is set (no kernel, no browser),
so each check is: set controls -> compare ``explorer.state`` (and the frame the browser would draw)
with conv_output_size / unused_size, the looped conv2d_naive, make_MF / make_MX, maxpool2d's
indices, maxpool_matrix, A @ vec(X), one-hot gradients through conv2d_backward, brute-force counts.
"""

from __future__ import annotations

import dataclasses
import inspect
import itertools
import json
import re
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest

import cnnbook
from cnnbook import explorers as E
from cnnbook import widgets as W
from cnnbook.matrices import make_MF, make_MX, maxpool_matrix, vec

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def expected_field(H, Wd, f, s, p, d, i, j):
    """Receptive field of output (i, j) in padded coordinates, written out independently."""
    return {(i * s + a * d, j * s + b * d) for a in range(f) for b in range(f)}


def check_conv_state(view: E.ConvView, H, Wd, f, s, p, d):
    assert (view.kernel_size, view.stride, view.padding, view.dilation) == (f, s, p, d)
    assert (view.out_h, view.out_w) == (
        cnnbook.conv_output_size(H, f, s, p, d),
        cnnbook.conv_output_size(Wd, f, s, p, d),
    )
    assert view.output_size == f"output: H' x W' = {view.out_h} x {view.out_w}"
    assert view.unused_rows == cnnbook.unread_rows(H, f, s, p, d)
    assert view.unused_cols == cnnbook.unread_rows(Wd, f, s, p, d)
    field = set(view.receptive_field)
    assert field == expected_field(H, Wd, f, s, p, d, view.out_row, view.out_col)
    # unused rows/columns are exactly those no receptive field of any output touches
    touched_rows = {r for i in range(view.out_h) for r in range(i * s, i * s + d * (f - 1) + 1, d)}
    touched_cols = {c for j in range(view.out_w) for c in range(j * s, j * s + d * (f - 1) + 1, d)}
    hp, wp = H + 2 * p, Wd + 2 * p
    assert set(view.unused_rows) == set(range(hp)) - touched_rows
    assert set(view.unused_cols) == set(range(wp)) - touched_cols
    assert view.padded.shape == (hp, wp)
    np.testing.assert_allclose(
        view.S, cnnbook.conv2d_naive(view.X[None], view.F[None, None], None, s, p, d)[0]
    )
    # the outlined output is the outlined cells times F
    cells = np.array(sorted(field, key=lambda rc: view.receptive_field.index(rc)))
    value = np.dot(view.padded[cells[:, 0], cells[:, 1]], view.F.ravel())
    assert view.S[view.out_row, view.out_col] == pytest.approx(value)


# --------------------------------------------------------------------------------------------
# Pure functions
# --------------------------------------------------------------------------------------------


def test_size_formula_fills_in_the_rule():
    assert W.size_formula(7, 3, 2) == (
        "H' = ⌊(H + 2p − d(f−1) − 1)/s⌋ + 1 = ⌊(7 + 2·0 − 1·(3−1) − 1)/2⌋ + 1 = ⌊4/2⌋ + 1 = 3"
    )
    text = W.size_formula(7, 3, 3, name="W")
    assert text.startswith("W' = ") and text.endswith("= 2  (remainder 1: the stride does not fit)")
    assert W.size_formula(4, 2, 2, general=False) == "H' = ⌊(H − r)/s⌋ + 1 = ⌊(4 − 2)/2⌋ + 1 = ⌊2/2⌋ + 1 = 2"
    with pytest.raises(ValueError, match="larger than the padded input"):
        W.size_formula(3, 5)


@pytest.mark.parametrize(
    "H, Wd, f, s, p, d",
    [
        (7, 7, 3, 1, 0, 1),
        (7, 7, 3, 2, 0, 1),
        (7, 7, 3, 3, 0, 1),
        (6, 7, 3, 2, 1, 1),
        (8, 5, 2, 3, 2, 2),
        (5, 9, 1, 4, 3, 3),
    ],
)
def test_conv_view_every_position(H, Wd, f, s, p, d):
    first = W.conv_view(H, Wd, f, s, p, d)
    for i, j in itertools.product(range(first.out_h), range(first.out_w)):
        check_conv_state(W.conv_view(H, Wd, f, s, p, d, i, j), H, Wd, f, s, p, d)


def test_conv_view_lecture_stride_three_names_the_dropped_row():
    view = W.conv_view(7, 7, 3, stride=3)
    assert (view.out_h, view.out_w) == (2, 2)
    assert view.unused_rows == (6,) and view.unused_cols == (6,)
    assert "input row 7" in view.unused_text and "input column 7" in view.unused_text
    assert view.text.splitlines()[0] == "output: H' x W' = 2 x 2"
    assert "⌊4/3⌋ + 1 = 2" in view.formula


def test_conv_view_unused_padding_row_is_named_as_padding():
    view = W.conv_view(6, 7, 3, stride=2, padding=1)
    assert view.unused_rows == (7,) and view.unused_cols == ()
    assert "padding row 1 below the input" in view.unused_text
    assert set(view.unused_cells) == {(7, c) for c in range(9)}


def test_conv_view_input_cells_drop_padding():
    view = W.conv_view(4, 4, 3, padding=1)  # output (0, 0): the window covers the top-left corner
    assert set(view.input_cells) == {(r, c) for r in range(2) for c in range(2)}


def test_conv_view_rejects_bad_settings():
    with pytest.raises(ValueError, match="larger than the padded input"):
        W.conv_view(3, 3, 5)
    with pytest.raises(ValueError, match="outside the 5 x 5 output"):
        W.conv_view(7, 7, 3, out_row=5)
    with pytest.raises(ValueError, match="X must be"):
        W.conv_view(4, 4, 3, X=np.ones((3, 3)))


@pytest.mark.parametrize("kind", E.views.MATRIX_KINDS)
@pytest.mark.parametrize("setting", [(4, 4, 3, 1, 0, 1), (5, 6, 3, 2, 1, 1), (6, 6, 2, 1, 1, 2)])
def test_matrix_view_row_matches_the_package_matrices(kind, setting):
    H, Wd, f, s, p, d = setting
    first = W.conv_view(H, Wd, f, s, p, d)
    for i, j in itertools.product(range(first.out_h), range(first.out_w)):
        cv = W.conv_view(H, Wd, f, s, p, d, i, j)
        mv = W.matrix_view(cv, kind)
        assert mv.row_index == i * cv.out_w + j
        if kind == "M_F":
            M = make_MF(cv.F, (H, Wd), s, p, d)
            np.testing.assert_array_equal(mv.row, M[mv.row_index])
            np.testing.assert_array_equal(mv.row_on_input, mv.row.reshape(H, Wd))
            assert mv.row @ vec(cv.X) == pytest.approx(cv.S[i, j])
        else:
            M = make_MX(cv.X, (f, f), s, p, d)
            np.testing.assert_array_equal(mv.row, M[mv.row_index])
            assert mv.row @ vec(cv.F) == pytest.approx(cv.S[i, j])
        np.testing.assert_array_equal(mv.matrix, M)
        # the row's non-zeros sit exactly on the receptive field's real input pixels
        assert set(mv.input_cells) == set(cv.input_cells)
        assert np.count_nonzero(mv.row_on_input) == len(cv.input_cells)


def test_matrix_view_rejects_unknown_kind():
    with pytest.raises(ValueError, match="kind must be one of"):
        W.matrix_view(W.conv_view(4, 4, 3), "M_Y")


@pytest.mark.parametrize(
    "shape, r, s", [((4, 4), 2, 2), ((5, 5), 2, 2), ((6, 7), 3, 2), ((5, 6), 2, 1), ((8, 8), 3, 4)]
)
def test_pool_view_matches_maxpool2d_and_A(shape, r, s):
    X = np.random.default_rng(sum(shape) + r + s).permutation(shape[0] * shape[1]).reshape(shape) + 1.0
    view = W.pool_view(X, r, s)
    out, indices = cnnbook.maxpool2d(X[None], r, s, return_indices=True)
    np.testing.assert_array_equal(view.out, out[0])
    np.testing.assert_array_equal(view.out, cnnbook.maxpool2d_naive(X[None], r, s)[0])
    np.testing.assert_array_equal(view.indices, indices[0])
    assert (view.kernel_size, view.stride) == (r, s)
    np.testing.assert_array_equal(view.A, maxpool_matrix(X, r, s))
    np.testing.assert_array_equal(view.A @ vec(X), vec(view.out))
    assert [X[rc] for rc in view.winners] == list(view.out.ravel())
    assert (view.out_h, view.out_w) == (
        cnnbook.conv_output_size(shape[0], r, s),
        cnnbook.conv_output_size(shape[1], r, s),
    )
    assert view.unused_rows == cnnbook.unread_rows(shape[0], r, s)
    assert view.unused_cols == cnnbook.unread_rows(shape[1], r, s)


def test_pool_view_lecture_example():
    X = np.array([[1, 1, 2, 4], [5, 6, 7, 8], [3, 2, 1, 0], [1, 2, 3, 4]], dtype=float)
    view = W.pool_view(X, 2, 2)
    np.testing.assert_array_equal(view.out, [[6, 8], [3, 4]])
    assert view.winners == ((1, 1), (1, 3), (2, 0), (3, 3))
    assert view.text.splitlines()[0] == "output: H' x W' = 2 x 2"
    with pytest.raises(ValueError, match="one plane"):
        W.pool_view(X[None], 2, 2)


def test_drawings_label_input_and_output():
    cv = W.conv_view(7, 7, 3, stride=3, out_row=1, out_col=1)
    fig = E.draw_conv_view(cv)
    titles = [ax.get_title().replace("\n", " ") for ax in fig.axes]
    assert titles[0].startswith("INPUT X: 7 x 7") and titles[2].startswith("OUTPUT S = X * F")
    assert fig._suptitle.get_text() == "output: H' x W' = 2 x 2"
    mf = E.draw_matrix_view(W.matrix_view(cv))
    assert mf.axes[0].get_title().replace("\n", " ").startswith("M_F^filter: 4 x 49")
    assert mf.axes[1].get_title().replace("\n", " ").startswith("INPUT grid")
    pf = E.draw_pool_view(W.pool_view(np.arange(16.0).reshape(4, 4), 2, 2))
    assert [ax.get_title().split(":")[0] for ax in pf.axes] == ["INPUT", "OUTPUT", "A_MaxPool"]
    assert E.figure_png(pf).startswith(PNG_MAGIC)


# --------------------------------------------------------------------------------------------
# The widgets, driven control by control
# --------------------------------------------------------------------------------------------


def settings(explorer):
    c = explorer.controls
    return [c[k].value for k in ("H", "W", "kernel_size", "stride", "padding", "dilation")]


CONV_CONTROLS = ("H", "W", "kernel_size", "stride", "padding", "dilation", "out_row", "out_col")


def test_conv_explorer_drives_every_control():
    ex = W.conv_explorer()
    assert set(ex.controls) == set(CONV_CONTROLS)
    moves = [("stride", 2), ("stride", 3), ("padding", 1), ("H", 6), ("W", 9), ("kernel_size", 2),
             ("dilation", 2), ("stride", 1), ("padding", 0), ("kernel_size", 3), ("dilation", 1), ("H", 9),
             ("W", 3)]  # fmt: skip
    for name, value in moves:
        ex.controls[name].value = value
        assert ex.error is None, ex.error
        check_conv_state(ex.state, *settings(ex))
        assert ex.readout.splitlines()[0] == f"output: H' x W' = {ex.state.out_h} x {ex.state.out_w}"
        assert ex.frame["lines"][0] == ex.state.output_size
        # the position controls follow the output size
        assert (ex.controls["out_row"].max, ex.controls["out_col"].max) == (ex.state.out_h, ex.state.out_w)


def test_conv_explorer_position_controls_clamp():
    ex = W.conv_explorer(stride=2)  # 3 x 3 output
    ex.controls["out_row"].value, ex.controls["out_col"].value = 2, 3
    assert (ex.state.out_row, ex.state.out_col) == (1, 2)
    assert set(ex.state.receptive_field) == expected_field(7, 7, 3, 2, 0, 1, 1, 2)
    ex.controls["stride"].value = 4  # output shrinks to 2 x 2: the position is clamped into it
    assert (ex.state.out_h, ex.state.out_w) == (2, 2)
    assert (ex.state.out_row, ex.state.out_col) == (1, 1)
    assert (ex.controls["out_row"].value, ex.controls["out_col"].value) == (2, 2)
    ex.controls["stride"].value = 99  # clamped to the slider's range, like an ipywidgets slider
    assert ex.controls["stride"].value == 4


def test_conv_explorer_reports_impossible_settings_and_recovers():
    ex = W.conv_explorer(H=3, W=3, kernel_size=3)
    ex.controls["kernel_size"].value = 5
    assert ex.state is None and "larger than the padded input" in ex.error
    assert ex.readout.startswith("not a valid setting") and ex.frame["error"] == ex.error
    ex.controls["padding"].value = 1
    assert ex.error is None and (ex.state.out_h, ex.state.out_w) == (1, 1)


def test_conv_explorer_unused_rows_hatched_and_named():
    ex = W.conv_explorer()
    ex.controls["stride"].value = 3
    assert ex.state.unused_rows == (6,) and ex.state.unused_cols == (6,)
    assert "input row 7" in ex.readout and "input column 7" in ex.readout
    unread = {tuple(rc) for rc in ex.frame["panels"][0]["unread"]}
    assert unread == set(ex.state.unused_cells)
    ex.controls["stride"].value = 2
    assert ex.state.unused_rows == () and "the stride fits" in ex.readout


def test_matrix_explorer_drives_every_control():
    ex = W.matrix_explorer()
    assert set(ex.controls) == {*CONV_CONTROLS, "matrix"}
    moves = [("out_row", 2), ("out_col", 2), ("matrix", "M_X"), ("padding", 1), ("stride", 2),
             ("H", 7), ("dilation", 2), ("kernel_size", 2), ("W", 5), ("matrix", "M_F"), ("out_col", 3),
             ("stride", 1)]  # fmt: skip
    for name, value in moves:
        ex.controls[name].value = value
        mv = ex.state
        cv = mv.conv
        H, Wd, f, s, p, d = settings(ex)
        check_conv_state(cv, H, Wd, f, s, p, d)
        M = make_MF(cv.F, (H, Wd), s, p, d) if mv.kind == "M_F" else make_MX(cv.X, (f, f), s, p, d)
        assert mv.kind == ex.controls["matrix"].value
        assert mv.row_index == cv.out_row * cv.out_w + cv.out_col
        np.testing.assert_array_equal(mv.row, M[mv.row_index])
        assert set(mv.input_cells) == set(cv.input_cells)
        assert f"row {mv.row_index + 1} = (i−1)·W' + j" in ex.readout
        # the frame's matrix panel holds exactly M's non-zeros
        panel = ex.frame["panels"][0]
        dense = np.zeros((panel["m"], panel["n"]))
        for r, c, v in panel["nnz"]:
            dense[r, c] = v
        np.testing.assert_array_equal(dense, M)
    with pytest.raises(ValueError, match="matrix must be one of"):
        ex.controls["matrix"].value = "M_Y"


def test_pool_explorer_drives_every_control():
    ex = W.pool_explorer()
    assert set(ex.controls) == {"kernel_size", "stride", "H", "W", "seed"}
    moves = [
        ("kernel_size", 3),
        ("stride", 1),
        ("H", 7),
        ("W", 5),
        ("seed", 4),
        ("kernel_size", 2),
        ("stride", 3),
    ]
    for name, value in moves:
        ex.controls[name].value = value
        c = ex.controls
        X = ex.state.X
        assert X.shape == (c["H"].value, c["W"].value)
        assert sorted(X.ravel()) == list(range(1, X.size + 1))  # no ties
        r, s = c["kernel_size"].value, c["stride"].value
        out, indices = cnnbook.maxpool2d(X[None], r, s, return_indices=True)
        np.testing.assert_array_equal(ex.state.indices, indices[0])
        np.testing.assert_array_equal(ex.state.A, maxpool_matrix(X, r, s))
        np.testing.assert_array_equal(ex.state.out, out[0])
        assert re.search(rf"output: H' x W' = {out.shape[1]} x {out.shape[2]}", ex.readout)
        outlined = {tuple(rc) for rc in ex.frame["panels"][0]["outline"]}
        assert outlined == {(int(q) // X.shape[1], int(q) % X.shape[1]) for q in indices[0].ravel()}


def test_pool_explorer_user_map_and_too_large_window():
    X = np.array([[1, 1, 2, 4], [5, 6, 7, 8], [3, 2, 1, 0], [1, 2, 3, 4]], dtype=float)
    ex = W.pool_explorer(X)
    assert set(ex.controls) == {"kernel_size", "stride"}
    np.testing.assert_array_equal(ex.state.out, [[6, 8], [3, 4]])
    ex.controls["stride"].value = 1
    assert ex.state.out.shape == (3, 3) and ex.state.A.shape == (9, 16)
    ex.controls["kernel_size"].value = 4
    assert ex.state.out.shape == (1, 1)
    ex2 = W.pool_explorer(np.ones((3, 3)), kernel_size=2)
    ex2.controls["kernel_size"].value = 4
    assert ex2.state is None and "larger than the (padded) input" in ex2.error


def test_explorers_repr_is_short_and_names_the_output_size():
    assert repr(W.conv_explorer(stride=2)) == "ConvExplorer(output: H' x W' = 3 x 3)"
    assert repr(W.transpose_explorer()) == "TransposeExplorer(output: H' x W' = 7 x 7)"
    assert repr(W.matrix_explorer()) == "MatrixExplorer(output: H' x W' = 2 x 2)"
    assert repr(W.pool_explorer()) == "PoolExplorer(output: H' x W' = 2 x 2)"
    broken = W.conv_explorer(H=3, W=3)
    broken.controls["kernel_size"].value = 5
    assert repr(broken).startswith("ConvExplorer(filter size 5 is larger than the padded input")


# --------------------------------------------------------------------------------------------
# Names: the public API says kernel_size and indices; the sliders show the lectures' letters
# --------------------------------------------------------------------------------------------


def test_public_names_follow_the_naming_table():
    for fn in (W.conv_view, W.conv_explorer, W.matrix_explorer, W.pool_view, W.pool_explorer,
               E.example_filter, W.size_formula):  # fmt: skip
        params = set(inspect.signature(fn).parameters)
        assert "kernel_size" in params, fn.__name__
        assert not params & {"f", "size", "r"}, fn.__name__
    assert "kernel_size" in {field.name for field in dataclasses.fields(E.ConvView)}
    pool_fields = {field.name for field in dataclasses.fields(E.PoolView)}
    assert {"kernel_size", "indices"} <= pool_fields and not pool_fields & {"size", "argmax"}
    with pytest.raises(TypeError):
        W.conv_explorer(f=3)  # the old names are gone, not kept as aliases
    with pytest.raises(TypeError):
        W.pool_explorer(size=2)


def test_slider_labels_keep_the_lectures_letters():
    labels = {name: control.description for name, control in W.conv_explorer().controls.items()}
    assert labels["kernel_size"] == "filter size f"
    assert labels["stride"] == "stride s" and labels["padding"] == "padding p"
    assert labels["dilation"] == "dilation d"
    assert W.matrix_explorer().controls["kernel_size"].description == "filter size f"
    pool = W.pool_explorer().controls
    assert (pool["kernel_size"].description, pool["stride"].description) == ("window r", "stride s")
    assert W.pool_explorer(kernel_size=3).controls["kernel_size"].value == 3
    assert W.conv_explorer(kernel_size=5).state.kernel_size == 5
    with pytest.raises(ValueError, match="kernel_size=17"):
        E.example_filter(17)


# --------------------------------------------------------------------------------------------
# The three new views, each against an independent route
# --------------------------------------------------------------------------------------------


def brute_field(sizes, layers, i, j):
    """Input cells output (i, j) of the last layer depends on, by brute force: every output of a
    layer reads the d-spaced f x f window at o*s - p; an intermediate map's padding reads nothing."""
    rows, cols = {i}, {j}
    for k in range(len(layers) - 1, -1, -1):
        f, s, p, d = layers[k]
        rows = {o * s - p + a * d for o in rows if 0 <= o < sizes[k + 1] for a in range(f)}
        cols = {o * s - p + b * d for o in cols if 0 <= o < sizes[k + 1] for b in range(f)}
    return rows, cols


@pytest.mark.parametrize(
    "n, layers",
    [(12, [(3, 1, 1, 1), (3, 2, 1, 1), (3, 1, 1, 2)]), (16, [(5, 2, 2, 1), (3, 2, 0, 1), (2, 1, 0, 2)]),
     (9, [(1, 1, 0, 1), (3, 3, 1, 1), (2, 1, 1, 1)])],
)  # fmt: skip
def test_stack_view_boxes_and_rule_match_brute_force(n, layers):
    first = E.stack_view(n, layers)
    sizes = [n]
    for f, s, p, d in layers:
        sizes.append(cnnbook.conv_output_size(sizes[-1], f, s, p, d))
    assert first.sizes == tuple(sizes) and first.output_size == f"output: H' x W' = {sizes[-1]} x {sizes[-1]}"
    for i, j in itertools.product(range(first.out_h), range(first.out_w)):
        view = first.at(i, j)
        rows, cols = brute_field(sizes, layers, i, j)
        r0, r1, c0, c1 = view.boxes[0]
        assert (r0, r1, c0, c1) == (min(rows), max(rows), min(cols), max(cols))  # the hull
        assert r1 - r0 + 1 <= view.field_size
    # the rule, recomputed here: 1 + sum of d(f-1) times the product of the earlier strides
    jumps = np.cumprod([1] + [s for _, s, _, _ in layers[:-1]])
    rule = 1 + sum(d * (f - 1) * jump for (f, _, _, d), jump in zip(layers, jumps))
    assert first.field_size == rule and first.field_formula.endswith(f"= {rule}")


def test_stack_view_with_a_real_network_matches_conv2d():
    """The box is where a one-hot input change can reach: check with conv2d of all-ones filters."""
    layers = [(3, 2, 1, 1), (3, 1, 1, 2)]
    view = E.stack_view(10, layers, 1, 2)
    r0, r1, c0, c1 = view.boxes[0]
    reach = np.zeros((10, 10))
    for a, b in itertools.product(range(10), range(10)):
        X = np.zeros((1, 1, 10, 10))
        X[0, 0, a, b] = 1.0
        for f, s, p, d in layers:
            X = cnnbook.conv2d(X, np.ones((1, 1, f, f)), stride=s, padding=p, dilation=d)
        reach[a, b] = X[0, 0, 1, 2]
    seen = np.argwhere(reach > 0)
    assert (seen[:, 0].min(), seen[:, 0].max()) == (max(r0, 0), min(r1, 9))
    assert (seen[:, 1].min(), seen[:, 1].max()) == (max(c0, 0), min(c1, 9))
    with pytest.raises(ValueError, match="outside"):
        E.stack_view(10, layers, 9, 0)


@pytest.mark.parametrize("setting", [(5, 5, 3, 1, 0, 1), (5, 6, 3, 2, 1, 1), (6, 6, 2, 1, 1, 2)])
def test_routing_view_is_a_one_hot_gradient_through_conv2d_backward(setting):
    H, Wd, f, s, p, d = setting
    first = E.routing_view(H, Wd, f, s, p, d)
    c = first.conv
    X, F = c.X[None, None], c.F[None, None]
    dX, dF, _ = cnnbook.conv2d_backward(first.G[None, None], X, F, s, p, d)
    np.testing.assert_allclose(first.dX, dX[0, 0])
    np.testing.assert_allclose(first.dF, dF[0, 0])
    for i, j in itertools.product(range(c.out_h), range(c.out_w)):
        view = first.at(i, j)
        G = np.zeros((1, 1, c.out_h, c.out_w))
        G[0, 0, i, j] = 1.0
        dX1, dF1, _ = cnnbook.conv2d_backward_naive(G, X, F, s, p, d)
        np.testing.assert_allclose(view.lands, dX1[0, 0])
        np.testing.assert_allclose(view.feeds, dF1[0, 0])
        assert f"G{i + 1},{j + 1} = " in view.text


@pytest.mark.parametrize(
    "setting", [(3, 3, 2, 0, 0, 1), (3, 3, 2, 1, 1, 1), (4, 2, 3, 0, 2, 1), (2, 3, 1, 1, 0, 2)]
)
def test_transpose_view_paints_the_adjoint_columns(setting):
    m, f, s, p, op, d = setting
    first = E.transpose_view(m, f, s, p, op, d)
    out = first.out_h
    assert out == (m - 1) * s - 2 * p + d * (f - 1) + op + 1  # the rule, written out here
    assert first.text.splitlines()[1].endswith(f"= {out}")
    # painting input cell k is column k of M_F^T, i.e. row k of M_F for the forward conv out -> m
    assert cnnbook.conv_output_size(out, f, s, p, d) == m
    MF = make_MF(first.F, (out, out), s, p, d)
    coverage = np.zeros((out, out))
    for i, j in itertools.product(range(m), range(m)):
        painted = first.at(i, j).painted
        np.testing.assert_allclose(painted, MF[i * m + j].reshape(out, out))
        coverage += painted != 0
    np.testing.assert_array_equal(first.coverage, coverage)


def test_transpose_view_refuses_impossible_settings():
    with pytest.raises(ValueError, match="output_padding"):
        E.transpose_view(3, 3, stride=2, output_padding=2)
    with pytest.raises(ValueError, match="outside"):
        E.transpose_view(3, 3).at(3, 0)


# --------------------------------------------------------------------------------------------
# Frames, neighbours, the static picture, accessible controls
# --------------------------------------------------------------------------------------------

ALL_EXPLORERS = [W.conv_explorer, W.matrix_explorer, W.pool_explorer, W.stack_explorer, W.routing_explorer,
                 W.transpose_explorer]  # fmt: skip


def test_conv_frame_links_every_output_to_its_receptive_field():
    view = E.conv_view(6, 7, 3, 2, 1, 1)
    frame = E.frames.conv_frame(view)
    assert frame["select"] == {"h": view.out_h, "w": view.out_w, "panel": 2}
    links = frame["panels"][0]["links"]
    for i, j in itertools.product(range(view.out_h), range(view.out_w)):
        k = i * view.out_w + j
        assert {(r, c) for r, c, _ in links[k]} == expected_field(6, 7, 3, 2, 1, 1, i, j)
        lines = [line if isinstance(line, str) else line[k] for line in frame["lines"]]
        assert lines == view.at(i, j).lines


@pytest.mark.parametrize("make", ALL_EXPLORERS, ids=lambda fn: fn.__name__)
def test_every_explorer_frames_are_json_and_neighbours_cover_every_control(make):
    ex = make()
    assert ex.error is None
    frame = ex.frame
    json.dumps(frame)
    assert frame["key"] == ex.key(ex.values) and frame["lines"][0] == ex.state.output_size
    for panel in frame["panels"]:
        if panel["kind"] == "grid":
            for cells in panel["links"] or []:
                assert all(0 <= r < panel["h"] and 0 <= c < panel["w"] for r, c, _ in cells)
    neighbours = ex.neighbours(ex.values)
    for spec in ex.kind.controls:
        if spec.select:
            continue
        seen = {v[spec.name] for v in neighbours} | {ex.values[spec.name]}
        assert seen == set(spec.choices), spec.name
    # a neighbour's frame is the frame of that setting, computed afresh
    other = neighbours[0]
    assert ex.frame_for(other) == E.Explorer(ex.kind).frame_for(other)


@pytest.mark.parametrize("make", ALL_EXPLORERS, ids=lambda fn: fn.__name__)
def test_every_explorer_has_a_static_picture_and_a_live_view(make, monkeypatch):
    ex = make()
    assert ex.png().startswith(PNG_MAGIC)
    shown = []
    monkeypatch.setattr("IPython.display.display", lambda data, **kw: shown.append(data))
    ex._ipython_display_()
    static, live = shown
    assert (
        static["text/plain"].startswith("cnnbook explorer: ")
        and 'alt="cnnbook explorer' in static["text/html"]
    )
    assert "application/vnd.jupyter.widget-view+json" in live


@pytest.mark.parametrize("make", ALL_EXPLORERS, ids=lambda fn: fn.__name__)
def test_every_control_is_named_by_its_parameter_and_settable(make):
    ex = make()
    words = ("input", "filter", "stride", "padding", "dilation", "output", "window", "seed", "matrix",
             "gradient", "output_padding")  # fmt: skip
    for name, control in ex.controls.items():
        assert control.description.split()[0] in words, control.description
        assert ex.spec[[s["name"] for s in ex.spec].index(name)]["label"] == control.description
    for name, control in ex.controls.items():
        if control.options:
            continue
        before = dict(ex.values)
        control.value = control.min
        assert ex.values[name] == control.min
        ex.values = before


def test_the_browser_module_labels_every_control():
    js = (Path(E.__file__).parent / "explorer.js").read_text()
    assert "label.htmlFor = id" in js and 'input.type = "range"' in js
    assert "aria-label" in js  # each picture panel is an image with its title as its name


def test_stack_routing_transpose_explorers_follow_their_controls():
    st = W.stack_explorer()
    st.controls["stride1"].value = 2
    layers = [
        tuple(st.values[f"{n}{k}"] for n in ("kernel_size", "stride", "padding", "dilation"))
        for k in (1, 2, 3)
    ]
    assert st.state.sizes == E.stack_view(st.values["n"], layers).sizes
    st.controls["out_row"].value = 99
    assert st.state.out_row == st.state.out_h - 1
    ro = W.routing_explorer(stride=2, padding=1)
    ro.controls["out_col"].value = 2
    assert (ro.state.conv.out_row, ro.state.conv.out_col) == (0, 1)
    assert "column 2 of M_F^T" in ro.readout
    tr = W.transpose_explorer()
    tr.controls["output_padding"].value = 1
    assert (tr.state.out_h, tr.state.out_w) == (8, 8)
    tr.controls["output_padding"].value = 2
    assert tr.state is None and "output_padding" in tr.error
    with pytest.raises(ValueError, match="three layers"):
        W.stack_explorer(layers=[(3, 1, 1, 1)])

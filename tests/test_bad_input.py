# ruff: noqa: E501  (one case per line: the table reads best unwrapped)
"""Bad input gets a TypeError / ValueError that names the argument (or the file), before any work.

Table-driven over the entry points of issue 10's classes 3-6, 8 (pooling matrices) and 9: the
explicit matrices, the functional axis arguments, the gradient checkers, the IDX reader/writer,
the max-pool ``indices`` of both backwards (core and fast path) and ``conv_transpose2d``.  Each
row: a call, the exception type, and a fragment the message must contain (the argument's name,
the limit's name or the file's name).  The memory guards run in a subprocess under
``resource.setrlimit(RLIMIT_AS)``, so a guard that allocated first would fail with MemoryError.
"""

from __future__ import annotations

import gzip
import struct
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

import cnnbook as cb
from cnnbook import fast
from cnnbook import functional as fn
from cnnbook import matrices as M
from cnnbook.data import read_idx, write_idx
from cnnbook.gradcheck import numerical_gradient, numerical_jacobian
from cnnbook.pool import pool_geometry
from cnnbook.shapes import effective_size

X2 = np.arange(16.0).reshape(4, 4)
F2 = np.ones((3, 3))
V = np.arange(8.0).reshape(2, 4)


def _square(x: np.ndarray) -> float:
    return float((x.astype(np.float64) ** 2).sum())


def _pool_case() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    X = np.random.default_rng(0).standard_normal((2, 3, 4, 4))
    out, indices = cb.maxpool2d(X, 2, return_indices=True)
    return X, np.ones_like(out), indices


PX, PG, PI = _pool_case()
BACKWARDS = {"core": cb.maxpool2d_backward, "fast": fast.maxpool2d_backward}

Case = tuple[str, Callable[[], object], type[Exception], str]

CASES: list[Case] = [
    # class 4/5: shapes -- None, floats (not truncated), wrong length, bad sizes, strings
    ("make_MF float shape", lambda: M.make_MF(F2, (8.7, 7)), TypeError, "input_shape"),
    ("make_MF numpy float shape", lambda: M.make_MF(F2, (np.float64(8), 7)), TypeError, "input_shape"),
    ("make_MF None shape", lambda: M.make_MF(F2, None), TypeError, "input_shape"),
    ("make_MF int shape", lambda: M.make_MF(F2, 8), TypeError, "input_shape"),
    ("make_MF str shape", lambda: M.make_MF(F2, "88"), TypeError, "input_shape"),
    ("make_MF 1 entry", lambda: M.make_MF(F2, (8,)), ValueError, "input_shape"),
    ("make_MF 4 entries", lambda: M.make_MF(F2, (1, 1, 8, 8)), ValueError, "input_shape"),
    ("make_MF zero size", lambda: M.make_MF(F2, (0, 8)), ValueError, "input_shape"),
    ("make_MF bool size", lambda: M.make_MF(F2, (True, 8)), TypeError, "input_shape"),
    ("make_MF channel mismatch", lambda: M.make_MF(np.ones((2, 3, 3)), (3, 8, 8)), ValueError, "input_shape"),
    ("make_MF sparse not bool", lambda: M.make_MF(F2, (8, 8), sparse=1), TypeError, "sparse"),
    ("make_MX float stride", lambda: M.make_MX(X2, 2, stride=1.5), TypeError, "stride"),
    ("make_MX None X", lambda: M.make_MX(None, 2), TypeError, "X"),
    ("avgpool_matrix None", lambda: M.avgpool_matrix(None, 2), TypeError, "input_shape"),
    ("avgpool_matrix float", lambda: M.avgpool_matrix((4.0, 4), 2), TypeError, "input_shape"),
    ("avgpool_matrix 4 entries", lambda: M.avgpool_matrix((1, 1, 4, 4), 2), ValueError, "input_shape"),
    ("avgpool_matrix int dtype", lambda: M.avgpool_matrix((4, 4), 2, dtype=np.int64), TypeError, "dtype"),
    ("avgpool_matrix bogus dtype", lambda: M.avgpool_matrix((4, 4), 2, dtype="bogus"), TypeError, "dtype"),
    ("maxpool_matrix float kernel", lambda: M.maxpool_matrix(X2, 2.0), TypeError, "kernel_size"),
    ("symbolic_MX None", lambda: M.symbolic_MX(None, 2), TypeError, "input_shape"),
    ("symbolic_MX float", lambda: M.symbolic_MX((4, 4.5), 2), TypeError, "input_shape"),
    ("symbolic_MF 1 entry", lambda: M.symbolic_MF(2, (4,)), ValueError, "input_shape"),
    ("symbolic_MF name", lambda: M.symbolic_MF(2, (4, 4), name=3), TypeError, "name"),
    ("storage_bytes None", lambda: M.storage_bytes(None, 1, 3), TypeError, "input_shape"),
    ("stack_jacobian float", lambda: M.stack_jacobian(0, 2.0, 3), TypeError, "n"),
    ("stack_jacobian i out of range", lambda: M.stack_jacobian(2, 2, 3), ValueError, "0 <= i < n"),
    # class 3: the dense/symbolic size guards (the memory-bounded versions run in a subprocess below)
    ("make_MF too large", lambda: M.make_MF(F2, (3000, 3000)), ValueError, "MAX_DENSE_ENTRIES"),
    ("make_MF too large -> sparse", lambda: M.make_MF(F2, (3000, 3000)), ValueError, "sparse=True"),
    ("make_MX too large", lambda: M.make_MX(np.zeros((1, 2000, 2000)), 5), ValueError, "MAX_DENSE_ENTRIES"),
    ("maxpool_matrix too large", lambda: M.maxpool_matrix(np.zeros((1, 16384, 4)), 1), ValueError, "sparse=True"),
    ("avgpool_matrix too large", lambda: M.avgpool_matrix((3000, 3000), 1), ValueError, "MAX_DENSE_ENTRIES"),
    ("relu_jacobian too large", lambda: M.relu_jacobian(np.ones(10**4)), ValueError, "sparse=True"),
    ("stack_jacobian too large", lambda: M.stack_jacobian(0, 2**20, 2**20), ValueError, "MAX_DENSE_ENTRIES"),
    ("symbolic_MX too large", lambda: M.symbolic_MX((500, 500), 3), ValueError, "MAX_SYMBOLIC_ENTRIES"),
    ("symbolic_MF too large", lambda: M.symbolic_MF(3, (100, 100)), ValueError, "MAX_SYMBOLIC_ENTRIES"),
    # class 4: an axis must be an int (1.9 is not truncated to 1), and in range
    ("maxout float axis", lambda: fn.maxout(V, 2, axis=1.9), TypeError, "axis"),
    ("maxout bool axis", lambda: fn.maxout(V, 2, axis=True), TypeError, "axis"),
    ("maxout None axis", lambda: fn.maxout(V, 2, axis=None), TypeError, "axis"),
    ("maxout_backward float axis", lambda: fn.maxout_backward(np.ones((2, 2)), V, 2, axis=1.0), TypeError, "axis"),
    ("softmax float axis", lambda: fn.softmax(V, axis=1.9), TypeError, "axis"),
    ("softmax axis out of range", lambda: fn.softmax(V, axis=2), ValueError, "axis"),
    ("log_softmax float axis", lambda: fn.log_softmax(V, axis=0.0), TypeError, "axis"),
    ("mean_subtract float axis", lambda: fn.mean_subtract(V, axis=1.9), TypeError, "axis"),
    ("mean_subtract numpy float axis", lambda: fn.mean_subtract(V, axis=np.float64(1)), TypeError, "axis"),
    ("mean_subtract axis out of range", lambda: fn.mean_subtract(V, axis=-3), ValueError, "axis"),
    ("mean_subtract_backward float axis", lambda: fn.mean_subtract_backward(V, V, axis=1.9), TypeError, "axis"),
    # class 6: the gradient checkers refuse what would make them lie
    ("gradient float32", lambda: numerical_gradient(_square, np.ones(3, np.float32)), TypeError, "float32"),
    ("gradient float16", lambda: numerical_gradient(_square, np.ones(3, np.float16)), TypeError, "float16"),
    ("jacobian float32", lambda: numerical_jacobian(lambda x: x, np.ones(3, np.float32)), TypeError, "float64"),
    ("gradient h=0", lambda: numerical_gradient(_square, np.ones(3), h=0), ValueError, "h"),
    ("gradient h<0", lambda: numerical_gradient(_square, np.ones(3), h=-1e-5), ValueError, "h"),
    ("gradient h=nan", lambda: numerical_gradient(_square, np.ones(3), h=float("nan")), ValueError, "h"),
    ("gradient h=inf", lambda: numerical_gradient(_square, np.ones(3), h=np.inf), ValueError, "h"),
    ("gradient h bool", lambda: numerical_gradient(_square, np.ones(3), h=True), TypeError, "h"),
    ("gradient h str", lambda: numerical_gradient(_square, np.ones(3), h="1e-5"), TypeError, "h"),
    ("gradient h below the spacing", lambda: numerical_gradient(_square, np.full(2, 1e20), h=1e-5), ValueError, "h"),
    ("gradient list x", lambda: numerical_gradient(_square, [1.0, 2.0]), TypeError, "x"),
    ("gradient int x", lambda: numerical_gradient(_square, np.arange(3)), TypeError, "x"),
    ("gradient empty x", lambda: numerical_gradient(_square, np.ones(0)), ValueError, "x"),
    ("gradient read-only x", lambda: numerical_gradient(_square, np.broadcast_to(np.ones(1), (3,))), ValueError, "x"),
    # class 9: output_padding must be below the stride or the dilation (per axis)
    ("conv_transpose2d op = max(s, d)", lambda: cb.conv_transpose2d(np.ones((1, 1, 3, 3)), np.ones((1, 1, 3, 3)), 2, 0, 3, 3), ValueError, "output_padding"),
    ("conv_transpose2d op per axis", lambda: cb.conv_transpose2d(np.ones((1, 1, 3, 3)), np.ones((1, 1, 3, 3)), (1, 2), 0, (2, 1), (1, 2)), ValueError, "output_padding"),
    ("conv_transpose2d negative op", lambda: cb.conv_transpose2d(np.ones((1, 1, 3, 3)), np.ones((1, 1, 3, 3)), 2, 0, 1, -1), ValueError, "output_padding"),
    ("conv_transpose2d float op", lambda: cb.conv_transpose2d(np.ones((1, 1, 3, 3)), np.ones((1, 1, 3, 3)), 2, 0, 1, 1.0), TypeError, "output_padding"),
    # bool flags: only True/False, never any truthy value ("no" is not True)
    ("conv2d return_cols str", lambda: cb.conv2d(PX, np.ones((1, 3, 2, 2)), return_cols="no"), TypeError, "return_cols"),
    ("fast conv2d return_cols int", lambda: fast.conv2d(PX, np.ones((1, 3, 2, 2)), return_cols=1), TypeError, "return_cols"),
    ("fast conv2d_backward input_grad str", lambda: fast.conv2d_backward(np.ones((2, 1, 3, 3)), PX, np.ones((1, 3, 2, 2)), input_grad="no"), TypeError, "input_grad"),
    ("maxpool2d return_indices int", lambda: cb.maxpool2d(PX, 2, return_indices=1), TypeError, "return_indices"),
    ("fast maxpool2d return_indices str", lambda: fast.maxpool2d(PX, 2, return_indices="no"), TypeError, "return_indices"),
    ("conv_output_size strict int", lambda: cb.conv_output_size(7, 3, 3, strict=1), TypeError, "strict"),
    ("cross_entropy from_logits str", lambda: fn.cross_entropy(np.full(3, 1 / 3), 0, from_logits="no"), TypeError, "from_logits"),
    # real parameters must be finite
    ("elu alpha inf", lambda: fn.elu(V, alpha=np.inf), ValueError, "alpha"),
    ("elu_backward alpha nan", lambda: fn.elu_backward(V, V, alpha=float("nan")), ValueError, "alpha"),
    ("leaky_relu alpha nan", lambda: fn.leaky_relu(V, alpha=float("nan")), ValueError, "alpha"),
    ("leaky_relu alpha str", lambda: fn.leaky_relu(V, alpha="0.1"), TypeError, "alpha"),
    ("svm_loss margin inf", lambda: fn.svm_loss(V, np.array([0, 1]), margin=np.inf), ValueError, "margin"),
    ("svm_loss margin negative", lambda: fn.svm_loss(V, np.array([0, 1]), margin=-1.0), ValueError, "margin"),
    # pool_geometry: the shape checked like Geometry.of
    ("pool_geometry 2 entries", lambda: pool_geometry((4, 4), 2), ValueError, "X_shape"),
    ("pool_geometry 5 entries", lambda: pool_geometry((1, 1, 1, 4, 4), 2), ValueError, "X_shape"),
    ("pool_geometry zero size", lambda: pool_geometry((1, 1, 0, 4), 2), ValueError, "X_shape"),
    ("pool_geometry None", lambda: pool_geometry(None, 2), TypeError, "X_shape"),
    ("pool_geometry float entry", lambda: pool_geometry((1, 1, 4.0, 4), 2), TypeError, "X_shape"),
    # effective_size: positive ints
    ("effective_size float kernel", lambda: effective_size(3.5, 2), TypeError, "kernel_size"),
    ("effective_size bool kernel", lambda: effective_size(True), TypeError, "kernel_size"),
    ("effective_size zero kernel", lambda: effective_size(0), ValueError, "kernel_size"),
    ("effective_size float dilation", lambda: effective_size(3, 2.0), TypeError, "dilation"),
    ("effective_size zero dilation", lambda: effective_size(3, 0), ValueError, "dilation"),
    # storage_bytes itemsize, unvec shape
    ("storage_bytes itemsize 0", lambda: M.storage_bytes((4, 4), 1, 3, itemsize=0), ValueError, "itemsize"),
    ("storage_bytes itemsize -8", lambda: M.storage_bytes((4, 4), 1, 3, itemsize=-8), ValueError, "itemsize"),
    ("storage_bytes itemsize float", lambda: M.storage_bytes((4, 4), 1, 3, itemsize=8.0), TypeError, "itemsize"),
    ("unvec float entry", lambda: M.unvec(np.arange(6.0), (2.0, 3)), TypeError, "shape"),
    ("unvec None shape", lambda: M.unvec(np.arange(6.0), None), TypeError, "shape"),
    ("unvec str shape", lambda: M.unvec(np.arange(6.0), "23"), TypeError, "shape"),
    ("unvec negative entry", lambda: M.unvec(np.arange(6.0), (-1, 6)), ValueError, "shape"),
    ("unvec size mismatch", lambda: M.unvec(np.arange(6.0), (4, 2)), ValueError, "shape"),
    ("mean_subtract_backward G shape", lambda: fn.mean_subtract_backward(V, V.T), ValueError, "G"),
]  # fmt: skip

for _kind, _backward in BACKWARDS.items():
    CASES += [
        (f"{_kind} indices float", lambda b=_backward: b(PG, PX, 2, indices=PI.astype(float)), TypeError, "indices"),
        (f"{_kind} indices bool", lambda b=_backward: b(PG, PX, 2, indices=PI > 0), TypeError, "indices"),
        (f"{_kind} indices object", lambda b=_backward: b(PG, PX, 2, indices=PI.astype(object)), TypeError, "indices"),
        (f"{_kind} indices wrong shape", lambda b=_backward: b(PG, PX, 2, indices=PI[0]), ValueError, "indices"),
        (f"{_kind} indices list", lambda b=_backward: b(PG, PX, 2, indices=[[0]]), ValueError, "indices"),
        (f"{_kind} indices too large", lambda b=_backward: b(PG, PX, 2, indices=PI + 16), ValueError, "indices"),
        (f"{_kind} indices negative", lambda b=_backward: b(PG, PX, 2, indices=PI - 16), ValueError, "indices"),
        (f"{_kind} indices int8 negative", lambda b=_backward: b(PG, PX, 2, indices=(PI - 16).astype(np.int8)), ValueError, "indices"),
    ]  # fmt: skip


@pytest.mark.parametrize(("call", "error", "fragment"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_is_refused_naming_the_argument(call, error, fragment):
    with pytest.raises(error) as info:
        call()
    assert type(info.value) is error, f"{type(info.value).__name__}: {info.value}"
    assert fragment in str(info.value)


# --------------------------------------------------------------------------------------------
# Files: the IDX reader and writer name the file (or the dimension)
# --------------------------------------------------------------------------------------------


def _corrupt_gzip(path: Path) -> Path:
    raw = bytearray(gzip.compress(struct.pack(">HBBI", 0, 8, 1, 64) + bytes(range(64)), mtime=0))
    raw[10:18] = b"\xff" * 8  # inside the deflate body: zlib.error, not OSError
    path.write_bytes(bytes(raw))
    return path


def _overflowing_header(path: Path) -> Path:
    path.write_bytes(struct.pack(">HBB4I", 0, 8, 4, *(0xFFFFFFFF,) * 4) + b"\x00" * 16)
    return path


def _huge_dims(path: Path) -> Path:
    path.write_bytes(struct.pack(">HBB2I", 0, 0x0E, 2, 2**31, 2**31) + b"\x00" * 64)
    return path


FILE_CASES = [
    ("corrupt gzip body", _corrupt_gzip, "bad.idx.gz", "corrupt"),
    ("header product overflows", _overflowing_header, "big.idx", "truncated"),
    ("header exceeds the file", _huge_dims, "huge.idx", "truncated"),
]


@pytest.mark.parametrize(
    ("make", "name", "fragment"), [c[1:] for c in FILE_CASES], ids=[c[0] for c in FILE_CASES]
)
def test_bad_idx_files_are_refused_naming_the_file(tmp_path, make, name, fragment):
    path = make(tmp_path / name)
    with pytest.raises(ValueError, match=fragment) as info:
        read_idx(path)
    assert type(info.value) is ValueError
    assert name in str(info.value)


def test_write_idx_refuses_a_dimension_over_uint32_naming_it(tmp_path):
    # a 2**33-long uint8 array that takes one byte of memory: the writer must refuse before copying
    huge = np.lib.stride_tricks.as_strided(np.zeros(1, np.uint8), (3, 2**33), (0, 0))
    with pytest.raises(ValueError, match="dimension 1") as info:
        write_idx(tmp_path / "huge.idx", huge)
    assert type(info.value) is ValueError
    assert not (tmp_path / "huge.idx").exists()


# --------------------------------------------------------------------------------------------
# Inputs that must *work*: Fortran order, strided views
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "make",
    [
        lambda a: np.asfortranarray(a),
        lambda a: np.ascontiguousarray(a.T).T,
        lambda a: np.repeat(a, 2, axis=1)[:, ::2],
    ],
    ids=["fortran", "transposed", "strided"],
)
def test_gradient_checkers_work_on_any_memory_layout(make):
    base = np.arange(1.0, 7.0).reshape(2, 3)
    x = make(base.copy())
    np.testing.assert_array_equal(x, base)
    weights = np.arange(6.0).reshape(2, 3) + 1
    grad = numerical_gradient(lambda v: float((weights * v**2).sum()), x)
    np.testing.assert_allclose(grad, 2 * weights * base, rtol=1e-8)
    J = numerical_jacobian(lambda v: v * 3.0, x)
    np.testing.assert_allclose(J, 3.0 * np.eye(6), atol=1e-8)  # columns in row-major vec order
    np.testing.assert_array_equal(x, base)  # restored


LAYOUTS = {
    "fortran": np.asfortranarray,
    "transposed": lambda a: np.ascontiguousarray(a.transpose(3, 2, 1, 0)).transpose(3, 2, 1, 0),
    "strided": lambda a: np.repeat(a, 2, axis=3)[..., ::2],
}


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_convolution_and_pooling_work_on_any_memory_layout(layout):
    """Core and fast path give the same results for a non-C-contiguous input as for a contiguous copy."""
    import cnnbook as cb
    from cnnbook import fast

    r = np.random.default_rng(3)
    X = r.standard_normal((2, 3, 7, 6))
    F = r.standard_normal((4, 3, 3, 2))
    Xl, Fl = LAYOUTS[layout](X.copy()), LAYOUTS[layout](F.copy())
    assert not Xl.flags.c_contiguous
    np.testing.assert_array_equal(Xl, X)
    for conv2d, conv2d_backward in ((cb.conv2d, cb.conv2d_backward), (fast.conv2d, fast.conv2d_backward)):
        S = conv2d(X, F, stride=(2, 1), padding=1)
        np.testing.assert_allclose(conv2d(Xl, Fl, stride=(2, 1), padding=1), S, rtol=1e-12, atol=1e-12)
        G = LAYOUTS[layout](r.standard_normal(S.shape))
        for mine, ref in zip(
            conv2d_backward(G, Xl, Fl, stride=(2, 1), padding=1),
            conv2d_backward(np.ascontiguousarray(G), X, F, stride=(2, 1), padding=1),
        ):
            np.testing.assert_allclose(mine, ref, rtol=1e-12, atol=1e-12)
    for maxpool2d in (cb.maxpool2d, fast.maxpool2d):
        np.testing.assert_array_equal(maxpool2d(Xl, 2, 1), maxpool2d(X, 2, 1))
    np.testing.assert_array_equal(cb.im2col(Xl, 3, padding=1), cb.im2col(X, 3, padding=1))


# --------------------------------------------------------------------------------------------
# Class 3: the memory guards decide from the shapes, under an address-space limit
# --------------------------------------------------------------------------------------------

GUARDED_CALLS = {
    "make_MF 3000x3000": "M.make_MF(np.ones((3, 3)), (3000, 3000))",
    "make_MF 1000x1000 bank": "M.make_MF(np.ones((4, 1, 11, 11)), (1, 1000, 1000))",
    "make_MF sparse 3000x3000": "M.make_MF(np.ones((3, 3)), (3000, 3000), sparse=True)",
    "make_MX 2000x2000": "M.make_MX(big_image, 3)",
    "maxpool_matrix 2000x2000": "M.maxpool_matrix(big_image, 1)",
    "avgpool_matrix 3000x3000": "M.avgpool_matrix((3000, 3000), 1)",
    "relu_jacobian 10**6": "M.relu_jacobian(big_image[0, :500])",
    "stack_jacobian 2**20": "M.stack_jacobian(0, 2**20, 2**20)",
    "symbolic_MX 3000x3000": "M.symbolic_MX((3000, 3000), 3)",
    "symbolic_MF 3000x3000": "M.symbolic_MF(3, (3000, 3000))",
}

_GUARD_SCRIPT = """
import resource, sys
import numpy as np
from cnnbook import matrices as M

def vm_bytes():
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmSize")

big_image = np.ones((1, 2000, 2000))  # 32 MB, built before the limit
CALLS = {calls}
limit = vm_bytes() + {headroom}
resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
try:
    np.ones({probe}, dtype=np.uint8)  # the limit bites: this much memory is not available
except MemoryError:
    pass
else:
    sys.exit("the address-space limit did not bite")
for name, expr in CALLS.items():
    try:
        eval(expr)
    except ValueError as err:
        assert "MAX_" in str(err), (name, str(err))
    else:
        sys.exit(name + ": no ValueError")
print("ok", len(CALLS))
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="RLIMIT_AS and /proc are Linux's")
def test_memory_guards_refuse_before_allocating():
    """Every refusal happens within a 256 MiB address-space allowance (an allocation of the result,
    or of an im2col-sized index first, raises MemoryError and fails the test)."""
    headroom = 256 * 2**20
    script = _GUARD_SCRIPT.format(calls=repr(GUARDED_CALLS), headroom=headroom, probe=2 * headroom)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == f"ok {len(GUARDED_CALLS)}"

"""Bad input gets a ValueError/TypeError that names the offending shapes or values."""

import subprocess
import sys

import numpy as np
import pytest

import cnnbook as cb
from cnnbook import fast
from cnnbook import matrices as M

X = np.zeros((2, 3, 8, 8))
F = np.zeros((4, 3, 3, 3))


@pytest.mark.parametrize(
    "call, error, message",
    [
        (
            lambda: cb.conv2d(X, np.zeros((4, 2, 3, 3))),
            ValueError,
            r"channel mismatch: X has C=3.*\(4, 2, 3, 3\)",
        ),
        (lambda: cb.conv2d(np.zeros((8, 8)), F), ValueError, r"X must be 3-D or 4-D, got shape \(8, 8\)"),
        (lambda: cb.conv2d(X, np.zeros((3, 3, 3))), ValueError, r"F must be 4-D, got shape \(3, 3, 3\)"),
        (lambda: cb.conv2d(X, F, stride=0), ValueError, r"stride must be >= 1, got 0"),
        (lambda: cb.conv2d(X, F, dilation=0), ValueError, r"dilation must be >= 1, got 0"),
        (lambda: cb.conv2d(X, F, padding=-1), ValueError, r"padding must be >= 0, got -1"),
        (lambda: cb.conv2d(X, F, stride=1.5), TypeError, r"stride must be an int, got 1.5"),
        (lambda: cb.conv2d(X, F, stride=True), TypeError, r"stride must be an int, got True"),
        (
            lambda: cb.conv2d(X, F, padding=(1, 2, 3)),
            ValueError,
            r"padding must be an int or an \(h, w\) pair",
        ),
        (
            lambda: cb.conv2d(X, np.zeros((4, 3, 9, 3))),
            ValueError,
            r"filter size 9 is larger than the padded input 8",
        ),
        (lambda: cb.conv2d(X, F, dilation=4), ValueError, r"dilated filter span 9 \(f=3, d=4\) is larger"),
        (
            lambda: cb.conv2d(X, F, b=np.zeros(3)),
            ValueError,
            r"b must have shape \(K,\) = \(4,\), got \(3,\)",
        ),
        (lambda: cb.conv2d(np.zeros((0, 3, 8, 8)), F), ValueError, r"X is empty"),
        (lambda: cb.conv2d(X.astype(bool), F), TypeError, r"X must hold real numbers, got dtype bool"),
        (lambda: cb.conv2d(X.astype(complex), F), TypeError, r"dtype complex128"),
        (
            lambda: cb.conv2d_backward(np.zeros((2, 4, 5, 5)), X, F),
            ValueError,
            r"G has shape \(2, 4, 5, 5\) but the forward output is \(2, 4, 6, 6\)",
        ),
        (
            lambda: cb.conv_transpose2d(np.zeros((2, 4, 6, 6)), F, stride=2, output_padding=2),
            ValueError,
            r"output_padding 2 must be smaller than the stride 2",
        ),
        (lambda: cb.conv_transpose2d(np.zeros((2, 5, 6, 6)), F), ValueError, r"Y has 5 channels but F"),
        (lambda: cb.im2col(X, 3, stride=(1, 0)), ValueError, r"stride must be >= 1, got \(1, 0\)"),
        (lambda: cb.im2col(X, (3, 0)), ValueError, r"kernel_size must be >= 1, got \(3, 0\)"),
        (lambda: cb.im2col(X, 3.0), TypeError, r"kernel_size must be an int, got 3.0"),
        (
            lambda: cb.col2im(np.zeros((27, 10)), X.shape, 3),
            ValueError,
            r"cols has shape \(27, 10\) but X_shape \(2, 3, 8, 8\).*\(27, 72\)",
        ),
        (lambda: cb.maxpool2d(X, 9), ValueError, r"pool window 9x9 is larger than the \(padded\) input 8x8"),
        (
            lambda: cb.maxpool2d(X, 2, padding=2),
            ValueError,
            r"padding 2 must be smaller than the pool window 2",
        ),
        (lambda: cb.avgpool2d(X, 0), ValueError, r"kernel_size must be >= 1, got 0"),
        (
            lambda: cb.maxpool2d_backward(np.zeros((2, 3, 3, 3)), X, 2),
            ValueError,
            r"G has shape \(2, 3, 3, 3\) but the pooled output is \(2, 3, 4, 4\)",
        ),
        (
            lambda: fast.maxpool2d(X, 9),
            ValueError,
            r"pool window 9x9 is larger than the \(padded\) input 8x8",
        ),
        (
            lambda: fast.maxpool2d(X, 2, padding=2),
            ValueError,
            r"padding 2 must be smaller than the pool window 2",
        ),
        (lambda: fast.avgpool2d(X, 0), ValueError, r"kernel_size must be >= 1, got 0"),
        (
            lambda: fast.maxpool2d_backward(np.zeros((2, 3, 3, 3)), X, 2),
            ValueError,
            r"G has shape \(2, 3, 3, 3\) but the pooled output is \(2, 3, 4, 4\)",
        ),
        (lambda: fast.conv2d(X, F, stride=1.5), TypeError, r"stride must be an int, got 1.5"),
        (lambda: fast.conv2d(X, np.zeros((4, 2, 3, 3))), ValueError, r"channel mismatch: X has C=3"),
        (
            lambda: fast.conv2d_backward(np.zeros((2, 4, 5, 5)), X, F),
            ValueError,
            r"G has shape \(2, 4, 5, 5\) but the forward output is \(2, 4, 6, 6\)",
        ),
        (
            lambda: fast.conv2d_backward(np.zeros((2, 4, 6, 6)), X, F, cols=np.zeros((27, 5))),
            ValueError,
            r"cols has shape \(27, 5\)",
        ),
        (lambda: cb.conv_output_size(0, 3), ValueError, r"input size n must be >= 1, got 0"),
        (lambda: cb.conv_output_size(5, 3, strict=True, stride=3), ValueError, r"leaves 2 input row"),
        (lambda: M.make_MX(np.zeros((2, 6, 6)), (3, 3, 3)), ValueError, r"kernel_size must be an int or an"),
        (lambda: M.make_MX(np.zeros((2, 6, 6)), 7), ValueError, r"filter size 7 is larger than the padded"),
        (lambda: M.storage_bytes((3, 8, 8), 0, 3), ValueError, r"out_channels must be >= 1, got 0"),
        (lambda: M.make_MF(np.zeros((3, 3)), (2, 6, 6)), ValueError, r"channel mismatch"),
        (lambda: M.stack_jacobian(3, 3, 4), ValueError, r"0 <= i < n; got i=3"),
    ],
)
def test_error_names_the_offending_value(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_gradcheck_errors():
    from cnnbook.gradcheck import numerical_gradient, rel_error

    with pytest.raises(TypeError, match="floating-point ndarray"):
        numerical_gradient(lambda x: 0.0, np.arange(3))
    with pytest.raises(ValueError, match="must return a scalar, got 3 values"):
        numerical_gradient(lambda x: x * 2, np.zeros(3))
    with pytest.raises(ValueError, match=r"equal shapes, got \(2,\) and \(3,\)"):
        rel_error(np.zeros(2), np.zeros(3))


@pytest.mark.parametrize("path", [cb, fast], ids=["core", "fast"])
def test_cached_geometry_never_serves_a_bool_for_an_int(path):
    """Geometries are remembered by argument; True == 1 must still be refused after stride=1 ran."""
    path.conv2d(X, F, stride=1)
    with pytest.raises(TypeError, match="stride must be an int, got True"):
        path.conv2d(X, F, stride=True)
    with pytest.raises(TypeError, match="stride must be an int"):
        path.conv2d(X, F, stride=[1, 1.0])


@pytest.mark.parametrize("path", [cb, fast], ids=["core", "fast"])
def test_validation_comes_before_any_cache_in_both_orders(path):
    """stride=(2.0, 2.0) is refused whether or not stride=(2, 2) ran before (2.0 == 2 as a key)."""
    Xn = np.zeros((1, 3, 11, 9))  # a shape no other test uses: nothing remembered yet
    with pytest.raises(TypeError, match=r"stride must be an int, got 2.0"):
        path.conv2d(Xn, F, stride=(2.0, 2.0))
    assert path.conv2d(Xn, F, stride=(2, 2)).shape == (1, 4, 5, 4)
    with pytest.raises(TypeError, match=r"stride must be an int, got 2.0"):
        path.conv2d(Xn, F, stride=(2.0, 2.0))
    with pytest.raises(TypeError, match=r"stride must be an int, got 2.0"):
        path.maxpool2d(Xn, 2, stride=2.0)
    assert path.maxpool2d(Xn, 2, stride=2).shape == (1, 3, 5, 4)
    with pytest.raises(TypeError, match=r"stride must be an int, got 2.0"):
        path.maxpool2d(Xn, 2, stride=2.0)
    with pytest.raises(TypeError, match=r"kernel_size must be an int, got 2.0"):
        path.avgpool2d(Xn, 2.0)


_ORDER_SCRIPT = """
import numpy as np
import cnnbook as cb
from cnnbook import fast
X, F = np.zeros((2, 3, 8, 8)), np.zeros((4, 3, 3, 3))
outcomes = []
for stride in {strides}:
    for conv in (cb.conv2d, fast.conv2d):
        try:
            outcomes.append(str(conv(X, F, stride=stride).shape))
        except TypeError as err:
            outcomes.append("TypeError: " + str(err))
print("|".join(outcomes))
"""


@pytest.mark.parametrize("order", ["float first", "int first"])
def test_a_float_stride_is_refused_on_a_fresh_interpreter_in_either_order(order):
    """Each order in its own fresh interpreter: no cache can hold a geometry before the first call."""
    strides = [(2.0, 2.0), (2, 2)] if order == "float first" else [(2, 2), (2.0, 2.0)]
    script = _ORDER_SCRIPT.format(strides=strides)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    results = done.stdout.strip().split("|")  # (first stride: core, fast), (second stride: core, fast)
    assert len(results) == 4, done.stdout + done.stderr
    refused = "TypeError: stride must be an int, got 2.0 of type float"
    accepted = "(2, 4, 3, 3)"
    expected = (
        [refused, refused, accepted, accepted] if order == "float first" else [accepted] * 2 + [refused] * 2
    )
    assert results == expected

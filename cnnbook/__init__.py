"""cnnbook: convolutional networks from first principles, in NumPy.

The core (this namespace) is convolution, pooling and their gradients, vectorized with
im2col + one GEMM, each beside a looped reference; the lectures' explicit matrices live in
:mod:`cnnbook.matrices` and numerical derivatives in :mod:`cnnbook.gradcheck`.

Conventions: data ``(N, C, H, W)``, filters ``(K, C, fh, fw)``, biases ``(K,)``; ``*`` is
cross-correlation; padding is per side; ``vec(X) == X.reshape(-1)``; float64 by default and float32
preserved.  The core imports neither matplotlib nor ipywidgets (see :mod:`cnnbook.plot` and
:mod:`cnnbook.widgets`).
"""

from . import functional, gradcheck, matrices
from .conv import (
    conv2d,
    conv2d_backward,
    conv2d_backward_naive,
    conv2d_forward_cols,
    conv2d_naive,
    conv_transpose2d,
)
from .im2col import col2im, col2im_naive, im2col, im2col_naive
from .pool import (
    avgpool2d,
    avgpool2d_backward,
    avgpool2d_naive,
    maxpool2d,
    maxpool2d_backward,
    maxpool2d_naive,
)
from .shapes import conv_output_shape, conv_output_size, unread_rows, unused_size

__version__ = "0.1.0"

__all__ = [
    "avgpool2d",
    "avgpool2d_backward",
    "avgpool2d_naive",
    "col2im",
    "col2im_naive",
    "conv2d",
    "conv2d_backward",
    "conv2d_backward_naive",
    "conv2d_forward_cols",
    "conv2d_naive",
    "conv_output_shape",
    "conv_output_size",
    "conv_transpose2d",
    "functional",
    "gradcheck",
    "im2col",
    "im2col_naive",
    "matrices",
    "maxpool2d",
    "maxpool2d_backward",
    "maxpool2d_naive",
    "unread_rows",
    "unused_size",
]

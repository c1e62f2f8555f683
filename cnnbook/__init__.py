"""cnnbook: convolutional networks from first principles, in NumPy.

The core (this namespace) is convolution, pooling and their gradients, vectorized with
im2col + one GEMM, each beside a looped reference; the lectures' explicit matrices live in
:mod:`cnnbook.matrices`, numerical derivatives in :mod:`cnnbook.gradcheck`, and the speed-tuned
variants that layers and benchmarks use in :mod:`cnnbook.fast`.

Conventions: data ``(N, C, H, W)``, filters ``(K, C, fh, fw)``, biases ``(K,)``; ``*`` is
cross-correlation; padding is per side; ``vec(X) == X.reshape(-1)``; float64 by default and float32
preserved.  The core imports neither matplotlib nor ipywidgets (see :mod:`cnnbook.plot` and
:mod:`cnnbook.widgets`).
"""

import inspect
import types
from typing import Any

from . import fast, functional, gradcheck, matrices
from . import im2col as _im2col_module
from .conv import (
    conv2d,
    conv2d_backward,
    conv2d_backward_naive,
    conv2d_naive,
    conv_transpose2d,
)
from .im2col import col2im, col2im_naive, im2col_naive
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


# `cnnbook.im2col` is both the submodule cnnbook/im2col.py and, as the lessons write it, the
# function: `cnnbook.im2col(X, 3)`.  A plain `from .im2col import im2col` would bind the package
# attribute to the function, so that `import cnnbook.im2col as m` gave the function and
# `m.col2im` failed.  Instead the submodule's class becomes a ModuleType subclass whose instances
# can be called: `cnnbook.im2col` stays the module (`cnnbook.im2col.col2im`, `Geometry`, ...) and
# calling it calls its function `im2col.im2col` (same signature and docstring).
class _CallableModule(types.ModuleType):
    """A module that can be called: ``module(*args, **kwargs)`` is ``module.im2col(*args, **kwargs)``."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.im2col(*args, **kwargs)


_im2col_module.__class__ = _CallableModule
_im2col_module.__signature__ = inspect.signature(_im2col_module.im2col)  # type: ignore[attr-defined]
_im2col_module.__doc__ = (
    f"Calling this module is :func:`cnnbook.im2col.im2col`:\n\n{_im2col_module.im2col.__doc__}\n\n"
    f"{_im2col_module.__doc__}"
)
im2col = _im2col_module

__all__ = [
    "avgpool2d",
    "avgpool2d_backward",
    "avgpool2d_naive",
    "col2im",
    "col2im_naive",
    "conv2d",
    "conv2d_backward",
    "conv2d_backward_naive",
    "conv2d_naive",
    "conv_output_shape",
    "conv_output_size",
    "conv_transpose2d",
    "fast",
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

"""Layers: the lecture's building blocks as objects with a ``forward`` and a ``backward``.

Every layer turns a batch ``X`` into ``Y = forward(X)`` and, given the upstream gradient
``G = dL/dY``, returns ``dL/dX = backward(G)`` while storing the gradients of its own parameters in
``grads`` (same keys and shapes as ``params``).  The arithmetic lives elsewhere, once:

* :class:`Conv2D` calls :func:`cnnbook.conv2d_forward_cols` and :func:`cnnbook.conv2d_backward`
  (``im2col`` columns are kept from the forward pass for ``dF = G M_X``);
* :class:`MaxPool2D` / :class:`AvgPool2D` call :func:`cnnbook.maxpool2d` / :func:`cnnbook.avgpool2d`
  and their backward functions;
* the activations, :class:`Dense` and :class:`SoftmaxCrossEntropy` call :mod:`cnnbook.functional`.

Shapes follow the book: images ``(N, C, H, W)``, filters ``F (K, C, fh, fw)``, fully connected
weights ``W (out, in)`` so that ``s = W vec(H) + b`` for one example (rows of a batch are examples:
``S = X W^T + b``).

Initialisation draws from a seeded :class:`numpy.random.Generator` (pass one generator to all layers
of a network): *He* ``N(0, 2/fan_in)`` for layers followed by a ReLU, *Glorot*
``N(0, 2/(fan_in + fan_out))`` otherwise; biases start at 0.  For a conv layer
``fan_in = C fh fw`` and ``fan_out = K fh fw``.  Parameters are float32 by default (training);
``astype(np.float64)`` gives a copy-free switch for gradient checks.

A layer caches what its backward pass needs only in ``forward(X, training=True)`` (the default);
``forward(X, training=False)`` is inference and keeps nothing, so ``backward`` must follow a
training-mode forward.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Union

import numpy as np

from . import functional as fn
from .conv import conv2d_backward, conv2d_forward_cols
from .pool import avgpool2d, avgpool2d_backward, maxpool2d, maxpool2d_backward
from .shapes import IntPair, as_pair, conv_output_shape, positive_int

__all__ = [
    "ELU",
    "AvgPool2D",
    "Conv2D",
    "Dense",
    "Flatten",
    "Layer",
    "LeakyReLU",
    "MaxPool2D",
    "Maxout",
    "ReLU",
    "Sigmoid",
    "SoftmaxCrossEntropy",
    "Tanh",
    "init_weights",
]

Shape = tuple[int, ...]
RngLike = Union[np.random.Generator, int]


def init_weights(
    shape: Shape, fan_in: int, fan_out: int, scheme: str, rng: RngLike, dtype=np.float32, gain: float = 1.0
) -> np.ndarray:
    """Random weights ``N(0, (gain sigma)^2)``.

    He: ``sigma^2 = 2/fan_in``; Glorot: ``sigma^2 = 2/(fan_in + fan_out)``.

    He keeps the variance of the activations constant through ReLU layers (a ReLU zeroes half of
    its input, hence the 2); Glorot balances the forward and backward variances for layers
    without a ReLU after them.  ``gain < 1`` starts a layer smaller (e.g. a classifier whose
    scores should start near 0).
    """
    if not (gain > 0 and np.isfinite(gain)):
        raise ValueError(f"gain must be a positive number, got {gain!r}")
    if scheme == "he":
        std = np.sqrt(2.0 / fan_in)
    elif scheme == "glorot":
        std = np.sqrt(2.0 / (fan_in + fan_out))
    else:
        raise ValueError(f"init must be 'he' or 'glorot', got {scheme!r}")
    return (np.random.default_rng(rng).standard_normal(shape) * (gain * std)).astype(dtype)


class Layer:
    """Base class.  ``params``/``grads``: dicts of arrays; ``decay``: names that get L2 weight decay."""

    decay: tuple[str, ...] = ()

    def __init__(self) -> None:
        self.params: dict[str, np.ndarray] = {}
        self.grads: dict[str, np.ndarray] = {}
        self.name: str = ""
        self._cache: tuple | None = None

    def forward(self, X: np.ndarray, training: bool = True) -> np.ndarray:  # pragma: no cover
        raise NotImplementedError

    def backward(self, G: np.ndarray, input_grad: bool = True) -> np.ndarray | None:  # pragma: no cover
        """Fill ``grads`` from ``G = dL/d(output)``; return ``dL/dX`` (``None`` allowed when
        ``input_grad`` is False: nobody needs it, e.g. for the network's first layer)."""
        raise NotImplementedError

    def output_shape(self, input_shape: Shape) -> Shape:
        """Shape of one example's output for one example's input shape (no batch axis)."""
        return tuple(input_shape)

    def astype(self, dtype) -> Layer:
        """Cast the parameters (in place) to ``dtype``; returns the layer."""
        for key, value in self.params.items():
            self.params[key] = value.astype(dtype)
        self.grads = {}
        return self

    @property
    def n_params(self) -> int:
        return int(sum(p.size for p in self.params.values()))

    def _cached(self) -> tuple:
        if self._cache is None:
            raise RuntimeError(f"{type(self).__name__}.backward needs a preceding forward(X, training=True)")
        return self._cache

    def _keep(self, training: bool, *items) -> None:
        self._cache = items if training else None

    def _describe(self) -> str:
        return ""

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._describe()})"


# --------------------------------------------------------------------------------------------
# Layers with parameters
# --------------------------------------------------------------------------------------------


class Conv2D(Layer):
    """Convolution layer ``S = X * F + b`` (cross-correlation, as in the lectures).

    ``X (N, C, H, W) -> S (N, K, H', W')`` with ``F (K, C, fh, fw)`` and ``b (K,)``;
    ``H' = floor((H + 2p - fh)/s) + 1``.  Backward (:func:`cnnbook.conv2d_backward`):
    ``dF = X * G``, ``db = sum of G``, ``dX = G_zero-pad * F^rot180``.
    """

    decay = ("F",)

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: IntPair,
        stride: IntPair = 1,
        padding: IntPair = 0,
        *,
        rng: RngLike = 0,
        init: str = "he",
        gain: float = 1.0,
        dtype=np.float32,
    ) -> None:
        super().__init__()
        C = positive_int(in_channels, "in_channels")
        K = positive_int(out_channels, "out_channels")
        fh, fw = as_pair(kernel_size, "kernel_size", 1)
        self.stride = as_pair(stride, "stride", 1)
        self.padding = as_pair(padding, "padding", 0)
        self.params["F"] = init_weights((K, C, fh, fw), C * fh * fw, K * fh * fw, init, rng, dtype, gain)
        self.params["b"] = np.zeros(K, dtype=dtype)

    def forward(self, X: np.ndarray, training: bool = True) -> np.ndarray:
        S, cols = conv2d_forward_cols(X, self.params["F"], self.params["b"], self.stride, self.padding)
        self._keep(training, X, cols)
        return S

    def backward(self, G: np.ndarray, input_grad: bool = True) -> np.ndarray | None:
        X, cols = self._cached()
        dX, dF, db = conv2d_backward(
            G, X, self.params["F"], self.stride, self.padding, cols=cols, input_grad=input_grad
        )
        self.grads = {"F": dF, "b": db}
        return dX

    def output_shape(self, input_shape: Shape) -> Shape:
        K, C, fh, fw = self.params["F"].shape
        if len(input_shape) != 3 or input_shape[0] != C:
            raise ValueError(f"{self!r} expects (C={C}, H, W) inputs, got {tuple(input_shape)}")
        return (K,) + conv_output_shape(input_shape[1:], (fh, fw), self.stride, self.padding)

    def _describe(self) -> str:
        K, C, fh, fw = self.params["F"].shape
        return f"{C} -> {K}, {fh}x{fw}, stride={self.stride[0]}, padding={self.padding[0]}"


class Dense(Layer):
    """Fully connected layer ``s = W x + b`` per example: ``(N, D) -> (N, out)``, ``W (out, D)``.

    Backward (:func:`cnnbook.functional.linear_backward`): ``dX = G W``, ``dW = G^T X``,
    ``db = sum of G``.
    """

    decay = ("W",)

    def __init__(
        self,
        in_features: int,
        out_features: int,
        *,
        rng: RngLike = 0,
        init: str = "glorot",
        gain: float = 1.0,
        dtype=np.float32,
    ) -> None:
        super().__init__()
        D = positive_int(in_features, "in_features")
        M = positive_int(out_features, "out_features")
        self.params["W"] = init_weights((M, D), D, M, init, rng, dtype, gain)
        self.params["b"] = np.zeros(M, dtype=dtype)

    def forward(self, X: np.ndarray, training: bool = True) -> np.ndarray:
        D = self.params["W"].shape[1]
        if np.ndim(X) != 2 or np.shape(X)[1] != D:
            raise ValueError(f"{self!r} expects (N, {D}) inputs, got shape {np.shape(X)} (Flatten first?)")
        self._keep(training, X)
        return fn.linear(X, self.params["W"], self.params["b"])

    def backward(self, G: np.ndarray, input_grad: bool = True) -> np.ndarray:
        (X,) = self._cached()
        dX, dW, db = fn.linear_backward(G, X, self.params["W"])
        self.grads = {"W": dW, "b": db}
        return dX

    def output_shape(self, input_shape: Shape) -> Shape:
        M, D = self.params["W"].shape
        if tuple(input_shape) != (D,):
            raise ValueError(f"{self!r} expects ({D},) inputs, got {tuple(input_shape)}")
        return (M,)

    def _describe(self) -> str:
        M, D = self.params["W"].shape
        return f"{D} -> {M}"


# --------------------------------------------------------------------------------------------
# Layers without parameters
# --------------------------------------------------------------------------------------------


class Flatten(Layer):
    """``(N, C, H, W) -> (N, C H W)``: every example becomes ``vec(H)`` (row-major, planes stacked)."""

    def forward(self, X: np.ndarray, training: bool = True) -> np.ndarray:
        X = np.asarray(X)
        self._keep(training, X.shape)
        return X.reshape(X.shape[0], -1)

    def backward(self, G: np.ndarray, input_grad: bool = True) -> np.ndarray:
        (shape,) = self._cached()
        return np.asarray(G).reshape(shape)

    def output_shape(self, input_shape: Shape) -> Shape:
        return (int(np.prod(input_shape)),)


class _Pool(Layer):
    _forward: Callable = staticmethod(maxpool2d)
    _backward: Callable = staticmethod(maxpool2d_backward)

    def __init__(self, size: IntPair = 2, stride: IntPair | None = None, padding: IntPair = 0) -> None:
        super().__init__()
        self.size = as_pair(size, "size", 1)
        self.stride = self.size if stride is None else as_pair(stride, "stride", 1)
        self.padding = as_pair(padding, "padding", 0)

    def forward(self, X: np.ndarray, training: bool = True) -> np.ndarray:
        out, cache = self._forward(X, self.size, self.stride, self.padding)
        self._keep(training, cache)
        return out

    def backward(self, G: np.ndarray, input_grad: bool = True) -> np.ndarray:
        (cache,) = self._cached()
        return self._backward(G, cache)

    def output_shape(self, input_shape: Shape) -> Shape:
        C, H, W = input_shape
        # Pooling's output size is the convolution rule with dilation 1.
        return (C,) + conv_output_shape((H, W), self.size, self.stride, self.padding)

    def _describe(self) -> str:
        return f"{self.size[0]}x{self.size[1]}, stride={self.stride[0]}"


class MaxPool2D(_Pool):
    """Max pooling of each channel plane (:func:`cnnbook.maxpool2d`); backward routes ``G`` to the winners."""


class AvgPool2D(_Pool):
    """Average pooling of each channel plane (:func:`cnnbook.avgpool2d`); backward spreads ``G / r^2``."""

    _forward = staticmethod(avgpool2d)
    _backward = staticmethod(avgpool2d_backward)


class _Activation(Layer):
    """Elementwise (or grouped) non-linearity ``Y = f(X)``; backward ``f_backward(G, X)``."""

    _f: Callable = staticmethod(fn.relu)
    _f_backward: Callable = staticmethod(fn.relu_backward)

    def __init__(self, **options) -> None:
        super().__init__()
        self.options = options

    def forward(self, X: np.ndarray, training: bool = True) -> np.ndarray:
        self._keep(training, X)
        return self._f(X, **self.options)

    def backward(self, G: np.ndarray, input_grad: bool = True) -> np.ndarray:
        (X,) = self._cached()
        return self._f_backward(G, X, **self.options)

    def _describe(self) -> str:
        return ", ".join(f"{k}={v}" for k, v in self.options.items())


class ReLU(_Activation):
    """``H = max(0, S)``; backward ``G * Ind(S > 0)``."""


class LeakyReLU(_Activation):
    """``max(alpha x, x)``."""

    _f = staticmethod(fn.leaky_relu)
    _f_backward = staticmethod(fn.leaky_relu_backward)

    def __init__(self, alpha: float = 0.01) -> None:
        super().__init__(alpha=alpha)


class ELU(_Activation):
    """``x`` for ``x > 0``, ``alpha (e^x - 1)`` otherwise."""

    _f = staticmethod(fn.elu)
    _f_backward = staticmethod(fn.elu_backward)

    def __init__(self, alpha: float = 1.0) -> None:
        super().__init__(alpha=alpha)


class Sigmoid(_Activation):
    """``1 / (1 + e^-x)``."""

    _f = staticmethod(fn.sigmoid)
    _f_backward = staticmethod(fn.sigmoid_backward)


class Tanh(_Activation):
    """``tanh(x)``."""

    _f = staticmethod(fn.tanh)
    _f_backward = staticmethod(fn.tanh_backward)


class Maxout(_Activation):
    """Maxout over groups of ``pieces`` consecutive channels (``axis=1``) or features: ``C -> C / pieces``."""

    _f = staticmethod(fn.maxout)
    _f_backward = staticmethod(fn.maxout_backward)

    def __init__(self, pieces: int = 2, axis: int = 1) -> None:
        super().__init__(pieces=pieces, axis=axis)

    def output_shape(self, input_shape: Shape) -> Shape:
        pieces, axis = self.options["pieces"], self.options["axis"]
        if axis < 1:
            raise ValueError(f"Maxout.output_shape needs a positive batch-relative axis, got {axis}")
        shape = list(input_shape)
        if shape[axis - 1] % pieces:
            raise ValueError(f"{self!r}: axis length {shape[axis - 1]} is not a multiple of {pieces}")
        shape[axis - 1] //= pieces
        return tuple(shape)


# --------------------------------------------------------------------------------------------
# The loss
# --------------------------------------------------------------------------------------------


class SoftmaxCrossEntropy:
    """``L = -(1/N) sum_n log p_{n, y_n}`` with ``p = softmax(s)``; ``backward() = (P - T) / N``.

    ``forward(scores (N, classes), y (N,)) -> L``; see :func:`cnnbook.functional.softmax_cross_entropy`.
    """

    def __init__(self) -> None:
        self._dscores: np.ndarray | None = None

    def forward(self, scores: np.ndarray, y: np.ndarray) -> float:
        loss, self._dscores = fn.softmax_cross_entropy(scores, y)
        return loss

    __call__ = forward

    def backward(self) -> np.ndarray:
        if self._dscores is None:
            raise RuntimeError("SoftmaxCrossEntropy.backward needs a preceding forward(scores, y)")
        return self._dscores

    def __repr__(self) -> str:
        return "SoftmaxCrossEntropy()"

"""Layers: the lecture's building blocks as objects with a ``forward`` and a ``backward``.

Every layer turns a batch ``X`` into ``Y = forward(X)`` and, given the upstream gradient
``G = dL/dY``, returns ``dL/dX = backward(G)`` while storing the gradients of its own parameters in
``grads`` (same keys and shapes as ``params``).  The arithmetic lives elsewhere, once:

* what a layer does to shapes, and which parameter arrays it has, is its description
  ``layer.spec`` (:mod:`cnnbook.specs`): ``output_shape`` and the parameter shapes come from it,
  and :func:`cnnbook.specs.summary` counts a network of layers with the same code as the
  architecture tables;
* :class:`Conv2D` calls :func:`cnnbook.fast.conv2d` and :func:`cnnbook.fast.conv2d_backward`
  (the ``im2col`` columns of the forward pass are reused for ``dF = G M_X``);
* :class:`MaxPool2D` / :class:`AvgPool2D` call :func:`cnnbook.fast.maxpool2d` /
  :func:`cnnbook.fast.avgpool2d` and their backward functions (max pooling reuses its winners);
* the activations, :class:`Dense` and :class:`SoftmaxCrossEntropy` call :mod:`cnnbook.functional`.

The convention is the package's: ``forward(X, training=True)`` keeps what the backward function
needs -- the forward's inputs and the intermediates it can reuse (``cols``, ``indices``) -- and
``backward(G)`` calls ``*_backward(G, X, ..., cols=cols)``.  ``forward(X, training=False)`` is
inference and keeps nothing, so ``backward`` must follow a training-mode forward.

Shapes follow the book: images ``(N, C, H, W)``, filters ``F (K, C, fh, fw)``, fully connected
weights ``W (out_features, in_features)`` so that ``s = W vec(X) + b`` for one example (rows of a
batch are examples: ``S = X W^T + b``).

Initialisation draws from a :class:`numpy.random.Generator` (pass one seeded generator to all
layers of a network to make it reproducible, as :func:`cnnbook.models.small_convnet` does; a layer
built without ``rng`` draws from fresh operating-system entropy, so two such layers get independent
weights): *He* ``N(0, 2/fan_in)`` for layers followed by a ReLU, *Glorot*
``N(0, 2/(fan_in + fan_out))`` otherwise; biases start at 0.  For a conv layer
``fan_in = C fh fw`` and ``fan_out = K fh fw``.  Parameters are float32 by default (training);
``astype(np.float64)`` switches a layer (or a model) to float64 in place -- it replaces each
parameter array by a float64 copy -- for gradient checks.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import DTypeLike

from . import fast
from . import functional as fn
from ._checks import IntPair, as_flag, as_float_dtype, as_real, as_rng, positive_int
from .specs import ConvSpec, ElementwiseSpec, FCSpec, FlattenSpec, LayerSpec, MaxoutSpec, PoolSpec, Shape

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

RngLike = np.random.Generator | int | None
"""A generator (shared by the layers of a network), an int seed, or None for fresh entropy."""


def init_weights(
    shape: Shape,
    fan_in: int,
    fan_out: int,
    init: str,
    rng: RngLike = None,
    dtype: DTypeLike = np.float32,
    gain: float = 1.0,
) -> np.ndarray:
    """Random weights ``N(0, (gain sigma)^2)``.

    ``init="he"``: ``sigma^2 = 2/fan_in``; ``init="glorot"``: ``sigma^2 = 2/(fan_in + fan_out)``.

    He keeps the variance of the activations constant through ReLU layers (a ReLU zeroes half of
    its input, hence the 2); Glorot balances the forward and backward variances for layers
    without a ReLU after them.  ``gain < 1`` starts a layer smaller (e.g. a classifier whose
    scores should start near 0).

    ``rng``: a Generator, an int seed, or None (fresh entropy: independent weights every call).
    ``dtype`` must be float32 or float64.  Every argument is checked before anything is drawn, so
    a refused call leaves a shared generator where it was.
    """
    fan_in, fan_out = positive_int(fan_in, "fan_in"), positive_int(fan_out, "fan_out")
    init = _check_init(init)
    dt = as_float_dtype(dtype)
    g = as_real(gain, "gain", 0.0, low_open=True)
    source = as_rng(rng)
    std = np.sqrt(2.0 / fan_in) if init == "he" else np.sqrt(2.0 / (fan_in + fan_out))
    return (np.random.default_rng(source).standard_normal(shape) * (g * std)).astype(dt)


def _check_weight_options(init: object, gain: object, dtype: object, rng: object) -> None:
    """The options of :func:`init_weights` a layer passes on, checked at the layer's construction."""
    _check_init(init)
    as_real(gain, "gain", 0.0, low_open=True)
    as_float_dtype(dtype)
    as_rng(rng)


def _check_init(init: object) -> str:
    """``init`` if it names an initialisation (``"he"`` or ``"glorot"``).

    :class:`TypeError` for a non-string, :class:`ValueError` for another name.
    """
    if not isinstance(init, str):
        raise TypeError(f"init must be the str 'he' or 'glorot', got {init!r} of type {type(init).__name__}")
    if init not in ("he", "glorot"):
        raise ValueError(f"init must be 'he' or 'glorot', got {init!r}")
    return init


class Layer:
    """Base class: a layer described by ``spec``, with ``params``/``grads`` (dicts of arrays).

    ``decay``: names of the parameters that get L2 weight decay.

    ``trainable`` (True by default; only ``True``/``False`` are accepted, :class:`TypeError`
    otherwise): whether training updates this layer's parameters.  A *frozen* layer
    (``trainable = False``) keeps its parameters through :func:`cnnbook.train.fit` and
    :meth:`cnnbook.train.SGD.step` -- no gradient step, no weight decay, its momentum left as it was
    -- and the backward pass of training stops before it when no trainable layer precedes it
    (:meth:`cnnbook.models.Sequential.backward`).  Transfer learning freezes the feature layers of a
    pre-trained network and trains only a new last layer (:meth:`cnnbook.models.Sequential.freeze`).

    ``needs_input_grad`` is a fast-path detail, not part of the layer's mathematics: when False the
    layer *may* skip ``dL/dX`` and return ``None`` from :meth:`backward`.  Only :class:`Conv2D` acts
    on it (it saves a GEMM and a col2im); the other layers always return ``dL/dX``.  It is True by
    default; :class:`cnnbook.models.Sequential` sets it to False for its first layer during the
    backward pass of training (:meth:`cnnbook.models.Sequential.loss_and_gradients`), where nobody
    needs the gradient with respect to the network's input, and restores it afterwards.
    """

    decay: tuple[str, ...] = ()

    def __init__(self, spec: LayerSpec) -> None:
        self.spec = spec
        self.params: dict[str, np.ndarray] = {}
        self.grads: dict[str, np.ndarray] = {}
        self.name: str = ""
        self.needs_input_grad: bool = True
        self._trainable = True
        self._saved: dict[str, Any] | None = None

    @property
    def trainable(self) -> bool:
        """Whether training updates this layer's parameters (see the class docstring)."""
        return self._trainable

    @trainable.setter
    def trainable(self, value: bool) -> None:
        self._trainable = as_flag(value, "trainable")

    def forward(self, X: np.ndarray, training: bool = True) -> np.ndarray:  # pragma: no cover
        raise NotImplementedError

    def backward(self, G: np.ndarray) -> np.ndarray | None:  # pragma: no cover
        """Fill ``grads`` from ``G = dL/d(output)``; return ``dL/dX`` (``None`` only when
        ``needs_input_grad`` is False and the layer skipped it)."""
        raise NotImplementedError

    def output_shape(self, input_shape: Shape) -> Shape:
        """Shape of one example's output for one example's input shape (no batch axis): the spec's."""
        return self.spec.output_shape(tuple(input_shape))

    def astype(self, dtype: DTypeLike) -> Layer:
        """Cast the parameters (in place) to ``dtype`` (float32 or float64); returns the layer."""
        dtype = as_float_dtype(dtype)
        for key, value in self.params.items():
            self.params[key] = value.astype(dtype)
        self.grads = {}
        return self

    @property
    def n_params(self) -> int:
        """Number of parameters (the arrays were shaped by the spec)."""
        return int(sum(p.size for p in self.params.values()))

    def _save(self, training: bool, **values: Any) -> None:
        """Keep, in training mode only, what the backward function needs (keyed by its argument names)."""
        self._saved = values if training else None

    def _restore(self) -> dict[str, Any]:
        if self._saved is None:
            raise RuntimeError(f"{type(self).__name__}.backward needs a preceding forward(X, training=True)")
        return self._saved

    def _describe(self) -> str:
        return ""

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._describe()})"


def _pair_text(pair: tuple[int, int]) -> str:
    return str(pair[0]) if pair[0] == pair[1] else str(pair)


# --------------------------------------------------------------------------------------------
# Layers with parameters
# --------------------------------------------------------------------------------------------


class Conv2D(Layer):
    """Convolution layer ``S = X * F + b`` (cross-correlation, as in the lectures).

    ``X (N, C, H, W) -> S (N, K, H', W')`` with ``F (K, C, fh, fw)`` and ``b (K,)``;
    ``H' = floor((H + 2p - fh)/s) + 1``.  Backward (:func:`cnnbook.fast.conv2d_backward`):
    ``dF = X * G``, ``db = sum of G``, ``dX = G_zero-pad * F^rot180``.
    """

    decay = ("F",)
    spec: ConvSpec

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: IntPair,
        stride: IntPair = 1,
        padding: IntPair = 0,
        *,
        rng: RngLike = None,
        init: str = "he",
        gain: float = 1.0,
        dtype: DTypeLike = np.float32,
    ) -> None:
        C = positive_int(in_channels, "in_channels")
        _check_weight_options(init, gain, dtype, rng)  # before the spec, before any draw
        super().__init__(ConvSpec(out_channels, kernel_size, stride, padding, in_channels=C))
        self.in_channels = C
        shapes = self.spec.parameter_shapes(C)
        K, _, fh, fw = shapes["F"]
        self.params["F"] = init_weights(shapes["F"], C * fh * fw, K * fh * fw, init, rng, dtype, gain)
        self.params["b"] = np.zeros(shapes["b"], dtype=dtype)

    def forward(self, X: np.ndarray, training: bool = True) -> np.ndarray:
        F, b, spec = self.params["F"], self.params["b"], self.spec
        if not training:
            self._save(False)
            return fast.conv2d(X, F, b, spec.stride, spec.padding)
        S, cols = fast.conv2d(X, F, b, spec.stride, spec.padding, return_cols=True)
        self._save(True, X=X, cols=cols)
        return S

    def backward(self, G: np.ndarray) -> np.ndarray | None:
        saved, spec = self._restore(), self.spec
        dX, dF, db = fast.conv2d_backward(
            G,
            saved["X"],
            self.params["F"],
            spec.stride,
            spec.padding,
            cols=saved["cols"],
            input_grad=self.needs_input_grad,
        )
        self.grads = {"F": dF, "b": db}
        return dX

    def _describe(self) -> str:
        s = self.spec
        fh, fw = s.kernel_size
        return (
            f"{self.in_channels} -> {s.out_channels}, {fh}x{fw}, "
            f"stride={_pair_text(s.stride)}, padding={_pair_text(s.padding)}"
        )


class Dense(Layer):
    """Fully connected layer ``s = W x + b`` per example: ``(N, D) -> (N, M)``, ``W (M, D)``.

    ``D = in_features``, ``M = out_features``.  Backward (:func:`cnnbook.functional.linear_backward`):
    ``dX = G W``, ``dW = G^T X``, ``db = sum of G``.
    """

    decay = ("W",)
    spec: FCSpec

    def __init__(
        self,
        in_features: int,
        out_features: int,
        *,
        rng: RngLike = None,
        init: str = "glorot",
        gain: float = 1.0,
        dtype: DTypeLike = np.float32,
    ) -> None:
        D = positive_int(in_features, "in_features")
        _check_weight_options(init, gain, dtype, rng)  # before the spec, before any draw
        super().__init__(FCSpec(out_features, in_features=D))
        self.in_features = D
        shapes = self.spec.parameter_shapes(D)
        M = self.spec.out_features
        self.params["W"] = init_weights(shapes["W"], D, M, init, rng, dtype, gain)
        self.params["b"] = np.zeros(shapes["b"], dtype=dtype)

    def forward(self, X: np.ndarray, training: bool = True) -> np.ndarray:
        D = self.in_features
        if np.ndim(X) != 2 or np.shape(X)[1] != D:
            raise ValueError(f"{self!r} expects (N, {D}) inputs, got shape {np.shape(X)} (Flatten first?)")
        self._save(training, X=X)
        return fn.linear(X, self.params["W"], self.params["b"])

    def backward(self, G: np.ndarray) -> np.ndarray:
        X = self._restore()["X"]
        dX, dW, db = fn.linear_backward(G, X, self.params["W"])
        self.grads = {"W": dW, "b": db}
        return dX

    def output_shape(self, input_shape: Shape) -> Shape:
        """``(out_features,)``; the input must be ``(in_features,)`` (a :class:`Flatten` before it).

        The count of input features is checked by the spec (``spec.in_features``).
        """
        if len(input_shape) != 1:
            raise ValueError(
                f"{self!r} expects ({self.in_features},) inputs, got {tuple(input_shape)} (Flatten first?)"
            )
        return super().output_shape(input_shape)

    def _describe(self) -> str:
        return f"{self.in_features} -> {self.spec.out_features}"


# --------------------------------------------------------------------------------------------
# Layers without parameters
# --------------------------------------------------------------------------------------------


class Flatten(Layer):
    """``(N, C, H, W) -> (N, C H W)``: every example becomes ``vec(X)`` (row-major, planes stacked)."""

    def __init__(self) -> None:
        super().__init__(FlattenSpec())

    def forward(self, X: np.ndarray, training: bool = True) -> np.ndarray:
        X = np.asarray(X)
        self._save(training, X=X)
        return X.reshape(X.shape[0], -1)

    def backward(self, G: np.ndarray) -> np.ndarray:
        X = self._restore()["X"]
        return np.asarray(G).reshape(X.shape)


class MaxPool2D(Layer):
    """Max pooling of each channel plane (:func:`cnnbook.fast.maxpool2d`).

    ``stride`` defaults to ``kernel_size`` (non-overlapping windows).  The backward pass routes
    ``G`` to the winners the forward pass found (``indices``).
    """

    spec: PoolSpec

    def __init__(self, kernel_size: IntPair = 2, stride: IntPair | None = None, padding: IntPair = 0) -> None:
        super().__init__(PoolSpec("max", kernel_size, stride, padding))

    def forward(self, X: np.ndarray, training: bool = True) -> np.ndarray:
        s = self.spec
        if not training:
            self._save(False)
            return fast.maxpool2d(X, s.kernel_size, s.stride, s.padding)
        out, indices = fast.maxpool2d(X, s.kernel_size, s.stride, s.padding, return_indices=True)
        self._save(True, X=X, indices=indices)
        return out

    def backward(self, G: np.ndarray) -> np.ndarray:
        saved, s = self._restore(), self.spec
        return fast.maxpool2d_backward(
            G, saved["X"], s.kernel_size, s.stride, s.padding, indices=saved["indices"]
        )

    def _describe(self) -> str:
        fh, fw = self.spec.kernel_size
        return f"{fh}x{fw}, stride={_pair_text(self.spec.stride)}"


class AvgPool2D(Layer):
    """Average pooling of each channel plane (:func:`cnnbook.fast.avgpool2d`); backward spreads ``G / r^2``.

    ``stride`` defaults to ``kernel_size``; zero padding counts in the average.
    """

    spec: PoolSpec

    def __init__(self, kernel_size: IntPair = 2, stride: IntPair | None = None, padding: IntPair = 0) -> None:
        super().__init__(PoolSpec("avg", kernel_size, stride, padding))

    def forward(self, X: np.ndarray, training: bool = True) -> np.ndarray:
        s = self.spec
        self._save(training, X=X)
        return fast.avgpool2d(X, s.kernel_size, s.stride, s.padding)

    def backward(self, G: np.ndarray) -> np.ndarray:
        X, s = self._restore()["X"], self.spec
        return fast.avgpool2d_backward(G, X, s.kernel_size, s.stride, s.padding)

    def _describe(self) -> str:
        fh, fw = self.spec.kernel_size
        return f"{fh}x{fw}, stride={_pair_text(self.spec.stride)}"


class _Activation(Layer):
    """Elementwise (or grouped) non-linearity ``Y = f(X, **options)``.

    Backward: ``f_backward(G, X, **options)``.  ``spec`` defaults to ``ElementwiseSpec(_kind)``.
    """

    _f: Callable[..., np.ndarray]  # each subclass sets the three
    _f_backward: Callable[..., np.ndarray]
    _kind: str

    def __init__(self, spec: LayerSpec | None = None, **options: Any) -> None:
        super().__init__(ElementwiseSpec(self._kind) if spec is None else spec)
        self.options = options

    def forward(self, X: np.ndarray, training: bool = True) -> np.ndarray:
        self._save(training, X=X)
        return self._f(X, **self.options)

    def backward(self, G: np.ndarray) -> np.ndarray:
        X = self._restore()["X"]
        return self._f_backward(G, X, **self.options)

    def _describe(self) -> str:
        return ", ".join(f"{k}={v}" for k, v in self.options.items())


class ReLU(_Activation):
    """``max(0, X)`` (:func:`cnnbook.fast.relu`); backward ``G * Ind(X > 0)``."""

    _f = staticmethod(fast.relu)
    _f_backward = staticmethod(fn.relu_backward)
    _kind = "relu"

    def __init__(self) -> None:
        super().__init__()


class LeakyReLU(_Activation):
    """``max(alpha x, x)``, ``0 <= alpha <= 1`` (checked at construction)."""

    _f = staticmethod(fn.leaky_relu)
    _f_backward = staticmethod(fn.leaky_relu_backward)
    _kind = "leaky_relu"

    def __init__(self, alpha: float = 0.01) -> None:
        super().__init__(alpha=as_real(alpha, "alpha", 0.0, 1.0))


class ELU(_Activation):
    """``x`` for ``x > 0``, ``alpha (e^x - 1)`` otherwise; ``alpha >= 0``, finite (checked when built)."""

    _f = staticmethod(fn.elu)
    _f_backward = staticmethod(fn.elu_backward)
    _kind = "elu"

    def __init__(self, alpha: float = 1.0) -> None:
        super().__init__(alpha=as_real(alpha, "alpha", 0.0))


class Sigmoid(_Activation):
    """``1 / (1 + e^-x)``."""

    _f = staticmethod(fn.sigmoid)
    _f_backward = staticmethod(fn.sigmoid_backward)
    _kind = "sigmoid"

    def __init__(self) -> None:
        super().__init__()


class Tanh(_Activation):
    """``tanh(x)``."""

    _f = staticmethod(fn.tanh)
    _f_backward = staticmethod(fn.tanh_backward)
    _kind = "tanh"

    def __init__(self) -> None:
        super().__init__()


class Maxout(_Activation):
    """Maxout over groups of ``pieces`` consecutive channels (``axis=1``) or features: ``C -> C / pieces``."""

    _f = staticmethod(fn.maxout)
    _f_backward = staticmethod(fn.maxout_backward)
    spec: MaxoutSpec

    def __init__(self, pieces: int = 2, axis: int = 1) -> None:
        spec = MaxoutSpec(pieces, axis)
        super().__init__(spec, pieces=spec.pieces, axis=spec.axis)


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

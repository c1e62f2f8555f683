"""Networks as stacks of layers: :class:`Sequential` and the lesson's :func:`small_convnet`.

A :class:`Sequential` runs its layers in order (``forward``) and the chain rule backwards
(``backward``): each layer receives ``G = dL/d(its output)`` and hands ``dL/d(its input)`` to the
layer before it -- the lectures' computational graph, one layer per node.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np
from numpy.typing import DTypeLike

from ._checks import as_flag, as_float_dtype, as_int, as_real, as_real_finite_array, as_rng, positive_int
from .layers import Conv2D, Dense, Flatten, Layer, MaxPool2D, ReLU, RngLike, SoftmaxCrossEntropy
from .specs import Shape, Summary, summary

__all__ = ["SMALL_CONVNET_RECIPE", "Sequential", "small_convnet"]

# How lesson 09 and benchmarks/train_speed.py train small_convnet (keyword arguments of cnnbook.train.fit):
# about 98 % test accuracy on the shipped 4,000 / 1,000 digit split.
SMALL_CONVNET_RECIPE: dict[str, Any] = dict(
    epochs=10, batch_size=64, lr=0.1, momentum=0.9, weight_decay=5e-4, schedule="cosine", shift=2
)


class Sequential:
    """Layers applied in order, with a softmax cross-entropy loss on the last layer's scores.

    ``input_shape`` (one example, e.g. ``(1, 28, 28)``) is checked on every :meth:`forward`, so a
    wrongly shaped batch fails with a message naming both shapes instead of deep inside a layer.
    Layers are given names (``conv1``, ``relu1``, ``pool1``, ..., ``fc1``) used in
    :meth:`named_parameters` and :meth:`summary`.  In training (:meth:`loss_and_gradients`) the
    first layer is told that nobody needs the gradient with respect to the network's input
    (its ``needs_input_grad`` is False for that backward pass).
    """

    def __init__(self, layers: Sequence[Layer], *, input_shape: Shape | None = None) -> None:
        self.layers: list[Layer] = list(layers)
        if not self.layers or not all(isinstance(layer, Layer) for layer in self.layers):
            raise TypeError("Sequential needs a non-empty sequence of cnnbook.layers.Layer objects")
        self.input_shape = None if input_shape is None else _check_input_shape(input_shape)
        names = _layer_names(self.layers)
        if self.input_shape is not None:
            _walk_shapes(self.layers, names, self.input_shape)  # validate the whole chain first
        self.loss = SoftmaxCrossEntropy()
        for layer, name in zip(self.layers, names):  # only now touch the caller's layers
            layer.name = name

    # ---- running the network ---------------------------------------------------------------

    def check_input(self, X: np.ndarray) -> np.ndarray:
        """``X`` as an array, after checking it is a batch of ``input_shape`` examples.

        Integer images (e.g. uint8 pixels) are cast to the model's dtype, as :func:`cnnbook.train.fit`
        does, so that the network computes in its own precision; floating input is kept as it is.
        """
        X = np.asarray(X)
        if not (np.issubdtype(X.dtype, np.floating) or np.issubdtype(X.dtype, np.integer)) or X.dtype == bool:
            raise TypeError(f"X must hold real numbers, got dtype {X.dtype}")
        if self.input_shape is not None and X.shape[1:] != self.input_shape:
            raise ValueError(
                f"the model expects a batch of shape (N,) + {self.input_shape} = "
                f"(N, {', '.join(map(str, self.input_shape))}), got X of shape {X.shape}"
            )
        if not np.issubdtype(X.dtype, np.floating):
            X = X.astype(self.dtype)
        return X

    def forward(self, X: np.ndarray, training: bool = True) -> np.ndarray:
        """Scores ``(N, classes)`` for a batch ``X``; ``training=True`` caches for :meth:`backward`."""
        A = self.check_input(X)
        for layer in self.layers:
            A = layer.forward(A, training)
        return A

    def backward(self, G: np.ndarray, input_grad: bool = True) -> np.ndarray | None:
        """Back-propagate ``G = dL/dscores``; fills every layer's ``grads``; returns ``dL/dX``.

        ``input_grad=False`` sets the first layer's ``needs_input_grad`` to False for this pass, so
        it may skip ``dL/dX`` (training never uses it; for a convolution it is a GEMM and a col2im)
        and return ``None``; :meth:`loss_and_gradients` does that.  ``input_grad`` must be a bool.
        """
        input_grad = as_flag(input_grad, "input_grad")
        first, *rest = self.layers
        for layer in reversed(rest):
            dX = layer.backward(G)
            if dX is None:
                raise RuntimeError(f"{layer.name} skipped dL/dX, which the layer before it needs")
            G = dX
        kept, first.needs_input_grad = first.needs_input_grad, input_grad
        try:
            return first.backward(G)
        finally:
            first.needs_input_grad = kept

    def loss_and_gradients(self, X: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
        """One forward and backward pass: ``(mean cross-entropy, scores)``; gradients in the layers."""
        scores = self.forward(X, training=True)
        loss = self.loss.forward(scores, y)
        self.backward(self.loss.backward(), input_grad=False)
        return loss, scores

    def scores(self, X: np.ndarray, batch_size: int = 500) -> np.ndarray:
        """Class scores (logits) ``(N, classes)`` in inference mode, ``batch_size`` images at a time.

        :class:`TypeError`/:class:`ValueError` for a ``batch_size`` that is not an int ``>= 1`` and
        for an empty or wrongly shaped ``X``.
        """
        batch_size = positive_int(batch_size, "batch_size")
        X = self.check_input(X)
        if X.ndim < 2 or len(X) == 0:
            raise ValueError(f"X must be a non-empty batch (N, ...) of examples, got shape {X.shape}")
        return np.concatenate(
            [self.forward(X[i : i + batch_size], training=False) for i in range(0, len(X), batch_size)]
        )

    def predict(self, X: np.ndarray, batch_size: int = 500) -> np.ndarray:
        """Predicted class of every example: ``argmax`` of its scores, int64 ``(N,)``.

        Arguments are checked as :meth:`scores` checks them.
        """
        return self.scores(X, batch_size).argmax(axis=1).astype(np.int64)

    __call__ = scores

    def activations(self, X: np.ndarray) -> list[tuple[str, np.ndarray]]:
        """``[(layer name, its output), ...]`` for a batch ``X`` in inference mode (feature maps)."""
        A = self.check_input(X)
        out = []
        for layer in self.layers:
            A = layer.forward(A, training=False)
            out.append((layer.name, A))
        return out

    # ---- parameters ------------------------------------------------------------------------

    def named_parameters(self) -> Iterator[tuple[str, Layer, str]]:
        """``("conv1.F", layer, "F")`` for every parameter, in layer order."""
        for layer in self.layers:
            for key in layer.params:
                yield f"{layer.name}.{key}", layer, key

    def parameters(self) -> dict[str, np.ndarray]:
        """``{"conv1.F": array, "conv1.b": array, ...}`` (the arrays themselves, not copies)."""
        return {name: layer.params[key] for name, layer, key in self.named_parameters()}

    def gradients(self) -> dict[str, np.ndarray]:
        """The gradients of the last :meth:`backward`, keyed like :meth:`parameters`."""
        return {name: layer.grads[key] for name, layer, key in self.named_parameters()}

    def load_parameters(self, values: dict[str, np.ndarray]) -> None:
        """Copy ``values`` (keyed like :meth:`parameters`, same shapes) into the model.

        Every value is checked before the first is copied, so a refused call changes nothing:
        :class:`TypeError` for a non-dict or a parameter that is not real (bool, complex -- whose
        imaginary part would be dropped --, strings, objects), :class:`ValueError` for other names,
        another shape, or NaN/infinite entries.
        """
        if not isinstance(values, Mapping):
            raise TypeError(
                f"values must be a dict of arrays keyed like parameters(), got {type(values).__name__}"
            )
        own = self.parameters()
        if set(values) != set(own):
            raise ValueError(f"parameter names differ: expected {sorted(own)}, got {sorted(values)}")
        checked = {}
        for name, array in own.items():
            new = as_real_finite_array(values[name], name)
            if new.shape != array.shape:
                raise ValueError(f"{name}: expected shape {array.shape}, got {new.shape}")
            checked[name] = new
        for name, array in own.items():
            array[...] = checked[name]

    @property
    def n_params(self) -> int:
        return sum(layer.n_params for layer in self.layers)

    @property
    def dtype(self) -> np.dtype:
        params = list(self.parameters().values())
        return params[0].dtype if params else np.dtype(np.float32)

    def astype(self, dtype: DTypeLike) -> Sequential:
        """Cast every parameter to ``dtype`` in place (float64 for gradient checks); returns self.

        ``dtype`` must be float32 or float64 (checked before any layer changes).
        """
        dtype = as_float_dtype(dtype)
        for layer in self.layers:
            layer.astype(dtype)
        return self

    # ---- description -----------------------------------------------------------------------

    def shapes(self, input_shape: Shape | None = None) -> list[Shape]:
        """Output shape (one example) of every layer, starting from ``input_shape``.

        A layer that cannot take its input raises :class:`ValueError` prefixed with the layer's
        index and name (``layer 6 (pool2) on input (16, 1, 1): ...``), as :func:`cnnbook.specs.summary` does.
        """
        shape = input_shape if input_shape is not None else self.input_shape
        if shape is None:
            raise ValueError("give input_shape (here or to Sequential) to compute the layer shapes")
        return _walk_shapes(self.layers, [layer.name for layer in self.layers], tuple(shape))

    def summary(self, input_shape: Shape | None = None) -> Summary:
        """Per-layer output shapes, activations, parameters and MACs: :func:`cnnbook.specs.summary`.

        ``print(model.summary())`` shows the table (rows labelled ``"conv1: conv 8 3x3 s1 p1"``).
        """
        return summary(self, input_shape)

    def __repr__(self) -> str:
        inner = ",\n".join(f"  {layer.name}: {layer!r}" for layer in self.layers)
        return f"Sequential(\n{inner}\n)"


def small_convnet(
    seed: RngLike = 0,
    *,
    out_channels: tuple[int, int] = (8, 16),
    kernel_size: int = 3,
    input_shape: Shape = (1, 28, 28),
    classes: int = 10,
    head_gain: float = 0.25,
    dtype: DTypeLike = np.float32,
) -> Sequential:
    """The lesson's network: conv-ReLU-pool-conv-ReLU-pool-FC (the softmax is in the loss).

    With the defaults on ``(1, 28, 28)`` digits (9,098 parameters)::

        conv1  8 filters 3x3x1, padding 1    -> (8, 28, 28)    ReLU
        pool1  2x2 max, stride 2             -> (8, 14, 14)
        conv2  16 filters 3x3x8, padding 1   -> (16, 14, 14)   ReLU
        pool2  2x2 max, stride 2             -> (16, 7, 7)
        fc1    784 -> 10 class scores

    Conv layers use He initialisation (a ReLU follows them), the classifier Glorot scaled by
    ``head_gain`` (0.25: the ten scores start close to each other, so the first loss is close to
    ``ln 10``).  All weights come from one generator ``np.random.default_rng(seed)``.
    ``out_channels`` are the filters of the two conv layers.  ``seed``: an int, a Generator, or None
    (fresh entropy).  Every argument is checked before the first weight is drawn.
    """
    if not isinstance(out_channels, (tuple, list)) or len(out_channels) != 2:
        raise ValueError(f"out_channels must be a pair (conv1, conv2), got {out_channels!r}")
    k1, k2 = positive_int(out_channels[0], "out_channels"), positive_int(out_channels[1], "out_channels")
    kernel_size = positive_int(kernel_size, "kernel_size")
    input_shape = _check_input_shape(input_shape)
    classes = positive_int(classes, "classes")
    head_gain = as_real(head_gain, "head_gain", 0.0, low_open=True)
    dtype = as_float_dtype(dtype)
    rng = np.random.default_rng(as_rng(seed, "seed"))
    p = kernel_size // 2
    features: list[Layer] = [
        Conv2D(input_shape[0], k1, kernel_size, padding=p, rng=rng, init="he", dtype=dtype),
        ReLU(),
        MaxPool2D(2),
        Conv2D(k1, k2, kernel_size, padding=p, rng=rng, init="he", dtype=dtype),
        ReLU(),
        MaxPool2D(2),
        Flatten(),
    ]
    shape = _walk_shapes(features, _layer_names(features), tuple(input_shape))[-1]
    head = Dense(shape[0], classes, rng=rng, init="glorot", gain=head_gain, dtype=dtype)
    return Sequential([*features, head], input_shape=input_shape)


_SHORT = {"Conv2D": "conv", "Dense": "fc", "MaxPool2D": "pool", "AvgPool2D": "pool"}


def _layer_names(layers: Sequence[Layer]) -> list[str]:
    """The names :class:`Sequential` gives ``layers``: a layer's own name, else ``conv1``, ``relu1``, ..."""
    counts: dict[str, int] = {}
    names = []
    for layer in layers:
        kind = _SHORT.get(type(layer).__name__, type(layer).__name__.lower())
        counts[kind] = counts.get(kind, 0) + 1
        names.append(layer.name or (kind if kind == "flatten" else f"{kind}{counts[kind]}"))
    return names


def _walk_shapes(layers: Sequence[Layer], names: Sequence[str], shape: tuple[int, ...]) -> list[Shape]:
    """Every layer's output shape from ``shape``; a refusal is prefixed with the layer's index and name."""
    out = []
    for i, (layer, name) in enumerate(zip(layers, names), start=1):
        try:
            shape = layer.output_shape(shape)
        except ValueError as err:
            raise ValueError(f"layer {i} ({name}) on input {shape}: {err}") from err
        out.append(shape)
    return out


def _check_input_shape(input_shape: object) -> tuple[int, ...]:
    """One example's shape as a tuple of ints ``>= 1`` (floats are refused, not truncated)."""
    if isinstance(input_shape, str | bytes) or not isinstance(input_shape, Sequence | np.ndarray):
        raise TypeError(f"input_shape must be a tuple of ints, got {input_shape!r}")
    sizes = tuple(as_int(size, "input_shape entry") for size in input_shape)
    if not sizes or min(sizes) < 1:
        raise ValueError(f"input_shape must be a non-empty tuple of sizes >= 1, got {tuple(input_shape)}")
    return sizes

"""Networks as stacks of layers: :class:`Sequential` and the lesson's :func:`small_convnet`.

A :class:`Sequential` runs its layers in order (``forward``) and the chain rule backwards
(``backward``): each layer receives ``G = dL/d(its output)`` and hands ``dL/d(its input)`` to the
layer before it -- the lectures' computational graph, one layer per node.  (One exception to
"in order", invisible in the results: in training steps and in inference, a strided max pooling
written right after a ReLU runs before it, because the two commute and the ReLU then has fewer
numbers to touch: trick 24 of :mod:`cnnbook.fast`.  :meth:`Sequential.forward` in training mode
keeps the written order, so that the layers' backward passes can be stepped through by hand.)
"""

from __future__ import annotations

import os
import tempfile
import zipfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import DTypeLike

from . import fast
from ._checks import as_flag, as_float_dtype, as_int, as_real, as_real_finite_array, as_rng, positive_int
from .layers import Conv2D, Dense, Flatten, Layer, MaxPool2D, ReLU, RngLike, SoftmaxCrossEntropy
from .specs import Shape, Summary, summary

__all__ = ["SMALL_CONVNET_RECIPE", "Sequential", "read_parameters", "small_convnet"]

# How lesson 09 and benchmarks/train_speed.py train small_convnet (keyword arguments of cnnbook.train.fit):
# about 98 % test accuracy on the shipped 4,000 / 1,000 digit split.
SMALL_CONVNET_RECIPE: dict[str, Any] = dict(
    epochs=10, batch_size=64, lr=0.1, momentum=0.9, weight_decay=5e-4, schedule="cosine", shift=2
)


class Sequential:
    """Layers applied in order (see the module's docstring for trick 24), with a softmax
    cross-entropy loss on the last layer's scores.

    ``input_shape`` (one example, e.g. ``(1, 28, 28)``) is checked on every :meth:`forward`, so a
    wrongly shaped batch fails with a message naming both shapes instead of deep inside a layer.
    Layers are given names (``conv1``, ``relu1``, ``pool1``, ..., ``fc1``) used in
    :meth:`named_parameters` and :meth:`summary`.  In training (:meth:`loss_and_gradients`) the
    first layer is told that nobody needs the gradient with respect to the network's input
    (its ``needs_input_grad`` is False for that backward pass).

    Transfer learning: :meth:`freeze` / :meth:`unfreeze` set layers' ``trainable`` flag (training
    leaves frozen parameters alone), :meth:`load_parameters` copies parameters from a dict, another
    network (by layer name) or an ``.npz`` file, and :meth:`save_parameters` writes that file.
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
        self._order: list[Layer] = self.layers  # the order the last forward ran the layers in (trick 24)
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
        """Scores ``(N, classes)`` for a batch ``X``; ``training=True`` caches for :meth:`backward`.

        With ``training=True`` the layers run in the written order, so that their own ``backward``
        methods can also be called one by one, last layer first.  In inference (``training=False``)
        they run in :func:`cnnbook.fast.running_order`: a strided max pooling right after a ReLU runs
        before it (the same numbers, fewer of them for the ReLU: trick 24), as in :meth:`loss_and_gradients`.
        """
        order = self.layers if training else fast.running_order(self.layers)
        return self._forward(X, training, order)

    def _forward(self, X: np.ndarray, training: bool, order: list[Layer]) -> np.ndarray:
        """:meth:`forward` with the layers run in ``order``, which :meth:`backward` then follows."""
        A = self.check_input(X)
        self._order = order
        for layer in order:
            A = layer.forward(A, training)
        return A

    def backward(self, G: np.ndarray, input_grad: bool = True) -> np.ndarray | None:
        """Back-propagate ``G = dL/dscores``; fills every layer's ``grads``; returns ``dL/dX``.

        ``input_grad=False`` (what :meth:`loss_and_gradients` uses) says nobody needs ``dL/dX``:
        the pass then stops at the first layer with trainable parameters -- the layers before it,
        frozen or without parameters, need no backward pass at all (their ``grads`` are emptied so
        that no stale gradient remains) -- and that layer's ``needs_input_grad`` is False for this
        pass, so it may skip ``dL/dX`` (for a convolution a GEMM and a col2im) and return ``None``.
        ``input_grad`` must be a bool.
        """
        input_grad = as_flag(input_grad, "input_grad")
        # The order the last forward ran: in loss_and_gradients, a max pooling may run before the ReLU
        # written before it (trick 24 of cnnbook/fast.py).  Layers with parameters keep their places.
        order = self._order
        start = 0 if input_grad else self._first_trained()
        for layer in order[:start]:
            layer.grads = {}
        if start == len(order):
            return None
        first, *rest = order[start:]
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
        """One forward and backward pass: ``(mean cross-entropy, scores)``; gradients in the layers.

        Both passes run the layers in :func:`cnnbook.fast.running_order` (trick 24: a strided max
        pooling written right after a ReLU runs before it, with the same results); to step through the
        layers' ``backward`` methods yourself, run :meth:`forward` (written order) instead.
        """
        scores = self._forward(X, True, fast.running_order(self.layers))
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
        """The gradients of the last :meth:`backward`, keyed like :meth:`parameters`.

        A training pass (``input_grad=False``) does not reach frozen layers before the first
        trainable one; their parameters have no gradient and are left out.
        """
        return {name: layer.grads[key] for name, layer, key in self.named_parameters() if key in layer.grads}

    def trainable_parameters(self) -> dict[str, np.ndarray]:
        """The parameters training updates: those of layers whose ``trainable`` flag is True."""
        return {name: layer.params[key] for name, layer, key in self.named_parameters() if layer.trainable}

    @property
    def n_trainable(self) -> int:
        """Number of parameters training updates (``n_params`` minus the frozen ones)."""
        return sum(layer.n_params for layer in self.layers if layer.trainable)

    def freeze(self, *names: str) -> Sequential:
        """Set ``trainable = False`` on the layers ``names`` (all layers if none is given); returns self.

        ``model.freeze("conv1", "conv2")`` keeps the features of a pre-trained network fixed while
        training the rest.  Every name is checked before any flag changes: :class:`TypeError` for a
        non-string, :class:`ValueError` for a name that is not one of the model's layers.
        """
        for layer in self._layers_named(names, "freeze"):
            layer.trainable = False
        return self

    def unfreeze(self, *names: str) -> Sequential:
        """Set ``trainable = True`` on the layers ``names`` (all layers if none is given); returns self.

        Names are checked as :meth:`freeze` checks them.
        """
        for layer in self._layers_named(names, "unfreeze"):
            layer.trainable = True
        return self

    def _layers_named(self, names: Iterable[object], what: str) -> list[Layer]:
        """The layers called ``names`` (all if empty), every name checked first."""
        by_name = {layer.name: layer for layer in self.layers}
        for name in names:
            if not isinstance(name, str):
                raise TypeError(f"{what} takes layer names (str), got {name!r} of type {type(name).__name__}")
            if name not in by_name:
                raise ValueError(f"{what}: no layer named {name!r}; the layers are {list(by_name)}")
        return [by_name[name] for name in names] if names else list(self.layers)  # type: ignore[index]

    def _first_trained(self) -> int:
        """Index of the first layer with trainable parameters (``len(layers)`` if there is none)."""
        return next(
            (i for i, layer in enumerate(self.layers) if layer.params and layer.trainable), len(self.layers)
        )

    def load_parameters(
        self,
        values: Mapping[str, Any] | Sequential | str | os.PathLike[str],
        *,
        layers: Iterable[str] | None = None,
    ) -> list[str]:
        """Copy parameters into the model; return the names copied (``["conv1.F", ...]``).

        ``values`` is one of

        * a dict keyed like :meth:`parameters` (``"conv1.F"``, ...) with arrays of the same shapes;
        * another :class:`Sequential`: its :meth:`parameters`, matched by layer name -- how a
          pre-trained network's weights initialise a new one (transfer learning);
        * the path of an ``.npz`` file written by :meth:`save_parameters` (read with
          ``allow_pickle=False``; the values are cast to the model's dtype, so a file saved from a
          model of the same dtype loads bit for bit).

        ``layers`` (names of this model's layers, e.g. ``["conv1", "conv2"]``): copy only their
        parameters; ``values`` must hold each of them and may hold others, which are ignored.
        Without ``layers`` ``values`` must hold exactly the model's parameter names.

        Everything is checked before the first value is copied, so a refused call changes nothing:
        :class:`TypeError` for another kind of ``values``, a ``layers`` that is a single string or
        holds non-strings, or a parameter that is not real (bool, complex -- whose imaginary part
        would be dropped --, strings, objects); :class:`ValueError` for other or missing names,
        another shape (naming the parameter and both shapes), NaN/infinite entries, or a file
        that is not a readable ``.npz`` archive (naming the file).
        """
        if isinstance(values, Sequential):
            values = values.parameters()
        elif isinstance(values, str | os.PathLike):
            values = read_parameters(values)
        elif not isinstance(values, Mapping):
            raise TypeError(
                "values must be a dict of arrays keyed like parameters(), a Sequential or the path "
                f"of an .npz file, got {type(values).__name__}"
            )
        own = self.parameters()
        if layers is None:
            if set(values) != set(own):
                raise ValueError(f"parameter names differ: expected {sorted(own)}, got {sorted(values)}")
        else:
            if isinstance(layers, str) or not isinstance(layers, Iterable):
                raise TypeError(f"layers must be a list of layer names, got {layers!r}")
            chosen = {layer.name for layer in self._layers_named(list(layers), "layers")}
            own = {name: own[name] for name, layer, _ in self.named_parameters() if layer.name in chosen}
            missing = sorted(set(own) - set(values))
            if missing:
                raise ValueError(f"values lack {missing} (they hold {sorted(values)})")
        checked = {}
        for name, array in own.items():
            new = as_real_finite_array(values[name], name)
            if new.shape != array.shape:
                raise ValueError(f"{name}: expected shape {array.shape}, got {new.shape}")
            checked[name] = new
        for name, array in own.items():
            array[...] = checked[name]
        return list(own)

    def save_parameters(self, path: str | os.PathLike[str]) -> Path:
        """Write :meth:`parameters` to the ``.npz`` file ``path`` (one array per name); return its path.

        Only the parameters are saved (names, shapes, dtypes, values), not the layers: load them
        into a network built the same way with :meth:`load_parameters`, or read them with
        :func:`read_parameters`.  ``path`` must end in ``.npz`` (:class:`ValueError` otherwise; NumPy
        would silently append it).  The file is written aside and renamed into place, so an
        existing file is replaced whole or not at all.
        """
        target = _npz_path(path)
        params = self.parameters()
        handle, temporary = tempfile.mkstemp(suffix=".npz", dir=target.parent)
        try:
            with os.fdopen(handle, "wb") as stream:
                np.savez(stream, **params)  # type: ignore[arg-type]
            os.replace(temporary, target)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        return target

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
        inner = ",\n".join(
            f"  {layer.name}: {layer!r}{'' if layer.trainable or not layer.params else ' (frozen)'}"
            for layer in self.layers
        )
        return f"Sequential(\n{inner}\n)"


def read_parameters(path: str | os.PathLike[str]) -> dict[str, np.ndarray]:
    """The arrays of an ``.npz`` file written by :meth:`Sequential.save_parameters`, keyed by name.

    Read with ``allow_pickle=False`` (a file cannot run code).  :class:`TypeError` for a ``path``
    that is not a string or path, :class:`ValueError` naming the file when it does not end in
    ``.npz`` or is not a readable ``.npz`` archive, :class:`FileNotFoundError` when it is missing.
    """
    source = _npz_path(path)
    try:
        archive = np.load(source, allow_pickle=False)
        if not isinstance(archive, np.lib.npyio.NpzFile):
            raise ValueError("it holds a single array, not named parameters")
        with archive:
            return {name: archive[name] for name in archive.files}
    except FileNotFoundError:
        raise
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as err:
        raise ValueError(f"{source} is not a readable .npz file of parameters: {err}") from None


def _npz_path(path: object) -> Path:
    """``path`` as a :class:`~pathlib.Path` ending in ``.npz``."""
    if not isinstance(path, str | os.PathLike):
        raise TypeError(f"path must be a str or os.PathLike ending in .npz, got {path!r}")
    out = Path(path)
    if out.suffix != ".npz":
        raise ValueError(f"path must end in .npz, got {str(out)!r}")
    return out


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

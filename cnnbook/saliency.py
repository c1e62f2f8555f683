"""What a trained network looks at: input gradients, occlusion and the patches that excite a filter.

Three ways to read a trained :class:`cnnbook.models.Sequential`:

* **saliency** (:func:`input_gradient`, :func:`saliency_map`): the gradient of an example's loss with
  respect to its pixels, ``dl/dX`` -- lesson 06's input gradient, carried through the whole network
  by its backward pass.  ``|dl/dX|`` is large where a small change of a pixel changes the loss most.
* **the gradient of one unit** (:func:`unit_gradient`): ``dA/dX`` for one entry ``A[c, i, j]`` of a
  layer's output.  It is zero outside the unit's receptive field
  (:func:`cnnbook.receptive_field.receptive_field`); where it is large inside is the *effective*
  receptive field.
* **occlusion** (:func:`occlusion_map`): cover a square of the image with a constant and record how
  much the probability of the true class drops -- no gradients, only forward passes.
* **top-activating patches** (:func:`top_activating_patches`): for every channel of a layer, the
  input windows (receptive fields) of the units that respond most strongly over a set of images.

Images are ``(N, C, H, W)``; labels ``y`` are ints ``(N,)``; layers are named as the model names
them (``"conv1"``, ``"relu2"``, ...).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import functional as fn
from ._checks import as_int, as_labels, as_real, positive_int
from .layers import Layer
from .models import Sequential
from .receptive_field import receptive_field
from .shapes import conv_output_size

__all__ = [
    "TopPatches",
    "input_gradient",
    "layer_index",
    "occlusion_map",
    "saliency_map",
    "top_activating_patches",
    "unit_gradient",
]


def _model(model: object) -> Sequential:
    if not isinstance(model, Sequential):
        raise TypeError(f"model must be a cnnbook.models.Sequential, got {type(model).__name__}")
    return model


def _batch(model: Sequential, X: object) -> np.ndarray:
    X = model.check_input(np.asarray(X))
    if X.ndim != 4 or len(X) == 0:
        raise ValueError(f"X must be a non-empty batch (N, C, H, W) of images, got shape {X.shape}")
    return X


def _labels(model: Sequential, X: np.ndarray, y: object) -> np.ndarray:
    """``y`` checked against the model's classes (its output size for ``X``'s shape), one per image."""
    classes = model.shapes(X.shape[1:])[-1][0]
    labels = as_labels(y, classes)
    if len(labels) != len(X):
        raise ValueError(f"y must have one label per image: {len(X)} images, {len(labels)} labels")
    return labels


def layer_index(model: Sequential, layer: str) -> int:
    """Position in ``model.layers`` of the layer named ``layer`` (``"conv1"``, ``"relu2"``, ...)."""
    model = _model(model)
    if not isinstance(layer, str):
        raise TypeError(f"layer must be a layer name (str), got {layer!r}")
    names = [lay.name for lay in model.layers]
    if layer not in names:
        raise ValueError(f"layer {layer!r} is not in the model; its layers are {names}")
    return names.index(layer)


def input_gradient(model: Sequential, X: np.ndarray, y: np.ndarray) -> np.ndarray:
    """``dl_n/dX_n`` for every example: the gradient of its own cross-entropy loss, ``(N, C, H, W)``.

    One forward and one backward pass of the whole batch; the mean loss's gradient is multiplied by
    ``N`` so that each example's map does not depend on the batch it came in.
    """
    model = _model(model)
    X = _batch(model, X)
    y = _labels(model, X, y)
    scores = model.forward(X, training=True)
    _, dscores = fn.softmax_cross_entropy(scores, y)
    dX = model.backward(dscores * len(X), input_grad=True)
    assert dX is not None
    return dX


def saliency_map(model: Sequential, X: np.ndarray, y: np.ndarray) -> np.ndarray:
    """``max_c |dl/dX_c|`` per pixel, ``(N, H, W)`` (for one channel simply ``|dl/dX|``)."""
    return np.abs(input_gradient(model, X, y)).max(axis=1)


def unit_gradient(model: Sequential, X: np.ndarray, layer: str, channel: int, i: int, j: int) -> np.ndarray:
    """``dA[n, channel, i, j] / dX_n`` for the output ``A`` of ``layer``: ``(N, C, H, W)``.

    The layers up to ``layer`` run forward in training mode; the backward pass starts from a
    one-hot upstream gradient ``G`` (1 at ``(channel, i, j)`` of every example, 0 elsewhere).
    """
    model = _model(model)
    X = _batch(model, X)
    k = layer_index(model, layer)
    A = X
    for lay in model.layers[: k + 1]:
        A = lay.forward(A, training=True)
    if A.ndim != 4:
        raise ValueError(f"layer {layer!r} outputs {A.shape[1:]}, not (C, H, W) maps")
    idx = (as_int(channel, "channel"), as_int(i, "i"), as_int(j, "j"))
    for value, size, name in zip(idx, A.shape[1:], ("channel", "i", "j")):
        if not 0 <= value < size:
            raise ValueError(f"{name} must be in [0, {size}) for layer {layer!r}, got {value}")
    G = np.zeros_like(A)
    G[:, idx[0], idx[1], idx[2]] = 1
    for lay in reversed(model.layers[: k + 1]):
        G = _backward(lay, G)
    return G


def _backward(layer: Layer, G: np.ndarray) -> np.ndarray:
    dX = layer.backward(G)
    if dX is None:  # pragma: no cover - layers skip dL/dX only when told to
        raise RuntimeError(f"{layer.name} skipped dL/dX")
    return dX


def occlusion_map(
    model: Sequential,
    X: np.ndarray,
    y: np.ndarray,
    size: int,
    stride: int = 1,
    fill: float = 0.0,
    batch_size: int = 500,
) -> np.ndarray:
    """Drop of the true class's probability when a ``size x size`` square is set to ``fill``.

    ``out[n, u, v] = p(y_n | X_n) - p(y_n | X_n with rows u s .. u s + size - 1 and the same
    columns from v s set to fill)``, ``(N, H', W')`` with ``H' = floor((H - size)/s) + 1`` (the
    output-size rule without padding).  Large positive values mark regions the prediction relies on.
    """
    model = _model(model)
    X = _batch(model, X)
    N, _, H, W = X.shape
    size, stride = positive_int(size, "size"), positive_int(stride, "stride")
    fill = as_real(fill, "fill")
    y = _labels(model, X, y)
    Ho, Wo = conv_output_size(H, size, stride), conv_output_size(W, size, stride)
    out = np.empty((N, Ho, Wo))
    base = fn.softmax(model.scores(X, batch_size), axis=1)[np.arange(N), y]
    for n in range(N):
        copies = np.repeat(X[n : n + 1], Ho * Wo, axis=0)
        for u in range(Ho):
            for v in range(Wo):
                copies[u * Wo + v, :, u * stride : u * stride + size, v * stride : v * stride + size] = fill
        p = fn.softmax(model.scores(copies, batch_size), axis=1)[:, y[n]]
        out[n] = (base[n] - p).reshape(Ho, Wo)
    return out


@dataclass(frozen=True)
class TopPatches:
    """The ``k`` strongest responses of every channel of a layer and the input windows behind them.

    ``values (K, k)`` in decreasing order, ``positions (K, k, 3)`` as ``(n, i, j)`` (image, row,
    column of the unit), ``patches (K, k, C, r_h, r_w)``: the receptive field of each unit cut from
    the image (zero where it reaches into the padding); ``window``: ``(r_h, r_w)``.
    """

    layer: str
    values: np.ndarray
    positions: np.ndarray
    patches: np.ndarray
    window: tuple[int, int]


def top_activating_patches(model: Sequential, X: np.ndarray, layer: str, k: int = 9) -> TopPatches:
    """For every channel of ``layer``'s output, the ``k`` units (over all images and positions) with
    the largest activation, and their receptive fields in ``X`` (:func:`cnnbook.receptive_field`).

    Ties are broken by the order of ``(n, i, j)`` (the first in row-major order wins).
    """
    model = _model(model)
    X = _batch(model, X)
    k_index = layer_index(model, layer)
    k = positive_int(k, "k")
    A = X
    for lay in model.layers[: k_index + 1]:
        A = lay.forward(A, training=False)
    if A.ndim != 4:
        raise ValueError(f"layer {layer!r} outputs {A.shape[1:]}, not (C, H, W) maps")
    N, K, Ho, Wo = A.shape
    if k > N * Ho * Wo:
        raise ValueError(f"k must be at most the {N * Ho * Wo} units of one channel, got {k}")
    row = receptive_field(model).rows[k_index + 1]
    assert row.size is not None
    rh, rw = row.size
    # Pad the images so that every window, also one reaching into the padding, can be cut out.
    lo = (max(0, -row.start[0]), max(0, -row.start[1]))
    hi = (
        max(0, row.start[0] + (Ho - 1) * row.jump[0] + rh - X.shape[2]),
        max(0, row.start[1] + (Wo - 1) * row.jump[1] + rw - X.shape[3]),
    )
    Xp = np.pad(X, ((0, 0), (0, 0), (lo[0], hi[0]), (lo[1], hi[1])))
    flat = A.transpose(1, 0, 2, 3).reshape(K, -1)  # per channel: units in (n, i, j) row-major order
    order = np.argsort(-flat, axis=1, kind="stable")[:, :k]
    values = np.take_along_axis(flat, order, axis=1)
    n_idx, i_idx, j_idx = np.unravel_index(order, (N, Ho, Wo))
    positions = np.stack([n_idx, i_idx, j_idx], axis=-1)
    patches = np.empty((K, k, X.shape[1], rh, rw), dtype=X.dtype)
    for c in range(K):
        for t in range(k):
            rows, cols = row.window(int(i_idx[c, t]), int(j_idx[c, t]))
            patches[c, t] = Xp[
                n_idx[c, t], :, rows.start + lo[0] : rows.stop + lo[0], cols.start + lo[1] : cols.stop + lo[1]
            ]
    return TopPatches(layer, values, positions, patches, (rh, rw))

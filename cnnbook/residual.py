"""Residual connections: ``y = x + F(x)``, the block that lets very deep networks train.

A :class:`Residual` layer wraps a list of the book's layers (the *branch* ``F``) and adds its input
to their output.  Its Jacobian is the identity plus the branch's::

    y = x + F(x)          dy/dx = I + dF/dx          dL/dx = G + G (dF/dx)

so the backward pass hands the upstream gradient ``G = dL/dy`` to the layer below twice: unchanged
along the shortcut, and through the branch's own backward pass.  However small ``dF/dx`` becomes,
the identity path carries ``G`` down undamped -- the reason a deep stack of residual blocks keeps
its gradients where a plain stack of the same layers lets them shrink or grow geometrically.

The block is a :class:`cnnbook.layers.Layer`: it works inside :class:`cnnbook.models.Sequential`
(named ``residual1``, ``residual2``, ...), is trained by :func:`cnnbook.train.fit`, counted by
:func:`cnnbook.specs.summary` (its spec is a :class:`cnnbook.specs.ResidualSpec` of the branch's
specs) and measured by :func:`cnnbook.receptive_field.receptive_field`.  Its parameters are the
branch's arrays themselves (shared, not copied), keyed ``"<position in the branch>.<key>"``,
e.g. ``"1.F"`` for the filters of the branch's second layer, so a model names them ``"residual1.1.F"``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import DTypeLike

from ._checks import as_float_dtype
from .layers import Layer
from .specs import ResidualSpec

__all__ = ["Residual"]


class Residual(Layer):
    """``Y = X + F(X)`` where ``F`` applies ``layers`` in order (an identity shortcut).

    ``X (N, C, H, W) -> Y`` of the same shape: the branch must keep the shape (a ``3x3`` conv with
    padding 1 and as many filters as input channels does; checked on every :meth:`forward`, and by
    :class:`cnnbook.models.Sequential` from its ``input_shape`` when the model is built).

    Backward: ``dL/dX = G + F.backward(G)`` -- the chain rule through ``I + dF/dX``; the branch's
    layers fill their own ``grads``, which this layer gathers under its parameter names.
    ``needs_input_grad`` is passed on to the first layer of the branch (when it is False the block
    returns ``None``: nobody needs ``dL/dX``).
    """

    spec: ResidualSpec

    def __init__(self, layers: Sequence[Layer]) -> None:
        if isinstance(layers, Layer) or not isinstance(layers, Sequence):
            raise TypeError(
                f"layers must be a list of cnnbook.layers.Layer objects (the branch F), got {layers!r}"
            )
        branch = list(layers)
        if not branch or not all(isinstance(layer, Layer) for layer in branch):
            raise TypeError("layers must be a non-empty list of cnnbook.layers.Layer objects (the branch F)")
        if len({id(layer) for layer in branch}) != len(branch):
            raise ValueError("layers: the same layer object appears twice in the branch")
        super().__init__(ResidualSpec([layer.spec for layer in branch]))
        self.layers = branch
        self.inner_names = [str(k) for k in range(len(branch))]  # parameter keys "0.F", "2.b", ...
        self._collect()

    def _collect(self) -> None:
        """``params``/``decay`` from the branch: the inner arrays themselves, keyed ``"1.F"``."""
        self.params = {
            f"{name}.{key}": value
            for layer, name in zip(self.layers, self.inner_names)
            for key, value in layer.params.items()
        }
        self.decay = tuple(
            f"{name}.{key}" for layer, name in zip(self.layers, self.inner_names) for key in layer.decay
        )

    def forward(self, X: np.ndarray, training: bool = True) -> np.ndarray:
        X = np.asarray(X)
        A = X
        for layer in self.layers:
            A = layer.forward(A, training)
        if A.shape != X.shape:
            raise ValueError(
                f"residual branch output {A.shape} cannot be added to its input {X.shape}: "
                "the branch must keep the shape"
            )
        self._save(training, shape=X.shape)
        return X + A

    def backward(self, G: np.ndarray) -> np.ndarray | None:
        shape = self._restore()["shape"]
        G = np.asarray(G)
        if G.shape != shape:
            raise ValueError(f"G must have the shape of the block's output {shape}, got {G.shape}")
        dA = G
        first, *rest = self.layers
        for layer in reversed(rest):
            dB = layer.backward(dA)
            if dB is None:  # pragma: no cover - only a first layer may skip dL/dX
                raise RuntimeError(f"{layer!r} skipped dL/dX, which the layer before it needs")
            dA = dB
        kept, first.needs_input_grad = first.needs_input_grad, self.needs_input_grad
        try:
            dX = first.backward(dA)
        finally:
            first.needs_input_grad = kept
        self.grads = {
            f"{name}.{key}": value
            for layer, name in zip(self.layers, self.inner_names)
            for key, value in layer.grads.items()
        }
        if dX is None:
            return None
        return G + dX  # the shortcut's I plus the branch's dF/dX

    def astype(self, dtype: DTypeLike) -> Residual:
        """Cast the branch's parameters (in place) to float32 or float64; returns the block."""
        dtype = as_float_dtype(dtype)
        for layer in self.layers:
            layer.astype(dtype)
        self._collect()
        self.grads = {}
        return self

    def _describe(self) -> str:
        return "x + [" + ", ".join(repr(layer) for layer in self.layers) + "]"

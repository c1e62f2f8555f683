"""The same network in PyTorch: for the equivalence tests and the training benchmark only.

PyTorch is *not* a dependency of cnnbook; this module imports it when called.  The mapping is
one-to-one because the book's conventions are PyTorch's: ``Conv2d`` weights are ``(K, C, fh, fw)``
and cross-correlate, ``Linear`` weights are ``(out, in)``, ``Flatten`` is row-major over
``(C, H, W)``, and ``CrossEntropyLoss`` averages over the batch.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .layers import ELU, AvgPool2D, Conv2D, Dense, Flatten, LeakyReLU, MaxPool2D, ReLU, Sigmoid, Tanh
from .models import Sequential

__all__ = ["to_torch", "torch_parameter_names"]


def _module(layer: Any, nn: Any) -> Any:
    if isinstance(layer, Conv2D):
        K, C, fh, fw = layer.params["F"].shape
        return nn.Conv2d(C, K, (fh, fw), stride=layer.stride, padding=layer.padding)
    if isinstance(layer, Dense):
        M, D = layer.params["W"].shape
        return nn.Linear(D, M)
    if isinstance(layer, MaxPool2D):
        return nn.MaxPool2d(layer.size, layer.stride, layer.padding)
    if isinstance(layer, AvgPool2D):
        return nn.AvgPool2d(layer.size, layer.stride, layer.padding, count_include_pad=True)
    if isinstance(layer, Flatten):
        return nn.Flatten()
    if isinstance(layer, LeakyReLU):
        return nn.LeakyReLU(layer.options["alpha"])
    if isinstance(layer, ELU):
        return nn.ELU(layer.options["alpha"])
    simple = {ReLU: nn.ReLU, Sigmoid: nn.Sigmoid, Tanh: nn.Tanh}
    if type(layer) in simple:
        return simple[type(layer)]()
    raise TypeError(f"no PyTorch counterpart for {layer!r}")


def torch_parameter_names(model: Sequential) -> dict:
    """``{"conv1.F": "0.weight", "conv1.b": "0.bias", ...}``: our names to the torch model's."""
    out = {}
    for i, layer in enumerate(model.layers):
        for key in layer.params:
            out[f"{layer.name}.{key}"] = f"{i}.{'bias' if key == 'b' else 'weight'}"
    return out


def to_torch(model: Sequential, dtype: Any = None) -> Any:
    """A ``torch.nn.Sequential`` computing the same function with a copy of ``model``'s parameters.

    ``dtype``: a torch dtype (default: the model's, e.g. ``torch.float32``).
    """
    import torch
    from torch import nn

    net = nn.Sequential(*[_module(layer, nn) for layer in model.layers])
    if dtype is None:
        dtype = getattr(torch, np.dtype(model.dtype).name)
    net = net.to(dtype)
    ours = model.parameters()
    state = {theirs: torch.from_numpy(np.array(ours[name])).to(dtype)
             for name, theirs in torch_parameter_names(model).items()}
    net.load_state_dict(state)
    return net

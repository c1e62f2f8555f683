"""The same network in PyTorch: for the equivalence tests and the training benchmark only.

PyTorch is *not* a dependency of cnnbook; this module imports it when called.  The mapping is
one-to-one because the book's conventions are PyTorch's: ``Conv2d`` weights are ``(K, C, fh, fw)``
and cross-correlate, ``Linear`` weights are ``(out, in)``, ``Flatten`` is row-major over
``(C, H, W)``, and ``CrossEntropyLoss`` averages over the batch.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .layers import ELU, AvgPool2D, Conv2D, Dense, Flatten, Layer, LeakyReLU, MaxPool2D, ReLU, Sigmoid, Tanh
from .models import Sequential
from .train import Schedule, batches, check_sgd_options, learning_rates

__all__ = ["TorchTrainer", "to_torch", "torch_parameter_names"]


def _module(layer: Layer, nn: Any) -> Any:
    if isinstance(layer, Conv2D):
        s = layer.spec
        return nn.Conv2d(layer.in_channels, s.out_channels, s.kernel_size, stride=s.stride, padding=s.padding)
    if isinstance(layer, Dense):
        return nn.Linear(layer.in_features, layer.spec.out_features)
    if isinstance(layer, MaxPool2D):
        return nn.MaxPool2d(layer.spec.kernel_size, layer.spec.stride, layer.spec.padding)
    if isinstance(layer, AvgPool2D):
        p = layer.spec
        return nn.AvgPool2d(p.kernel_size, p.stride, p.padding, count_include_pad=True)
    if isinstance(layer, Flatten):
        return nn.Flatten()
    if isinstance(layer, LeakyReLU):
        return nn.LeakyReLU(layer.options["alpha"])
    if isinstance(layer, ELU):
        return nn.ELU(layer.options["alpha"])
    simple: dict[type[Layer], Any] = {ReLU: nn.ReLU, Sigmoid: nn.Sigmoid, Tanh: nn.Tanh}
    if type(layer) in simple:
        return simple[type(layer)]()
    raise TypeError(f"no PyTorch counterpart for {layer!r}")


def torch_parameter_names(model: Sequential) -> dict[str, str]:
    """``{"conv1.F": "0.weight", "conv1.b": "0.bias", ...}``: our names to the torch model's."""
    out = {}
    for i, layer in enumerate(model.layers):
        for key in layer.params:
            out[f"{layer.name}.{key}"] = f"{i}.{'bias' if key == 'b' else 'weight'}"
    return out


def to_torch(model: Sequential, dtype: Any = None) -> Any:
    """A ``torch.nn.Sequential`` computing the same function with a copy of ``model``'s parameters.

    ``dtype``: a torch dtype (default: the model's, e.g. ``torch.float32``).  The parameters of a
    frozen layer (``layer.trainable`` False) get ``requires_grad = False``, PyTorch's way of freezing.
    """
    import torch
    from torch import nn

    net = nn.Sequential(*[_module(layer, nn) for layer in model.layers])
    if dtype is None:
        dtype = getattr(torch, np.dtype(model.dtype).name)
    net = net.to(dtype)
    ours = model.parameters()
    state = {
        theirs: torch.from_numpy(np.array(ours[name])).to(dtype)
        for name, theirs in torch_parameter_names(model).items()
    }
    net.load_state_dict(state)
    for i, layer in enumerate(model.layers):
        for parameter in net[i].parameters():
            parameter.requires_grad_(layer.trainable)
    return net


class TorchTrainer:
    """Train a torch copy of ``model`` on exactly the batches :func:`cnnbook.train.fit` would use.

    The training arguments of :func:`cnnbook.train.fit` -- ``model, X, y, epochs, batch_size, lr,
    momentum, weight_decay, seed, schedule, shift`` -- with the same meanings, defaults and checks
    of the hyper-parameters; ``fit``'s ``validation``, ``progress`` and ``callback`` have no
    counterpart here (call :meth:`epoch` ``epochs`` times and :meth:`predict` as you like).  The
    copy is made at construction.  The batches come from the same generator as ``fit``'s
    (:func:`cnnbook.train.batches` drawing from ``np.random.default_rng(seed)``), the per-step
    learning rates from the same function (:func:`cnnbook.train.learning_rates`), and
    ``torch.optim.SGD`` applies the same momentum rule with weight decay on the weights only.
    Frozen layers stay frozen: the optimizer gets only the parameters that require a gradient
    (:func:`to_torch`), and a model with none is refused as :func:`cnnbook.train.fit` refuses it.
    """

    def __init__(
        self,
        model: Sequential,
        X: np.ndarray,
        y: np.ndarray,
        *,
        epochs: int,
        batch_size: int = 64,
        lr: float,
        momentum: float = 0.9,
        weight_decay: float = 0.0,
        seed: int | np.random.Generator | None = 0,
        schedule: Schedule = "constant",
        shift: int = 0,
    ) -> None:
        epochs, batch_size, momentum, weight_decay, shift, source = check_sgd_options(
            epochs, batch_size, momentum, weight_decay, shift, seed, model=model
        )
        n_batches = math.ceil(len(X) / batch_size)
        rates = learning_rates(lr, schedule, epochs * n_batches)  # checks lr and the schedule

        import torch

        self.torch = torch
        self.net = to_torch(model)
        trained = [(n, p) for n, p in self.net.named_parameters() if p.requires_grad]
        weights = [p for n, p in trained if n.endswith("weight")]
        biases = [p for n, p in trained if n.endswith("bias")]
        self.optimizer = torch.optim.SGD(
            [{"params": weights, "weight_decay": weight_decay}, {"params": biases, "weight_decay": 0.0}],
            lr=lr,
            momentum=momentum,
        )
        self.X, self.y = np.asarray(X, dtype=model.dtype), np.asarray(y)
        self.batch_size, self.lr, self.shift = batch_size, lr, shift
        self.rates = rates
        self.rng = np.random.default_rng(source)
        self.n_batches = n_batches
        self.total = epochs * n_batches
        self.step = 0

    def epoch(self) -> float:
        """One pass over the data; returns the mean training loss."""
        torch = self.torch
        loss_sum = 0.0
        for Xb, yb in batches(self.X, self.y, self.batch_size, self.rng, self.shift):
            for group in self.optimizer.param_groups:
                group["lr"] = self.rates[self.step]
            self.optimizer.zero_grad()
            loss = torch.nn.functional.cross_entropy(
                self.net(torch.from_numpy(np.ascontiguousarray(Xb))), torch.from_numpy(yb)
            )
            loss.backward()
            self.optimizer.step()
            self.step += 1
            loss_sum += loss.item() * len(yb)
        return loss_sum / len(self.X)

    def predict(self, X: np.ndarray, batch_size: int = 500) -> np.ndarray:
        torch = self.torch
        with torch.no_grad():
            return np.concatenate(
                [
                    self.net(torch.from_numpy(np.ascontiguousarray(X[i : i + batch_size]))).argmax(1).numpy()
                    for i in range(0, len(X), batch_size)
                ]
            )

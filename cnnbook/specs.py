"""Layer descriptions: output shapes, activations, parameters and multiply-adds, without any weights.

A *spec* describes what a layer does to the shape of one example, e.g. ::

    net = [ConvSpec(96, 11, stride=4), PoolSpec("max", 3, stride=2), FCSpec(4096), FCSpec(1000)]
    print(summary(net, (3, 227, 227)))

Every spec checks its arguments when it is made (``ConvSpec(-3, 0)`` raises a :class:`ValueError`
naming ``out_channels``), normalises ``int``-or-pair arguments to ``(h, w)`` tuples, and has the one
piece of arithmetic of its kind: :meth:`LayerSpec.counts` (output shape, activations, weights,
biases, multiply-adds of one example) and :meth:`LayerSpec.output_shape`.  The trainable layers of
:mod:`cnnbook.layers` carry a spec (``layer.spec``) and take their output shapes and parameter
shapes from it, so a network of layers and the tables of :mod:`cnnbook.architectures` are counted
by the same code.

:func:`summary` walks a network from an input shape ``(C, H, W)`` (or ``(n,)`` for a vector) and
returns a :class:`Summary` with one :class:`Row` per layer; the network is a list of specs, the
name of a built-in architecture (:data:`cnnbook.architectures.BUILTINS`) or a model whose
``layers`` carry specs (a :class:`cnnbook.models.Sequential`).  Spatial sizes come from
:func:`cnnbook.conv_output_size`, so an impossible layer (a filter larger than its padded input, a
bad stride) raises the same :class:`ValueError`, prefixed with the layer that failed.

What is counted (``C, H, W`` the layer's input, ``H', W'`` its output, ``K`` filters of
``fh x fw``):

=======================  ===========================  =================  =======================
layer                    weights                      biases             multiply-adds (MACs)
=======================  ===========================  =================  =======================
conv (``g`` groups)      ``K (C/g) fh fw``            ``K``              ``K (C/g) fh fw H' W'``
locally connected        ``H' W' K C fh fw``          ``K H' W'``        ``K C fh fw H' W'``
fully connected          ``n_in out_features``        ``out_features``   ``n_in out_features``
pool, elementwise, ...   0                            0                  0 (not counted)
=======================  ===========================  =================  =======================

``activations`` of a row is the number of values the layer outputs (what the forward pass keeps
for the backward pass); the input is row 0 and counts too, as in the lectures' VGG table.  A
:class:`FlattenSpec` outputs a view of its input and counts none.  Two composite specs build
GoogLeNet's and ResNet's modules:

* :class:`ConcatSpec` runs branches side by side on the same input and stacks their outputs along
  the channels (an inception module);
* :class:`ResidualSpec` adds a branch's output to the input (or to a projection of it).

A block's activations are the outputs of every layer inside it (a concatenation is not counted
twice: the branches can write straight into their slice of the output); a residual block adds
its sum.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from math import prod
from typing import Any

import numpy as np

from ._checks import IntPair, as_flag, as_int, as_pair, positive_int
from .shapes import conv_output_size, unread_rows

__all__ = [
    "ELEMENTWISE_KINDS",
    "ConcatSpec",
    "ConvSpec",
    "Counts",
    "ElementwiseSpec",
    "FCSpec",
    "FlattenSpec",
    "LayerSpec",
    "LocallyConnectedSpec",
    "MaxoutSpec",
    "PoolSpec",
    "ResidualSpec",
    "Row",
    "Summary",
    "summary",
]

Shape = tuple[int, ...]

#: The parameter-free, shape-keeping layers an :class:`ElementwiseSpec` may name (``norm``: AlexNet's
#: local response normalisation).
ELEMENTWISE_KINDS = ("relu", "leaky_relu", "elu", "sigmoid", "tanh", "norm")


# ---------------------------------------------------------------------------------------------
# Argument checks of the constructors (every error names the argument).
# ---------------------------------------------------------------------------------------------


def _set(spec: object, **values: object) -> None:
    """Assign the (already checked) fields of a frozen spec."""
    for key, value in values.items():
        object.__setattr__(spec, key, value)


def _check_name(name: object) -> str | None:
    if name is not None and not isinstance(name, str):
        raise TypeError(f"name must be a str or None, got {name!r}")
    return name


def _check_kind(kind: object, allowed: tuple[str, ...], what: str) -> str:
    if kind not in allowed:
        raise ValueError(f"{what} kind must be {' or '.join(repr(k) for k in allowed)}, got {kind!r}")
    return str(kind)


def _fmt_pair(p: tuple[int, int]) -> str:
    return str(p[0]) if p[0] == p[1] else f"{p[0]},{p[1]}"


# ---------------------------------------------------------------------------------------------
# What one layer does to a shape.
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Counts:
    """What a layer does to one example: output ``shape`` and the numbers of one :class:`Row`."""

    shape: Shape
    activations: int
    weights: int = 0
    biases: int = 0
    macs: int = 0
    note: str = ""

    @property
    def params(self) -> int:
        """``weights + biases``."""
        return self.weights + self.biases


class LayerSpec:
    """Base class of the layer descriptions.  ``name`` (optional) replaces the generated label."""

    name: str | None

    def describe(self) -> str:  # pragma: no cover - every subclass overrides
        """A short generated label, e.g. ``conv 96 11x11 s4``."""
        raise NotImplementedError

    @property
    def label(self) -> str:
        """``name`` if given, else :meth:`describe`."""
        return self.name or self.describe()

    def counts(self, input_shape: Shape) -> Counts:  # pragma: no cover - every subclass overrides
        """Output shape, activations, weights, biases and MACs for one example of ``input_shape``."""
        raise NotImplementedError

    def output_shape(self, input_shape: Shape) -> Shape:
        """Shape of one example's output (no batch axis)."""
        return self.counts(tuple(input_shape)).shape


def _spatial(shape: Shape, what: str) -> tuple[int, int, int]:
    if len(shape) != 3:
        raise ValueError(
            f"{what} needs a (C, H, W) input, got shape {shape} (after a fully connected layer?)"
        )
    C, H, W = shape
    return C, H, W


def _window_output(
    shape: Shape,
    kernel_size: tuple[int, int],
    stride: tuple[int, int],
    padding: tuple[int, int],
    dilation: tuple[int, int],
    what: str,
) -> tuple[int, int, str]:
    """``(H', W', note)`` of a sliding window; the note counts padded rows/columns no tap reads.

    Those are the rows left over at the end when the stride does not fit, and the rows a stride larger
    than the window skips between windows (:func:`cnnbook.shapes.unread_rows`).
    """
    _, H, W = _spatial(shape, what)
    fh, fw = kernel_size
    Ho = conv_output_size(H, fh, stride[0], padding[0], dilation[0])
    Wo = conv_output_size(W, fw, stride[1], padding[1], dilation[1])
    lost = (
        len(unread_rows(H, fh, stride[0], padding[0], dilation[0])),
        len(unread_rows(W, fw, stride[1], padding[1], dilation[1])),
    )
    note = f"{lost[0]} row(s), {lost[1]} col(s) unused" if any(lost) else ""
    return Ho, Wo, note


# ---------------------------------------------------------------------------------------------
# The layer descriptions.
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, init=False)
class ConvSpec(LayerSpec):
    """``out_channels`` filters of ``kernel_size`` (int or ``(fh, fw)``) spanning all input channels.

    Padding is per side.  ``bias=False`` drops the ``out_channels`` biases.  ``groups = g`` splits
    input and filters into ``g`` independent groups (AlexNet's two GPU towers): each filter then
    spans ``C/g`` channels.  ``in_channels`` (optional, keyword): the input depth ``C`` the layer
    was built for (:class:`cnnbook.layers.Conv2D` sets it); :meth:`counts` then refuses any other.
    """

    out_channels: int
    kernel_size: tuple[int, int]
    stride: tuple[int, int]
    padding: tuple[int, int]
    dilation: tuple[int, int]
    bias: bool
    groups: int
    name: str | None
    in_channels: int | None = field(default=None, repr=False, compare=False)

    def __init__(
        self,
        out_channels: int,
        kernel_size: IntPair,
        stride: IntPair = 1,
        padding: IntPair = 0,
        dilation: IntPair = 1,
        *,
        bias: bool = True,
        groups: int = 1,
        name: str | None = None,
        in_channels: int | None = None,
    ) -> None:
        K = positive_int(out_channels, "out_channels")
        g = positive_int(groups, "groups")
        if K % g:
            raise ValueError(f"groups={g} must divide out_channels={K}")
        _set(
            self,
            out_channels=K,
            kernel_size=as_pair(kernel_size, "kernel_size", 1),
            stride=as_pair(stride, "stride", 1),
            padding=as_pair(padding, "padding", 0),
            dilation=as_pair(dilation, "dilation", 1),
            bias=as_flag(bias, "bias"),
            groups=g,
            name=_check_name(name),
            in_channels=None if in_channels is None else positive_int(in_channels, "in_channels"),
        )
        if self.in_channels is not None:
            self.parameter_shapes(self.in_channels)  # groups must divide it

    def describe(self) -> str:
        fh, fw = self.kernel_size
        text = f"conv {self.out_channels} {fh}x{fw} s{_fmt_pair(self.stride)}"
        if any(self.padding):
            text += f" p{_fmt_pair(self.padding)}"
        if self.dilation != (1, 1):
            text += f" d{_fmt_pair(self.dilation)}"
        if self.groups > 1:
            text += f" g{self.groups}"
        return text + ("" if self.bias else " nobias")

    def parameter_shapes(self, in_channels: int) -> dict[str, Shape]:
        """Shapes of the parameters for ``in_channels`` inputs: ``{"F": (K, C/g, fh, fw), "b": (K,)}``.

        No ``"b"`` without a bias.  :class:`cnnbook.layers.Conv2D` allocates its arrays from this.
        """
        C = positive_int(in_channels, "in_channels")
        if C % self.groups:
            raise ValueError(
                f"groups={self.groups} must divide both the input channels C={C} "
                f"and the filters K={self.out_channels}"
            )
        shapes: dict[str, Shape] = {"F": (self.out_channels, C // self.groups, *self.kernel_size)}
        if self.bias:
            shapes["b"] = (self.out_channels,)
        return shapes

    def _geometry(self, shape: Shape) -> tuple[int, int, int, int, str]:
        """``(weights of one output position, biases of one position, H', W', note)``."""
        C = _spatial(shape, self.describe())[0]
        if self.in_channels is not None and self.in_channels != C:
            raise ValueError(f"{self.describe()} expects (C={self.in_channels}, H, W) inputs, got {shape}")
        sizes = {key: prod(s) for key, s in self.parameter_shapes(C).items()}
        Ho, Wo, note = _window_output(
            shape, self.kernel_size, self.stride, self.padding, self.dilation, self.describe()
        )
        return sizes["F"], sizes.get("b", 0), Ho, Wo, note

    def counts(self, input_shape: Shape) -> Counts:
        weights, biases, Ho, Wo, note = self._geometry(tuple(input_shape))
        out = (self.out_channels, Ho, Wo)
        return Counts(out, prod(out), weights, biases, weights * Ho * Wo, note)


@dataclass(frozen=True, init=False)
class LocallyConnectedSpec(ConvSpec):
    """Like :class:`ConvSpec` but without weight sharing: every output position has its own filters."""

    def __init__(
        self,
        out_channels: int,
        kernel_size: IntPair,
        stride: IntPair = 1,
        padding: IntPair = 0,
        *,
        bias: bool = True,
        name: str | None = None,
    ) -> None:
        super().__init__(out_channels, kernel_size, stride, padding, bias=bias, name=name)

    def describe(self) -> str:
        return "local" + super().describe()[len("conv") :]

    def counts(self, input_shape: Shape) -> Counts:
        weights, biases, Ho, Wo, note = self._geometry(tuple(input_shape))
        out = (self.out_channels, Ho, Wo)
        positions = Ho * Wo
        return Counts(out, prod(out), weights * positions, biases * positions, weights * positions, note)


@dataclass(frozen=True, init=False)
class PoolSpec(LayerSpec):
    """Max or average pooling (``kind`` ``"max"`` or ``"avg"``) of each plane; no parameters.

    ``stride`` defaults to ``kernel_size`` (non-overlapping windows); ``padding`` must be smaller
    than the window, as for :func:`cnnbook.maxpool2d`.
    """

    kind: str
    kernel_size: tuple[int, int]
    stride: tuple[int, int]
    padding: tuple[int, int]
    name: str | None

    def __init__(
        self,
        kind: str,
        kernel_size: IntPair,
        stride: IntPair | None = None,
        padding: IntPair = 0,
        *,
        name: str | None = None,
    ) -> None:
        size = as_pair(kernel_size, "kernel_size", 1)
        pad = as_pair(padding, "padding", 0)
        if pad[0] >= size[0] or pad[1] >= size[1]:
            raise ValueError(f"padding {padding!r} must be smaller than the pool window {kernel_size!r}")
        _set(
            self,
            kind=_check_kind(kind, ("max", "avg"), "pool"),
            kernel_size=size,
            stride=size if stride is None else as_pair(stride, "stride", 1),
            padding=pad,
            name=_check_name(name),
        )

    def describe(self) -> str:
        fh, fw = self.kernel_size
        text = f"{self.kind}pool {fh}x{fw} s{_fmt_pair(self.stride)}"
        return text + (f" p{_fmt_pair(self.padding)}" if any(self.padding) else "")

    def counts(self, input_shape: Shape) -> Counts:
        shape = tuple(input_shape)
        C = _spatial(shape, self.describe())[0]
        Ho, Wo, note = _window_output(
            shape, self.kernel_size, self.stride, self.padding, (1, 1), self.describe()
        )
        return Counts((C, Ho, Wo), C * Ho * Wo, note=note)


@dataclass(frozen=True, init=False)
class FCSpec(LayerSpec):
    """Fully connected layer with ``out_features`` outputs; a ``(C, H, W)`` input is flattened first.

    ``in_features`` (optional, keyword): the input size the layer was built for
    (:class:`cnnbook.layers.Dense` sets it); :meth:`counts` then refuses any other.
    """

    out_features: int
    bias: bool
    name: str | None
    in_features: int | None = field(default=None, repr=False, compare=False)

    def __init__(
        self,
        out_features: int,
        *,
        bias: bool = True,
        name: str | None = None,
        in_features: int | None = None,
    ) -> None:
        _set(
            self,
            out_features=positive_int(out_features, "out_features"),
            bias=as_flag(bias, "bias"),
            name=_check_name(name),
            in_features=None if in_features is None else positive_int(in_features, "in_features"),
        )

    def describe(self) -> str:
        return f"fc {self.out_features}" + ("" if self.bias else " nobias")

    def parameter_shapes(self, in_features: int) -> dict[str, Shape]:
        """``{"W": (out_features, in_features), "b": (out_features,)}`` (no ``"b"`` without a bias)."""
        D = positive_int(in_features, "in_features")
        shapes: dict[str, Shape] = {"W": (self.out_features, D)}
        if self.bias:
            shapes["b"] = (self.out_features,)
        return shapes

    def counts(self, input_shape: Shape) -> Counts:
        D = prod(input_shape)
        if self.in_features is not None and self.in_features != D:
            raise ValueError(
                f"{self.describe()} expects {self.in_features} input features, "
                f"got {D} from {tuple(input_shape)}"
            )
        sizes = {key: prod(s) for key, s in self.parameter_shapes(D).items()}
        M = self.out_features
        return Counts((M,), M, sizes["W"], sizes.get("b", 0), sizes["W"])


@dataclass(frozen=True, init=False)
class ElementwiseSpec(LayerSpec):
    """A parameter-free layer that keeps the shape; ``kind`` is one of :data:`ELEMENTWISE_KINDS`."""

    kind: str
    name: str | None

    def __init__(self, kind: str, *, name: str | None = None) -> None:
        _set(self, kind=_check_kind(kind, ELEMENTWISE_KINDS, "elementwise"), name=_check_name(name))

    def describe(self) -> str:
        return self.kind

    def counts(self, input_shape: Shape) -> Counts:
        shape = tuple(input_shape)
        return Counts(shape, prod(shape))


@dataclass(frozen=True, init=False)
class FlattenSpec(LayerSpec):
    """``(C, H, W) -> (C H W,)``: a view of the input (row-major), so no new activations."""

    name: str | None

    def __init__(self, *, name: str | None = None) -> None:
        _set(self, name=_check_name(name))

    def describe(self) -> str:
        return "flatten"

    def counts(self, input_shape: Shape) -> Counts:
        return Counts((prod(input_shape),), 0)


@dataclass(frozen=True, init=False)
class MaxoutSpec(LayerSpec):
    """Maxout over groups of ``pieces`` consecutive entries along ``axis``: that length ``/ pieces``.

    ``axis`` counts the batch axis, as :func:`cnnbook.functional.maxout` on a batch does: ``1``
    groups the channels of ``(N, C, H, W)``; a negative axis counts from the end.  The batch axis
    itself (0) cannot be grouped.
    """

    pieces: int
    axis: int
    name: str | None

    def __init__(self, pieces: int = 2, axis: int = 1, *, name: str | None = None) -> None:
        ax = as_int(axis, "axis")
        if ax == 0:
            raise ValueError("axis must not be 0: maxout groups the entries of one example, not the batch")
        _set(self, pieces=positive_int(pieces, "pieces"), axis=ax, name=_check_name(name))

    def describe(self) -> str:
        return f"maxout {self.pieces} axis {self.axis}"

    def counts(self, input_shape: Shape) -> Counts:
        shape = list(input_shape)
        k = self.axis - 1 if self.axis > 0 else self.axis
        if not -len(shape) <= k < len(shape):
            raise ValueError(f"axis {self.axis} does not exist in a batch of {tuple(input_shape)} examples")
        if shape[k] % self.pieces:
            raise ValueError(
                f"axis {self.axis} has length {shape[k]}, not a multiple of pieces={self.pieces}"
            )
        shape[k] //= self.pieces
        return Counts(tuple(shape), prod(shape))


def _branch(layers: LayerSpec | Sequence[LayerSpec], what: str) -> tuple[LayerSpec, ...]:
    """One branch as a tuple of specs (a single spec is a branch of one layer)."""
    branch = (layers,) if isinstance(layers, LayerSpec) else tuple(layers)
    for i, layer in enumerate(branch, start=1):
        if not isinstance(layer, LayerSpec):
            raise TypeError(f"{what}, entry {i} must be a LayerSpec (ConvSpec, PoolSpec, ...), got {layer!r}")
    return branch


@dataclass(frozen=True, init=False)
class ConcatSpec(LayerSpec):
    """Branches (each a spec or a list of specs) applied to the same input; outputs stacked on the channels.

    An inception module is one (:func:`cnnbook.architectures.inception`).
    """

    branches: tuple[tuple[LayerSpec, ...], ...]
    name: str | None

    def __init__(self, *branches: LayerSpec | Sequence[LayerSpec], name: str | None = None) -> None:
        if not branches:
            raise ValueError("branches: ConcatSpec needs at least one branch")
        parts = tuple(_branch(b, f"branch {i}") for i, b in enumerate(branches))
        if not all(parts):
            raise ValueError("branches: every branch of a ConcatSpec needs at least one layer")
        _set(self, branches=parts, name=_check_name(name))

    def describe(self) -> str:
        return "concat[" + " | ".join(", ".join(l.label for l in b) for b in self.branches) + "]"

    def counts(self, input_shape: Shape) -> Counts:
        outs = [_walk(b, tuple(input_shape), f"branch {i}")[1] for i, b in enumerate(self.branches)]
        spatial = {o.shape[1:] for o in outs}
        if any(len(o.shape) != 3 for o in outs) or len(spatial) != 1:
            raise ValueError(
                f"concat branches must end with the same (H, W); got output shapes {[o.shape for o in outs]}"
            )
        C = sum(o.shape[0] for o in outs)
        return Counts(
            (C, *outs[0].shape[1:]),
            sum(o.activations for o in outs),
            sum(o.weights for o in outs),
            sum(o.biases for o in outs),
            sum(o.macs for o in outs),
        )


@dataclass(frozen=True, init=False)
class ResidualSpec(LayerSpec):
    """``branch(x) + shortcut(x)``; an empty ``shortcut`` is the identity (shapes must then agree)."""

    branch: tuple[LayerSpec, ...]
    shortcut: tuple[LayerSpec, ...]
    name: str | None

    def __init__(
        self,
        branch: LayerSpec | Sequence[LayerSpec],
        shortcut: LayerSpec | Sequence[LayerSpec] = (),
        *,
        name: str | None = None,
    ) -> None:
        main = _branch(branch, "branch")
        if not main:
            raise ValueError("branch: a ResidualSpec needs at least one layer in its branch")
        _set(self, branch=main, shortcut=_branch(shortcut, "shortcut"), name=_check_name(name))

    def describe(self) -> str:
        inner = ", ".join(l.label for l in self.branch)
        short = ", ".join(l.label for l in self.shortcut) or "identity"
        return f"residual[{inner} + {short}]"

    def counts(self, input_shape: Shape) -> Counts:
        shape = tuple(input_shape)
        _, main = _walk(self.branch, shape, "residual branch")
        side = _walk(self.shortcut, shape, "shortcut")[1] if self.shortcut else Counts(shape, 0)
        if main.shape != side.shape:
            raise ValueError(
                f"residual branch output {main.shape} cannot be added to shortcut output {side.shape}"
                + ("" if self.shortcut else "; give a projection shortcut (e.g. a 1x1 conv)")
            )
        own = prod(main.shape)  # the sum is a new tensor
        return Counts(
            main.shape,
            main.activations + side.activations + own,
            main.weights + side.weights,
            main.biases + side.biases,
            main.macs + side.macs,
        )


def _walk(
    layers: Sequence[LayerSpec], shape: Shape, where: str = "", labels: Sequence[str] | None = None
) -> tuple[list[Counts], Counts]:
    """Apply every spec in turn; returns the per-layer counts and their total (shape = last output)."""
    steps: list[Counts] = []
    for i, layer in enumerate(layers, start=1):
        if not isinstance(layer, LayerSpec):
            raise TypeError(
                f"spec entry {i} must be a LayerSpec (ConvSpec, PoolSpec, FCSpec, ...); got {layer!r}"
            )
        try:
            counts = layer.counts(shape)
        except ValueError as err:
            at = f"{where}, " if where else ""
            label = layer.label if labels is None else labels[i - 1]
            raise ValueError(f"{at}layer {i} ({label}) on input {shape}: {err}") from err
        steps.append(counts)
        shape = counts.shape
    total = Counts(
        shape,
        sum(c.activations for c in steps),
        sum(c.weights for c in steps),
        sum(c.biases for c in steps),
        sum(c.macs for c in steps),
    )
    return steps, total


# ---------------------------------------------------------------------------------------------
# The summary: one renderer for spec lists, built-in names and models.
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    """One layer of a :class:`Summary` (row 0 is the input)."""

    index: int
    layer: str
    output_shape: Shape
    activations: int
    weights: int
    biases: int
    macs: int
    note: str = ""

    @property
    def params(self) -> int:
        """``weights + biases``."""
        return self.weights + self.biases

    def to_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "layer": self.layer,
            "output_shape": list(self.output_shape),
            "activations": self.activations,
            "weights": self.weights,
            "biases": self.biases,
            "params": self.params,
            "macs": self.macs,
            "note": self.note,
        }


def _shape_text(shape: Shape) -> str:
    return "x".join(str(s) for s in shape)


_COLUMNS = ("#", "layer", "output (C,H,W)", "activations", "weights", "biases", "params", "MACs")


@dataclass(frozen=True)
class Summary:
    """Per-layer rows and totals of a network; ``print(s)`` shows the table, ``s.to_dict()`` plain data."""

    input_shape: Shape
    rows: tuple[Row, ...]

    @property
    def total_activations(self) -> int:
        """Values stored by one forward pass, input included."""
        return sum(r.activations for r in self.rows)

    @property
    def total_weights(self) -> int:
        return sum(r.weights for r in self.rows)

    @property
    def total_biases(self) -> int:
        return sum(r.biases for r in self.rows)

    @property
    def total_params(self) -> int:
        """Weights plus biases."""
        return self.total_weights + self.total_biases

    @property
    def total_macs(self) -> int:
        """Multiply-adds of one forward pass (conv, locally connected and fc layers)."""
        return sum(r.macs for r in self.rows)

    @property
    def output_shape(self) -> Shape:
        return self.rows[-1].output_shape

    def activation_bytes(self, bytes_per_value: int = 4) -> int:
        """Memory of the stored activations of one image (float32: 4 bytes per value)."""
        return self.total_activations * bytes_per_value

    def param_bytes(self, bytes_per_value: int = 4) -> int:
        """Memory of the parameters (float32: 4 bytes per value)."""
        return self.total_params * bytes_per_value

    def row(self, label: str) -> Row:
        """The first row whose layer label is ``label``."""
        for r in self.rows:
            if r.layer == label:
                return r
        raise KeyError(f"no layer labelled {label!r}; labels are {[r.layer for r in self.rows]}")

    def to_dict(self) -> dict[str, Any]:
        return {
            "input_shape": list(self.input_shape),
            "rows": [r.to_dict() for r in self.rows],
            "total_activations": self.total_activations,
            "total_weights": self.total_weights,
            "total_biases": self.total_biases,
            "total_params": self.total_params,
            "total_macs": self.total_macs,
        }

    def table(self, max_label: int = 34) -> str:
        """The rows as a fixed-width text table with a totals line."""

        def cut(text: str) -> str:
            return text if len(text) <= max_label else text[: max_label - 3] + "..."

        body = [
            (
                str(r.index),
                cut(r.layer),
                _shape_text(r.output_shape),
                f"{r.activations:,}",
                f"{r.weights:,}",
                f"{r.biases:,}",
                f"{r.params:,}",
                f"{r.macs:,}",
                r.note,
            )
            for r in self.rows
        ]
        total = (
            "",
            "total",
            "",
            f"{self.total_activations:,}",
            f"{self.total_weights:,}",
            f"{self.total_biases:,}",
            f"{self.total_params:,}",
            f"{self.total_macs:,}",
            "",
        )
        header = (*_COLUMNS, "")
        widths = [max(len(line[k]) for line in [*body, total, header]) for k in range(len(_COLUMNS))]

        def line(cells: tuple[str, ...]) -> str:
            text = "  ".join(
                cell.ljust(w) if k in (1, 2) else cell.rjust(w)
                for k, (cell, w) in enumerate(zip(cells, widths))
            )
            return (text + ("  " + cells[-1] if cells[-1] else "")).rstrip()

        rule = "-" * len(line(header))
        return "\n".join([line(header), rule, *(line(b) for b in body), rule, line(total)])

    def __str__(self) -> str:
        return self.table()

    __repr__ = __str__


def _as_input_shape(shape: object) -> Shape:
    """``(C, H, W)`` or ``(n,)`` (a tuple, list or 1-D array of ints >= 1).

    :class:`TypeError` for None, scalars, strings and non-int entries; :class:`ValueError` for
    another number of entries or sizes below 1.
    """
    if isinstance(shape, np.ndarray) and shape.ndim == 1:
        shape = shape.tolist()
    if not isinstance(shape, (tuple, list)):
        raise TypeError(f"input_shape must be a tuple (C, H, W) or (n,), got {shape!r}")
    if len(shape) not in (1, 3):
        raise ValueError(f"input_shape must be (C, H, W) or (n,), got {shape!r}")
    return tuple(positive_int(s, "input_shape entry") for s in shape)


def _model_layers(net: Any) -> tuple[list[str], list[LayerSpec]]:
    """Labels (``"conv1: conv 8 3x3 s1 p1"``) and specs of a model's ``layers``."""
    labels, specs = [], []
    for i, layer in enumerate(net.layers, start=1):
        spec = getattr(layer, "spec", None)
        if not isinstance(spec, LayerSpec):
            raise TypeError(f"layer {i} of the model ({layer!r}) has no .spec describing it")
        name = getattr(layer, "name", "")
        labels.append(f"{name}: {spec.label}" if name else spec.label)
        specs.append(spec)
    return labels, specs


def summary(net: object, input_shape: Sequence[int] | None = None) -> Summary:
    """Walk ``net`` from ``input_shape`` and count, layer by layer, outputs, parameters and MACs.

    Parameters
    ----------
    net : a list of specs (:class:`ConvSpec`, :class:`PoolSpec`, :class:`FCSpec`, ...), the name of
        a built-in architecture (:data:`cnnbook.architectures.BUILTINS`), or a model whose
        ``layers`` carry a ``spec`` (:class:`cnnbook.models.Sequential`; rows are labelled
        ``"name: description"``).
    input_shape : ``(C, H, W)`` (or ``(n,)``); optional for a built-in name (its usual input) and
        for a model that knows its ``input_shape``.

    Returns a :class:`Summary` whose row 0 is the input.  Raises :class:`ValueError` naming the
    layer and its input shape when a layer cannot be applied (the message of
    :func:`cnnbook.conv_output_size` follows), :class:`TypeError` for an entry that is not a spec.
    """
    default: object = None
    labels: list[str] | None = None
    if isinstance(net, str):
        from .architectures import get_spec  # the built-in networks are made of specs: import on use

        specs, default = get_spec(net)
    elif hasattr(net, "layers"):
        labels, specs = _model_layers(net)
        default = getattr(net, "input_shape", None)
    elif isinstance(net, Sequence):
        specs = list(net)
    else:
        raise TypeError(f"net must be a list of specs, a built-in name or a model with .layers, got {net!r}")
    if input_shape is None and default is None:
        raise ValueError("input_shape is required for a network given as a list of layers")
    shape = _as_input_shape(default if input_shape is None else input_shape)
    steps, _ = _walk(specs, shape, labels=labels)
    if labels is None:
        labels = [spec.label for spec in specs]
    rows = [Row(0, "input", shape, prod(shape), 0, 0, 0)]
    for i, (label, c) in enumerate(zip(labels, steps), start=1):
        rows.append(Row(i, label, c.shape, c.activations, c.weights, c.biases, c.macs, c.note))
    return Summary(shape, tuple(rows))

"""Architectures by the numbers: output shapes, activations, parameters and multiply-adds per layer.

A network is described by a *spec*: a list of small layer descriptions built with the functions
below, e.g. ::

    spec = [conv(96, 11, stride=4), pool("max", 3, stride=2), fc(4096), fc(1000)]
    print(summary(spec, (3, 227, 227)))

:func:`summary` walks the spec from an input shape ``(C, H, W)`` (or ``(n,)`` for a vector) and
returns a :class:`Summary` with one :class:`Row` per layer.  Spatial sizes come from
:func:`cnnbook.conv_output_size`, so an impossible layer (a filter larger than its padded input,
a bad stride) raises the same :class:`ValueError`, prefixed with the layer that failed.

What is counted (``C, H, W`` the layer's input, ``H', W'`` its output, ``K`` filters of
``fh x fw``):

=====================  ===========================  =================  =======================
layer                  weights                      biases             multiply-adds (MACs)
=====================  ===========================  =================  =======================
conv (``g`` groups)    ``K (C/g) fh fw``            ``K``              ``K (C/g) fh fw H' W'``
locally connected      ``H' W' K C fh fw``          ``K H' W'``        ``K C fh fw H' W'``
fully connected        ``n_in units``               ``units``          ``n_in units``
pool, norm, relu/tanh  0                            0                  0 (not counted)
=====================  ===========================  =================  =======================

``activations`` of a row is the number of values the layer outputs (what the forward pass keeps
for the backward pass); the input is row 0 and counts too, as in the lectures' VGG table.  Two
composite blocks build GoogLeNet's and ResNet's modules:

* :func:`concat` runs branches side by side on the same input and stacks their outputs along the
  channels (an inception module is :func:`inception`);
* :func:`residual` adds a branch's output to the input (or to a projection of it): ResNet's
  :func:`basic_block` and :func:`bottleneck_block`.

A block's activations are the outputs of every layer inside it (a concatenation is not counted
twice: the branches can write straight into their slice of the output); a residual block adds
its sum.  Built-in specs (:data:`BUILTINS`, :func:`get_spec`): ``"lenet5"``, ``"alexnet"`` (the
lectures' simplified single-tower version), ``"vgg11"``, ``"vgg13"``, ``"vgg16"``, ``"vgg19"``
(:func:`vgg_spec` has every configuration A-E) and ``"googlenet"``.  They follow the lectures'
tables, which list no separate ReLU rows (ReLU is applied in place).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from math import prod
from typing import Union

from .shapes import IntPair, as_pair, conv_output_size, unread_rows

__all__ = [
    "BUILTINS",
    "FC",
    "Concat",
    "Conv",
    "Elementwise",
    "Layer",
    "LocallyConnected",
    "Pool",
    "Residual",
    "Row",
    "Summary",
    "basic_block",
    "bottleneck_block",
    "concat",
    "conv",
    "fc",
    "get_spec",
    "inception",
    "locally_connected",
    "norm",
    "pool",
    "relu",
    "residual",
    "summary",
    "tanh",
    "vgg_spec",
]

Shape = tuple[int, ...]


def _count(value: object, name: str) -> int:
    """A positive int (not a pair, not a bool); TypeError/ValueError name the value."""
    if isinstance(value, (tuple, list)):
        raise TypeError(f"{name} must be a single int, got {value!r}")
    return as_pair(value, name, 1)[0]


def _fmt_pair(p: tuple[int, int]) -> str:
    return str(p[0]) if p[0] == p[1] else f"{p[0]},{p[1]}"


@dataclass(frozen=True)
class _Counts:
    """What one layer does to a shape: the numbers that become a :class:`Row`."""

    shape: Shape
    activations: int
    weights: int = 0
    biases: int = 0
    macs: int = 0
    note: str = ""


class Layer:
    """Base class of the layer descriptions.  ``name`` (optional) replaces the generated label."""

    name: str | None

    def describe(self) -> str:  # pragma: no cover - every subclass overrides
        raise NotImplementedError

    @property
    def label(self) -> str:
        return self.name or self.describe()

    def apply(self, shape: Shape) -> _Counts:  # pragma: no cover - every subclass overrides
        raise NotImplementedError


def _spatial(shape: Shape, what: str) -> tuple[int, int, int]:
    if len(shape) != 3:
        raise ValueError(
            f"{what} needs a (C, H, W) input, got shape {shape} (after a fully connected layer?)"
        )
    return shape  # type: ignore[return-value]


def _window_output(shape: Shape, f, stride, padding, dilation, what: str) -> tuple[int, int, str]:
    """``(H', W', note)`` of a sliding window; the note counts padded rows/columns no tap reads.

    Those are the rows left over at the end when the stride does not fit, and the rows a stride larger
    than the window skips between windows (:func:`cnnbook.shapes.unread_rows`).
    """
    _, H, W = _spatial(shape, what)
    Ho = conv_output_size(H, f[0], stride[0], padding[0], dilation[0])
    Wo = conv_output_size(W, f[1], stride[1], padding[1], dilation[1])
    lost = (
        len(unread_rows(H, f[0], stride[0], padding[0], dilation[0])),
        len(unread_rows(W, f[1], stride[1], padding[1], dilation[1])),
    )
    note = ""
    if any(lost):
        note = f"{lost[0]} row(s), {lost[1]} col(s) unused"
    return Ho, Wo, note


@dataclass(frozen=True)
class Conv(Layer):
    """``K`` filters of size ``f`` (``(fh, fw)``) spanning all input channels.

    ``groups = g`` splits input and filters into ``g`` independent groups (AlexNet's two GPU
    towers): each filter then spans ``C/g`` channels.
    """

    K: int
    f: tuple[int, int]
    stride: tuple[int, int] = (1, 1)
    padding: tuple[int, int] = (0, 0)
    dilation: tuple[int, int] = (1, 1)
    bias: bool = True
    groups: int = 1
    name: str | None = field(default=None, kw_only=True)

    def describe(self) -> str:
        text = f"conv {self.K} {self.f[0]}x{self.f[1]} s{_fmt_pair(self.stride)}"
        if any(self.padding):
            text += f" p{_fmt_pair(self.padding)}"
        if self.dilation != (1, 1):
            text += f" d{_fmt_pair(self.dilation)}"
        if self.groups > 1:
            text += f" g{self.groups}"
        return text + ("" if self.bias else " nobias")

    def _geometry(self, shape: Shape) -> tuple[int, int, int, int, str]:
        """``(C, H', W', weights of one output position, note)``."""
        C = _spatial(shape, self.describe())[0]
        if C % self.groups or self.K % self.groups:
            raise ValueError(
                f"groups={self.groups} must divide both the input channels C={C} and the filters K={self.K}"
            )
        Ho, Wo, note = _window_output(
            shape, self.f, self.stride, self.padding, self.dilation, self.describe()
        )
        return C, Ho, Wo, self.K * (C // self.groups) * self.f[0] * self.f[1], note

    def apply(self, shape: Shape) -> _Counts:
        C, Ho, Wo, per_position, note = self._geometry(shape)
        out = (self.K, Ho, Wo)
        return _Counts(out, prod(out), per_position, self.K if self.bias else 0, per_position * Ho * Wo, note)


@dataclass(frozen=True)
class LocallyConnected(Conv):
    """Like :class:`Conv` but without weight sharing: every output position has its own filters."""

    def describe(self) -> str:
        return "local" + super().describe()[len("conv") :]

    def apply(self, shape: Shape) -> _Counts:
        C, Ho, Wo, per_position, note = self._geometry(shape)
        out = (self.K, Ho, Wo)
        positions = Ho * Wo
        biases = self.K * positions if self.bias else 0
        return _Counts(out, prod(out), per_position * positions, biases, per_position * positions, note)


@dataclass(frozen=True)
class Pool(Layer):
    """Max or average pooling over ``size`` windows, one plane at a time (no parameters)."""

    kind: str
    size: tuple[int, int]
    stride: tuple[int, int]
    padding: tuple[int, int] = (0, 0)
    name: str | None = field(default=None, kw_only=True)

    def describe(self) -> str:
        text = f"{self.kind}pool {self.size[0]}x{self.size[1]} s{_fmt_pair(self.stride)}"
        return text + (f" p{_fmt_pair(self.padding)}" if any(self.padding) else "")

    def apply(self, shape: Shape) -> _Counts:
        C = _spatial(shape, self.describe())[0]
        Ho, Wo, note = _window_output(shape, self.size, self.stride, self.padding, (1, 1), self.describe())
        return _Counts((C, Ho, Wo), C * Ho * Wo, note=note)


@dataclass(frozen=True)
class FC(Layer):
    """Fully connected layer with ``units`` outputs; a ``(C, H, W)`` input is flattened first."""

    units: int
    bias: bool = True
    name: str | None = field(default=None, kw_only=True)

    def describe(self) -> str:
        return f"fc {self.units}" + ("" if self.bias else " nobias")

    def apply(self, shape: Shape) -> _Counts:
        n_in = prod(shape)
        w = n_in * self.units
        return _Counts((self.units,), self.units, w, self.units if self.bias else 0, w)


@dataclass(frozen=True)
class Elementwise(Layer):
    """A parameter-free layer that keeps the shape: ``relu``, ``tanh``, ``sigmoid``, ``norm`` (LRN)."""

    kind: str
    name: str | None = field(default=None, kw_only=True)

    def describe(self) -> str:
        return self.kind

    def apply(self, shape: Shape) -> _Counts:
        return _Counts(tuple(shape), prod(shape))


SpecLike = Union[str, Sequence[Layer]]


@dataclass(frozen=True)
class Concat(Layer):
    """Branches applied to the same input, outputs stacked along the channels (inception module)."""

    branches: tuple[tuple[Layer, ...], ...]
    name: str | None = field(default=None, kw_only=True)

    def describe(self) -> str:
        return "concat[" + " | ".join(", ".join(l.label for l in b) for b in self.branches) + "]"

    def apply(self, shape: Shape) -> _Counts:
        outs = [_walk(b, shape, f"branch {i}")[1] for i, b in enumerate(self.branches)]
        spatial = {o.shape[1:] for o in outs}
        if any(len(o.shape) != 3 for o in outs) or len(spatial) != 1:
            raise ValueError(
                f"concat branches must end with the same (H, W); got output shapes {[o.shape for o in outs]}"
            )
        C = sum(o.shape[0] for o in outs)
        return _Counts(
            (C,) + outs[0].shape[1:],
            sum(o.activations for o in outs),
            sum(o.weights for o in outs),
            sum(o.biases for o in outs),
            sum(o.macs for o in outs),
        )


@dataclass(frozen=True)
class Residual(Layer):
    """``branch(x) + shortcut(x)``; ``shortcut`` empty means the identity (shapes must then agree)."""

    branch: tuple[Layer, ...]
    shortcut: tuple[Layer, ...] = ()
    name: str | None = field(default=None, kw_only=True)

    def describe(self) -> str:
        inner = ", ".join(l.label for l in self.branch)
        short = ", ".join(l.label for l in self.shortcut) or "identity"
        return f"residual[{inner} + {short}]"

    def apply(self, shape: Shape) -> _Counts:
        _, main = _walk(self.branch, shape, "residual branch")
        _, side = _walk(self.shortcut, shape, "shortcut") if self.shortcut else (None, None)
        side_shape = side.shape if side else tuple(shape)
        if main.shape != side_shape:
            raise ValueError(
                f"residual branch output {main.shape} cannot be added to shortcut output {side_shape}"
                + ("" if self.shortcut else "; give a projection shortcut (e.g. a 1x1 conv)")
            )
        own = prod(main.shape)  # the sum is a new tensor
        extra = side or _Counts(side_shape, 0)
        return _Counts(
            main.shape,
            main.activations + extra.activations + own,
            main.weights + extra.weights,
            main.biases + extra.biases,
            main.macs + extra.macs,
        )


def _walk(
    spec: Sequence[Layer], shape: Shape, where: str = ""
) -> tuple[list[tuple[Layer, _Counts]], _Counts]:
    """Apply every layer in turn; returns the per-layer counts and their total (shape = last output)."""
    steps: list[tuple[Layer, _Counts]] = []
    for i, layer in enumerate(spec, start=1):
        if not isinstance(layer, Layer):
            raise TypeError(
                f"spec entry {i} must be a layer made by conv(), pool(), fc(), ...; got {layer!r}"
            )
        try:
            counts = layer.apply(shape)
        except ValueError as err:
            at = f"{where}, " if where else ""
            raise ValueError(f"{at}layer {i} ({layer.label}) on input {shape}: {err}") from err
        steps.append((layer, counts))
        shape = counts.shape
    total = _Counts(
        shape,
        sum(c.activations for _, c in steps),
        sum(c.weights for _, c in steps),
        sum(c.biases for _, c in steps),
        sum(c.macs for _, c in steps),
    )
    return steps, total


# ---------------------------------------------------------------------------------------------
# Constructors: the vocabulary of a spec.
# ---------------------------------------------------------------------------------------------


def conv(
    K: int,
    f: IntPair,
    stride: IntPair = 1,
    padding: IntPair = 0,
    dilation: IntPair = 1,
    *,
    bias: bool = True,
    groups: int = 1,
    name: str | None = None,
) -> Conv:
    """``K`` filters ``f x f`` (or ``(fh, fw)``); padding per side; ``bias=False`` drops the ``K`` biases.

    ``groups``: split channels and filters into that many independent groups (weights ``K C/g fh fw``).
    """
    return Conv(
        _count(K, "K"),
        as_pair(f, "filter size f", 1),
        as_pair(stride, "stride", 1),
        as_pair(padding, "padding", 0),
        as_pair(dilation, "dilation", 1),
        bool(bias),
        _count(groups, "groups"),
        name=name,
    )


def locally_connected(
    K: int,
    f: IntPair,
    stride: IntPair = 1,
    padding: IntPair = 0,
    *,
    bias: bool = True,
    name: str | None = None,
) -> LocallyConnected:
    """A conv layer without weight sharing: one set of ``K`` filters (and biases) per output position."""
    return LocallyConnected(
        _count(K, "K"),
        as_pair(f, "filter size f", 1),
        as_pair(stride, "stride", 1),
        as_pair(padding, "padding", 0),
        (1, 1),
        bool(bias),
        name=name,
    )


def pool(
    kind: str, size: IntPair, stride: IntPair | None = None, padding: IntPair = 0, *, name: str | None = None
) -> Pool:
    """``kind`` is ``"max"`` or ``"avg"``; ``stride`` defaults to ``size`` (non-overlapping windows)."""
    if kind not in ("max", "avg"):
        raise ValueError(f"pool kind must be 'max' or 'avg', got {kind!r}")
    size_ = as_pair(size, "pool size", 1)
    stride_ = size_ if stride is None else as_pair(stride, "stride", 1)
    return Pool(kind, size_, stride_, as_pair(padding, "padding", 0), name=name)


def fc(units: int, *, bias: bool = True, name: str | None = None) -> FC:
    """Fully connected layer with ``units`` outputs (flattens a ``(C, H, W)`` input)."""
    return FC(_count(units, "units"), bool(bias), name=name)


def relu(*, name: str | None = None) -> Elementwise:
    """ReLU: same shape, no parameters."""
    return Elementwise("relu", name=name)


def tanh(*, name: str | None = None) -> Elementwise:
    """tanh: same shape, no parameters."""
    return Elementwise("tanh", name=name)


def norm(*, name: str | None = None) -> Elementwise:
    """AlexNet's local response normalisation: same shape, no learned parameters."""
    return Elementwise("norm", name=name)


def _branch(layers: Layer | Sequence[Layer]) -> tuple[Layer, ...]:
    return (layers,) if isinstance(layers, Layer) else tuple(layers)


def concat(*branches: Layer | Sequence[Layer], name: str | None = None) -> Concat:
    """Run each branch (a layer or a list of layers) on the same input; stack the outputs' channels."""
    if not branches:
        raise ValueError("concat needs at least one branch")
    return Concat(tuple(_branch(b) for b in branches), name=name)


def residual(branch: Sequence[Layer], shortcut: Sequence[Layer] = (), *, name: str | None = None) -> Residual:
    """``branch(x) + shortcut(x)``; no shortcut layers means the identity."""
    return Residual(_branch(branch), _branch(shortcut), name=name)


def inception(
    n1x1: int,
    n3x3_reduce: int,
    n3x3: int,
    n5x5_reduce: int,
    n5x5: int,
    pool_proj: int,
    *,
    name: str | None = None,
) -> Concat:
    """GoogLeNet's inception module, in the order of the paper's table columns.

    Four branches on the same input: ``1x1``; ``1x1 reduce -> 3x3``; ``1x1 reduce -> 5x5``;
    ``3x3 max pool (stride 1) -> 1x1 projection``.  Padding keeps ``H, W``; the output depth is
    ``n1x1 + n3x3 + n5x5 + pool_proj``.
    """
    return concat(
        [conv(n1x1, 1)],
        [conv(n3x3_reduce, 1), conv(n3x3, 3, padding=1)],
        [conv(n5x5_reduce, 1), conv(n5x5, 5, padding=2)],
        [pool("max", 3, stride=1, padding=1), conv(pool_proj, 1)],
        name=name or f"inception {n1x1}/{n3x3_reduce}-{n3x3}/{n5x5_reduce}-{n5x5}/{pool_proj}",
    )


def basic_block(C: int, *, bias: bool = False, name: str | None = None) -> Residual:
    """ResNet-18/34 block: ``3x3 conv C -> ReLU -> 3x3 conv C``, plus the identity.

    ``bias=False`` as in ResNet (batch normalisation follows each conv; its ``2C`` scale/shift
    parameters per conv are not counted here).
    """
    return residual(
        [conv(C, 3, padding=1, bias=bias), relu(), conv(C, 3, padding=1, bias=bias)],
        name=name or f"basic block {C}",
    )


def bottleneck_block(C: int, mid: int, *, bias: bool = False, name: str | None = None) -> Residual:
    """ResNet-50/101/152 block: ``1x1 conv mid -> 3x3 conv mid -> 1x1 conv C``, plus the identity.

    The 1x1 convs reduce the depth before the expensive 3x3 and restore it after (GoogLeNet's trick).
    """
    return residual(
        [conv(mid, 1, bias=bias), relu(), conv(mid, 3, padding=1, bias=bias), relu(), conv(C, 1, bias=bias)],
        name=name or f"bottleneck {C}-{mid}-{C}",
    )


# ---------------------------------------------------------------------------------------------
# Built-in architectures.
# ---------------------------------------------------------------------------------------------

_VGG_CONFIGS: dict[str, tuple[object, ...]] = {
    # numbers: conv3 with that many filters; "M": 2x2 max pool; "1x1:n": conv1 with n filters; "LRN": norm
    "A": (64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"),
    "A-LRN": (64, "LRN", "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"),
    "B": (64, 64, "M", 128, 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"),
    "C": (
        64,
        64,
        "M",
        128,
        128,
        "M",
        256,
        256,
        "1x1:256",
        "M",
        512,
        512,
        "1x1:512",
        "M",
        512,
        512,
        "1x1:512",
        "M",
    ),
    "D": (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"),
    "E": (
        64,
        64,
        "M",
        128,
        128,
        "M",
        256,
        256,
        256,
        256,
        "M",
        512,
        512,
        512,
        512,
        "M",
        512,
        512,
        512,
        512,
        "M",
    ),
}


def vgg_spec(config: str = "D") -> list[Layer]:
    """VGG configuration ``"A"``, ``"A-LRN"``, ``"B"``, ``"C"``, ``"D"`` (VGG-16) or ``"E"`` (VGG-19).

    3x3 convs at stride 1, pad 1 (configuration C also has 1x1 convs), 2x2 max pools at stride 2,
    then FC-4096, FC-4096, FC-1000.  ReLUs are left out, as in the lectures' table.
    """
    if config not in _VGG_CONFIGS:
        raise ValueError(f"unknown VGG configuration {config!r}; choose from {sorted(_VGG_CONFIGS)}")
    layers: list[Layer] = []
    for item in _VGG_CONFIGS[config]:
        if item == "M":
            layers.append(pool("max", 2, stride=2))
        elif item == "LRN":
            layers.append(norm())
        elif isinstance(item, str):
            layers.append(conv(int(item.split(":")[1]), 1))
        else:
            layers.append(conv(item, 3, padding=1))
    return layers + [fc(4096), fc(4096), fc(1000)]


def _lenet5() -> list[Layer]:
    # The lecture's CONV-POOL-TANH-CONV-POOL-TANH-FC-TANH-FC-TANH-FC with the 1998 paper's sizes
    # (6 and 16 maps, 120 and 84 units, 10 classes); every C3 map sees all six S2 maps here.
    return [
        conv(6, 5),
        pool("avg", 2),
        tanh(),
        conv(16, 5),
        pool("avg", 2),
        tanh(),
        fc(120),
        tanh(),
        fc(84),
        tanh(),
        fc(10),
    ]


def _alexnet() -> list[Layer]:
    # The lectures' "full (simplified)" AlexNet: one tower, every filter spans all input channels.
    return [
        conv(96, 11, stride=4),
        pool("max", 3, stride=2),
        norm(),
        conv(256, 5, padding=2),
        pool("max", 3, stride=2),
        norm(),
        conv(384, 3, padding=1),
        conv(384, 3, padding=1),
        conv(256, 3, padding=1),
        pool("max", 3, stride=2),
        fc(4096),
        fc(4096),
        fc(1000),
    ]


#: GoogLeNet's inception modules (paper's table: #1x1, #3x3 reduce, #3x3, #5x5 reduce, #5x5, pool proj).
GOOGLENET_INCEPTION = {
    "3a": (64, 96, 128, 16, 32, 32),
    "3b": (128, 128, 192, 32, 96, 64),
    "4a": (192, 96, 208, 16, 48, 64),
    "4b": (160, 112, 224, 24, 64, 64),
    "4c": (128, 128, 256, 24, 64, 64),
    "4d": (112, 144, 288, 32, 64, 64),
    "4e": (256, 160, 320, 32, 128, 128),
    "5a": (256, 160, 320, 32, 128, 128),
    "5b": (384, 192, 384, 48, 128, 128),
}


def _googlenet() -> list[Layer]:
    # The paper's table, main classifier only (no auxiliary heads, dropout left out: no parameters).
    # Pools at stride 2 take padding 1 so that 112 -> 56 -> 28 -> 14 -> 7 as in the table.
    def module(key: str) -> Concat:
        return inception(*GOOGLENET_INCEPTION[key], name=f"inception ({key})")

    return [
        conv(64, 7, stride=2, padding=3),
        pool("max", 3, stride=2, padding=1),
        conv(64, 1),
        conv(192, 3, padding=1),
        pool("max", 3, stride=2, padding=1),
        module("3a"),
        module("3b"),
        pool("max", 3, stride=2, padding=1),
        module("4a"),
        module("4b"),
        module("4c"),
        module("4d"),
        module("4e"),
        pool("max", 3, stride=2, padding=1),
        module("5a"),
        module("5b"),
        pool("avg", 7, stride=1),
        fc(1000, name="linear 1000"),
    ]


#: name -> (spec factory, default input shape (C, H, W))
BUILTINS = {
    "lenet5": (_lenet5, (1, 32, 32)),
    "alexnet": (_alexnet, (3, 227, 227)),
    "vgg11": (lambda: vgg_spec("A"), (3, 224, 224)),
    "vgg13": (lambda: vgg_spec("B"), (3, 224, 224)),
    "vgg16": (lambda: vgg_spec("D"), (3, 224, 224)),
    "vgg19": (lambda: vgg_spec("E"), (3, 224, 224)),
    "googlenet": (_googlenet, (3, 224, 224)),
}


def get_spec(name: str) -> tuple[list[Layer], Shape]:
    """``(layers, default_input_shape)`` of a built-in architecture (a fresh list you may edit)."""
    if name not in BUILTINS:
        raise ValueError(f"unknown architecture {name!r}; built-ins are {sorted(BUILTINS)}")
    factory, shape = BUILTINS[name]
    return factory(), shape


# ---------------------------------------------------------------------------------------------
# The summary.
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

    def to_dict(self) -> dict:
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

    def to_dict(self) -> dict:
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
        header = _COLUMNS + ("",)
        widths = [max(len(line[k]) for line in body + [total, header]) for k in range(len(_COLUMNS))]

        def line(cells) -> str:
            text = "  ".join(
                cell.ljust(w) if k in (1, 2) else cell.rjust(w)
                for k, (cell, w) in enumerate(zip(cells, widths))
            )
            return (text + ("  " + cells[-1] if cells[-1] else "")).rstrip()

        rule = "-" * len(line(header))
        return "\n".join([line(header), rule] + [line(b) for b in body] + [rule, line(total)])

    def __str__(self) -> str:
        return self.table()

    __repr__ = __str__


def _as_input_shape(shape: object) -> Shape:
    if not isinstance(shape, (tuple, list)) or len(shape) not in (1, 3):
        raise ValueError(f"input_shape must be (C, H, W) or (n,), got {shape!r}")
    return tuple(_count(s, "input_shape entry") for s in shape)


def summary(spec: SpecLike, input_shape: Sequence[int] | None = None) -> Summary:
    """Walk ``spec`` from ``input_shape`` and count, layer by layer, outputs, parameters and MACs.

    Parameters
    ----------
    spec : a list of layers (``conv``, ``pool``, ``fc``, ``relu``, ``concat``, ``residual``, ...)
        or a built-in name (see :data:`BUILTINS`).
    input_shape : ``(C, H, W)`` (or ``(n,)``); optional for a built-in name (its usual input).

    Returns a :class:`Summary` whose row 0 is the input.  Raises :class:`ValueError` naming the
    layer and its input shape when a layer cannot be applied (the message of
    :func:`cnnbook.conv_output_size` follows), :class:`TypeError` for a spec entry that is not a layer.
    """
    if isinstance(spec, str):
        layers, default = get_spec(spec)
        shape = _as_input_shape(default if input_shape is None else input_shape)
    else:
        if input_shape is None:
            raise ValueError("input_shape is required for a spec given as a list of layers")
        layers, shape = list(spec), _as_input_shape(input_shape)
    steps, _ = _walk(layers, shape)
    rows = [Row(0, "input", shape, prod(shape), 0, 0, 0)]
    for i, (layer, c) in enumerate(steps, start=1):
        rows.append(Row(i, layer.label, c.shape, c.activations, c.weights, c.biases, c.macs, c.note))
    return Summary(shape, tuple(rows))

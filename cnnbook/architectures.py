"""Architectures by the numbers: the lectures' networks as lists of layer descriptions.

Every network here is a list of specs (:mod:`cnnbook.specs`) that :func:`cnnbook.specs.summary`
counts layer by layer, e.g. ::

    from cnnbook.specs import summary
    print(summary("vgg16"))                      # a built-in, on its usual input
    layers, shape = get_spec("alexnet")          # a fresh list you may edit
    print(summary(layers[:5], shape))

Built-in networks (:data:`BUILTINS`, :func:`get_spec`): ``"lenet5"``, ``"alexnet"`` (the
lectures' simplified single-tower version), ``"vgg11"``, ``"vgg13"``, ``"vgg16"``, ``"vgg19"``
(:func:`vgg_spec` has every configuration A-E), ``"googlenet"`` and ``"resnet18"``, ``"resnet34"``,
``"resnet50"``, ``"resnet101"``, ``"resnet152"`` (:func:`resnet_spec`).  The first five follow the
lectures' tables, which list no separate ReLU rows (ReLU is applied in place).  Building blocks:
GoogLeNet's :func:`inception` module (:data:`GOOGLENET_INCEPTION` lists the paper's), ResNet's
:func:`basic_block` and :func:`bottleneck_block`.  :func:`weight_layers` counts a network's depth
the way the papers do (layers with weights along the longest path).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial

from .specs import ConcatSpec, ConvSpec, ElementwiseSpec, FCSpec, LayerSpec, PoolSpec, ResidualSpec, Shape

__all__ = [
    "BUILTINS",
    "GOOGLENET_INCEPTION",
    "RESNET_STAGES",
    "basic_block",
    "bottleneck_block",
    "get_spec",
    "inception",
    "resnet_spec",
    "vgg_spec",
    "weight_layers",
]


def inception(
    n1x1: int,
    n3x3_reduce: int,
    n3x3: int,
    n5x5_reduce: int,
    n5x5: int,
    pool_proj: int,
    *,
    name: str | None = None,
) -> ConcatSpec:
    """GoogLeNet's inception module, in the order of the paper's table columns.

    Four branches on the same input: ``1x1``; ``1x1 reduce -> 3x3``; ``1x1 reduce -> 5x5``;
    ``3x3 max pool (stride 1) -> 1x1 projection``.  Padding keeps ``H, W``; the output depth is
    ``n1x1 + n3x3 + n5x5 + pool_proj``.
    """
    return ConcatSpec(
        [ConvSpec(n1x1, 1)],
        [ConvSpec(n3x3_reduce, 1), ConvSpec(n3x3, 3, padding=1)],
        [ConvSpec(n5x5_reduce, 1), ConvSpec(n5x5, 5, padding=2)],
        [PoolSpec("max", 3, stride=1, padding=1), ConvSpec(pool_proj, 1)],
        name=name or f"inception {n1x1}/{n3x3_reduce}-{n3x3}/{n5x5_reduce}-{n5x5}/{pool_proj}",
    )


def basic_block(channels: int, *, bias: bool = False, name: str | None = None) -> ResidualSpec:
    """ResNet-18/34 block: ``3x3 conv C -> ReLU -> 3x3 conv C`` (``C = channels``), plus the identity.

    ``bias=False`` as in ResNet (batch normalisation follows each conv; its ``2C`` scale/shift
    parameters per conv are not counted here).
    """
    conv = ConvSpec(channels, 3, padding=1, bias=bias)  # validates channels
    return ResidualSpec([conv, ElementwiseSpec("relu"), conv], name=name or f"basic block {channels}")


def bottleneck_block(
    channels: int, mid_channels: int, *, bias: bool = False, name: str | None = None
) -> ResidualSpec:
    """ResNet-50/101/152 block: ``1x1 conv mid -> 3x3 conv mid -> 1x1 conv C``, plus the identity.

    ``C = channels`` in and out, ``mid = mid_channels``.  The 1x1 convs reduce the depth before the
    expensive 3x3 and restore it after (GoogLeNet's trick).
    """
    relu = ElementwiseSpec("relu")
    return ResidualSpec(
        [
            ConvSpec(mid_channels, 1, bias=bias),
            relu,
            ConvSpec(mid_channels, 3, padding=1, bias=bias),
            relu,
            ConvSpec(channels, 1, bias=bias),
        ],
        name=name or f"bottleneck {channels}-{mid_channels}-{channels}",
    )


# ---------------------------------------------------------------------------------------------
# Built-in architectures.
# ---------------------------------------------------------------------------------------------

_VGG_CONFIGS: dict[str, str] = {
    # a number: a 3x3 conv with that many filters; "M": 2x2 max pool; "1x1:n": a 1x1 conv with n filters;
    # "LRN": local response normalisation (the paper's table, column by column)
    "A": "64 M 128 M 256 256 M 512 512 M 512 512 M",
    "A-LRN": "64 LRN M 128 M 256 256 M 512 512 M 512 512 M",
    "B": "64 64 M 128 128 M 256 256 M 512 512 M 512 512 M",
    "C": "64 64 M 128 128 M 256 256 1x1:256 M 512 512 1x1:512 M 512 512 1x1:512 M",
    "D": "64 64 M 128 128 M 256 256 256 M 512 512 512 M 512 512 512 M",
    "E": "64 64 M 128 128 M 256 256 256 256 M 512 512 512 512 M 512 512 512 512 M",
}


def vgg_spec(config: str = "D") -> list[LayerSpec]:
    """VGG configuration ``"A"``, ``"A-LRN"``, ``"B"``, ``"C"``, ``"D"`` (VGG-16) or ``"E"`` (VGG-19).

    3x3 convs at stride 1, pad 1 (configuration C also has 1x1 convs), 2x2 max pools at stride 2,
    then FC-4096, FC-4096, FC-1000.  ReLUs are left out, as in the lectures' table.
    """
    if config not in _VGG_CONFIGS:
        raise ValueError(f"unknown VGG configuration {config!r}; choose from {sorted(_VGG_CONFIGS)}")
    layers: list[LayerSpec] = []
    for item in _VGG_CONFIGS[config].split():
        if item == "M":
            layers.append(PoolSpec("max", 2, stride=2))
        elif item == "LRN":
            layers.append(ElementwiseSpec("norm"))
        elif item.startswith("1x1:"):
            layers.append(ConvSpec(int(item.removeprefix("1x1:")), 1))
        else:
            layers.append(ConvSpec(int(item), 3, padding=1))
    return [*layers, FCSpec(4096), FCSpec(4096), FCSpec(1000)]


def _lenet5() -> list[LayerSpec]:
    # The lecture's CONV-POOL-TANH-CONV-POOL-TANH-FC-TANH-FC-TANH-FC with the 1998 paper's sizes
    # (6 and 16 maps, 120 and 84 units, 10 classes); every C3 map sees all six S2 maps here.
    return [
        ConvSpec(6, 5),
        PoolSpec("avg", 2),
        ElementwiseSpec("tanh"),
        ConvSpec(16, 5),
        PoolSpec("avg", 2),
        ElementwiseSpec("tanh"),
        FCSpec(120),
        ElementwiseSpec("tanh"),
        FCSpec(84),
        ElementwiseSpec("tanh"),
        FCSpec(10),
    ]


def _alexnet() -> list[LayerSpec]:
    # The lectures' "full (simplified)" AlexNet: one tower, every filter spans all input channels.
    return [
        ConvSpec(96, 11, stride=4),
        PoolSpec("max", 3, stride=2),
        ElementwiseSpec("norm"),
        ConvSpec(256, 5, padding=2),
        PoolSpec("max", 3, stride=2),
        ElementwiseSpec("norm"),
        ConvSpec(384, 3, padding=1),
        ConvSpec(384, 3, padding=1),
        ConvSpec(256, 3, padding=1),
        PoolSpec("max", 3, stride=2),
        FCSpec(4096),
        FCSpec(4096),
        FCSpec(1000),
    ]


#: GoogLeNet's inception modules (paper's table: #1x1, #3x3 reduce, #3x3, #5x5 reduce, #5x5, pool proj).
GOOGLENET_INCEPTION: dict[str, tuple[int, int, int, int, int, int]] = {
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


def _googlenet() -> list[LayerSpec]:
    # The paper's table, main classifier only (no auxiliary heads, dropout left out: no parameters).
    # Pools at stride 2 take padding 1 so that 112 -> 56 -> 28 -> 14 -> 7 as in the table.
    def module(key: str) -> ConcatSpec:
        return inception(*GOOGLENET_INCEPTION[key], name=f"inception ({key})")

    return [
        ConvSpec(64, 7, stride=2, padding=3),
        PoolSpec("max", 3, stride=2, padding=1),
        ConvSpec(64, 1),
        ConvSpec(192, 3, padding=1),
        PoolSpec("max", 3, stride=2, padding=1),
        module("3a"),
        module("3b"),
        PoolSpec("max", 3, stride=2, padding=1),
        module("4a"),
        module("4b"),
        module("4c"),
        module("4d"),
        module("4e"),
        PoolSpec("max", 3, stride=2, padding=1),
        module("5a"),
        module("5b"),
        PoolSpec("avg", 7, stride=1),
        FCSpec(1000, name="linear 1000"),
    ]


#: ResNet depth -> (block kind, blocks per stage) (He et al., 2016, Table 1).
RESNET_STAGES: dict[int, tuple[str, tuple[int, int, int, int]]] = {
    18: ("basic", (2, 2, 2, 2)),
    34: ("basic", (3, 4, 6, 3)),
    50: ("bottleneck", (3, 4, 6, 3)),
    101: ("bottleneck", (3, 4, 23, 3)),
    152: ("bottleneck", (3, 8, 36, 3)),
}


def _first_block(kind: str, channels: int, mid_channels: int, stride: int) -> ResidualSpec:
    # A stage's first block: it changes the number of maps (and, with stride 2, halves H and W), so its
    # shortcut is a 1x1 projection conv at the same stride.  A basic block of ResNet-18/34's first stage
    # keeps 64 maps at stride 1: its shortcut stays the identity.
    relu = ElementwiseSpec("relu")
    if kind == "basic":
        branch: list[LayerSpec] = [
            ConvSpec(channels, 3, stride=stride, padding=1, bias=False),
            relu,
            ConvSpec(channels, 3, padding=1, bias=False),
        ]
    else:  # the paper puts the stride in the first 1x1 conv (torchvision's "v1.5" moves it to the 3x3)
        branch = [
            ConvSpec(mid_channels, 1, stride=stride, bias=False),
            relu,
            ConvSpec(mid_channels, 3, padding=1, bias=False),
            relu,
            ConvSpec(channels, 1, bias=False),
        ]
    if kind == "basic" and stride == 1:
        return ResidualSpec(branch, name=f"basic block {channels}")
    label = (
        f"basic block {channels}" if kind == "basic" else f"bottleneck {channels}-{mid_channels}-{channels}"
    )
    return ResidualSpec(
        branch, [ConvSpec(channels, 1, stride=stride, bias=False)], name=f"{label} /{stride} proj"
    )


def resnet_spec(depth: int = 152) -> list[LayerSpec]:
    """ResNet-18, -34, -50, -101 or -152 (He et al., 2016, Table 1) for a ``(3, 224, 224)`` input.

    Stem: ``7x7`` conv, 64 maps, stride 2, pad 3 (``-> (64, 112, 112)``), ``3x3`` max pool, stride 2,
    pad 1 (``-> (64, 56, 56)``).  Then four stages (:data:`RESNET_STAGES`) at ``56, 28, 14, 7``
    pixels: basic blocks (:func:`basic_block`) of 64, 128, 256, 512 maps for depths 18 and 34,
    bottleneck blocks (:func:`bottleneck_block`) of ``4 * mid`` maps, ``mid`` = 64, 128, 256, 512,
    for depths 50, 101 and 152.  The first block of each stage that changes the number of maps has a
    ``1x1`` projection shortcut, at stride 2 in stages 2-4 (the paper's option B).  Then a ``7x7``
    average pool and FC-1000.  Convs have no biases; the batch normalisation after each conv
    (``2 * out_channels`` parameters) is not listed.  :func:`weight_layers` of the result is ``depth``.
    """
    if not isinstance(depth, int) or isinstance(depth, bool):
        raise TypeError(f"depth must be an int, one of {sorted(RESNET_STAGES)}; got {depth!r}")
    if depth not in RESNET_STAGES:
        raise ValueError(f"depth must be one of {sorted(RESNET_STAGES)} (the paper's Table 1), got {depth}")
    kind, blocks = RESNET_STAGES[depth]
    spec: list[LayerSpec] = [
        ConvSpec(64, 7, stride=2, padding=3, bias=False),
        PoolSpec("max", 3, stride=2, padding=1),
    ]
    for stage, n in enumerate(blocks):
        mid = 64 * 2**stage
        channels = mid if kind == "basic" else 4 * mid
        spec.append(_first_block(kind, channels, mid, stride=1 if stage == 0 else 2))
        for _ in range(n - 1):
            spec.append(basic_block(channels) if kind == "basic" else bottleneck_block(channels, mid))
    return [*spec, PoolSpec("avg", 7, stride=1), FCSpec(1000)]


def weight_layers(spec: Sequence[LayerSpec]) -> int:
    """The depth of a network as the papers count it: layers with weights along the longest path.

    Conv, locally connected and FC layers count 1; a :class:`~cnnbook.specs.ResidualSpec` counts its
    branch (a projection shortcut runs beside it and adds no depth); a
    :class:`~cnnbook.specs.ConcatSpec` counts its deepest branch.  LeNet-5 has 5, AlexNet 8,
    VGG-16 16, GoogLeNet 22 and ``resnet_spec(n)`` ``n``.
    """
    if isinstance(spec, LayerSpec) or not isinstance(spec, Sequence):
        raise TypeError(f"spec must be a list of layer specs, got {spec!r}")
    count = 0
    for i, layer in enumerate(spec, start=1):
        if isinstance(layer, (ConvSpec, FCSpec)):  # LocallyConnectedSpec is a ConvSpec
            count += 1
        elif isinstance(layer, ResidualSpec):
            count += weight_layers(layer.branch)
        elif isinstance(layer, ConcatSpec):
            count += max(weight_layers(b) for b in layer.branches)
        elif not isinstance(layer, LayerSpec):
            raise TypeError(f"spec entry {i} must be a LayerSpec (ConvSpec, PoolSpec, ...), got {layer!r}")
    return count


#: name -> (spec factory, default input shape (C, H, W))
BUILTINS: dict[str, tuple[Callable[[], list[LayerSpec]], Shape]] = {
    "lenet5": (_lenet5, (1, 32, 32)),
    "alexnet": (_alexnet, (3, 227, 227)),
    "vgg11": (lambda: vgg_spec("A"), (3, 224, 224)),
    "vgg13": (lambda: vgg_spec("B"), (3, 224, 224)),
    "vgg16": (lambda: vgg_spec("D"), (3, 224, 224)),
    "vgg19": (lambda: vgg_spec("E"), (3, 224, 224)),
    "googlenet": (_googlenet, (3, 224, 224)),
    **{f"resnet{n}": (partial(resnet_spec, n), (3, 224, 224)) for n in RESNET_STAGES},
}


def get_spec(name: str) -> tuple[list[LayerSpec], Shape]:
    """``(layers, default_input_shape)`` of a built-in architecture (a fresh list you may edit).

    :class:`TypeError` when ``name`` is not a string, :class:`ValueError` for an unknown name.
    """
    if not isinstance(name, str):
        raise TypeError(f"name must be the str name of a built-in architecture, got {name!r}")
    if name not in BUILTINS:
        raise ValueError(f"unknown architecture {name!r}; built-ins are {sorted(BUILTINS)}")
    factory, shape = BUILTINS[name]
    return factory(), shape

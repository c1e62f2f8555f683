"""Architectures by the numbers: the lectures' networks as lists of layer descriptions.

Every network here is a list of specs (:mod:`cnnbook.specs`) that :func:`cnnbook.specs.summary`
counts layer by layer, e.g. ::

    from cnnbook.specs import summary
    print(summary("vgg16"))                      # a built-in, on its usual input
    layers, shape = get_spec("alexnet")          # a fresh list you may edit
    print(summary(layers[:5], shape))

Built-in networks (:data:`BUILTINS`, :func:`get_spec`): ``"lenet5"``, ``"alexnet"`` (the
lectures' simplified single-tower version), ``"vgg11"``, ``"vgg13"``, ``"vgg16"``, ``"vgg19"``
(:func:`vgg_spec` has every configuration A-E) and ``"googlenet"``.  They follow the lectures'
tables, which list no separate ReLU rows (ReLU is applied in place).  Building blocks:
GoogLeNet's :func:`inception` module (:data:`GOOGLENET_INCEPTION` lists the paper's), ResNet's
:func:`basic_block` and :func:`bottleneck_block`.
"""

from __future__ import annotations

from collections.abc import Callable

from .specs import ConcatSpec, ConvSpec, ElementwiseSpec, FCSpec, LayerSpec, PoolSpec, ResidualSpec, Shape

__all__ = [
    "BUILTINS",
    "GOOGLENET_INCEPTION",
    "basic_block",
    "bottleneck_block",
    "get_spec",
    "inception",
    "vgg_spec",
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


#: name -> (spec factory, default input shape (C, H, W))
BUILTINS: dict[str, tuple[Callable[[], list[LayerSpec]], Shape]] = {
    "lenet5": (_lenet5, (1, 32, 32)),
    "alexnet": (_alexnet, (3, 227, 227)),
    "vgg11": (lambda: vgg_spec("A"), (3, 224, 224)),
    "vgg13": (lambda: vgg_spec("B"), (3, 224, 224)),
    "vgg16": (lambda: vgg_spec("D"), (3, 224, 224)),
    "vgg19": (lambda: vgg_spec("E"), (3, 224, 224)),
    "googlenet": (_googlenet, (3, 224, 224)),
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

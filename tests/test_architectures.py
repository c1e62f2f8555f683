"""cnnbook.architectures and cnnbook.specs: shapes, parameter and activation counts of whole networks.

Every figure is checked against an independent route: hand arithmetic written out below, the
lectures' tables, and (when torch is installed) the same network built layer by layer in PyTorch.
"""

from __future__ import annotations

import json

import pytest

from cnnbook import conv_output_size
from cnnbook.architectures import (
    BUILTINS,
    GOOGLENET_INCEPTION,
    RESNET_STAGES,
    basic_block,
    bottleneck_block,
    get_spec,
    inception,
    resnet_spec,
    vgg_spec,
    weight_layers,
)
from cnnbook.specs import (
    ConcatSpec,
    ConvSpec,
    ElementwiseSpec,
    FCSpec,
    LocallyConnectedSpec,
    PoolSpec,
    ResidualSpec,
    summary,
)

# The lectures' VGG-16 table: (output H, W, C) and weights (biases not counted), input row first.
VGG16_TABLE = [
    ((224, 224, 3), 0),
    ((224, 224, 64), 1_728),
    ((224, 224, 64), 36_864),
    ((112, 112, 64), 0),
    ((112, 112, 128), 73_728),
    ((112, 112, 128), 147_456),
    ((56, 56, 128), 0),
    ((56, 56, 256), 294_912),
    ((56, 56, 256), 589_824),
    ((56, 56, 256), 589_824),
    ((28, 28, 256), 0),
    ((28, 28, 512), 1_179_648),
    ((28, 28, 512), 2_359_296),
    ((28, 28, 512), 2_359_296),
    ((14, 14, 512), 0),
    ((14, 14, 512), 2_359_296),
    ((14, 14, 512), 2_359_296),
    ((14, 14, 512), 2_359_296),
    ((7, 7, 512), 0),
    ((1, 1, 4096), 102_760_448),
    ((1, 1, 4096), 16_777_216),
    ((1, 1, 1000), 4_096_000),
]


def vgg16_by_hand():
    """(weights, biases, activations) of VGG-16 from the channel list alone, no package code."""
    weights = biases = 0
    acts = 224 * 224 * 3
    c_in, side = 3, 224
    for block in ([64, 64], [128, 128], [256] * 3, [512] * 3, [512] * 3):
        for k in block:
            weights += 3 * 3 * c_in * k
            biases += k
            acts += side * side * k
            c_in = k
        side //= 2
        acts += side * side * c_in
    n_in = side * side * c_in
    for units in (4096, 4096, 1000):
        weights += n_in * units
        biases += units
        acts += units
        n_in = units
    return weights, biases, acts


def test_vgg16_totals_match_hand_arithmetic():
    s = summary("vgg16", (3, 224, 224))
    w, b, a = vgg16_by_hand()
    assert (s.total_weights, s.total_biases, s.total_activations) == (w, b, a)
    assert s.total_weights == 138_344_128
    assert s.total_biases == 13_416
    assert s.total_params == 138_357_544
    assert s.total_activations == 15_237_608
    assert s.activation_bytes() == 60_950_432
    assert s.output_shape == (1000,)


def test_vgg16_every_row_of_the_lecture_table():
    s = summary("vgg16")
    assert len(s.rows) == len(VGG16_TABLE)
    for row, ((h, w, c), weights) in zip(s.rows, VGG16_TABLE):
        assert row.activations == h * w * c, row
        assert row.weights == weights, row
        assert row.output_shape in ((c, h, w), (c,))


def test_vgg_configurations_match_the_paper_table_in_millions():
    # Simonyan & Zisserman, Table 2 (quoted in the lecture): A, A-LRN 133; B 133; C 134; D 138; E 144.
    expected = {"A": 133, "A-LRN": 133, "B": 133, "C": 134, "D": 138, "E": 144}
    for config, millions in expected.items():
        assert round(summary(vgg_spec(config), (3, 224, 224)).total_params / 1e6) == millions, config
    assert summary("vgg11").total_params == summary(vgg_spec("A"), (3, 224, 224)).total_params
    assert summary("vgg19").total_params == 143_667_240


def test_alexnet_matches_the_lecture_walkthrough():
    s = summary("alexnet")
    conv1 = s.rows[1]
    assert conv1.output_shape == (96, 55, 55)  # (227 - 11)/4 + 1 = 55
    assert conv1.weights == 11 * 11 * 3 * 96 == 34_848
    assert conv1.params == 34_944
    assert round(conv1.params, -3) == round(conv1.weights, -3) == 35_000  # the lecture's "35K"
    shapes = [r.output_shape for r in s.rows[1:]]
    assert shapes == [
        (96, 55, 55),
        (96, 27, 27),
        (96, 27, 27),
        (256, 27, 27),
        (256, 13, 13),
        (256, 13, 13),
        (384, 13, 13),
        (384, 13, 13),
        (256, 13, 13),
        (256, 6, 6),
        (4096,),
        (4096,),
        (1000,),
    ]
    assert s.total_params == 62_378_344


def alexnet_two_towers():
    """The 2012 paper's split: conv2, conv4 and conv5 only see the channels of their own GPU."""
    layers, shape = get_spec("alexnet")
    for i in (3, 7, 8):
        layers[i] = ConvSpec(
            layers[i].out_channels, layers[i].kernel_size, padding=layers[i].padding, groups=2
        )
    return layers, shape


def test_grouped_alexnet_has_the_papers_sixty_million():
    layers, shape = alexnet_two_towers()
    s = summary(layers, shape)
    assert s.rows[4].weights == 256 * 48 * 5 * 5 and s.rows[4].layer == "conv 256 5x5 s1 p2 g2"
    assert s.total_params == 60_965_224  # "60 million parameters"
    assert [r.output_shape for r in s.rows] == [r.output_shape for r in summary("alexnet").rows]
    with pytest.raises(ValueError, match="groups=2 must divide both the input channels C=3"):
        summary([ConvSpec(4, 3, groups=2)], (3, 8, 8))


def test_alexnet_on_224_reports_the_unused_rows():
    s = summary("alexnet", (3, 224, 224))
    assert s.rows[1].output_shape == (96, 54, 54)
    assert "1 row(s), 1 col(s) unused" in s.rows[1].note
    assert "unused" in str(s)
    assert summary("alexnet").rows[1].note == ""


def test_rows_skipped_between_windows_are_reported_too():
    # 2x2 windows at stride 3 on 8 rows read rows 0,1, 3,4, 6,7: rows 2 and 5 are never read.
    s = summary([PoolSpec("max", 2, stride=3)], (1, 8, 8))
    assert s.output_shape == (1, 3, 3)
    assert s.rows[1].note == "2 row(s), 2 col(s) unused"
    assert summary([ConvSpec(1, 3, stride=2)], (1, 7, 7)).rows[1].note == ""


def test_lenet5():
    s = summary("lenet5")
    assert [r.output_shape for r in s.rows] == [
        (1, 32, 32),
        (6, 28, 28),
        (6, 14, 14),
        (6, 14, 14),
        (16, 10, 10),
        (16, 5, 5),
        (16, 5, 5),
        (120,),
        (120,),
        (84,),
        (84,),
        (10,),
    ]
    assert [r.params for r in s.rows if r.params] == [
        5 * 5 * 1 * 6 + 6,
        5 * 5 * 6 * 16 + 16,
        400 * 120 + 120,
        120 * 84 + 84,
        84 * 10 + 10,
    ]
    assert s.total_params == 61_706


def test_fc_vs_locally_connected_vs_conv_on_200x200():
    image = (1, 200, 200)
    dense = summary([FCSpec(40_000)], image)
    assert dense.total_weights == 1_600_000_000  # "~2 billion / 1.6 B"
    # 10x10 windows, one unit per position; padding 5 gives 201x201 (symmetric padding cannot give 200x200).
    local = summary([LocallyConnectedSpec(1, 10, padding=5)], image)
    assert local.output_shape == (1, 201, 201)
    assert local.total_weights == 201 * 201 * 100 == 4_040_100  # "40K x 100 = 4M"
    assert local.total_biases == 201 * 201
    shared = summary([ConvSpec(100, 10, padding=5)], image)
    assert shared.total_weights == 10_000  # "100 filters, 10x10: 10K"
    assert shared.total_params == 10_100
    assert local.rows[1].macs == shared.rows[1].macs / 100  # same arithmetic per filter


def test_inception_3a_channel_arithmetic():
    block = inception(64, 96, 128, 16, 32, 32)
    s = summary([block], (192, 28, 28))
    assert s.output_shape == (64 + 128 + 32 + 32, 28, 28) == (256, 28, 28)
    by_hand = 192 * 64 + (192 * 96 + 9 * 96 * 128) + (192 * 16 + 25 * 16 * 32) + 192 * 32
    assert s.total_weights == by_hand == 163_328
    assert s.total_biases == 64 + 96 + 128 + 16 + 32 + 32
    assert s.total_macs == 28 * 28 * by_hand == 128_049_152  # the table's "128M" ops
    # without the 1x1 reductions the 3x3 and 5x5 would see all 192 channels
    naive = ConcatSpec(
        ConvSpec(64, 1),
        ConvSpec(128, 3, padding=1),
        ConvSpec(32, 5, padding=2),
        [PoolSpec("max", 3, 1, 1), ConvSpec(32, 1)],
    )
    assert summary([naive], (192, 28, 28)).total_weights == 192 * (64 + 9 * 128 + 25 * 32 + 32)


def test_googlenet_depths_follow_the_table():
    s = summary("googlenet")
    depth = {r.layer: r.output_shape for r in s.rows}
    assert depth["inception (3a)"] == (256, 28, 28)
    assert depth["inception (4e)"] == (832, 14, 14)
    assert depth["inception (5b)"] == (1024, 7, 7)
    assert s.output_shape == (1000,)


def test_resnet_basic_vs_bottleneck():
    basic = summary([basic_block(64)], (64, 56, 56))
    bottle = summary([bottleneck_block(256, 64)], (256, 56, 56))
    assert basic.total_params == 2 * 3 * 3 * 64 * 64 == 73_728
    assert bottle.total_params == 256 * 64 + 3 * 3 * 64 * 64 + 64 * 256 == 69_632
    assert basic.output_shape == (64, 56, 56) and bottle.output_shape == (256, 56, 56)
    # activations: conv, relu, conv, sum for the basic block
    assert basic.rows[1].activations == 4 * 64 * 56 * 56
    projected = ResidualSpec(
        [ConvSpec(128, 3, stride=2, padding=1, bias=False)], [ConvSpec(128, 1, stride=2, bias=False)]
    )
    assert summary([projected], (64, 56, 56)).total_params == 9 * 64 * 128 + 64 * 128


# torchvision's documented ``num_params`` of its ResNets (batch-norm scale and shift included).
TORCHVISION_RESNET_PARAMS = {18: 11_689_512, 34: 21_797_672, 50: 25_557_032, 101: 44_549_160, 152: 60_192_808}
# He et al. (2016), Table 1: "FLOPs" (multiply-adds) in billions, as printed.
PAPER_RESNET_GMACS = {18: 1.8, 34: 3.6, 50: 3.8, 101: 7.6, 152: 11.3}


def batchnorm_params(layers):
    """2 parameters (scale, shift) per output map of every conv: the BN layers the specs leave out."""
    total = 0
    for layer in layers:
        if isinstance(layer, ConvSpec):
            total += 2 * layer.out_channels
        elif isinstance(layer, ResidualSpec):
            total += batchnorm_params(layer.branch) + batchnorm_params(layer.shortcut)
    return total


@pytest.mark.parametrize("depth", sorted(RESNET_STAGES))
def test_resnets_match_torchvision_and_the_paper(depth):
    layers = resnet_spec(depth)
    s = summary(layers, (3, 224, 224))
    assert s.output_shape == (1000,)
    assert s.total_params + batchnorm_params(layers) == TORCHVISION_RESNET_PARAMS[depth]
    assert abs(s.total_macs / 1e9 - PAPER_RESNET_GMACS[depth]) < 0.07  # the table truncates or rounds
    assert weight_layers(layers) == depth
    assert summary(f"resnet{depth}").total_params == s.total_params


def test_resnet18_by_hand():
    # stem 7x7x3x64; stage 1: four 3x3 convs 64->64; stages 2-4: a 3x3 C/2->C, three 3x3 C->C and a
    # 1x1 C/2->C projection; FC 512->1000 with biases.
    weights = 7 * 7 * 3 * 64 + 4 * 9 * 64 * 64
    for c in (128, 256, 512):
        weights += 9 * (c // 2) * c + 3 * 9 * c * c + (c // 2) * c
    assert summary("resnet18").total_params == weights + 512 * 1000 + 1000 == 11_679_912


@pytest.mark.parametrize("depth", [18, 50])
def test_resnets_against_torchvision(depth):
    torchvision = pytest.importorskip("torchvision")
    model = getattr(torchvision.models, f"resnet{depth}")(weights=None)
    layers = resnet_spec(depth)
    expected = summary(layers, (3, 224, 224)).total_params + batchnorm_params(layers)
    assert sum(p.numel() for p in model.parameters()) == expected


def test_weight_layers_counts_depth_as_the_papers_do():
    # The papers' names and words: LeNet-5, "8 learned layers", VGG-16/19, "22 layers deep".
    depths = {"lenet5": 5, "alexnet": 8, "vgg16": 16, "vgg19": 19, "googlenet": 22}
    assert {name: weight_layers(get_spec(name)[0]) for name in depths} == depths
    assert weight_layers([inception(*GOOGLENET_INCEPTION["3a"])]) == 2
    with pytest.raises(TypeError, match="spec must be a list"):
        weight_layers(ConvSpec(4, 3))
    with pytest.raises(TypeError, match="spec entry 2"):
        weight_layers([ConvSpec(4, 3), "relu"])


def test_resnet_spec_refuses_other_depths():
    with pytest.raises(ValueError, match="depth must be one of"):
        resnet_spec(20)
    with pytest.raises(TypeError, match="depth must be an int"):
        resnet_spec("50")


def test_plain_data_and_table():
    s = summary("lenet5")
    data = s.to_dict()
    assert json.loads(json.dumps(data)) == data
    assert data["total_params"] == s.total_params == sum(r["params"] for r in data["rows"])
    assert data["rows"][1] == {
        "index": 1,
        "layer": "conv 6 5x5 s1",
        "output_shape": [6, 28, 28],
        "activations": 4704,
        "weights": 150,
        "biases": 6,
        "params": 156,
        "macs": 117_600,
        "note": "",
    }
    text = str(s)
    assert text == repr(s) == s.table()
    assert "61,706" in text and "conv 6 5x5 s1" in text and text.splitlines()[-1].lstrip().startswith("total")
    assert s.row("fc 84").params == 10_164
    with pytest.raises(KeyError, match="no layer labelled"):
        s.row("fc 85")


def test_spec_builders_accept_lists_and_names():
    layers, shape = get_spec("alexnet")
    assert shape == (3, 227, 227)
    assert summary(layers, shape).total_params == summary("alexnet").total_params
    assert set(BUILTINS) >= {"lenet5", "alexnet", "vgg16"}
    assert summary(
        [
            ConvSpec(4, (3, 5), stride=(1, 2)),
            ElementwiseSpec("relu"),
            ElementwiseSpec("norm"),
            ElementwiseSpec("tanh"),
        ],
        (2, 9, 9),
    ).output_shape == (
        4,
        7,
        3,
    )
    assert summary([FCSpec(3)], (5,)).total_params == 18


def test_impossible_layers_raise_the_core_message():
    with pytest.raises(ValueError) as err:
        conv_output_size(5, 7)
    core = str(err.value)
    with pytest.raises(ValueError) as err2:
        summary([ConvSpec(4, 3), ConvSpec(8, 7)], (1, 7, 7))
    assert core in str(err2.value)
    assert "layer 2 (conv 8 7x7 s1)" in str(err2.value) and "(4, 5, 5)" in str(err2.value)
    with pytest.raises(ValueError, match="larger than the padded input"):
        summary("vgg16", (3, 16, 16))  # five halvings of 16 reach 0


@pytest.mark.parametrize(
    "spec, shape, kind, pattern",
    [
        ([FCSpec(10), ConvSpec(3, 3)], (1, 8, 8), ValueError, r"needs a \(C, H, W\) input"),
        ([ConcatSpec(ConvSpec(2, 3), ConvSpec(2, 1))], (1, 8, 8), ValueError, "same \\(H, W\\)"),
        ([ResidualSpec([ConvSpec(2, 3, padding=1)])], (1, 8, 8), ValueError, "projection shortcut"),
        (["relu"], (1, 8, 8), TypeError, "spec entry 1"),
        ([ConvSpec(2, 3)], (1, 8), ValueError, "input_shape must be"),
        ([ConvSpec(2, 3)], (1, 0, 8), ValueError, "input_shape entry"),
        ([PoolSpec("max", 3, stride=2)], (1, 2, 2), ValueError, "layer 1 \\(maxpool 3x3 s2\\)"),
    ],
)
def test_bad_specs(spec, shape, kind, pattern):
    with pytest.raises(kind, match=pattern):
        summary(spec, shape)


def test_bad_layer_arguments():
    with pytest.raises(TypeError, match="out_channels must be an int"):
        ConvSpec(2.5, 3)
    with pytest.raises(ValueError, match="out_channels must be a positive int, got 0"):
        ConvSpec(0, 3)
    with pytest.raises(TypeError, match="out_features must be an int, got \\(3, 4\\)"):
        FCSpec((3, 4))
    with pytest.raises(ValueError, match="'max' or 'avg'"):
        PoolSpec("min", 2)
    with pytest.raises(ValueError, match="stride must be >= 1"):
        ConvSpec(2, 3, stride=0)
    with pytest.raises(ValueError, match="unknown architecture"):
        summary("resnet1000")
    with pytest.raises(ValueError, match="unknown VGG"):
        vgg_spec("F")
    with pytest.raises(ValueError, match="input_shape is required"):
        summary([ConvSpec(1, 1)])


# ------------------------------------------------------------------------------------------
# PyTorch: the same networks built layer by layer (meta tensors: shapes only, no arithmetic).
# ------------------------------------------------------------------------------------------


def _to_torch(layer, torch):
    nn = torch.nn

    class Cat(nn.Module):
        def __init__(self, branches):
            super().__init__()
            self.branches = nn.ModuleList(branches)

        def forward(self, x):
            return torch.cat([b(x) for b in self.branches], dim=-3)

    class Add(nn.Module):
        def __init__(self, branch, shortcut):
            super().__init__()
            self.branch, self.shortcut = branch, shortcut

        def forward(self, x):
            return self.branch(x) + self.shortcut(x)

    def seq(layers):
        return nn.Sequential(*[_to_torch(l, torch) for l in layers])

    assert not isinstance(layer, LocallyConnectedSpec)
    if isinstance(layer, ConvSpec):
        return nn.LazyConv2d(
            layer.out_channels,
            layer.kernel_size,
            layer.stride,
            layer.padding,
            layer.dilation,
            groups=layer.groups,
            bias=layer.bias,
        )
    if isinstance(layer, PoolSpec):
        cls = nn.MaxPool2d if layer.kind == "max" else nn.AvgPool2d
        return cls(layer.kernel_size, layer.stride, layer.padding)
    if isinstance(layer, FCSpec):
        return nn.Sequential(nn.Flatten(0), nn.LazyLinear(layer.out_features, bias=layer.bias))
    if isinstance(layer, ElementwiseSpec):
        return {"relu": nn.ReLU(), "tanh": nn.Tanh()}.get(layer.kind, nn.Identity())
    if isinstance(layer, ConcatSpec):
        return Cat([seq(b) for b in layer.branches])
    if isinstance(layer, ResidualSpec):
        return Add(seq(layer.branch), seq(layer.shortcut) if layer.shortcut else nn.Identity())
    raise AssertionError(layer)


@pytest.mark.parametrize(
    "name", ["lenet5", "alexnet", "alexnet-2-towers", "vgg16", "googlenet", "resnet18", "resnet50"]
)
def test_builtins_against_torch(name):
    torch = pytest.importorskip("torch")
    layers, shape = alexnet_two_towers() if name == "alexnet-2-towers" else get_spec(name)
    s = summary(layers, shape)
    with torch.device("meta"):
        modules = [_to_torch(layer, torch) for layer in layers]
        x = torch.empty(shape)  # one image without a batch axis: (C, H, W)
        for module, row in zip(modules, s.rows[1:]):
            x = module(x)
            assert tuple(x.shape) == row.output_shape, row
            assert sum(p.numel() for p in module.parameters()) == row.params, row
    assert len(modules) == len(s.rows) - 1


def test_resnet_blocks_against_torch():
    torch = pytest.importorskip("torch")
    for block, shape in ((basic_block(64), (64, 56, 56)), (bottleneck_block(256, 64), (256, 56, 56))):
        with torch.device("meta"):
            module = _to_torch(block, torch)
            y = module(torch.empty(shape))
        row = summary([block], shape).rows[1]
        assert tuple(y.shape) == row.output_shape
        assert sum(p.numel() for p in module.parameters()) == row.params

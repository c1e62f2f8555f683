"""cnnbook.specs: layer descriptions check their arguments when made, and one summary counts them all."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from cnnbook.architectures import get_spec
from cnnbook.layers import Conv2D, Dense, Flatten, Maxout, MaxPool2D, ReLU
from cnnbook.models import Sequential, small_convnet
from cnnbook.specs import (
    ConcatSpec,
    ConvSpec,
    Counts,
    ElementwiseSpec,
    FCSpec,
    FlattenSpec,
    LayerSpec,
    LocallyConnectedSpec,
    MaxoutSpec,
    PoolSpec,
    ResidualSpec,
    Summary,
    summary,
)

# ---- validation on construction ------------------------------------------------------------------


@pytest.mark.parametrize(
    "make, error, message",
    [
        (lambda: ConvSpec(-3, 0), ValueError, r"out_channels must be a positive int, got -3"),
        (lambda: ConvSpec(3, 0), ValueError, r"kernel_size must be >= 1, got 0"),
        (lambda: ConvSpec(3, (3, 0)), ValueError, r"kernel_size must be >= 1"),
        (lambda: ConvSpec(3, (3, 3, 3)), ValueError, r"kernel_size must be an int or an \(h, w\) pair"),
        (lambda: ConvSpec(3, 2.5), TypeError, r"kernel_size must be an int, got 2.5"),
        (lambda: ConvSpec(True, 3), TypeError, r"out_channels must be an int, got True"),
        (lambda: ConvSpec(3, 3, stride=0), ValueError, r"stride must be >= 1, got 0"),
        (lambda: ConvSpec(3, 3, padding=-1), ValueError, r"padding must be >= 0, got -1"),
        (lambda: ConvSpec(3, 3, dilation=0), ValueError, r"dilation must be >= 1, got 0"),
        (lambda: ConvSpec(3, 3, groups=0), ValueError, r"groups must be a positive int"),
        (lambda: ConvSpec(3, 3, groups=2), ValueError, r"groups=2 must divide out_channels=3"),
        (lambda: ConvSpec(3, 3, bias=1), TypeError, r"bias must be True or False, got 1"),
        (lambda: ConvSpec(3, 3, name=7), TypeError, r"name must be a str or None"),
        (lambda: LocallyConnectedSpec(0, 3), ValueError, r"out_channels must be a positive int"),
        (lambda: LocallyConnectedSpec(2, 3, stride=(1, 0)), ValueError, r"stride must be >= 1"),
        (lambda: PoolSpec("min", 2), ValueError, r"pool kind must be 'max' or 'avg', got 'min'"),
        (lambda: PoolSpec("max", 0), ValueError, r"kernel_size must be >= 1, got 0"),
        (lambda: PoolSpec("max", 2, stride=0), ValueError, r"stride must be >= 1, got 0"),
        (lambda: PoolSpec("max", 2, padding=-1), ValueError, r"padding must be >= 0"),
        (
            lambda: PoolSpec("max", 2, padding=2),
            ValueError,
            r"padding 2 must be smaller than the pool window",
        ),
        (lambda: FCSpec(0), ValueError, r"out_features must be a positive int, got 0"),
        (lambda: FCSpec(3.0), TypeError, r"out_features must be an int, got 3.0"),
        (lambda: FCSpec(3, bias=None), TypeError, r"bias must be True or False"),
        (lambda: ElementwiseSpec("softplus"), ValueError, r"elementwise kind must be 'relu' or .*'softplus'"),
        (lambda: MaxoutSpec(0), ValueError, r"pieces must be a positive int"),
        (lambda: MaxoutSpec(2, axis=0), ValueError, r"axis must not be 0"),
        (lambda: MaxoutSpec(2, axis=1.0), TypeError, r"axis must be an int"),
        (lambda: ConcatSpec(), ValueError, r"branches: ConcatSpec needs at least one branch"),
        (lambda: ConcatSpec([]), ValueError, r"every branch of a ConcatSpec needs at least one layer"),
        (lambda: ConcatSpec([FCSpec(2), "relu"]), TypeError, r"branch 0, entry 2 must be a LayerSpec"),
        (lambda: ResidualSpec([]), ValueError, r"branch: a ResidualSpec needs at least one layer"),
        (lambda: ResidualSpec([FCSpec(2)], ["conv"]), TypeError, r"shortcut, entry 1 must be a LayerSpec"),
    ],
)
def test_specs_validate_on_construction(make, error, message):
    with pytest.raises(error, match=message):
        make()


def test_specs_normalise_their_arguments_and_are_frozen():
    spec = ConvSpec(8, 3, stride=(1, 2), padding=1)
    assert (spec.kernel_size, spec.stride, spec.padding, spec.dilation) == ((3, 3), (1, 2), (1, 1), (1, 1))
    assert spec == ConvSpec(8, (3, 3), (1, 2), (1, 1))  # value objects: equal arguments, equal specs
    assert hash(spec) == hash(ConvSpec(8, (3, 3), (1, 2), (1, 1)))
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.out_channels = 4  # type: ignore[misc]
    pool = PoolSpec("avg", (2, 3))
    assert pool.stride == pool.kernel_size == (2, 3)  # stride defaults to the window
    assert PoolSpec("max", 3, 2, 1).stride == (2, 2)
    local = LocallyConnectedSpec(4, 3)
    assert isinstance(local, ConvSpec) and local.dilation == (1, 1) and local.groups == 1
    block = ConcatSpec(ConvSpec(2, 1), [PoolSpec("max", 3, 1, 1), ConvSpec(2, 1)])
    assert [len(b) for b in block.branches] == [1, 2]
    assert (
        ResidualSpec(ConvSpec(2, 1)).branch == (ConvSpec(2, 1),)
        and ResidualSpec(ConvSpec(2, 1)).shortcut == ()
    )
    # dataclasses.replace goes through the constructor: the copy is checked too
    assert dataclasses.replace(spec, groups=2) == ConvSpec(8, 3, (1, 2), 1, groups=2)
    with pytest.raises(ValueError, match="groups=3 must divide out_channels=8"):
        dataclasses.replace(spec, groups=3)


def test_output_shape_and_counts_are_one_method():
    conv = ConvSpec(16, 3, padding=1)
    counts = conv.counts((8, 14, 14))
    assert isinstance(counts, Counts)
    assert counts.shape == conv.output_shape((8, 14, 14)) == (16, 14, 14)
    assert (counts.weights, counts.biases, counts.params) == (16 * 8 * 9, 16, 16 * 8 * 9 + 16)
    assert counts.macs == 16 * 8 * 9 * 14 * 14
    assert conv.parameter_shapes(8) == {"F": (16, 8, 3, 3), "b": (16,)}
    assert ConvSpec(4, 3, bias=False, groups=2).parameter_shapes(6) == {"F": (4, 3, 3, 3)}
    assert FCSpec(10).parameter_shapes(784) == {"W": (10, 784), "b": (10,)}
    assert FCSpec(10).counts((16, 7, 7)).params == 7850
    assert FlattenSpec().counts((16, 7, 7)) == Counts((784,), 0)
    assert ElementwiseSpec("relu").output_shape((3, 4, 5)) == (3, 4, 5)
    assert MaxoutSpec(2).output_shape((6, 5, 5)) == (3, 5, 5)
    assert MaxoutSpec(3, axis=-1).output_shape((4, 9)) == (4, 3)
    with pytest.raises(ValueError, match="not a multiple of pieces=4"):
        MaxoutSpec(4).output_shape((6, 5, 5))
    with pytest.raises(ValueError, match="axis 4 does not exist"):
        MaxoutSpec(2, axis=4).output_shape((6, 5, 5))
    with pytest.raises(ValueError, match="groups=2 must divide both the input channels C=3"):
        ConvSpec(4, 3, groups=2).parameter_shapes(3)


# ---- one renderer for spec lists, built-in names and models --------------------------------------

SMALL_CONVNET_SPECS = [
    ConvSpec(8, 3, padding=1),
    ElementwiseSpec("relu"),
    PoolSpec("max", 2),
    ConvSpec(16, 3, padding=1),
    ElementwiseSpec("relu"),
    PoolSpec("max", 2),
    FlattenSpec(),
    FCSpec(10),
]


def numbers(s: Summary) -> list[tuple]:
    return [(r.output_shape, r.activations, r.weights, r.biases, r.macs, r.note) for r in s.rows]


def test_a_model_and_its_spec_list_give_the_same_table():
    model = small_convnet()
    from_model = summary(model, (1, 28, 28))
    from_specs = summary(SMALL_CONVNET_SPECS, (1, 28, 28))
    assert numbers(from_model) == numbers(from_specs)
    assert from_model.total_params == from_specs.total_params == model.n_params == 9098
    assert [layer.spec for layer in model.layers] == SMALL_CONVNET_SPECS
    # the model's own summary is the same function, with its input shape as the default
    assert numbers(model.summary()) == numbers(summary(model)) == numbers(from_specs)
    assert [r.layer for r in from_model.rows[1:]] == [
        f"{layer.name}: {spec.label}" for layer, spec in zip(model.layers, SMALL_CONVNET_SPECS)
    ]
    header = str(from_specs).splitlines()[0].split()
    assert str(model.summary()).splitlines()[0].split() == header  # one table layout
    # without the Flatten row (FC flattens by itself, a Flatten stores nothing) the totals agree too
    no_flatten = summary([s for s in SMALL_CONVNET_SPECS if not isinstance(s, FlattenSpec)], (1, 28, 28))
    assert no_flatten.to_dict()["total_params"] == from_model.total_params
    assert no_flatten.total_activations == from_model.total_activations
    assert no_flatten.total_macs == from_model.total_macs == 8 * 9 * 784 + 16 * 72 * 196 + 7840


def test_every_row_of_a_model_matches_its_layers():
    model = small_convnet(out_channels=(4, 6), kernel_size=5)
    s = model.summary()
    for row, layer, shape in zip(s.rows[1:], model.layers, model.shapes()):
        assert row.output_shape == shape
        assert row.params == layer.n_params, layer.name


def test_builtin_names_and_lists_go_through_the_same_summary():
    layers, shape = get_spec("vgg16")
    assert numbers(summary("vgg16", (3, 224, 224))) == numbers(summary(layers, shape))
    assert str(summary("vgg16")) == str(summary(layers, shape))


def test_summary_refuses_what_is_not_a_network():
    with pytest.raises(TypeError, match="net must be a list of specs"):
        summary(42, (1, 2, 2))
    with pytest.raises(ValueError, match="input_shape is required"):
        summary(Sequential([ReLU()]))
    with pytest.raises(ValueError, match=r"layer 1 \(conv1: conv 2 5x5 s1\) on input \(1, 3, 3\)"):
        summary(Sequential([Conv2D(1, 2, 5)]), (1, 3, 3))

    class NoSpec:
        def __init__(self) -> None:
            self.layers = [object()]

    with pytest.raises(TypeError, match=r"layer 1 of the model .* has no \.spec"):
        summary(NoSpec(), (1, 2, 2))


def test_layers_carry_validated_specs():
    conv = Conv2D(3, 4, (3, 5), stride=2, padding=(1, 2))
    assert conv.spec == ConvSpec(4, (3, 5), 2, (1, 2))
    assert conv.params["F"].shape == conv.spec.parameter_shapes(3)["F"]
    assert conv.output_shape((3, 9, 9)) == conv.spec.output_shape((3, 9, 9)) == (4, 5, 5)
    dense = Dense(12, 5)
    assert dense.spec == FCSpec(5) and dense.params["W"].shape == dense.spec.parameter_shapes(12)["W"]
    assert MaxPool2D(3, 2, 1).spec == PoolSpec("max", 3, 2, 1)
    assert Flatten().spec == FlattenSpec() and ReLU().spec == ElementwiseSpec("relu")
    assert Maxout(3).spec == MaxoutSpec(3, 1)
    assert all(isinstance(layer.spec, LayerSpec) for layer in small_convnet().layers)
    with pytest.raises(ValueError, match="kernel_size must be >= 1"):
        MaxPool2D(0)
    with pytest.raises(ValueError, match="padding 3 must be smaller"):
        MaxPool2D(2, padding=3)
    with pytest.raises(ValueError, match="out_channels must be a positive int"):
        Conv2D(1, 0, 3)


def test_specs_are_plain_descriptions_without_arrays():
    for spec in [*SMALL_CONVNET_SPECS, LocallyConnectedSpec(2, 3), MaxoutSpec(2)]:
        for field in dataclasses.fields(spec):
            assert not isinstance(getattr(spec, field.name), np.ndarray), (spec, field.name)


def test_layer_specs_carry_their_input_size_and_refuse_others():
    conv, dense = Conv2D(3, 4, 3), Dense(12, 5)
    assert conv.spec.in_channels == 3 and dense.spec.in_features == 12
    assert ConvSpec(4, 3).in_channels is None and FCSpec(5).in_features is None
    with pytest.raises(ValueError, match=r"conv 4 3x3 s1 expects \(C=3, H, W\) inputs, got \(2, 5, 5\)"):
        conv.spec.counts((2, 5, 5))
    with pytest.raises(ValueError, match="fc 5 expects 12 input features, got 13"):
        dense.spec.counts((13,))
    assert dense.spec.counts((3, 2, 2)).params == FCSpec(5).counts((12,)).params == 65
    with pytest.raises(TypeError, match="in_channels"):
        ConvSpec(4, 3, in_channels=2.0)
    with pytest.raises(ValueError, match="groups=2 must divide"):
        ConvSpec(4, 3, groups=2, in_channels=3)
    with pytest.raises(ValueError, match="in_features"):
        FCSpec(4, in_features=0)


def test_summary_of_a_model_with_a_wrong_input_shape_is_refused():
    """The reviewer's case: 9,242 parameters were reported for a model of 9,098."""
    model = small_convnet()
    for call in (lambda: summary(model, (3, 28, 28)), lambda: model.summary((3, 28, 28))):
        with pytest.raises(ValueError, match=r"layer 1 \(conv1: .*expects \(C=1, H, W\)"):
            call()
    assert summary(model, (1, 28, 28)).total_params == model.n_params == 9098


@pytest.mark.parametrize("shape", [5, "1x28x28", 2.5, object()])
def test_summary_input_shape_of_the_wrong_type_is_a_type_error(shape):
    with pytest.raises(TypeError, match="input_shape"):
        summary([FCSpec(2)], shape)
    with pytest.raises(TypeError, match="input_shape"):
        small_convnet().summary(shape)


def test_summary_accepts_an_ndarray_shape():
    by_tuple = summary(small_convnet(), (1, 28, 28))
    assert summary(small_convnet(), np.array([1, 28, 28])).to_dict() == by_tuple.to_dict()
    with pytest.raises(ValueError, match="input_shape"):
        summary([FCSpec(2)], (1, 2))


@pytest.mark.parametrize("name", [[], None, 5, ("lenet5",)])
def test_get_spec_name_of_the_wrong_type_is_a_type_error(name):
    with pytest.raises(TypeError, match="name must be the str name"):
        get_spec(name)
    with pytest.raises(ValueError, match="unknown architecture"):
        get_spec("lenet-5x")

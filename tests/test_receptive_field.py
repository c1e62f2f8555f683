"""Receptive fields against two independent oracles: forward passes of single-pixel images through
positive linear layers (which pixels reach a unit at all), and the non-zero region of dA/dX from the
layers' backward passes."""

import itertools

import numpy as np
import pytest

from cnnbook import avgpool2d, conv2d, maxpool2d
from cnnbook.architectures import vgg_spec
from cnnbook.layers import AvgPool2D, Conv2D, Dense, Flatten, ReLU
from cnnbook.models import Sequential, small_convnet
from cnnbook.receptive_field import receptive_field
from cnnbook.residual import Residual
from cnnbook.saliency import unit_gradient
from cnnbook.specs import ConcatSpec, ConvSpec, ElementwiseSpec, FCSpec, FlattenSpec, PoolSpec, ResidualSpec


def run_specs(specs, X):
    """Forward pass of conv / pool specs with all-ones filters (no bias): positive and linear-ish."""
    for s in specs:
        if isinstance(s, ConvSpec):
            F = np.ones((1, X.shape[1], *s.kernel_size))
            X = conv2d(X, F, None, s.stride, s.padding, s.dilation)
        elif s.kind == "max":
            X = maxpool2d(X, s.kernel_size, s.stride, s.padding)
        else:
            X = avgpool2d(X, s.kernel_size, s.stride, s.padding)
    return X


def pixels_reaching(specs, H, W):
    """For every output unit, the set of input pixels whose single-pixel image makes it non-zero."""
    reach = {}
    for p, q in itertools.product(range(H), range(W)):
        X = np.zeros((1, 1, H, W))
        X[0, 0, p, q] = 1.0
        out = run_specs(specs, X)[0, 0]
        for i, j in zip(*np.nonzero(out)):
            reach.setdefault((int(i), int(j)), set()).add((p, q))
    return reach, out.shape


CHAINS = [
    [ConvSpec(1, 3, padding=1), PoolSpec("max", 2), ConvSpec(1, 3, padding=1), PoolSpec("max", 2)],
    [ConvSpec(1, 5, stride=2, padding=2), ConvSpec(1, 3, stride=2)],
    [
        ConvSpec(1, 3, dilation=2, padding=2),
        ConvSpec(1, 3, dilation=3),
        PoolSpec("avg", 3, stride=2, padding=1),
    ],
    [ConvSpec(1, (3, 1), stride=(1, 2)), ConvSpec(1, (1, 5), padding=(0, 1))],
    [PoolSpec("max", 3, stride=1, padding=1), ConvSpec(1, 2, stride=3)],
]


@pytest.mark.parametrize("chain", range(len(CHAINS)))
def test_window_against_single_pixel_forward_passes(chain):
    specs, H, W = CHAINS[chain], 13, 12
    reach, (Ho, Wo) = pixels_reaching(specs, H, W)
    row = receptive_field(specs, (1, H, W)).rows[-1]
    assert row.output_shape[1:] == (Ho, Wo)
    for (i, j), pixels in reach.items():
        rows, cols = row.window(i, j)
        assert all(rows.start <= p < rows.stop and cols.start <= q < cols.stop for p, q in pixels)
        inside = rows.start >= 0 and rows.stop <= H and cols.start >= 0 and cols.stop <= W
        if inside:  # the extreme taps are always read: the bounding box is the whole window
            ps, qs = zip(*pixels)
            assert (min(ps), max(ps) + 1, min(qs), max(qs) + 1) == (
                rows.start,
                rows.stop,
                cols.start,
                cols.stop,
            )
    assert len(reach) == Ho * Wo  # every unit sees some pixel


def positive_net(rng, residual):
    """Positive weights, average pooling and positive inputs: every ReLU passes, every tap counts."""
    layers = [
        Conv2D(1, 2, 3, padding=1, rng=rng, dtype=np.float64),
        ReLU(),
        AvgPool2D(2),
        Conv2D(2, 2, 3, stride=2, rng=rng, dtype=np.float64),
        ReLU(),
    ]
    if residual:
        layers.append(Residual([Conv2D(2, 2, 3, padding=1, rng=rng, dtype=np.float64), ReLU()]))
    layers += [Conv2D(2, 2, (3, 1), padding=(1, 0), rng=rng, dtype=np.float64)]
    layers += [Flatten(), Dense(2 * 3 * 3, 2, rng=rng, dtype=np.float64)]
    model = Sequential(layers, input_shape=(1, 15, 14))
    for lay in model.layers:
        for value in lay.params.values():
            value[...] = np.abs(value) + 0.1
    return model


@pytest.mark.parametrize("residual", [False, True])
def test_window_is_the_nonzero_region_of_the_backpropagated_input_gradient(residual):
    rng = np.random.default_rng(0)
    model = positive_net(rng, residual)
    name = model.layers[-3].name
    rf = receptive_field(model)
    row = rf.row(name)
    X = rng.random((1, 1, 15, 14)) + 0.1
    Ho, Wo = row.output_shape[1:]
    for i, j in itertools.product(range(Ho), range(Wo)):
        dX = unit_gradient(model, X, name, 1, i, j)[0, 0]
        rows, cols = row.window(i, j, (15, 14))
        expected = np.zeros_like(dX, dtype=bool)
        expected[rows, cols] = True
        assert np.array_equal(dX != 0, expected), (i, j)


def test_random_weights_stay_inside_the_window():
    rng = np.random.default_rng(1)
    model = small_convnet(seed=1, dtype=np.float64)
    row = receptive_field(model).row("pool2")
    X = rng.random((2, 1, 28, 28))
    for i, j in [(0, 0), (3, 4), (6, 6)]:
        dX = unit_gradient(model, X, "pool2", 5, i, j)
        rows, cols = row.window(i, j, (28, 28))
        outside = dX.copy()
        outside[:, :, rows, cols] = 0
        assert not outside.any()


def test_formula_values_and_composites():
    # VGG-16: 212 pixels for the last pooling layer (the published value), 3 after one 3x3 conv, 5 after two.
    rf = receptive_field(vgg_spec("D"), (3, 224, 224))
    convs = [r for r in rf.rows if r.layer.startswith("conv")]
    assert convs[0].size == (3, 3) and convs[1].size == (5, 5)
    assert rf.rows[18].size == (212, 212) and rf.rows[18].jump == (32, 32)
    assert rf.rows[-1].size is None and "whole input" in str(rf)
    assert receptive_field("vgg16").sizes == rf.sizes
    # A 5x5 conv sees what two 3x3 convs see.
    assert (
        receptive_field([ConvSpec(1, 5)]).rows[-1].size == receptive_field([ConvSpec(1, 3)] * 2).rows[-1].size
    )
    # Residual / concat: the union of the windows; elementwise keeps the window.
    res = ResidualSpec([ConvSpec(4, 3, padding=1), ElementwiseSpec("relu"), ConvSpec(4, 3, padding=1)])
    r = receptive_field([res, res]).rows
    assert r[1].size == (5, 5) and r[2].size == (9, 9) and r[2].start == (-4, -4)
    cat = ConcatSpec([ConvSpec(2, 1)], [ConvSpec(2, 5, padding=2)])
    assert receptive_field([cat]).rows[1].size == (5, 5)
    assert receptive_field([FlattenSpec(), FCSpec(3)]).rows[2].size is None


def test_bad_input():
    with pytest.raises(TypeError, match="net"):
        receptive_field(3)
    with pytest.raises(TypeError, match="spec entry 1"):
        receptive_field([3])
    with pytest.raises(ValueError):
        receptive_field([ConvSpec(1, 5)], (1, 3, 3))
    with pytest.raises(ValueError, match="whole input"):
        receptive_field([FCSpec(2)]).rows[1].window(0, 0)
    with pytest.raises(KeyError):
        receptive_field([ConvSpec(1, 3)]).row("conv9")

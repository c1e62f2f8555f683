"""The lectures' worked examples and quoted numbers, recomputed (seed 000 unless noted)."""

import numpy as np
import pytest

import cnnbook as cb
from cnnbook import matrices as M


def lecture_X(n: int = 6) -> np.ndarray:
    """X with X_ij = 10 i + j (1-based), so that an entry's value *is* its lecture name."""
    i, j = np.meshgrid(np.arange(1, n + 1), np.arange(1, n + 1), indexing="ij")
    return (10 * i + j).astype(float)


def test_MX_rows_of_the_6x6_3x3_example():
    MX = M.make_MX(lecture_X(), (3, 3))
    assert MX.shape == (16, 9)
    assert MX[0].tolist() == [11, 12, 13, 21, 22, 23, 31, 32, 33]
    assert MX[1].tolist() == [12, 13, 14, 22, 23, 24, 32, 33, 34]
    assert MX[3].tolist() == [14, 15, 16, 24, 25, 26, 34, 35, 36]
    assert MX[4].tolist() == [21, 22, 23, 31, 32, 33, 41, 42, 43]
    assert MX[15].tolist() == [44, 45, 46, 54, 55, 56, 64, 65, 66]
    # "the red column": column 2 of M_X (F_12) is X shifted one to the right
    assert MX[:, 1].reshape(4, 4).tolist() == lecture_X()[0:4, 1:5].tolist()


def test_MF_rows_of_the_6x6_3x3_example():
    F = np.array([[1, 2, 3], [4, 5, 6], [7, 8, 9]], dtype=float)  # F_ij = 3(i-1) + j
    MF = M.make_MF(F, (6, 6))
    assert MF.shape == (16, 36)
    assert MF[0, :18].tolist() == [1, 2, 3, 0, 0, 0, 4, 5, 6, 0, 0, 0, 7, 8, 9, 0, 0, 0]
    assert MF[1, :18].tolist() == [0, 1, 2, 3, 0, 0, 0, 4, 5, 6, 0, 0, 0, 7, 8, 9, 0, 0]
    assert MF[4, :24].tolist() == [0] * 6 + [1, 2, 3, 0, 0, 0, 4, 5, 6, 0, 0, 0, 7, 8, 9, 0, 0, 0]


def test_multi_plane_sizes_16x36_and_16x144(rng):
    X = rng.standard_normal((4, 6, 6))
    F = rng.standard_normal((4, 3, 3))
    MX, MF = M.make_MX(X, F.shape[1:]), M.make_MF(F, X.shape)
    assert MX.shape == (16, 36) and MF.shape == (16, 144)
    # M_X = (M_X1 M_X2 M_X3 M_X4): one block per plane
    np.testing.assert_array_equal(MX[:, 9:18], M.make_MX(X[1], (3, 3)))
    np.testing.assert_allclose(MX @ M.vec(F), MF @ M.vec(X))


def test_input_gradient_pattern_v1_v2():
    """v = g M_F: v_1 = g_1 F_11 and v_2 = g_1 F_12 + g_2 F_11 (seed 000)."""
    F = np.array([[2.0, 3, 5], [7, 11, 13], [17, 19, 23]])
    g = np.arange(1.0, 17.0)
    v = g @ M.make_MF(F, (6, 6))
    assert v[0] == g[0] * F[0, 0]
    assert v[1] == g[0] * F[0, 1] + g[1] * F[0, 0]


def test_maxpool_4x4_example():
    X = np.array([[1, 1, 2, 4], [5, 6, 7, 8], [3, 2, 1, 0], [1, 2, 3, 4]], dtype=float)
    out, indices = cb.maxpool2d(X[None], 2, 2, return_indices=True)
    assert out[0].tolist() == [[6, 8], [3, 4]]
    assert (indices[0] + 1).tolist() == [[6, 8], [9, 16]]  # 1-based positions of the winners
    A = M.maxpool_matrix(X, 2, 2)
    assert A.shape == (4, 16)
    assert (np.nonzero(A)[1] + 1).tolist() == [6, 8, 9, 16]  # 1-based columns of the ones


@pytest.mark.parametrize("s,expected", [(1, 5), (2, 3)])
def test_7x7_with_3x3(s, expected):
    assert cb.conv_output_size(7, 3, stride=s) == expected
    assert cb.conv_output_size(7, 3, stride=s, strict=True) == expected


def test_7x7_with_3x3_at_stride_3_does_not_fit():
    assert cb.conv_output_size(7, 3, stride=3) == 2
    assert cb.unused_size(7, 3, stride=3) == 1
    with pytest.raises(ValueError, match="leaves 1 input row"):
        cb.conv_output_size(7, 3, stride=3, strict=True)


def test_padding_keeps_the_size():
    assert cb.conv_output_size(7, 3, padding=1) == 7
    for f in (1, 3, 5, 7):
        assert cb.conv_output_size(32, f, padding=(f - 1) // 2) == 32


def test_32x32x3_with_ten_5x5_filters(rng):
    X = rng.standard_normal((1, 3, 32, 32))
    F = rng.standard_normal((10, 3, 5, 5))
    b = np.zeros(10)
    assert cb.conv2d(X, F, b, stride=1, padding=2).shape == (1, 10, 32, 32)
    assert F[0].size + 1 == 76
    assert F.size + b.size == 760


def test_alexnet_first_layers():
    assert cb.conv_output_size(227, 11, stride=4) == 55
    assert cb.conv_output_size(55, 3, stride=2) == 27
    assert 96 * (11 * 11 * 3 + 1) == 34944  # "35K parameters"

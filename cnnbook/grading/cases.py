"""Seeded test cases the graders share: convolution settings that catch the usual slips.

Every list mixes the dimensions a correct implementation must keep apart: N, C and K above 1, height
!= width and fh != fw (swapped axes show up), stride > 1 (an ignored stride shows up), padding 0 and
> 0 (an ignored padding shows up), and sizes the stride does not divide (an off-by-one in the output
size shows up).  The data are float64 normal draws from a fixed seed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..shapes import conv_output_size

__all__ = ["CONV_SETTINGS", "ConvSetting", "conv_arrays", "conv_upstream"]


@dataclass(frozen=True)
class ConvSetting:
    """Shapes and hyper-parameters of one convolution case (stride and padding as (rows, cols))."""

    N: int
    C: int
    K: int
    H: int
    W: int
    fh: int
    fw: int
    stride: tuple[int, int] = (1, 1)
    padding: tuple[int, int] = (0, 0)

    @property
    def size(self) -> int:
        """Entries of X plus entries of F: orders cases from smallest."""
        return self.N * self.C * self.H * self.W + self.K * self.C * self.fh * self.fw

    @property
    def output_shape(self) -> tuple[int, int, int, int]:
        """``(N, K, H', W')`` of the convolution, by the output-size rule."""
        Ho = conv_output_size(self.H, self.fh, self.stride[0], self.padding[0])
        Wo = conv_output_size(self.W, self.fw, self.stride[1], self.padding[1])
        return self.N, self.K, Ho, Wo


# Small enough that a plain-loop solution grades in about a second; together they vary every axis.
CONV_SETTINGS: tuple[ConvSetting, ...] = (
    ConvSetting(1, 1, 1, 4, 4, 2, 2),
    ConvSetting(1, 1, 1, 5, 4, 3, 2),
    ConvSetting(1, 1, 1, 5, 6, 2, 3, stride=(2, 2)),
    ConvSetting(1, 1, 1, 4, 5, 3, 2, padding=(1, 1)),
    ConvSetting(2, 1, 2, 6, 5, 2, 3, stride=(2, 1)),
    ConvSetting(1, 2, 3, 5, 7, 3, 3, padding=(1, 2)),
    ConvSetting(2, 3, 2, 7, 6, 3, 2, stride=(2, 3), padding=(1, 0)),
    ConvSetting(2, 2, 3, 8, 9, 3, 3, stride=(3, 2), padding=(2, 1)),
    ConvSetting(3, 2, 2, 9, 7, 4, 3, stride=(2, 2), padding=(1, 2)),
    ConvSetting(1, 3, 4, 10, 11, 5, 3, stride=(3, 3), padding=(2, 0)),
)


def conv_arrays(setting: ConvSetting, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Float64 ``X (N, C, H, W)``, ``F (K, C, fh, fw)`` and ``b (K,)`` drawn from ``seed``."""
    rng = np.random.default_rng(seed)
    s = setting
    X = rng.standard_normal((s.N, s.C, s.H, s.W))
    F = rng.standard_normal((s.K, s.C, s.fh, s.fw))
    b = rng.standard_normal(s.K)
    return X, F, b


def conv_upstream(setting: ConvSetting, seed: int) -> np.ndarray:
    """A float64 upstream gradient ``G`` of shape ``setting.output_shape`` drawn from ``seed``."""
    return np.random.default_rng(seed).standard_normal(setting.output_shape)

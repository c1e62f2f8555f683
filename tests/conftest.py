"""Shared fixtures and hypothesis strategies for the unit tests.

Hypothesis runs derandomized (the same examples every run: CI cannot flake) with no deadline
(speed is measured by benchmarks, never by tests).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, settings
from hypothesis import strategies as st

from cnnbook import conv_output_size

settings.register_profile(
    "cnnbook",
    derandomize=True,
    deadline=None,
    max_examples=60,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile("cnnbook")


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(20240416)


@dataclass(frozen=True)
class ConvCase:
    """One random convolution: shapes, hyper-parameters and float64 data drawn from a seed."""

    N: int
    C: int
    K: int
    H: int
    W: int
    fh: int
    fw: int
    stride: tuple[int, int]
    padding: tuple[int, int]
    dilation: tuple[int, int]
    seed: int

    @property
    def kwargs(self):
        return dict(stride=self.stride, padding=self.padding, dilation=self.dilation)

    def arrays(self, dtype=np.float64):
        r = np.random.default_rng(self.seed)
        X = r.standard_normal((self.N, self.C, self.H, self.W)).astype(dtype)
        F = r.standard_normal((self.K, self.C, self.fh, self.fw)).astype(dtype)
        b = r.standard_normal(self.K).astype(dtype)
        return X, F, b

    def out_hw(self):
        return tuple(
            conv_output_size(n, f, s, p, d)
            for n, f, s, p, d in zip(
                (self.H, self.W), (self.fh, self.fw), self.stride, self.padding, self.dilation
            )
        )


@st.composite
def conv_cases(draw, max_size: int = 9) -> ConvCase:
    """Random N, C, K, H != W allowed, fh != fw, strides that need not divide, padding, dilation."""
    fh, fw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    stride = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    padding = (draw(st.integers(0, 2)), draw(st.integers(0, 2)))
    dilation = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    H, W = draw(st.integers(1, max_size)), draw(st.integers(1, max_size))
    assume(dilation[0] * (fh - 1) + 1 <= H + 2 * padding[0])
    assume(dilation[1] * (fw - 1) + 1 <= W + 2 * padding[1])
    return ConvCase(
        N=draw(st.integers(1, 3)),
        C=draw(st.integers(1, 3)),
        K=draw(st.integers(1, 3)),
        H=H,
        W=W,
        fh=fh,
        fw=fw,
        stride=stride,
        padding=padding,
        dilation=dilation,
        seed=draw(st.integers(0, 2**31 - 1)),
    )


@dataclass(frozen=True)
class PoolCase:
    N: int
    C: int
    H: int
    W: int
    kernel_size: tuple[int, int]
    stride: tuple[int, int]
    padding: tuple[int, int]
    seed: int

    @property
    def kwargs(self):
        return dict(kernel_size=self.kernel_size, stride=self.stride, padding=self.padding)

    def array(self, dtype=np.float64, ties: bool = False, nan: bool = False):
        r = np.random.default_rng(self.seed)
        shape = (self.N, self.C, self.H, self.W)
        # ties=True draws from a few integers so that windows often hold equal maxima
        X = (r.integers(0, 3, shape) if ties else r.standard_normal(shape)).astype(dtype)
        if nan:  # a few NaNs (and -inf) scattered over the planes
            X[r.random(shape) < 0.1] = np.nan
            X[r.random(shape) < 0.1] = -np.inf
        return X


@st.composite
def pool_cases(draw, max_size: int = 9) -> PoolCase:
    """Random pooling, overlapping windows (stride < size) included."""
    kernel_size = (draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    stride = (draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    padding = (draw(st.integers(0, kernel_size[0] - 1)), draw(st.integers(0, kernel_size[1] - 1)))
    H, W = draw(st.integers(1, max_size)), draw(st.integers(1, max_size))
    assume(kernel_size[0] <= H + 2 * padding[0] and kernel_size[1] <= W + 2 * padding[1])
    return PoolCase(
        N=draw(st.integers(1, 2)),
        C=draw(st.integers(1, 3)),
        H=H,
        W=W,
        kernel_size=kernel_size,
        stride=stride,
        padding=padding,
        seed=draw(st.integers(0, 2**31 - 1)),
    )


# The website test (tests/book, `make book-test`) builds and browses the whole site: CI runs it after
# `make test`, so a plain `pytest` leaves it out unless it is named on the command line.
BOOK_TESTS = Path(__file__).resolve().parent / "book"


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    if collection_path != BOOK_TESTS:
        return None
    here = config.invocation_params.dir
    named = [(here / arg.split("::")[0]).resolve() for arg in config.args]
    return None if any(p == BOOK_TESTS or BOOK_TESTS in p.parents for p in named) else True

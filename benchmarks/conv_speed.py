"""Convolution speed: looped reference vs cnnbook's fast path (and textbook core) vs PyTorch, side by side.

    .venv/bin/python benchmarks/conv_speed.py [--repeats 7]

float32, the five layer shapes of the foundation issue.  For each: the fast path's
(:mod:`cnnbook.fast`, what the layers use) forward and forward+backward (dX, dF, db, reusing the
forward's columns) in milliseconds, the best of ``--repeats`` rounds (:func:`cnnbook.timing.race`);
the textbook core's forward+backward (:func:`cnnbook.conv2d` / :func:`cnnbook.conv2d_backward`)
beside it; then PyTorch's, measured right after on the same arrays when torch is installed
(``torch.set_num_threads`` = our BLAS threads), the fast/torch ratio and the geometric mean of the
ratios.  The libraries are timed in consecutive blocks rather than call by call: their thread pools
spin after each call and would slow each other down.  A second table compares two im2col column
layouts.

This is a benchmark, not a test: it prints figures and asserts nothing.  Close other work first;
a loaded machine inflates every figure (the ratios less so, since both sides run interleaved).
"""

from __future__ import annotations

import argparse
import importlib
import os
from collections.abc import Callable
from functools import partial
from types import ModuleType
from typing import Any

import numpy as np
from numpy.lib.stride_tricks import as_strided

import cnnbook as cb
from cnnbook import fast
from cnnbook.im2col import Geometry, im2col
from cnnbook.timing import race

# (N, C, H, W), (K, C, f, f), stride, padding
CASES = [
    ((64, 1, 28, 28), (8, 1, 5, 5), 1, 2),
    ((64, 8, 14, 14), (16, 8, 5, 5), 1, 2),
    ((64, 3, 32, 32), (32, 3, 3, 3), 1, 1),
    ((64, 32, 16, 16), (64, 32, 3, 3), 1, 1),
    ((64, 3, 32, 32), (16, 3, 5, 5), 2, 2),
]


def blas_threads() -> int:
    try:
        threadpoolctl = importlib.import_module("threadpoolctl")  # optional: not a dependency
        counts = [p["num_threads"] for p in threadpoolctl.threadpool_info() if p.get("user_api") == "blas"]
        if counts:
            return max(counts)
    except ImportError:
        pass
    return int(os.environ.get("OMP_NUM_THREADS", os.cpu_count() or 1))


def load_torch(threads: int) -> Any:
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(threads)
    return torch


Timed = tuple[Callable[[], object], Callable[[], object]]


def ours(path: ModuleType, X: np.ndarray, F: np.ndarray, G: np.ndarray, stride: int, padding: int) -> Timed:
    """Forward and forward+backward of ``path`` (:mod:`cnnbook.fast` or the core ``cnnbook``)."""

    def forward() -> object:
        return path.conv2d(X, F, stride=stride, padding=padding)

    def forward_backward() -> object:
        _, cols = path.conv2d(X, F, stride=stride, padding=padding, return_cols=True)
        return path.conv2d_backward(G, X, F, stride=stride, padding=padding, cols=cols)

    return forward, forward_backward


def theirs(torch: Any, X: np.ndarray, F: np.ndarray, G: np.ndarray, stride: int, padding: int) -> Timed:
    Xt = torch.from_numpy(X).requires_grad_(True)
    Ft = torch.from_numpy(F).requires_grad_(True)
    bt = torch.zeros(F.shape[0], requires_grad=True)
    Gt = torch.from_numpy(G)
    conv = torch.nn.functional.conv2d

    def forward() -> object:
        with torch.no_grad():
            return conv(Xt, Ft, bt, stride=stride, padding=padding)

    def forward_backward() -> object:
        Xt.grad = Ft.grad = bt.grad = None
        conv(Xt, Ft, bt, stride=stride, padding=padding).backward(Gt)
        return Xt.grad, Ft.grad, bt.grad

    return forward, forward_backward


def textbook_im2col(X: np.ndarray, g: Geometry) -> np.ndarray:
    """The textbook layout ``(N*H'*W', C*fh*fw)``: one receptive field per *row*."""
    Xp = np.pad(X, ((0, 0), (0, 0), (g.ph, g.ph), (g.pw, g.pw)))
    sN, sC, sH, sW = Xp.strides
    view = as_strided(
        Xp,
        shape=(g.N, g.Ho, g.Wo, g.C, g.fh, g.fw),
        strides=(sN, sH * g.sh, sW * g.sw, sC, sH * g.dh, sW * g.dw),
        writeable=False,
    )
    return np.ascontiguousarray(view).reshape(g.N * g.Ho * g.Wo, -1)


def describe(xs: tuple[int, ...], fs: tuple[int, ...], s: int, p: int) -> str:
    return f"{xs}x{fs[:1] + fs[2:]} s{s} p{p}"


def main(repeats: int) -> None:
    rng = np.random.default_rng(0)
    threads = blas_threads()
    torch = load_torch(threads)
    print(
        f"float32, best of {repeats}; BLAS threads: {threads}; "
        f"PyTorch: {torch.__version__ if torch else 'not installed'}"
    )
    header = f"{'layer':42s} {'looped':>9s} {'core f+b':>9s} {'fwd':>8s} {'fwd+bwd':>8s}"
    if torch:
        header += f" {'torch fwd':>9s} {'torch f+b':>9s} {'fwd ratio':>9s} {'f+b ratio':>9s}"
    print(header)
    ratios_f, ratios_fb = [], []
    for index, (xs, fs, s, p) in enumerate(CASES):
        X = rng.standard_normal(xs).astype(np.float32)
        F = rng.standard_normal(fs).astype(np.float32)
        G = rng.standard_normal(fast.conv2d(X, F, stride=s, padding=p).shape).astype(np.float32)
        # Each library in its own block of rounds, one right after the other: interleaving single calls
        # lets PyTorch's OpenMP threads, which spin for a while after each call, steal the cores
        # NumPy's BLAS needs next (and the reverse), which distorts both sides.
        ms = {
            name: 1e3 * sec
            for name, sec in race(dict(zip(("fwd", "fwd+bwd"), ours(fast, X, F, G, s, p))), repeats).items()
        }
        ms["core f+b"] = 1e3 * race({"core": ours(cb, X, F, G, s, p)[1]}, repeats)["core"]
        if torch:
            entrants = dict(zip(("torch fwd", "torch f+b"), theirs(torch, X, F, G, s, p)))
            ms.update({name: 1e3 * sec for name, sec in race(entrants, repeats).items()})
        looped = "-"
        if index == 0:  # the reference is slow: one shape, one round
            naive = partial(cb.conv2d_naive, X, F, stride=s, padding=p)
            looped = f"{1e3 * race({'l': naive}, 1)['l']:9.0f}"
        row = (
            f"{describe(xs, fs, s, p):42s} {looped:>9s} {ms['core f+b']:9.2f} "
            f"{ms['fwd']:8.2f} {ms['fwd+bwd']:8.2f}"
        )
        if torch:
            rf, rfb = ms["fwd"] / ms["torch fwd"], ms["fwd+bwd"] / ms["torch f+b"]
            ratios_f.append(rf)
            ratios_fb.append(rfb)
            row += f" {ms['torch fwd']:9.2f} {ms['torch f+b']:9.2f} {rf:9.2f} {rfb:9.2f}"
        print(row)
    if torch:
        gm = lambda r: float(np.exp(np.mean(np.log(r))))  # noqa: E731
        print(
            f"geometric mean fast/torch: forward {gm(ratios_f):.2f}, forward+backward {gm(ratios_fb):.2f}"
            f"  (target for forward+backward: <= 1.0)"
        )

    print("\nim2col column layouts (copy only, ms; cnnbook.im2col vs the textbook layout):")
    print(f"{'layer':42s} {'(C*f*f, N*H*W)':>15s} {'(N*H*W, C*f*f)':>15s} {'speed-up':>9s}")
    for xs, fs, s, p in CASES:
        X = rng.standard_normal(xs).astype(np.float32)
        g = Geometry.of(X.shape, fs[2:], s, p, 1)
        layouts: dict[str, Callable[[], object]] = {
            "ours": partial(im2col, X, fs[2:], s, p),
            "book": partial(textbook_im2col, X, g),
        }
        t = race(layouts, rounds=repeats)
        ours_ms, book_ms = 1e3 * t["ours"], 1e3 * t["book"]
        print(f"{describe(xs, fs, s, p):42s} {ours_ms:15.2f} {book_ms:15.2f} {book_ms / ours_ms:8.1f}x")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    main(parser.parse_args().repeats)

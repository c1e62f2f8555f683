"""Convolution speed: cnnbook's fast path vs a 6-D ``as_strided`` baseline, the GEMM floor and PyTorch.

    .venv/bin/python benchmarks/conv_speed.py [--rounds 5] [--threads 2]
    .venv/bin/python benchmarks/conv_speed.py --ablation     # what each trick of cnnbook.fast buys

float32, the five layer shapes of the foundation issue, forward (``S``) and forward+backward
(``S``, then ``dX, dF, db`` reusing the forward's columns), in milliseconds:

* **cnnbook**: :func:`cnnbook.fast.conv2d` / :func:`cnnbook.fast.conv2d_backward`, what the layers use.
* **as_strided**: the standard NumPy idiom, written here: ``np.pad``, one 6-D strided view of the
  padded input copied once into ``(C fh fw, N H' W')`` columns, one GEMM plus the bias, a reorder
  to ``(N, K, H', W')``; backward ``dF`` and ``dcols`` by GEMM and col2im by ``fh fw`` slice additions.
* **floor**: the GEMMs alone at the exact im2col shapes (forward: one; forward+backward: three), each
  in its faster orientation and into an output array made once (no page faults).  Nothing built on
  im2col can beat it; ``cnnbook/floor`` is printed.
* **torch**: ``torch.nn.functional.conv2d`` and its autograd backward, when PyTorch is installed.

Every library runs in its own process (its thread pool cannot spin on the cores the other needs),
with the same thread count, set in the environment before NumPy or PyTorch is imported, and
``OPENBLAS_THREAD_TIMEOUT=4`` (``_common.py``: OpenBLAS's idle threads sleep at once, which lets
:mod:`cnnbook.batch_threads` run; the same for every NumPy entrant, PyTorch has no OpenBLAS).  The
processes alternate (NumPy, torch, NumPy, ...) for ``--rounds`` rounds; inside a process the
entrants alternate call by call, in an order rotated every round.  Printed figures are medians over
all calls.  The NumPy process also reports the peak extra memory of one call (:mod:`tracemalloc`,
which sees NumPy's allocations) against the bytes of the column matrix plus the outputs.

This is a benchmark, not a test: it prints figures and asserts nothing.  Close other work first; on
a machine shared with other work, ``--cpu`` times CPU seconds with one thread per library, which
the other work inflates far less than wall time with two threads (spinning thread pools).
"""

from __future__ import annotations

import argparse
import json
import time
import tracemalloc
from collections.abc import Callable
from functools import partial
from typing import Any

from _common import BLAS_THREAD_TIMEOUT, median
from _common import run_worker as run_in_own_process

# (N, C, H, W), (K, C, f, f), stride, padding
CASES = [
    ((64, 1, 28, 28), (8, 1, 5, 5), 1, 2),
    ((64, 8, 14, 14), (16, 8, 5, 5), 1, 2),
    ((64, 3, 32, 32), (32, 3, 3, 3), 1, 1),
    ((64, 32, 16, 16), (64, 32, 3, 3), 1, 1),
    ((64, 3, 32, 32), (16, 3, 5, 5), 2, 2),
]
MID = (1, 3)  # the two mid-size shapes of the GEMM-floor target
Timed = dict[str, Callable[[], object]]


def describe(case: tuple[Any, ...]) -> str:
    xs, fs, s, p = case
    return f"{xs}x{fs[:1] + fs[2:]} s{s} p{p}"


CLOCK = time.perf_counter  # --cpu: time.process_time


def alternate(entrants: Timed, calls: int) -> dict[str, list[float]]:
    """Seconds of each call, the entrants taking turns (one warm-up call each first).

    Round ``k`` starts with entrant ``k`` (mod their number): each entrant follows a different
    one from round to round.  What an entrant finds depends on who ran before it -- the caches,
    and memory the predecessor freed, which the next large allocation reuses without page faults
    -- and a fixed order would hand one entrant the same neighbour in every round.
    """
    for fn in entrants.values():
        fn()
    names = list(entrants)
    times: dict[str, list[float]] = {name: [] for name in names}
    for k in range(calls):
        first = k % len(names)
        for name in names[first:] + names[:first]:
            start = CLOCK()
            entrants[name]()
            times[name].append(CLOCK() - start)
    return times


# --------------------------------------------------------------------------------------------
# The NumPy process: cnnbook, the as_strided baseline, the GEMM floor
# --------------------------------------------------------------------------------------------


def strided_forward(np: Any, X: Any, F: Any, b: Any, stride: int, padding: int) -> tuple[Any, Any]:
    """The 6-D ``as_strided`` baseline: ``(S, cols)``, cols ``(C fh fw, N H' W')``."""
    from numpy.lib.stride_tricks import as_strided

    N, C, H, W = X.shape
    K, _, fh, fw = F.shape
    Ho, Wo = (H + 2 * padding - fh) // stride + 1, (W + 2 * padding - fw) // stride + 1
    Xp = np.pad(X, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    sN, sC, sH, sW = Xp.strides
    view = as_strided(Xp, (C, fh, fw, N, Ho, Wo), (sC, sH, sW, sN, stride * sH, stride * sW), writeable=False)
    cols = np.ascontiguousarray(view).reshape(C * fh * fw, -1)
    out = F.reshape(K, -1) @ cols + b[:, None]
    return np.ascontiguousarray(out.reshape(K, N, Ho, Wo).transpose(1, 0, 2, 3)), cols


def strided_backward(
    np: Any, G: Any, X: Any, F: Any, stride: int, padding: int, cols: Any
) -> tuple[Any, ...]:
    """The baseline's backward: ``dF``, ``db``, ``dcols`` by GEMM, col2im by one slice addition per tap."""
    N, C, H, W = X.shape
    K, _, fh, fw = F.shape
    Ho, Wo = G.shape[2:]
    G_mat = G.transpose(1, 0, 2, 3).reshape(K, -1)
    dF = (G_mat @ cols.T).reshape(F.shape)
    db = G_mat.sum(axis=1)
    dcols = (F.reshape(K, -1).T @ G_mat).reshape(C, fh, fw, N, Ho, Wo)
    acc = np.zeros((N, C, H + 2 * padding, W + 2 * padding), dtype=X.dtype)
    for i in range(fh):
        for j in range(fw):
            rows = slice(i, i + stride * (Ho - 1) + 1, stride)
            columns = slice(j, j + stride * (Wo - 1) + 1, stride)
            acc[:, :, rows, columns] += dcols[:, i, j].transpose(1, 0, 2, 3)
    return acc[:, :, padding : padding + H, padding : padding + W].copy(), dF, db


def floor_gemms(np: Any, X: Any, F: Any, G: Any) -> tuple[Callable[[], object], Callable[[], object]]:
    """The GEMMs alone at the exact im2col shapes, each in its faster orientation (picked here)."""
    K, C, fh, fw = F.shape
    A = F.reshape(K, -1)
    rows, P = C * fh * fw, G.size // K
    rng = np.random.default_rng(1)
    cols = rng.standard_normal((rows, P)).astype(X.dtype)
    G_mat = rng.standard_normal((K, P)).astype(X.dtype)

    def fastest(*ways: Callable[[], object]) -> Callable[[], object]:
        times = alternate({str(k): way for k, way in enumerate(ways)}, 3)
        return ways[int(min(times, key=lambda k: sorted(times[k])[1]))]

    def product(a: Any, b: Any) -> Callable[[], object]:
        """``a @ b`` into a C-contiguous array made once: the floor counts no page faults of fresh outputs."""
        out = np.empty((a.shape[0], b.shape[1]), dtype=X.dtype)
        return lambda: np.matmul(a, b, out=out)

    forward = fastest(product(A, cols), product(cols.T, A.T))
    dF = fastest(product(G_mat, cols.T), product(cols, G_mat.T))
    dcols = fastest(product(A.T, G_mat), product(G_mat.T, A))

    def all_three() -> object:
        return forward(), dF(), dcols()

    return forward, all_three


def peak_extra_bytes(fn: Callable[[], object]) -> int:
    """Peak bytes allocated during one call above what was allocated before it (a warm call)."""
    fn()
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    tracemalloc.reset_peak()
    result = fn()
    peak = tracemalloc.get_traced_memory()[1] - base
    tracemalloc.stop()
    del result
    return peak


def layer_arrays(rng: Any, xs: tuple, fs: tuple, s: int, p: int) -> tuple:
    """float32 ``(X, F, b, G)`` of one benchmark layer; ``G`` has the forward output's shape."""
    import numpy as np

    from cnnbook import conv_output_size

    X = rng.standard_normal(xs).astype(np.float32)
    F = rng.standard_normal(fs).astype(np.float32)
    b = rng.standard_normal(fs[0]).astype(np.float32)
    Ho, Wo = (conv_output_size(n, f, stride=s, padding=p) for n, f in zip(xs[2:], fs[2:]))
    G = rng.standard_normal((xs[0], fs[0], Ho, Wo)).astype(np.float32)
    return X, F, b, G


def numpy_worker(calls: int, memory: bool) -> dict[str, Any]:
    import numpy as np

    from cnnbook import fast
    from cnnbook.timing import conv_step

    rng = np.random.default_rng(0)
    report: dict[str, Any] = {}
    for index, (xs, fs, s, p) in enumerate(CASES):
        X, F, b, G = layer_arrays(rng, xs, fs, s, p)
        ours_fb = partial(conv_step, fast, X, F, b, G, p, s)

        def base_fb(X: Any = X, F: Any = F, b: Any = b, G: Any = G, s: int = s, p: int = p) -> object:
            S, cols = strided_forward(np, X, F, b, s, p)
            return S, strided_backward(np, G, X, F, s, p, cols)

        floor_f, floor_fb = floor_gemms(np, X, F, G)
        entrants: Timed = {
            "cnnbook fwd": partial(fast.conv2d, X, F, b, s, p),
            "cnnbook f+b": ours_fb,
            "as_strided fwd": partial(strided_forward, np, X, F, b, s, p),
            "as_strided f+b": base_fb,
            "floor fwd": floor_f,
            "floor f+b": floor_fb,
        }
        row: dict[str, Any] = alternate(entrants, calls)
        if memory:
            K, C, fh, fw = fs
            n_out = G.size
            cols_bytes = 4 * C * fh * fw * n_out // K
            row["memory"] = {
                "fwd": peak_extra_bytes(entrants["cnnbook fwd"]),
                "f+b": peak_extra_bytes(ours_fb),
                "fwd limit": cols_bytes + 4 * n_out,
                "f+b limit": cols_bytes + 4 * (n_out + X.size + F.size + K),
            }
        report[str(index)] = row
    return report


def torch_worker(calls: int, threads: int) -> dict[str, Any]:
    import numpy as np
    import torch

    torch.set_num_threads(threads)
    conv = torch.nn.functional.conv2d
    rng = np.random.default_rng(0)
    report: dict[str, Any] = {}
    for index, (xs, fs, s, p) in enumerate(CASES):
        X, F, b, G = (torch.from_numpy(a) for a in layer_arrays(rng, xs, fs, s, p))  # the data numpy gets
        for leaf in (X, F, b):
            leaf.requires_grad_(True)

        def forward(X: Any = X, F: Any = F, b: Any = b, s: int = s, p: int = p) -> object:
            with torch.no_grad():
                return conv(X, F, b, stride=s, padding=p)

        def forward_backward(
            X: Any = X, F: Any = F, b: Any = b, G: Any = G, s: int = s, p: int = p
        ) -> object:
            X.grad = F.grad = b.grad = None
            conv(X, F, b, stride=s, padding=p).backward(G)
            return X.grad, F.grad, b.grad

        report[str(index)] = alternate({"torch fwd": forward, "torch f+b": forward_backward}, calls)
    return report


# --------------------------------------------------------------------------------------------
# The ablation process: each trick of cnnbook.fast switched off in turn
# --------------------------------------------------------------------------------------------

TRICK_NAMES = {
    "one_copy": "columns by one strided copy (vs fh*fw tap copies)",
    "layout_choice": "layout rule (vs full rows for cols and dX if s=1)",
    "workspaces": "scratch arrays reused per shape",
    "blocked_dx": "dX a block of images (<= 8 MB) at a time",
    "dx_row_gemm": "dX's horizontal taps in the GEMM (vs fh*fw adds)",
    "shifted_columns": "shifted rows, C fh of them (vs C fh fw rows)",
    "dx_shifted_views": "dX by GEMMs on shifted views of G (K <= 8)",
    "small_buffers": "backward with 256-element ufunc buffers (vs 8192)",
    "chunked_df": "dF by GEMMs over 512 columns (vs one), small dF",
    "df_views": "shifted rows' mid-sized dF on views of G (vs stack)",
    "batch_threads": "halves of the batch on two threads (needs 2 threads)",
    "image_gemms": "forward image by image into S (one-thread BLAS)",
    "shared_padding": "shifted rows of W + p (vs W + 2p), padding shared",
}


def with_trick_off(
    fast: Any, off: str | None, backward: bool, X: Any, F: Any, b: Any, G: Any, s: int, p: int
) -> object:
    """One forward (and backward) of :mod:`cnnbook.fast` with trick ``off`` turned off (None: all on)."""
    from cnnbook.timing import conv_step

    with fast.tricks_off(*[off] if off else []):
        return conv_step(fast, X, F, b, G, p, s) if backward else fast.conv2d(X, F, b, s, p, return_cols=True)


def ablation_worker(calls: int) -> dict[str, Any]:
    import numpy as np

    from cnnbook import fast

    rng = np.random.default_rng(0)
    report: dict[str, Any] = {}
    for index, (xs, fs, s, p) in enumerate(CASES):
        X, F, b, G = layer_arrays(rng, xs, fs, s, p)

        entrants: Timed = {}
        for off in [None, *TRICK_NAMES]:
            entrants[f"{off} fwd"] = partial(with_trick_off, fast, off, False, X, F, b, G, s, p)
            entrants[f"{off} f+b"] = partial(with_trick_off, fast, off, True, X, F, b, G, s, p)
        report[str(index)] = alternate(entrants, calls)
    return report


# --------------------------------------------------------------------------------------------
# The parent: run the processes in turn, print the tables
# --------------------------------------------------------------------------------------------


def run_worker(
    kind: str, calls: int, threads: int, memory: bool = False, cpu: bool = False
) -> dict[str, Any]:
    arguments = ["--worker", kind, "--calls", str(calls), "--threads", str(threads)]
    arguments += ["--memory"] * memory + ["--cpu"] * cpu
    return run_in_own_process(__file__, arguments, threads) or {}  # {}: torch not installed


def merge(into: dict[str, Any], part: dict[str, Any]) -> None:
    for case, row in part.items():
        for name, values in row.items():
            if name == "memory":
                into.setdefault(case, {})[name] = values
            else:
                into.setdefault(case, {}).setdefault(name, []).extend(values)


def median_ms(values: list[float]) -> float:
    return 1000 * median(values)


def geometric_mean(values: list[float]) -> float:
    product = 1.0
    for v in values:
        product *= v
    return product ** (1 / len(values))


def main(rounds: int, calls: int, threads: int, cpu: bool) -> None:
    times: dict[str, Any] = {}
    for r in range(rounds):
        merge(times, run_worker("numpy", calls, threads, memory=r == 0, cpu=cpu))
        merge(times, run_worker("torch", calls, threads, cpu=cpu))
    torch = "torch fwd" in times["0"]
    print(
        f"float32, {threads} threads, each library in its own process; medians of {rounds} x {calls} "
        f"alternating calls, ms of {'CPU' if cpu else 'wall'} time.  "
        f"PyTorch: {'yes' if torch else 'not installed'}.  OPENBLAS_THREAD_TIMEOUT={BLAS_THREAD_TIMEOUT}"
    )
    header = f"{'layer':40s} {'cnnbook':>8s} {'strided':>8s} {'floor':>7s} {'/floor':>6s}"
    if torch:
        header += f" {'torch':>7s} {'/torch':>6s}"
    fb_ratios: dict[str, list[float]] = {"fwd": [], "f+b": []}
    for part in ("fwd", "f+b"):
        print(f"\n{'forward' if part == 'fwd' else 'forward+backward'}:\n{header}")
        for index, case in enumerate(CASES):
            row = {name: median_ms(v) for name, v in times[str(index)].items() if name != "memory"}
            ours = row[f"cnnbook {part}"]
            line = (
                f"{describe(case):40s} {ours:8.2f} {row[f'as_strided {part}']:8.2f} "
                f"{row[f'floor {part}']:7.2f} {ours / row[f'floor {part}']:6.2f}"
            )
            if torch:
                ratio = ours / row[f"torch {part}"]
                fb_ratios[part].append(ratio)
                line += f" {row[f'torch {part}']:7.2f} {ratio:6.2f}"
            print(line)
        if torch:
            print(f"{'geometric mean cnnbook/torch':40s} {'':31s} {geometric_mean(fb_ratios[part]):6.2f}")
    print(
        "\npeak extra memory of one cnnbook call (tracemalloc), MB, vs the limit: column matrix + outputs;"
        "\n'over' = peak - limit in KB (a few KB are Python objects: array headers, tuples, frames)"
    )
    print(f"{'layer':40s} {'fwd':>6s} {'limit':>6s} {'over':>7s} {'f+b':>6s} {'limit':>6s} {'over':>7s}")
    for index, case in enumerate(CASES):
        m = times[str(index)]["memory"]
        cells = []
        for part in ("fwd", "f+b"):
            peak, limit = m[part], m[f"{part} limit"]
            cells.append(f"{peak / 2**20:6.1f} {limit / 2**20:6.1f} {(peak - limit) / 1024:+7.1f}")
        print(f"{describe(case):40s} " + " ".join(cells))


def ablation(rounds: int, calls: int, threads: int, cpu: bool) -> None:
    times: dict[str, Any] = {}
    for _ in range(rounds):
        merge(times, run_worker("ablation", calls, threads, cpu=cpu))
    print(
        f"What each trick of cnnbook.fast buys: time with the trick off / time with every trick on "
        f"(float32, {threads} threads, {'CPU' if cpu else 'wall'} time, "
        f"medians of {rounds} x {calls} alternating calls).  "
        f"A trick that does not touch a shape (or a pass) shows noise around 1.00."
    )
    print(f"{'trick':52s} {'':4s} " + " ".join(f"{'shape ' + str(i + 1):>8s}" for i in range(len(CASES))))
    for trick, text in TRICK_NAMES.items():
        for part in ("fwd", "f+b"):
            ratios = []
            for index in range(len(CASES)):
                row = times[str(index)]
                ratios.append(median_ms(row[f"{trick} {part}"]) / median_ms(row[f"None {part}"]))
            label = text if part == "fwd" else ""
            print(f"{label:52s} {part:4s} " + " ".join(f"{r:8.2f}" for r in ratios))
    print("shapes: " + "; ".join(f"{i + 1} = {describe(case)}" for i, case in enumerate(CASES)))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=4, help="alternating process rounds per library")
    parser.add_argument(
        "--calls",
        type=int,
        default=6,
        help="alternating calls per entrant in one process (each round starts with the next entrant)",
    )
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--ablation", action="store_true", help="time each trick of cnnbook.fast turned off")
    parser.add_argument(
        "--cpu", action="store_true", help="time CPU seconds, one thread (steadier on a loaded machine)"
    )
    parser.add_argument("--worker", choices=["numpy", "torch", "ablation"], help=argparse.SUPPRESS)
    parser.add_argument("--memory", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.cpu:
        CLOCK, args.threads = time.process_time, 1
    if args.worker == "numpy":
        print(json.dumps(numpy_worker(args.calls, args.memory)))
    elif args.worker == "torch":
        print(json.dumps(torch_worker(args.calls, args.threads)))
    elif args.worker == "ablation":
        print(json.dumps(ablation_worker(args.calls)))
    elif args.ablation:
        ablation(args.rounds, args.calls, args.threads, args.cpu)
    else:
        main(args.rounds, args.calls, args.threads, args.cpu)

"""The timing helper's bookkeeping, on a fake clock: tests never measure wall-clock time."""

import numpy as np
import pytest

from cnnbook import timing
from cnnbook.timing import best_time, in_fresh_process, race


class FakeClock:
    """A ``perf_counter`` stand-in that moves only when a timed function says so."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def costs(self, *seconds: float):
        """A function whose k-th call takes ``seconds[k]`` (the last value repeats)."""
        calls = []

        def fn() -> None:
            self.now += seconds[min(len(calls), len(seconds) - 1)]
            calls.append(1)

        fn.calls = calls  # type: ignore[attr-defined]
        return fn


@pytest.fixture
def clock(monkeypatch) -> FakeClock:
    fake = FakeClock()
    monkeypatch.setattr(timing.time, "perf_counter", fake)
    return fake


def test_race_reports_each_entrants_fastest_round_per_call(clock):
    short = clock.costs(1.0, 0.003, 0.001, 0.002)  # warm-up (not counted), then rounds
    long = clock.costs(5.0, 0.05, 0.02, 0.04)
    out = race({"short": short, "long": long}, rounds=3, min_time=0.0)
    assert set(out) == {"short", "long"}
    assert out["short"] == pytest.approx(0.001)
    assert out["long"] == pytest.approx(0.02)


def test_race_repeats_a_short_call_until_a_round_lasts_min_time(clock):
    fn = clock.costs(0.001)  # 1 ms per call, rounds of at least 10 ms
    out = race({"f": fn}, rounds=2, min_time=0.01)
    assert len(fn.calls) == 1 + 2 * 11  # warm-up, then int(0.01 / 0.001) + 1 calls per round
    assert out["f"] == pytest.approx(0.001)
    assert best_time(clock.costs(0.25), rounds=1) == pytest.approx(0.25)


def test_race_counts_calls_and_rejects_zero_rounds():
    calls = []
    race({"f": lambda: calls.append(1)}, rounds=3, min_time=0.0)
    assert len(calls) == 1 + 3  # one warm-up, then one call per round
    with pytest.raises(ValueError, match="rounds must be >= 1"):
        race({"f": lambda: None}, rounds=0)


def test_in_fresh_process_runs_the_target_with_the_given_environment():
    assert in_fresh_process("json:dumps", {}, obj=[1, 2]) == "[1, 2]"
    assert in_fresh_process("os:getenv", {"CNNBOOK_PROBE": "seen"}, key="CNNBOOK_PROBE") == "seen"
    assert in_fresh_process("os:getenv", {}, key="CNNBOOK_PROBE") is None  # this process's env is untouched


def test_in_fresh_process_refuses_a_bad_target_and_reports_a_failing_child():
    with pytest.raises(ValueError, match="target"):
        in_fresh_process("json.dumps", {})
    with pytest.raises(RuntimeError, match="JSONDecodeError"):
        in_fresh_process("json:loads", {}, s="{")


def test_batch_parts_race_reports_every_route_for_every_layer():
    """Its figures are timings (not checked here); its report's form and the parts rule are."""
    layers = {"tiny": [[4, 2, 6, 6], [3, 2, 3, 3], 1], "wide": [[2, 1, 5, 9], [2, 1, 3, 3], 0]}
    two = {"OPENBLAS_NUM_THREADS": "2", "OPENBLAS_THREAD_TIMEOUT": "4"}
    report = in_fresh_process("cnnbook.timing:batch_parts_race", two, layers=layers, rounds=1)
    assert set(report) == set(layers)
    for timed in report.values():
        assert set(timed) == {"parts", "one piece", "GEMM floor", "parts allowed"}
        assert all(timed[route] > 0 for route in ("parts", "one piece", "GEMM floor"))
        assert timed["parts allowed"] in (1, 2)
    one = in_fresh_process(
        "cnnbook.timing:batch_parts_race", {"OPENBLAS_NUM_THREADS": "1"}, layers=layers, rounds=1
    )
    assert all(timed["parts allowed"] == 1 for timed in one.values())  # one BLAS thread: no parts


@pytest.mark.parametrize("stride", [1, 2])
def test_conv_step_is_a_forward_then_the_three_gradients(stride):
    import cnnbook as cb
    from cnnbook import fast
    from cnnbook.timing import conv_step

    rng = np.random.default_rng(2)
    X, F, b = rng.standard_normal((2, 3, 6, 5)), rng.standard_normal((4, 3, 3, 3)), rng.standard_normal(4)
    G = rng.standard_normal(cb.conv2d(X, F, b, stride, 1).shape)
    expected = cb.conv2d_backward(G, X, F, stride, 1)
    for module in (cb, fast):
        for ours, theirs in zip(conv_step(module, X, F, b, G, 1, stride), expected):
            np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-10)


def test_gemm_floor_does_the_three_products_of_a_step():
    import cnnbook as cb
    from cnnbook.timing import gemm_floor

    rng = np.random.default_rng(3)
    X, F, G = (
        rng.standard_normal((2, 3, 6, 5)),
        rng.standard_normal((4, 3, 3, 3)),
        rng.standard_normal((2, 4, 6, 5)),
    )
    cols = cb.im2col(X, 3, padding=1)
    S_mat, dF_mat, dcols = gemm_floor(F, G, cols)()
    S = cb.conv2d(X, F, padding=1)
    dX, dF, _ = cb.conv2d_backward(G, X, F, padding=1)
    np.testing.assert_allclose(S_mat, S.transpose(1, 0, 2, 3).reshape(4, -1), rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(dF_mat.reshape(F.shape), dF, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(cb.col2im(dcols, X.shape, 3, padding=1), dX, rtol=1e-10, atol=1e-10)

"""The timing helper's bookkeeping, on a fake clock: tests never measure wall-clock time."""

import pytest

from cnnbook import timing
from cnnbook.timing import best_time, race


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

import time

import pytest

from cnnbook.timing import best_time, race


def test_race_reports_every_entrant_and_orders_a_clear_difference():
    out = race({"short": lambda: time.sleep(0.001), "long": lambda: time.sleep(0.02)}, rounds=2)
    assert set(out) == {"short", "long"}
    assert 0.001 <= out["short"] < out["long"]  # sleep never returns early; 20x apart
    assert best_time(lambda: time.sleep(0.002), rounds=1) >= 0.002


def test_race_counts_calls_and_rejects_zero_rounds():
    calls = []
    race({"f": lambda: calls.append(1)}, rounds=3, min_time=0.0)
    assert len(calls) == 1 + 3  # one warm-up, then one call per round
    with pytest.raises(ValueError, match="rounds must be >= 1"):
        race({"f": lambda: None}, rounds=0)

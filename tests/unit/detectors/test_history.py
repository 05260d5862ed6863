"""The recent history a fired series keeps for the console's plot (detectors/history.py)."""

from __future__ import annotations

import math
import pickle

from detectors.base import BucketSummary
from detectors.cost import CostSpike
from detectors.errors import ErrorSurge
from detectors.history import MAX_POINTS, SNAPSHOT_POINTS, RecentPoints, SeriesHistory, point_of
from detectors.suite import SeriesState

KEY = "cost_spike|model=m"


def window(i: int, spend: float, n: int = 10) -> BucketSummary:
    return BucketSummary.make(KEY, i * 60.0, n=n, total=spend, t_first=i * 60.0, t_last=i * 60.0 + 59)


def feed(state: SeriesState, spends: list[float], start: int = 0) -> list:
    found = []
    for i, spend in enumerate(spends, start):
        found += state.add(window(i, spend))
    return found


def quiet(i: int) -> float:
    return 1.0 + 0.1 * (i % 3)


def test_a_series_that_never_fired_keeps_no_history() -> None:
    state = SeriesState(KEY, CostSpike("cost_spike", warmup=5, min_volume=1))
    assert feed(state, [quiet(i) for i in range(60)]) == []
    assert state.history is None
    assert "h" not in state.to_dict()


def test_a_fired_series_keeps_observed_baseline_band_and_threshold() -> None:
    state = SeriesState(KEY, CostSpike("cost_spike", warmup=5, min_volume=1, cooldown_s=0))
    spends = [quiet(i) for i in range(40)] + [9.0] + [quiet(i) for i in range(10)]
    found = feed(state, spends)
    assert found, "the spike must fire"
    points = state.history.to_dict()
    # the spike's window and every closed window after it (the newest is still open)
    assert points["t"][0] == 40 * 60.0
    assert points["observed"][0] == 9.0
    assert 0.9 < points["baseline"][0] < 1.3
    assert points["low"][0] < points["baseline"][0] < points["high"][0]
    assert points["baseline"][0] < points["threshold"][0] < 9.0  # it fired: above the threshold
    assert all(o < th for o, th in zip(points["observed"][1:], points["threshold"][1:]))  # quiet after
    assert len(points["t"]) == 10


def test_a_busy_series_shows_the_windows_before_it_fired() -> None:
    pool = RecentPoints(max_series=10, points=30, min_events=50)
    state = SeriesState(KEY, CostSpike("cost_spike", warmup=5, min_volume=1, cooldown_s=0), recent=pool)
    for i in range(40):
        state.add(window(i, quiet(i), n=60))
    assert state.history is None and len(pool) == 1  # kept in the pool, not in the series
    state.add(window(40, 9.0, n=60))
    state.add(window(41, 1.0, n=60))
    points = state.history.to_dict()
    # the 30 windows before the spike (windows 10-39), then the spike's
    assert points["t"] == [i * 60.0 for i in range(10, 41)]
    assert points["observed"][-1] == 9.0 and max(points["observed"][:-1]) < 1.3
    assert len(pool) == 0  # handed over


def test_the_history_survives_a_snapshot() -> None:
    detector = CostSpike("cost_spike", warmup=5, min_volume=1, cooldown_s=0)
    state = SeriesState(KEY, detector)
    feed(state, [quiet(i) for i in range(40)] + [9.0, 1.0, 1.0])
    restored = SeriesState(KEY, detector.clone()).load(state.to_dict())
    assert restored.history == state.history and len(restored.history) == 2
    assert pickle.loads(pickle.dumps(restored.history)) == state.history


def test_the_snapshot_keeps_the_newest_points_only() -> None:
    state = SeriesState(KEY, CostSpike("cost_spike"))
    state.history = SeriesHistory()
    for i in range(SNAPSHOT_POINTS + 30):
        state.history.record(i * 60.0, (float(i), 1.0, 0.5, 1.5, 3.0))
    kept = state.to_dict()["h"]
    assert len(kept["t"]) == SNAPSHOT_POINTS and kept["t"][0] == 30 * 60.0 and kept["observed"][0] == 30.0
    assert len(state.history) == SNAPSHOT_POINTS + 30  # memory keeps the day


def test_the_history_is_bounded_to_a_day() -> None:
    h = SeriesHistory()
    for i in range(MAX_POINTS + 100):
        h.record(i * 60.0, (float(i), 1.0, 0.5, 1.5, 3.0))
    assert len(h) == MAX_POINTS
    assert h.to_dict()["t"][0] == 100 * 60.0
    h.record(10 * 86_400.0, (1.0, 1.0, 0.5, 1.5, 3.0))  # a day later: everything before it is too old
    assert h.to_dict()["t"] == [10 * 86_400.0]


def test_a_window_recorded_again_replaces_its_point_and_older_ones_are_ignored() -> None:
    h = SeriesHistory()
    h.record(60.0, (1.0, 1.0, 0.5, 1.5, 3.0))
    h.record(120.0, (2.0, 1.0, 0.5, 1.5, 3.0))
    h.record(120.0, (5.0, 1.0, 0.5, 1.5, 3.0))
    h.record(60.0, (7.0, 1.0, 0.5, 1.5, 3.0))
    assert h.to_dict()["observed"] == [1.0, 5.0]


def test_point_of_a_detector_without_learned_state_is_finite_or_unknown() -> None:
    for detector in (CostSpike("c"), ErrorSurge("e")):
        point = point_of(detector, BucketSummary.make(KEY, 0.0, n=0))
        assert all(math.isfinite(v) or math.isnan(v) for v in point)

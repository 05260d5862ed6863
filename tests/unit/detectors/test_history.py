"""The recent history a fired series keeps for the console's plot (detectors/history.py)."""

from __future__ import annotations

import math
import pickle
import random

import orjson

from detectors import DetectorSuite
from detectors.base import BucketSummary
from detectors.cost import CostSpike
from detectors.errors import ErrorSurge
from detectors.history import MAX_POINTS, RecentPoints, SeriesHistory, point_of
from detectors.suite import SNAPSHOT_BYTES, SeriesState

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


def test_a_fired_series_with_a_full_day_of_history_snapshots_within_2_kb() -> None:
    """The bytes the series-state table stores (``SeriesState.snapshot()``, as streams.agents.series
    writes them) stay within 2 KB however long the history; the snapshot keeps its newest points."""
    suite = DetectorSuite([CostSpike("cost_spike", "model", warmup=5, min_volume=1, cooldown_s=0)], bucket_s=5)
    state = suite.series_state(KEY)
    rng = random.Random(3)
    spends = [rng.uniform(0.5, 1.5) for _ in range(40)] + [30.0] + [rng.uniform(0.5, 1.5) for _ in range(MAX_POINTS)]
    assert feed(state, spends), "the spike must fire"
    assert len(state.history) == MAX_POINTS  # memory keeps the day
    blob = state.snapshot()
    assert len(blob) <= SNAPSHOT_BYTES
    restored = suite.restore_series(blob)
    kept = restored.history.to_dict()
    assert len(kept["t"]) >= 30  # the newest half hour at least (as long as the pool keeps before a fire)
    newest = state.history.to_dict()
    assert kept == {name: column[-len(kept["t"]):] for name, column in newest.items()}  # exactly those
    assert restored == state
    # Room the rest of the snapshot leaves: one point fewer would leave room for less than a point.
    assert len(blob) > SNAPSHOT_BYTES - 40


def test_a_snapshot_keeps_the_values_exactly_and_any_times() -> None:
    h = SeriesHistory()
    nan = float("nan")
    for t in (60.0, 120.0, 300.0, 300.0 + 60 * 200, 86_000.0):  # gaps of 1, 3, 200 windows, then off the grid
        h.record(t, (t / 7, nan, -1e-30, 3.4e38, math.pi))
    for step in (60.0, None):
        packed = orjson.loads(orjson.dumps(h.pack(10_000, step)))
        back = SeriesHistory.unpack(packed)
        assert back._t == h._t and back._values.tobytes() == h._values.tobytes()  # bit for bit, NaN too
        assert "t" in packed  # 86,000 is not a multiple of 60: the times are written as they are
    on_grid = SeriesHistory()
    for t in (60.0, 120.0, 300.0, 300.0 + 60 * 200):
        on_grid.record(t, (1.0, 1.0, 0.5, 1.5, 3.0))
    packed = on_grid.pack(10_000, 60.0)
    assert "t" not in packed and SeriesHistory.unpack(packed)._t == on_grid._t
    assert SeriesHistory.unpack(on_grid.pack(0, 60.0)).to_dict()["t"] == []  # no room: no points


def test_fields_no_point_knows_take_no_room() -> None:
    """A limit's history has no baseline or band: only observed and threshold are written."""
    h = SeriesHistory()
    nan = float("nan")
    for i in range(100):
        h.record(i * 60.0, (i / 3, nan, nan, nan, 5.0))
    h.record(100 * 60.0, (nan,) * 5)  # a window nothing was known of
    packed = h.pack(10_000, 60.0)
    assert packed["unknown"] == ["baseline", "low", "high"]
    assert len(packed["v"]) == 4 * math.ceil(101 * 2 * 4 / 3)
    back = SeriesHistory.unpack(orjson.loads(orjson.dumps(packed)))
    assert back._t == h._t and back._values.tobytes() == h._values.tobytes()
    nothing = SeriesHistory()
    nothing.record(0.0, (nan,) * 5)
    assert SeriesHistory.unpack(nothing.pack(1000, 60.0)).to_dict() == nothing.to_dict()


def test_a_snapshot_of_the_previous_version_still_loads() -> None:
    """Written by 851c1a8 (the history as JSON columns, its newest 120 points)."""
    old = (b'{"k":"cost_spike|model=m","kind":"cost","o":[{"k":"cost_spike|model=m","b":2520.0,"n":10,"s":1.0,'
           b'"t":[2520.0,2579.0]}],"c":2520.0,"t":2579.0,"late":0,"s":{"_windows":42,"_last_fire":2459.0,'
           b'"_tail":[95.80836568772168,2.9925826078256583,2.9925826078256583,5.985165215651317],'
           b'"_mean":1.0670323019420787,"_var":0.01010848809287512,"_last_start":2460.0,"_season":'
           b'[[1.104345110973308,42]' + b',[0.0,0]' * 23 + b']},"f":null,"q":false,"p":[-1,-1],'
           b'"h":{"t":[2400.0,2460.0],"observed":[9.0,1.0],"baseline":[1.05892,1.0686],"low":[0.953032,0.961739],'
           b'"high":[1.16482,1.17546],"threshold":[3.17677,3.2058]}}')
    suite = DetectorSuite([CostSpike("cost_spike", "model", warmup=5, min_volume=1, cooldown_s=0)], bucket_s=5)
    state = suite.restore_series(old)
    assert state.history.to_dict() == orjson.loads(old)["h"]
    assert state.detector._windows == 42 and state.open_windows == [(2520.0, 10)]
    assert suite.restore_series(state.snapshot()) == state  # and it is written in the new form
    assert "v" in orjson.loads(state.snapshot())["h"]


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

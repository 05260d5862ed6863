"""What every detector must hold (river's detector contract, adapted)."""

from __future__ import annotations

import copy
import pickle
import random

import orjson

from detectors import DetectorSuite, SeriesState
from detectors.history import MAX_POINTS
from detectors.suite import SNAPSHOT_BYTES
from tests.unit.detectors.conftest import make_detector, window_stream


def test_score_one_is_pure(kind):
    d = make_detector(kind)
    for w in window_stream(kind, seed=1)[:40]:
        d.update(w)
    before = pickle.dumps(d)
    for w in window_stream(kind, seed=2)[-5:]:
        d.score_one(w)
    assert pickle.dumps(d) == before


def test_input_is_not_mutated(kind):
    d = make_detector(kind)
    for w in window_stream(kind, seed=3):
        before = w.to_bytes()
        d.score_one(w)
        d.update(w, partial=True)
        d.update(w)
        assert w.to_bytes() == before


def _findings(kind, seed):
    d = make_detector(kind)
    return [f.model_dump_json() for w in window_stream(kind, seed=seed) if (f := d.update(w))]


def test_same_seed_same_findings(kind):
    first = _findings(kind, seed=5)
    assert first, f"the {kind} detector should fire on the incident in the synthetic stream"
    assert _findings(kind, seed=5) == first


def test_detector_snapshot_round_trip(kind):
    d = make_detector(kind)
    for w in window_stream(kind, seed=6)[:50]:
        d.update(w)
    clone = make_detector(kind)
    clone.load_state(orjson.loads(orjson.dumps(d.state())))
    assert clone == d and pickle.loads(pickle.dumps(d)) == d
    rest = window_stream(kind, seed=6)[50:]
    assert [d.update(w) for w in copy.deepcopy(rest)] == [clone.update(w) for w in rest]


def test_series_state_snapshot_round_trip(kind):
    d = make_detector(kind)
    suite = DetectorSuite([d], bucket_s=5)
    stream = window_stream(kind, seed=7)
    key = stream[0].series_key.replace(stream[0].series_key.split("|")[0], d.name, 1)
    state = suite.series_state(key)
    for w in stream[:50]:
        state.add(w.copy())
    restored = suite.restore_series(state.snapshot())
    assert isinstance(restored, SeriesState) and restored == state
    assert len(state.snapshot()) <= SNAPSHOT_BYTES  # 2 KB per series (issue 10)
    tail = [(a.copy(), a.copy()) for a in stream[50:]]
    assert [f for a, _ in tail for f in state.add(a)] == [f for _, b in tail for f in restored.add(b)]


def test_a_fired_series_snapshot_stays_within_2_kb(kind):
    """Fired, with the longest plot history a series keeps (detectors/history.py): the bytes the
    series-state table stores stay within 2 KB, and the history takes what the learned state leaves."""
    d = make_detector(kind)
    suite = DetectorSuite([d], bucket_s=5)
    stream = window_stream(kind, seed=7)
    key = stream[0].series_key.replace(stream[0].series_key.split("|")[0], d.name, 1)
    state = suite.series_state(key)
    found = [f for w in stream for f in state.add(w.copy())]
    assert found and state.history is not None, f"the {kind} series should fire and keep its history"
    rng = random.Random(11)
    t = stream[-1].bucket_start
    for _ in range(MAX_POINTS):  # a day of windows after it, some empty, values of any magnitude
        t += d.window_s * rng.choice((1, 1, 1, 2, 7))
        state.history.record(t, tuple(rng.lognormvariate(0, 3) for _ in range(5)))
    blob = state.snapshot()
    assert len(blob) <= SNAPSHOT_BYTES
    restored = suite.restore_series(blob)
    # at least twenty windows for the console's plot (a daily budget keeps fewer in memory)
    assert restored == state and min(20, len(state.history)) <= len(restored.history) <= len(state.history)


def test_clones_share_the_configuration(kind):
    """A series holds only learned state (issue 6: bytes per tracked series)."""
    d = make_detector(kind)
    c = d.clone()
    assert not hasattr(c, "__dict__") and c._spec is d._spec and c.severity is d.severity
    assert c == d and isinstance(c, type(d)._kind_class)
    for w in window_stream(kind, seed=8)[:20]:
        c.update(w)
    assert d.state() == make_detector(kind).state()  # learning in a clone leaves the prototype alone


def test_cost_snapshot_written_before_the_flat_season_loads():
    old = {"_windows": 40, "_last_fire": -1e18, "_mean": 2.0, "_var": 0.5, "_last_start": 1200.0,
           "_season": [[0.0, 0]] * 23 + [[1.5, 600.0]]}  # 24 [mean, count] pairs, the count saturated
    d = make_detector("cost")
    d.load_state(orjson.loads(orjson.dumps(old)))
    state = orjson.loads(orjson.dumps(d.state()))
    assert state.pop("_tail") == make_detector("cost").state()["_tail"]  # older: the calibration's prior
    assert state == old
    assert len(orjson.dumps(state)) <= len(orjson.dumps(old))
    fresh = make_detector("cost")
    assert fresh.state()["_season"] == []  # allocated by the first learned window
    fresh.update(window_stream("cost", seed=9)[0])
    assert len(fresh.state()["_season"]) == 24


def test_an_anomaly_snapshot_from_before_the_top_record_loads():
    d = make_detector("anomaly")
    for w in window_stream("anomaly", seed=4):
        d.update(w)
    old = {k: v for k, v in orjson.loads(orjson.dumps(d.state())).items() if k not in ("_top", "_top_alarm")}
    restored = make_detector("anomaly")
    restored.load_state(old)
    assert restored._top == [] and restored._top_alarm == 0.0  # the record starts empty
    assert {k: v for k, v in restored.state().items() if k not in ("_top", "_top_alarm")} == old
    restored.update(window_stream("anomaly", seed=5)[0])

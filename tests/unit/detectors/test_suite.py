"""The suite's service contract: pre-aggregation, flush, per-series state across restarts."""

from __future__ import annotations

import orjson

from detectors import BucketSummary, Finding, build_suite, load_config, replay
from traces.events import TraceEvent

T0 = 1_767_225_600.0


def events(n=4000):
    out = []
    for i in range(n):
        cost = 0.5 if 3000 <= i < 3100 else 0.01
        out.append(TraceEvent(trace_id=f"t{i}", timestamp=T0 + i, model="gpt" if i % 2 else "claude",
                              app="a", feature="f", user_id=f"u{i % 7}", session_id=f"s{i // 300}",
                              cost_usd=cost, latency_ms=300.0 + (i % 5), input_tokens=50, output_tokens=20))
    return out


def test_flush_gives_one_summary_per_series_and_bucket_and_round_trips():
    suite = build_suite(load_config())
    for e in events(20):
        suite.observe(e)
    summaries = suite.flush()
    keys = [(s.series_key, s.bucket_start) for s in summaries]
    assert len(keys) == len(set(keys)) and suite.flush() == []
    spend = [s for s in summaries if s.series_key == "cost_spike_model|model=gpt"]
    assert [s.n for s in spend] == [2, 3, 2, 3] and all(s.bucket_start % 5 == 0 for s in spend)
    for s in summaries:
        assert BucketSummary.from_bytes(s.to_bytes()) == s
        assert s.series_key.split("|")[0] in suite.detectors


def test_merging_bucket_summaries_equals_one_bigger_bucket():
    suite = build_suite(load_config())
    evs = events(10)
    for e in evs:
        suite.observe(e)
    parts = [s for s in suite.flush() if s.series_key == "latency_model|model=gpt/provider=-"]
    merged = parts[0].copy()
    for p in parts[1:]:
        merged.merge(p)
    assert merged.n == 5 and sum(merged.hist.values()) == 5


def run_service(evs, suite, restart_at=None):
    """What the service does: observe per event, flush every 50 events, one state per key, snapshot it."""
    tables: dict[str, bytes] = {}
    states = {}
    found: list[Finding] = []
    latest = None
    for i, e in enumerate(evs, 1):
        found += suite.observe(e)
        latest = e.epoch
        if i % 50 == 0:
            for s in suite.flush():
                st = states.get(s.series_key) or suite.series_state(s.series_key)
                states[s.series_key] = st
                found += st.add(s)
            for key, st in states.items():
                found += st.advance(latest - suite.lateness_s)
                tables[key] = st.snapshot()
        if restart_at == i:  # the worker dies; a new one restores every state from the table
            suite = build_suite(load_config())
            states = {k: suite.restore_series(b) for k, b in tables.items()}
    return [f.model_dump_json() for f in found]


def test_a_restarted_worker_resumes_with_learned_baselines():
    evs = events()
    uninterrupted = run_service(evs, build_suite(load_config()))
    assert any('"cost_spike' in f for f in uninterrupted)
    assert run_service(evs, build_suite(load_config()), restart_at=2500) == uninterrupted


def test_replay_is_the_same_code_path_and_deterministic():
    a = [f.model_dump_json() for f in replay(events(), build_suite(load_config()))]
    b = [f.model_dump_json() for f in replay(events(), build_suite(load_config()))]
    assert a == b and any('"detector":"cost_spike_model"' in f for f in a)


def latency_summary(start, n=30, ms=300.0, key="latency_model|model=m/provider=-"):
    s = BucketSummary(key, start)
    for i in range(n):
        s.n += 1
        s.see(start + i % 5, f"t{start}-{i}", 0.0)
    s.total, s.t_last = ms * n, start + 4.9
    return s


def test_summaries_out_of_order_within_the_lateness_still_count():
    suite = build_suite(load_config())
    st = suite.series_state("latency_model|model=m/provider=-")
    st.add(latency_summary(T0))
    st.add(latency_summary(T0 + 60))  # the next window opens; the first stays open for stragglers
    st.add(latency_summary(T0 + 30))
    assert st.late == 0 and st.open_windows == [(T0, 60), (T0 + 60, 30)]
    st.add(latency_summary(T0 + 65))  # the series is now past the first window's end + lateness_s
    assert st.open_windows == [(T0 + 60, 60)]
    st.add(latency_summary(T0 + 55))
    assert st.late == 1


def test_a_window_waits_for_sources_that_are_behind_and_memory_stays_bounded():
    from detectors.suite import MAX_OPEN_WINDOWS

    suite = build_suite(load_config())
    st = suite.series_state("latency_model|model=m/provider=-")
    for w in range(10):  # a fast worker is ten minutes ahead; another partition is still at T0
        st.add(latency_summary(T0 + 60 * w), until=T0)
    assert len(st.open_windows) == 10 and st.waiting
    st.add(latency_summary(T0 + 5), until=T0)  # the slow partition's summary still counts
    assert st.late == 0 and st.open_windows[0] == (T0, 60)
    st.release(until=T0 + 300)  # the slow partition has caught up to minute five
    assert st.open_windows[0][0] == T0 + 300 and st.waiting
    st.release()  # nothing is behind: only the series' own lateness keeps the last window open
    assert st.open_windows == [(T0 + 480, 30), (T0 + 540, 30)] and not st.waiting
    for w in range(10, 10 + 2 * MAX_OPEN_WINDOWS):
        st.add(latency_summary(T0 + 60 * w), until=T0)
    assert len(st.open_windows) == MAX_OPEN_WINDOWS


def test_open_windows_survive_a_snapshot_and_old_snapshots_load():
    suite = build_suite(load_config())
    st = suite.series_state("latency_model|model=m/provider=-")
    for start in (T0, T0 + 60):
        st.add(latency_summary(start))
    restored = suite.restore_series(st.snapshot())
    assert restored == st and restored.open_windows == st.open_windows
    old = orjson.loads(st.snapshot())
    old["o"], old.pop("t")  # one open window as a dict, no newest time: the format before 2026-11
    old["o"] = old["o"][0]
    assert suite.restore_series(orjson.dumps(old)).open_windows == [(T0, 30)]


def test_a_snapshot_this_version_cannot_read_is_dropped_with_its_reason_and_the_series_relearns():
    suite = build_suite(load_config())
    key = "latency_model|model=m/provider=-"
    st = suite.series_state(key)
    st.add(latency_summary(T0))
    assert suite.load_series(key, st.snapshot()) == (st, None)
    assert suite.load_series(key, None) == (suite.series_state(key), None)  # a new series
    damaged = orjson.loads(st.snapshot())
    damaged["h"] = {"v": "AAAA", "t": [T0, T0 + 60]}  # a plot history of 2 times and 1 value
    damaged_state = orjson.loads(st.snapshot())
    damaged_state["o"] = [{"b": "an open window without its fields"}]
    for blob in (orjson.dumps(damaged), orjson.dumps(damaged_state), b'{"k": "' + key.encode(), b"\xff"):
        state, reason = suite.load_series(key, blob)
        assert reason, blob
        assert state == suite.series_state(key) and state.open_windows == []  # afresh

def test_flush_until_holds_later_buckets_back_and_gives_the_rest_in_bucket_order():
    suite = build_suite(load_config())
    for e in events(30):
        suite.observe(e)
    first = suite.flush(until=T0 + 10)
    assert first and max(s.bucket_start for s in first) == T0 + 10
    assert [s.bucket_start for s in first] == sorted(s.bucket_start for s in first)
    assert suite.pending and min(s.bucket_start for s in suite.flush()) == T0 + 15
    assert suite.pending == 0

"""Per-detector behaviour on small synthetic streams (windows, or events through the suite)."""

from __future__ import annotations

import math
import random

from detectors import (BucketSummary, Budget, CostSpike, DetectorSuite, ErrorSurge, FieldAnomaly,
                       LatencyRegression, QualityRegression, Runaway, replay)
from detectors.config import build_suite, enable, load_config
from detectors.latency import bin_of
from traces.events import TraceEvent

DAY = 86400.0
T0 = 1_767_225_600.0  # midnight UTC


def daily_spend(t: float) -> float:
    """Spend per minute: quiet nights and a steep 08:00-09:00 ramp to 6x (an ordinary day)."""
    h = (t % DAY) / 3600
    if h < 8:
        return 1.0
    if h < 9:
        return 1.0 + 5.0 * (h - 8)
    if h < 18:
        return 6.0
    return 6.0 - 5.0 * min(1.0, h - 18)


def cost_windows(days: float, rng: random.Random, spike_at: float | None = None):
    for i in range(int(days * DAY / 60)):
        t = T0 + i * 60
        spend = daily_spend(t) * rng.uniform(0.85, 1.15)
        if spike_at is not None and spike_at <= t < spike_at + 600:
            spend *= 8
        yield BucketSummary.make("cost|model=m", t, n=40, total=spend, t_first=t, t_last=t + 59)


def test_cost_is_quiet_on_the_daily_cycle_and_fires_on_a_spike():
    rng = random.Random(3)
    d = CostSpike("cost", warmup=30)
    quiet = [f for w in cost_windows(3, rng) if (f := d.update(w))]
    assert quiet == []
    spike = T0 + 3 * DAY + 14 * 3600  # mid-afternoon on day four
    found = []
    for w in cost_windows(4, rng, spike_at=spike):
        if w.bucket_start >= T0 + 3 * DAY and (f := d.update(w)):
            found.append(f)
    assert len(found) == 1 and spike <= found[0].time < spike + 120
    assert found[0].evidence.observed > 3 * found[0].evidence.baseline


def _events(start, count, every, **fields):
    return [TraceEvent(trace_id=f"{fields.get('model', 'm')}-{start + i * every:.1f}", timestamp=start + i * every,
                       **{"model": "m", **fields}) for i in range(count)]


def test_cost_spike_fires_early_within_one_bucket_on_a_partial_window():
    cost = CostSpike("spend", "model", warmup=10, min_volume=5)
    suite = DetectorSuite([cost], bucket_s=5)
    normal = _events(T0, 3600, 1.0, cost_usd=0.01)
    spike_start = T0 + 3600 + 0.5
    spike = _events(spike_start, 200, 0.1, cost_usd=0.05)  # 50x the spend rate
    findings = list(replay(normal + spike, suite))
    assert findings and findings[0].evidence.details["partial"] is True
    assert findings[0].time - spike_start <= 15  # well inside the first minute window


def test_budget_has_remaining_budget_in_evidence_and_fires_once_per_level():
    budget = Budget("daily", "user_id", limit=1.0, period="day")
    suite = DetectorSuite([budget], bucket_s=5)
    events = _events(T0 + 3600, 120, 30.0, user_id="u1", cost_usd=0.01)  # 1.20 over the hour
    findings = list(replay(events, suite))
    assert [f.severity for f in findings] == ["warning", "critical"]
    warn = findings[0]
    assert warn.target.user_id == "u1"
    assert math.isclose(warn.evidence.details["remaining"], 1.0 - warn.evidence.details["spent"], abs_tol=1e-6)
    assert 0 < warn.evidence.details["remaining"] <= 0.2


def test_runaway_session_fires_and_names_the_session():
    suite = DetectorSuite([Runaway("loop", "session_id", max_requests_per_min=30)], bucket_s=5)
    calm = _events(T0, 20, 20.0, session_id="s1", user_id="u1", input_tokens=100)
    loop = _events(T0 + 400, 100, 0.5, session_id="s1", user_id="u1", input_tokens=100)
    findings = list(replay(calm + loop, suite))
    assert len(findings) == 1
    f = findings[0]
    assert (f.target.session_id, f.target.user_id) == ("s1", "u1") and T0 + 400 < f.time < T0 + 460


def latency_window(i: int, ms: float, n: int = 60, outliers: int = 1):
    t = T0 + i * 60
    hist = {bin_of(ms * 0.8): n // 2, bin_of(ms): n - n // 2 - outliers, bin_of(ms * 20): outliers}
    return BucketSummary.make("latency|model=m", t, n=n, hist=hist, t_last=t + 59)


def test_latency_needs_a_sustained_regression_not_single_outliers():
    d = LatencyRegression("latency", warmup=20, consecutive=3)
    assert [d.update(latency_window(i, 400)) for i in range(40)].count(None) == 40
    # a window with a few huge outliers, and one slow window: no finding
    assert d.update(latency_window(40, 400, outliers=2)) is None
    assert d.update(latency_window(41, 1600)) is None
    assert d.update(latency_window(42, 400)) is None
    # three slow windows in a row: a finding on the third
    got = [d.update(latency_window(i, 1600)) for i in range(43, 46)]
    assert got[:2] == [None, None] and got[2] is not None
    assert got[2].evidence.details["windows"] == 3 and got[2].evidence.window_s == 180


def test_error_surge_fires_on_an_outage_but_not_on_a_few_failures():
    d = ErrorSurge("errors", warmup=10, min_volume=20)
    rng = random.Random(1)

    def w(i, p):
        bad = sum(rng.random() < p for _ in range(100))
        return BucketSummary.make("errors|model=m", T0 + i * 60, n=100, bad=bad, t_last=T0 + i * 60 + 59)
    assert [d.update(w(i, 0.01)) for i in range(60)].count(None) == 60
    f = d.update(w(60, 0.4))
    assert f is not None and f.evidence.observed > 0.2 and f.target.model is None


def quality_events(rng, start, count, version, bad_p, prompt="support"):
    out = []
    for i in range(count):
        flags = ["hallucination"] if rng.random() < bad_p else []
        out.append(TraceEvent(trace_id=f"q{version}-{i}", timestamp=start + i * 2, model="m", prompt_id=prompt,
                              prompt_version=version, flags=flags))
    return out


def test_quality_regression_is_attributed_to_the_version_that_introduced_it():
    rng = random.Random(5)
    suite = DetectorSuite([QualityRegression("quality", "prompt_id", min_volume=300)], bucket_s=5)
    v3 = quality_events(rng, T0, 1500, "3", 0.02)
    v4 = quality_events(rng, T0 + 3000, 1500, "4", 0.10)
    findings = list(replay(v3 + v4, suite))
    assert len(findings) == 1
    f = findings[0]
    assert (f.target.prompt_id, f.target.prompt_version) == ("support", "4")
    assert f.evidence.details["previous_version"] == "3" and f.evidence.details["cause"] == "version"
    assert f.evidence.observed > f.evidence.baseline


def test_quality_is_quiet_when_a_new_version_is_as_good():
    rng = random.Random(6)
    suite = DetectorSuite([QualityRegression("quality", "prompt_id", min_volume=300)], bucket_s=5)
    events = quality_events(rng, T0, 1500, "3", 0.03) + quality_events(rng, T0 + 3000, 1500, "4", 0.03)
    assert list(replay(events, suite)) == []


def test_anomaly_on_a_score_respects_direction():
    rng = random.Random(2)
    down = FieldAnomaly("g_down", "app", field="scores.groundedness", direction="down", warmup=10)
    up = FieldAnomaly("g_up", "app", field="scores.groundedness", direction="up", warmup=10)
    suite = DetectorSuite([down, up], bucket_s=5)
    events = [TraceEvent(trace_id=f"a{i}", timestamp=T0 + i, model="m", app="bot",
                         scores={"groundedness": rng.gauss(0.85 if i < 3000 else 0.4, 0.03)})
              for i in range(3600)]
    findings = list(replay(events, suite))
    assert {f.detector for f in findings} == {"g_down"}
    assert findings[0].time >= T0 + 3000 and findings[0].target.app == "bot"


def test_anomaly_reads_metadata_numbers_and_ignores_other_values():
    d = FieldAnomaly("m", "app", field="metadata.queue_depth")
    s = BucketSummary("m|app=a", 0.0)
    for i, v in enumerate([3, "7", True, None, 5.5]):
        d.fold(s, TraceEvent(trace_id=f"t{i}", timestamp=i, model="m", app="a", queue_depth=v), float(i))
    assert (s.n, s.total) == (2, 8.5)


def test_findings_within_a_series_are_in_event_time_order_and_carry_examples():
    # the shipped config with its opt-in runaway limit switched on (a 2 calls/s loop)
    suite = build_suite(enable(load_config(), "runaway_session"))
    events = _events(T0, 600, 0.5, session_id="s1", input_tokens=10)
    findings = [f for f in replay(events, suite) if f.series == "session_id=s1"]
    assert findings and [f.time for f in findings] == sorted(f.time for f in findings)
    assert all(1 <= len(f.evidence.example_trace_ids) <= 5 for f in findings)


def test_after_a_rollback_a_new_version_is_compared_with_the_restored_one():
    rng = random.Random(8)
    suite = DetectorSuite([QualityRegression("quality", "prompt_id", min_volume=300)], bucket_s=5)
    events = (quality_events(rng, T0, 1500, "3", 0.02) + quality_events(rng, T0 + 3000, 600, "4", 0.10)
              + quality_events(rng, T0 + 4200, 1500, "3", 0.02) + quality_events(rng, T0 + 7200, 1500, "5", 0.10))
    findings = list(replay(events, suite))
    assert [(f.target.prompt_version, f.evidence.details["previous_version"]) for f in findings] == [
        ("4", "3"), ("5", "3")]

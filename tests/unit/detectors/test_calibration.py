"""The calibrated threshold keeps its promise: about ``false_alarms_per_week`` for the whole detector,
whatever each series' noise, and however many series it watches."""

from __future__ import annotations

import math
import random

from detectors import BucketSummary, DetectorSuite, ErrorSurge, FieldAnomaly
from detectors import calibration

WEEK = 604_800.0


def _noise(kind: str, rng: random.Random) -> float:
    if kind == "gauss":
        return rng.gauss(100, 5)
    if kind == "student3":  # heavy tails
        return 100 + 5 * rng.gauss(0, 1) / math.sqrt(sum(rng.gauss(0, 1) ** 2 for _ in range(3)) / 3)
    if kind == "lognormal":  # skewed, like latency or spend
        return 100 * rng.lognormvariate(0, 0.5)
    return 100 + (40 * rng.random() if rng.random() < 0.05 else rng.gauss(0, 2))  # bursty


def _false_alarms(make, series: int, weeks: float, seed: int = 3) -> int:
    """Findings on clean series after a week of learning, per series kind."""
    window_s = 300.0
    rng = random.Random(seed)
    suite = DetectorSuite([make()], bucket_s=60)
    kinds = ["gauss", "student3", "lognormal", "bursty"]
    states = [suite.series_state(f"{suite.detectors['a'].name}|app=s{i}") for i in range(series)]
    alarms = 0
    for w in range(int((1 + weeks) * WEEK / window_s)):
        t0 = 1_767_225_600.0 + w * window_s
        for i, st in enumerate(states):
            v = _noise(kinds[i % 4], rng)
            found = st.detector.update(BucketSummary.make(st.series_key, t0, n=1, total=v, t_last=t0 + 1))
            if found is not None and w * window_s >= WEEK:
                alarms += 1
    return alarms


def test_one_false_alarm_per_week_for_the_detector_whatever_the_noise():
    calibrated = _false_alarms(lambda: FieldAnomaly("a", "app", field="metadata.v", window_s=300,
                                                    cooldown_s=0, warmup=20), series=24, weeks=2)
    fixed_z = _false_alarms(lambda: FieldAnomaly("a", "app", field="metadata.v", window_s=300, cooldown_s=0,
                                                 warmup=20, z=4.0, false_alarms_per_week=1e9),
                            series=24, weeks=2)
    assert calibrated <= 6, calibrated  # 2 expected over two weeks; Poisson(2) exceeds 6 with p < 0.5 %
    assert fixed_z >= 20 * max(calibrated, 1), fixed_z  # a fixed z pages heavy-tailed series daily


def test_more_series_stricter_threshold_per_series():
    tail = calibration.new_tail()
    rng = random.Random(1)
    for _ in range(5000):
        calibration.learn(tail, abs(rng.gauss(0, 1)), 0.9999)
    few = calibration.threshold(tail, calibration.per_window_q(1, 60, 10))
    many = calibration.threshold(tail, calibration.per_window_q(1, 60, 100_000))
    assert 4.0 < few < many < 10.0  # |N(0,1)|: 4.4 and 5.9; an exponential tail is assumed at least


def test_the_suite_counts_the_series_a_detector_watches():
    d = ErrorSurge("e", "model")
    suite = DetectorSuite([d], bucket_s=5)
    first = suite.series_state("e|model=a").detector.alarm_at()
    for i in range(1000):
        suite.series_state(f"e|model=m{i}")
    assert type(d).watched == 1001
    assert suite.series_state("e|model=b").detector.alarm_at() > first


def test_an_alarm_does_not_teach_the_tail():
    d = ErrorSurge("e", "model", warmup=0, min_volume=10)
    before = list(d._tail)
    d.learn_score(50.0, d.alarm_at())
    assert d._tail == before
    d.learn_score(1.0, d.alarm_at())
    assert d._tail != before
